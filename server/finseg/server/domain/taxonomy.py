"""Label taxonomy (SPEC §1): label groups are the nodes of a dot tree.

Group G contains label L when L == G or L starts with "G." (so INCOMETAX is
not in INCOME), after aliases are resolved on both sides: with the default
alias SALARY -> INCOME.SALARY, a transaction labelled SALARY is in the groups
INCOME, INCOME.SALARY and SALARY alike. A label deeper than the taxonomy
(INSURANCE.PET) still belongs to its ancestors; a request may only name
groups that are nodes (or aliases of nodes) of the tenant's taxonomy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from ..errors import InvalidArgument, Reason, Violation, listing, quoted
from ..storage.store import Store
from . import text

#: A group name: dot-separated parts of printable characters without spaces
#: or dots (labels are case-sensitive, so no case is imposed).
GROUP_NAME = re.compile(r"^[^\s.]+(\.[^\s.]+)*$")
MAX_GROUPS = 10_000
MAX_NAME_LENGTH = 128


@dataclass(frozen=True)
class Taxonomy:
    groups: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)

    def canonical(self, label: str) -> str:
        """The label with an alias prefix replaced by its target node."""
        for alias, target in self.aliases.items():
            if label == alias:
                return target
            if label.startswith(alias + "."):
                return target + label[len(alias):]
        return label

    def group(self, name: str, field_name: str) -> str:
        """The canonical node a request's group name stands for."""
        node = self.canonical(name)
        if node not in self.groups:
            known = listing(sorted({*self.groups, *self.aliases}))
            raise InvalidArgument(
                f"{field_name} {quoted(name)} is not a label group of this tenant's taxonomy; "
                f"known groups: {known}", [Violation(field_name, "unknown label group")],
                reason=Reason.UNKNOWN_LABEL_GROUP, metadata={"field": field_name})
        return node

    def contains(self, group: str, label: str) -> bool:
        """Whether label is in group (either may be given by an alias)."""
        group, node = self.canonical(group), self.canonical(label)
        return node == group or node.startswith(group + ".")

    def membership(self, groups: list[str], labels: list[str]) -> np.ndarray:
        """bool[len(labels), len(groups)]: which label (e.g. a tenant's label
        dictionary) is in which canonical group. Kernels index it by label id
        instead of comparing strings per transaction."""
        out = np.zeros((len(labels), len(groups)), dtype=np.bool_)
        for i, label in enumerate(labels):
            for j, group in enumerate(groups):
                out[i, j] = self.contains(group, label)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"groups": list(self.groups), "aliases": dict(self.aliases)}


def parse(raw: dict[str, Any], field_name: str = "taxonomy") -> Taxonomy:
    """A taxonomy from its dict form, checked: every group well formed and
    unique, every group's parent a group too, every alias a new well-formed
    name that points at a group."""
    groups = list(raw.get("groups") or [])
    aliases = dict(raw.get("aliases") or {})
    violations: list[Violation] = []
    if not groups:
        violations.append(Violation(f"{field_name}.groups", "must name at least one group"))
    if len(groups) > MAX_GROUPS:
        violations.append(Violation(f"{field_name}.groups", f"at most {MAX_GROUPS} groups"))
    seen = _check_groups(groups, f"{field_name}.groups", violations)
    _check_aliases(aliases, seen, f"{field_name}.aliases", violations)
    if violations:
        raise InvalidArgument(f"{field_name}: {len(violations):,} problem(s): "
                              + "; ".join(f"{v.field}: {v.description}" for v in violations[:5]),
                              violations, reason=Reason.INVALID_TAXONOMY)
    return Taxonomy(tuple(groups), aliases)


def stored(raw: dict[str, Any]) -> Taxonomy:
    """A taxonomy as stored: it was checked when it was replaced, and stays
    usable if a later version checks more strictly."""
    return Taxonomy(tuple(raw.get("groups") or []), dict(raw.get("aliases") or {}))


def _name_problem(name: object, unprintable: str | None) -> str | None:
    """Why a group or alias name is not well formed, or None."""
    if unprintable is not None:
        return unprintable
    if not isinstance(name, str) or not GROUP_NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        return (f"must be 1-{MAX_NAME_LENGTH} characters of dot-separated parts without "
                "spaces")
    return None


def _check_groups(groups: list[Any], where: str, violations: list[Violation]) -> set[str]:
    """Adds the groups' violations; returns the well-formed groups."""
    unprintable = text.unprintable_names([g if isinstance(g, str) else "" for g in groups])
    seen: set[str] = set()
    for i, name in enumerate(groups):
        problem = _name_problem(name, unprintable.get(i))
        if problem is not None:
            violations.append(Violation(f"{where}[{i}]", problem))
            continue
        if name in seen:
            violations.append(Violation(f"{where}[{i}]", f"repeats {quoted(name)}"))
        seen.add(name)
    for i, name in enumerate(groups):
        if isinstance(name, str) and "." in name and name.rsplit(".", 1)[0] not in seen:
            parent = quoted(name.rsplit(".", 1)[0])
            violations.append(Violation(f"{where}[{i}]", f"its parent {parent} is not a group"))
    return seen


def _check_aliases(aliases: dict[str, str], groups: set[str], where: str,
                   violations: list[Violation]) -> None:
    unprintable = text.unprintable_names(list(aliases))
    for i, (alias, target) in enumerate(aliases.items()):
        field = f"{where}[{quoted(alias)}]"
        problem = _name_problem(alias, unprintable.get(i))
        if problem is None and alias in groups:
            problem = "must be a new name, not a group"
        if problem is not None:
            violations.append(Violation(field, problem))
        if target not in groups:
            violations.append(Violation(field, f"points at {quoted(target)}, which is not a "
                                               "group"))


def default() -> Taxonomy:
    """The taxonomy shipped with finseg (taxonomy.json in this package)."""
    text = resources.files(__package__).joinpath("taxonomy.json").read_text()
    return parse(json.loads(text))


class Taxonomies:
    """Each tenant's taxonomy: its own once replaced, else the default."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._default = default()

    def of(self, tenant: str) -> tuple[Taxonomy, bool]:
        """(taxonomy, is_default) of the tenant."""
        raw = self.store.taxonomy(tenant)
        return (self._default, True) if raw is None else (stored(raw), False)

    def replace(self, tenant: str, raw: dict[str, Any] | None) -> tuple[Taxonomy, bool]:
        """Checks and stores a tenant's taxonomy; None restores the default."""
        if raw is None:
            self.store.put_taxonomy(tenant, None)
            return self._default, True
        taxonomy = parse(raw)
        self.store.put_taxonomy(tenant, taxonomy.to_dict())
        return taxonomy, False
