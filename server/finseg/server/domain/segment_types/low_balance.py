"""LOW_BALANCE (SPEC §4): accounts below a threshold in each of N complete
months, with their lowest balance and the N monthly minimums."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...kernels import balances
from ...kernels.calendar import complete_months
from ...storage.store import Snapshot
from .common import (
    Common,
    Progress,
    Threshold,
    account_block,
    eligible_accounts,
    members_table,
    parse_months,
    parse_threshold,
    walk,
)

NAME = "LOW_BALANCE"
MAX_MONTHS = 24


@dataclass(frozen=True)
class Params:
    threshold: Threshold
    months: int


def parse(raw: dict[str, Any], taxonomy: object = None) -> Params:
    return Params(parse_threshold(raw.get("threshold"), "spec.low_balance.threshold"),
                  parse_months(raw.get("months"), "spec.low_balance.months", MAX_MONTHS))


def to_dict(params: Params) -> dict[str, Any]:
    return {"threshold": {"currency": params.threshold.currency,
                          "amount": params.threshold.amount}, "months": params.months}


def reads_since(params: Params, common: Common) -> int:
    """The earliest booking day whose rows this type reads (balances apart:
    a live segment's subset keeps the rows after the snapshot dates too)."""
    return int(complete_months(common.as_of, params.months)[0])


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    accounts, lowest, monthly = _qualifying(snapshot, params, common, progress)
    flat = pa.array(monthly.reshape(-1), pa.int64())
    per_account = pa.FixedSizeListArray.from_arrays(flat, params.months).cast(
        pa.list_(pa.int64()))
    return members_table(snapshot, accounts, {"amount": pa.array(lowest),
                                              "monthly_minimums": per_account})


def member_users(snapshot: Snapshot, params: Params, common: Common, progress: Progress
                 ) -> np.ndarray:
    """The members' user indexes, ascending: what a live segment compares
    with its members, without building the result's table."""
    accounts, _, _ = _qualifying(snapshot, params, common, progress)
    return np.unique(snapshot.accounts["user"][accounts])


def _qualifying(snapshot: Snapshot, params: Params, common: Common, progress: Progress
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qualifying account indexes, their lowest EOD, their monthly minimums)."""
    eligible = eligible_accounts(snapshot, common, params.threshold.currency)
    bounds = complete_months(common.as_of, params.months)
    found, lowest, monthly = [], [], []
    for block, s in walk(snapshot, progress):
        qualifies, period_min, monthly_min = balances.low_balance(
            block.offsets, block.dates, block.amounts, *account_block(snapshot, eligible, s),
            bounds, params.threshold.amount)
        local = np.nonzero(qualifies)[0]
        found.append(local + block.first)
        lowest.append(period_min[local])
        monthly.append(monthly_min[local])
    accounts = np.concatenate(found) if found else np.zeros(0, np.int64)
    mins = (np.concatenate(monthly) if monthly
            else np.zeros((0, params.months), np.int64))
    return accounts, np.concatenate(lowest) if lowest else np.zeros(0, np.int64), mins
