"""INCOME_SPENDING_SUMMARY (SPEC §4): per user and currency with at least one
transaction booked in [from, to], the count and sum of incoming (> 0) and of
outgoing (< 0) transactions. as_of plays no part."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InvalidArgument, Violation
from ...kernels import flows
from ...kernels.calendar import day_number
from ...storage.store import Snapshot
from .common import (
    Common,
    Progress,
    by_user,
    currency_array,
    currency_key,
    eligible_accounts,
    parse_date,
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
                              [Violation(f"{FIELD}.from_date", "must not be after to_date")])
    return Params(first, last)


def to_dict(params: Params) -> dict[str, Any]:
    return {"from_date": params.from_date.isoformat(), "to_date": params.to_date.isoformat()}


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    acc = snapshot.accounts
    eligible = eligible_accounts(snapshot, common)
    first, last = day_number(params.from_date), day_number(params.to_date)
    found, sums = [], []
    for block, s in walk(snapshot, progress):
        result = flows.in_out(block.offsets, block.dates, block.amounts, eligible[s], first, last)
        local = np.nonzero(result[:, flows.ALL_COUNT] > 0)[0]
        found.append(local + block.first)
        sums.append(result[local])
    accounts = np.concatenate(found) if found else np.zeros(0, np.int64)
    per_account = np.concatenate(sums) if sums else np.zeros((0, 5), np.int64)
    # One row per (user, currency): the accounts' rows added up.
    users, currencies = acc["user"][accounts], acc["currency"][accounts]
    key = (users.astype(np.int64) << 24) | currency_key(currencies)
    order = np.argsort(key, kind="stable")
    key, per_account = key[order], per_account[order]
    if key.size:
        starts = np.nonzero(np.concatenate([[True], key[1:] != key[:-1]]))[0]
        totals = np.add.reduceat(per_account, starts, axis=0)
    else:
        starts, totals = np.zeros(0, np.int64), np.zeros((0, 5), np.int64)
    first_rows = order[starts]
    return by_user(snapshot, users[first_rows], "currencies", {
        "currency": currency_array(currencies[first_rows]),
        "incoming_count": pa.array(totals[:, flows.IN_COUNT]),
        "incoming_sum": pa.array(totals[:, flows.IN_SUM]),
        "outgoing_count": pa.array(totals[:, flows.OUT_COUNT]),
        "outgoing_sum": pa.array(totals[:, flows.OUT_SUM]),
    })
