"""RFM: per user with at least one outgoing transaction (amount < 0) booked
in (as_of - window_days, as_of] in an account of the currency, optionally
only of some label groups: recency (days from the last one to as_of),
frequency (count) and monetary (sum of absolute amounts), their 1-5 scores
against every such user, the three-digit RFM code and the segment name of
the (R, F) cell. `segment_names` keeps some names, after scoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgument, Reason, Violation, quoted
from ...kernels import rfm
from ...kernels.calendar import day_number
from ...storage.store import Snapshot
from ..taxonomy import Taxonomy
from .common import (
    Common,
    Progress,
    currency_user_slots,
    parse_count,
    parse_currency,
    parse_label_groups,
    walk,
)

NAME = "RFM"
FIELD = "spec.rfm"
MAX_WINDOW_DAYS = 3660
MAX_GROUPS = 20
#: No tenant has a currency of its own yet (docs/decisions.md).
DEFAULT_CURRENCY = "EUR"

#: The customary segment names, best first; what a request may name.
NAMES = ("Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
         "About to sleep", "At risk", "Cannot lose them", "Hibernating", "Lost")
#: The name of each (R, F) cell: row R - 1, column F - 1. M plays no part.
GRID = (
    ("Lost", "Lost", "At risk", "At risk", "Cannot lose them"),
    ("Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"),
    ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
)
_NAME_OF_CELL = np.array([[NAMES.index(name) for name in row] for row in GRID], np.int64)
#: "111" .. "555", at (R - 1) * 25 + (F - 1) * 5 + M - 1.
_CODES = pa.array([f"{r}{f}{m}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
                  pa.string())
_NAME_ARRAY = pa.array(NAMES, pa.string())


@dataclass(frozen=True)
class Params:
    window_days: int
    label_groups: tuple[str, ...]   # as requested; empty: every transaction
    currency: str
    segment_names: tuple[str, ...]  # empty: every name
    nodes: tuple[str, ...]          # the taxonomy nodes the groups stand for
    aliases: dict[str, str]         # the taxonomy's aliases when the job was made


def parse(raw: dict[str, Any], taxonomy: Taxonomy | None = None) -> Params:
    """Checks a request against the tenant's taxonomy, or reads back a stored
    job's params, which carry the resolution made when the job was created."""
    window = parse_count(raw.get("window_days"), f"{FIELD}.window_days", MAX_WINDOW_DAYS)
    currency = parse_currency(raw.get("currency") or DEFAULT_CURRENCY, f"{FIELD}.currency")
    names = tuple(str(n) for n in raw.get("segment_names") or [])
    for i, name in enumerate(names):
        field = f"{FIELD}.segment_names[{i}]"
        if name not in NAMES:
            raise InvalidArgument(
                f"{field} {quoted(name)} is not an RFM segment name; the names are "
                + ", ".join(map(repr, NAMES)), [Violation(field, "unknown segment name")],
                reason=Reason.UNKNOWN_SEGMENT_NAME, metadata={"field": field})
        if name in names[:i]:
            raise InvalidArgument(f"{field} {quoted(name)} is repeated",
                                  [Violation(field, "repeats an earlier name")],
                                  reason=Reason.INVALID_SPEC)
    groups, nodes, aliases = parse_label_groups(raw, f"{FIELD}.label_groups", taxonomy,
                                                MAX_GROUPS, required=False)
    return Params(window, groups, currency, names, nodes, aliases)


def to_dict(params: Params) -> dict[str, Any]:
    return {"window_days": params.window_days, "label_groups": list(params.label_groups),
            "currency": params.currency, "segment_names": list(params.segment_names),
            "nodes": list(params.nodes), "aliases": params.aliases}


def reads_since(params: Params, common: Common) -> int:
    """The earliest booking day whose rows this type reads (balances apart:
    a live segment's subset keeps the rows after the snapshot dates too)."""
    return day_number(common.as_of) - params.window_days + 1


def figures(snapshot: Snapshot, params: Params, common: Common, progress: Progress
            ) -> tuple[np.ndarray, np.ndarray]:
    """(user indexes of the scored users, in user_id order; int64[n, 3] of
    their recency, frequency and monetary value)."""
    # A row in any requested group counts; without groups, every row, and
    # the kernel then reads no label.
    keep = None
    if params.nodes:
        member = Taxonomy(params.nodes, params.aliases).membership(
            list(params.nodes), snapshot.labels().to_pylist())
        keep = np.any(member, axis=1)
    # One currency: each user with an eligible account is one slot.
    slots = currency_user_slots(snapshot, common, params.currency)
    as_of = day_number(common.as_of)
    out = np.zeros((slots.count, 3), np.int64)
    for block, s in walk(snapshot, progress):
        rfm.outgoing(block.offsets, block.dates, block.amounts,
                     None if keep is None else block.labels, slots.of_account[s], keep,
                     as_of - params.window_days + 1, as_of, out)
    scored = out[:, rfm.COUNT] > 0
    out = out.compress(scored, axis=0)
    out[:, 0] = as_of - out[:, rfm.LAST]
    return slots.user[scored].astype(np.int64), out


def segment_name(r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Index into NAMES of each (R, F) score pair's segment name."""
    return _NAME_OF_CELL[r - 1, f - 1]


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    users, values = figures(snapshot, params, common, progress)
    recency, frequency, monetary = (np.ascontiguousarray(values[:, k]) for k in range(3))
    # Over every scored user, before segment_names picks some of them.
    r = rfm.scores(recency, more_is_better=False)
    f = rfm.scores(frequency, more_is_better=True)
    m = rfm.scores(monetary, more_is_better=True)
    name = segment_name(r, f)
    columns = [users, recency, frequency, monetary, r, f, m, name]
    if params.segment_names:  # without, every column is taken as it is, not copied
        picked = np.isin(name, [NAMES.index(n) for n in params.segment_names])
        columns = [column[picked] for column in columns]
    users, recency, frequency, monetary, r, f, m, name = columns
    code = (r - 1) * 25 + (f - 1) * 5 + m - 1
    return pa.table({
        "user_id": snapshot.user_ids(users),
        "recency": pa.array(recency.astype(np.int32)),
        "frequency": pa.array(frequency),
        "monetary": pa.array(monetary),
        "r_score": pa.array(r),
        "f_score": pa.array(f),
        "m_score": pa.array(m),
        # Dictionaries of the 125 codes and 11 names: taking half a million
        # strings cost more than scoring.
        "rfm_code": pa.DictionaryArray.from_arrays(pa.array(code), _CODES),
        "segment_name": pa.DictionaryArray.from_arrays(pa.array(name), _NAME_ARRAY),
    })
