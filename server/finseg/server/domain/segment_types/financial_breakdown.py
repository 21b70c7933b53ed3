"""FINANCIAL_BREAKDOWN (SPEC §4): per user, requested label group and
currency with at least one transaction of the group in the N complete
months: count, total, the N monthly sums and their statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...kernels import breakdown
from ...kernels.calendar import complete_months
from ...storage.store import Snapshot
from ..taxonomy import Taxonomy
from .common import (
    Common,
    Progress,
    currency_array,
    eligible_accounts,
    nest,
    parse_label_groups,
    parse_months,
    user_currency_slots,
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
    groups, nodes, aliases = parse_label_groups(raw, f"{FIELD}.label_groups", taxonomy,
                                                MAX_GROUPS, required=True)
    return Params(groups, months, nodes, aliases)


def to_dict(params: Params) -> dict[str, Any]:
    return {"label_groups": list(params.label_groups), "months": params.months,
            "nodes": list(params.nodes), "aliases": params.aliases}


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    # Rows inside a user come in group order, by the name's UTF-8 bytes like
    # every key (not the order the request named them), so the kernels get
    # the groups sorted.
    order = sorted(range(len(params.label_groups)),
                   key=lambda i: params.label_groups[i].encode())
    nodes = [params.nodes[i] for i in order]
    taxonomy = Taxonomy(params.nodes, params.aliases)
    member = taxonomy.membership(nodes, snapshot.labels().to_pylist())
    slots = user_currency_slots(snapshot, eligible_accounts(snapshot, common))
    bounds = complete_months(common.as_of, params.months)
    sums = np.zeros((slots.count, len(nodes), params.months), np.int64)
    counts = np.zeros((slots.count, len(params.nodes)), np.int64)
    for block, s in walk(snapshot, progress):
        breakdown.monthly_by_group(block.offsets, block.dates, block.amounts, block.labels,
                                   slots.of_account[s], bounds, member, sums, counts)
    out = breakdown.rows(slots.user_starts, sums, counts)
    del sums, counts
    names = pa.array([params.label_groups[i] for i in order], pa.string())
    return nest(snapshot, slots.users, out["user_rows"], "groups", {
        "label_group": pa.DictionaryArray.from_arrays(pa.array(out["group"]), names),
        "currency": currency_array(slots.currency, out["slot"]),
        "count": pa.array(out["count"]),
        "total": pa.array(out["total"]),
        "monthly_sums": pa.ListArray.from_arrays(
            pa.array(np.arange(0, out["monthly"].size + 1, params.months, dtype=np.int32)),
            pa.array(out["monthly"].reshape(-1))),
        "average": pa.array(out["average"]),
        "min": pa.array(out["min"]),
        "max": pa.array(out["max"]),
        "median": pa.array(out["median"]),
        "std_dev": pa.array(out["std_dev"]),
    })
