"""RULE (SPEC §4): the users a bank's own expression over per-user metrics
selects, with the value of every metric the expression names.

The expression is parsed into a tree (domain/rules.py); each distinct metric
is computed once, as a column over the candidates, the transaction metrics
of every window in one pass over the rows (kernels/rules.py), and the tree
is evaluated over those columns with exact integer comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgument, Reason, Violation, listing, quoted
from ...storage.store import Snapshot
from .. import rules
from ..model import CURRENCY_EXPONENTS
from ..taxonomy import Taxonomy
from . import rule_metrics
from .common import Common, Progress, Slots, currency_user_slots, nest
from .rule_metrics import Columns, compute

NAME = "RULE"
FIELD = "spec.rule"
DEFAULT_CURRENCY = "EUR"


@dataclass(frozen=True)
class Params:
    expression: str
    currency: str
    rule: rules.Rule
    nodes: dict[str, str]     # each group the expression names -> its taxonomy node
    aliases: dict[str, str]   # the taxonomy's aliases when the job was made


def parse(raw: dict[str, Any], taxonomy: Taxonomy | None = None) -> Params:
    """Checks a request against the tenant's taxonomy, or reads back a stored
    job's params, which carry the groups' resolution made at creation."""
    currency = str(raw.get("currency") or DEFAULT_CURRENCY)
    if currency not in CURRENCY_EXPONENTS:
        raise InvalidArgument(f"{FIELD}.currency {quoted(currency)} is not an ISO 4217 "
                              "currency code", [Violation(f"{FIELD}.currency",
                                                          "must be an ISO 4217 code")],
                              reason=Reason.INVALID_SPEC)
    expression = str(raw.get("expression") or "")
    rule = rules.parse(expression, CURRENCY_EXPONENTS[currency], f"{FIELD}.expression",
                       currency=currency)
    if "nodes" in raw:
        return Params(expression, currency, rule, dict(raw["nodes"]), dict(raw["aliases"]))
    assert taxonomy is not None, "a new request is checked against the tenant's taxonomy"
    nodes = {}
    for group, position in rule.group_positions:
        node = taxonomy.canonical(group)
        if node not in taxonomy.groups:
            field = f"{FIELD}.expression"
            known = listing(sorted({*taxonomy.groups, *taxonomy.aliases}))
            raise InvalidArgument(
                f"{field} at {position}: {quoted(group)} is not a label group of this "
                f"tenant's taxonomy; known groups: {known}",
                [Violation(field, f"unknown label group at {position}")],
                reason=Reason.UNKNOWN_LABEL_GROUP,
                metadata={"field": field, "position": str(position)})
        nodes[group] = node
    return Params(expression, currency, rule, nodes, dict(taxonomy.aliases))


def to_dict(params: Params) -> dict[str, Any]:
    return {"expression": params.expression, "currency": params.currency,
            "nodes": params.nodes, "aliases": params.aliases}


def reads_since(params: Params, common: Common) -> int:
    """The earliest booking day whose rows this type reads (balances apart:
    a live segment's subset keeps the rows after the snapshot dates too)."""
    return rule_metrics.reads_since(rules.metrics(params.rule.tree), common.as_of)


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    slots, metrics, columns, keep = _evaluated(snapshot, params, common, progress)
    exponent = CURRENCY_EXPONENTS[params.currency]
    return members(snapshot, slots.users[keep], metrics,
                   [columns[m].take(keep) for m in metrics], exponent)


def member_users(snapshot: Snapshot, params: Params, common: Common, progress: Progress
                 ) -> np.ndarray:
    """The members' user indexes, ascending: what a live segment compares
    with its members, without building the result's table."""
    slots, _, _, keep = _evaluated(snapshot, params, common, progress)
    return np.sort(slots.users[keep].astype(np.int64))


def _evaluated(snapshot: Snapshot, params: Params, common: Common, progress: Progress
               ) -> tuple[Slots, list[rules.Metric], dict[rules.Metric, Columns], np.ndarray]:
    """(the candidates' slots, the metrics, their columns, who qualifies)."""
    # Candidates: users with an account in the currency (and of the
    # request's types); one slot each, in user_id order.
    slots = currency_user_slots(snapshot, common, params.currency)
    metrics = rules.metrics(params.rule.tree)
    taxonomy = Taxonomy(tuple(params.nodes.values()), params.aliases)
    columns = compute(snapshot, slots.of_account, slots.count, metrics, common.as_of,
                      lambda group: params.nodes[group], taxonomy, progress)
    return slots, metrics, columns, evaluate(params.rule.tree, columns)


def evaluate(node: rules.Node, columns: dict[rules.Metric, Columns]) -> np.ndarray:
    """bool[candidates]: where the (sub)expression holds. A comparison on a
    missing value is false, whatever the operator; NOT is plain negation."""
    if isinstance(node, rules.Compare):
        return columns[node.metric].compare(node.op, node.value)
    if isinstance(node, rules.Not):
        return ~evaluate(node.operand, columns)
    parts = [evaluate(operand, columns) for operand in node.operands]
    return np.logical_and.reduce(parts) if isinstance(node, rules.And) \
        else np.logical_or.reduce(parts)


def members(snapshot: Snapshot, users: np.ndarray, metrics: list[rules.Metric],
            values: list[Columns], exponent: int) -> pa.Table:
    """One row per member with its metrics, in the expression's order."""
    n, k = users.shape[0], len(metrics)
    names = pa.array([m.text(exponent) for m in metrics], pa.string())

    def interleaved(column: Any) -> pa.Array:
        # Member-major: the k metrics of the first member, then the next's.
        return pa.array(np.stack([column(c) for c in values], axis=1).reshape(-1))

    return nest(snapshot, users, np.full(n, k, np.int64), "metrics", {
        "metric": names.take(pa.array(np.tile(np.arange(k), n))),
        "value": interleaved(lambda c: c.shown),
        "average": interleaved(lambda c: c.average),
        "missing": interleaved(lambda c: ~c.present),
    })
