"""INCOME_SPENDING_SUMMARY (SPEC §4): per user and currency with at least one
transaction booked in [from, to], the count and sum of incoming (> 0) and of
outgoing (< 0) transactions. as_of plays no part."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgument, Reason, Violation
from ...kernels import flows
from ...kernels.calendar import day_number
from ...storage.store import Snapshot
from .common import (
    Common,
    Progress,
    currency_array,
    eligible_accounts,
    nest,
    parse_date,
    user_currency_slots,
    walk,
)

NAME = "INCOME_SPENDING_SUMMARY"
FIELD = "spec.income_spending_summary"


@dataclass(frozen=True)
class Params:
    from_date: dt.date
    to_date: dt.date


def parse(raw: dict[str, Any], taxonomy: object = None) -> Params:
    first = parse_date(raw.get("from_date"), f"{FIELD}.from_date")
    last = parse_date(raw.get("to_date"), f"{FIELD}.to_date")
    if first > last:
        raise InvalidArgument(f"{FIELD}.from_date {first} is after to_date {last}",
                              [Violation(f"{FIELD}.from_date", "must not be after to_date")],
                              reason=Reason.INVALID_SPEC)
    return Params(first, last)


def to_dict(params: Params) -> dict[str, Any]:
    return {"from_date": params.from_date.isoformat(), "to_date": params.to_date.isoformat()}


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    slots = user_currency_slots(snapshot, eligible_accounts(snapshot, common))
    first, last = day_number(params.from_date), day_number(params.to_date)
    totals = np.zeros((slots.count, 5), np.int64)
    for block, s in walk(snapshot, progress):
        flows.in_out(block.offsets, block.dates, block.amounts, slots.of_account[s], first, last,
                     totals)
    found = np.nonzero(totals[:, flows.ALL_COUNT] > 0)[0]
    per_user = np.bincount(slots.user_position[found], minlength=slots.users.shape[0])
    totals = totals[found]
    return nest(snapshot, slots.users, per_user, "currencies", {
        "currency": currency_array(slots.currency, found),
        "incoming_count": pa.array(totals[:, flows.IN_COUNT]),
        "incoming_sum": pa.array(totals[:, flows.IN_SUM]),
        "outgoing_count": pa.array(totals[:, flows.OUT_COUNT]),
        "outgoing_sum": pa.array(totals[:, flows.OUT_SUM]),
    })
