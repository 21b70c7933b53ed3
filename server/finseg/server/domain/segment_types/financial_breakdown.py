"""FINANCIAL_BREAKDOWN (SPEC §4): per user, requested label group and
currency with at least one transaction of the group in the N complete
months: count, total, the N monthly sums and their statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgument, Violation
from ...kernels import breakdown
from ...kernels.calendar import complete_months
from ...storage.store import Snapshot
from ..taxonomy import Taxonomy
from .common import (
    Common,
    Progress,
    by_user,
    currency_array,
    currency_key,
    eligible_accounts,
    parse_months,
    walk,
)

NAME = "FINANCIAL_BREAKDOWN"
FIELD = "spec.financial_breakdown"
MAX_MONTHS = 12
MAX_GROUPS = 20


@dataclass(frozen=True)
class Params:
    label_groups: tuple[str, ...]   # as requested
    months: int
    nodes: tuple[str, ...]          # the taxonomy nodes they stand for
    aliases: dict[str, str]         # the taxonomy's aliases when the job was made


def parse(raw: dict[str, Any], taxonomy: Taxonomy | None = None) -> Params:
    """Checks a request against the tenant's taxonomy, or reads back a stored
    job's params, which carry the resolution made when the job was created."""
    months = parse_months(raw.get("months"), f"{FIELD}.months", MAX_MONTHS)
    groups = [str(g) for g in raw.get("label_groups") or []]
    if not groups:
        raise InvalidArgument(f"{FIELD}.label_groups must name at least one label group",
                              [Violation(f"{FIELD}.label_groups", "is required")])
    if len(groups) > MAX_GROUPS or len(set(groups)) != len(groups):
        raise InvalidArgument(f"{FIELD}.label_groups takes 1 to {MAX_GROUPS} groups, no "
                              "repeats", [Violation(f"{FIELD}.label_groups",
                                                    f"1 to {MAX_GROUPS} distinct groups")])
    if "nodes" in raw:
        return Params(tuple(groups), months, tuple(raw["nodes"]), dict(raw["aliases"]))
    assert taxonomy is not None, "a new request is checked against the tenant's taxonomy"
    nodes = tuple(taxonomy.group(g, f"{FIELD}.label_groups[{i}]") for i, g in enumerate(groups))
    return Params(tuple(groups), months, nodes, dict(taxonomy.aliases))


def to_dict(params: Params) -> dict[str, Any]:
    return {"label_groups": list(params.label_groups), "months": params.months,
            "nodes": list(params.nodes), "aliases": params.aliases}


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    taxonomy = Taxonomy(params.nodes, params.aliases)
    member = taxonomy.membership(list(params.nodes), snapshot.labels().to_pylist())
    eligible = eligible_accounts(snapshot, common)
    bounds = complete_months(common.as_of, params.months)
    accounts, groups, monthly, counts = [], [], [], []
    for block, s in walk(snapshot, progress):
        sums, count = breakdown.monthly_by_group(block.offsets, block.dates, block.amounts,
                                                 block.labels, eligible[s], bounds, member)
        local, group = np.nonzero(count > 0)
        accounts.append(local + block.first)
        groups.append(group)
        monthly.append(sums[local, group])
        counts.append(count[local, group])
    acc = snapshot.accounts
    account = np.concatenate(accounts) if accounts else np.zeros(0, np.int64)
    group = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    sums = np.concatenate(monthly) if monthly else np.zeros((0, params.months), np.int64)
    count = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    # One row per (user, group, currency): the accounts' monthly sums added up.
    users, currencies = acc["user"][account], acc["currency"][account]
    order = np.lexsort((currency_key(currencies), group, users))
    keys = np.stack([users[order], group[order], currency_key(currencies[order])], axis=1)
    if keys.shape[0]:
        starts = np.nonzero(np.concatenate([[True], (keys[1:] != keys[:-1]).any(axis=1)]))[0]
        sums = np.add.reduceat(sums[order], starts, axis=0)
        count = np.add.reduceat(count[order], starts)
    else:
        starts = np.zeros(0, np.int64)
    first = order[starts]
    stats = breakdown.stats(np.ascontiguousarray(sums))
    names = pa.array(list(params.label_groups), pa.string())
    return by_user(snapshot, users[first], "groups", {
        # by_user orders by the first column; the group's position keeps the
        # request's order, and the rows arrive ordered by currency within it.
        "position": pa.array(group[first].astype(np.int32)),
        "label_group": names.take(pa.array(group[first])),
        "currency": currency_array(currencies[first]),
        "count": pa.array(count),
        "total": pa.array(stats["total"]),
        "monthly_sums": pa.FixedSizeListArray.from_arrays(
            pa.array(sums.reshape(-1), pa.int64()), params.months).cast(pa.list_(pa.int64())),
        "average": pa.array(stats["average"]),
        "min": pa.array(stats["min"]),
        "max": pa.array(stats["max"]),
        "median": pa.array(stats["median"]),
        "std_dev": pa.array(stats["std_dev"]),
    }, drop_first=True)
