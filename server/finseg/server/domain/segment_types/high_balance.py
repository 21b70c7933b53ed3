"""HIGH_BALANCE (SPEC §4): accounts open on as_of with EOD(as_of) > threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...kernels import balances
from ...kernels.calendar import day_number
from ...storage.store import Snapshot
from .common import (
    Common,
    Progress,
    Threshold,
    account_block,
    eligible_accounts,
    members_table,
    parse_threshold,
    walk,
)

NAME = "HIGH_BALANCE"


@dataclass(frozen=True)
class Params:
    threshold: Threshold


def parse(raw: dict[str, Any], taxonomy: object = None) -> Params:
    return Params(parse_threshold(raw.get("threshold"), "spec.high_balance.threshold"))


def to_dict(params: Params) -> dict[str, Any]:
    return {"threshold": {"currency": params.threshold.currency,
                          "amount": params.threshold.amount}}


def reads_since(params: Params, common: Common) -> int:
    """The earliest booking day whose rows this type reads (balances apart:
    a live segment's subset keeps the rows after the snapshot dates too)."""
    return day_number(common.as_of)


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    accounts, values = _qualifying(snapshot, params, common, progress)
    return members_table(snapshot, accounts, {"amount": pa.array(values, pa.int64())})


def member_users(snapshot: Snapshot, params: Params, common: Common, progress: Progress
                 ) -> np.ndarray:
    """The members' user indexes, ascending: what a live segment compares
    with its members, without building the result's table."""
    accounts, _ = _qualifying(snapshot, params, common, progress)
    return np.unique(snapshot.accounts["user"][accounts])


def _qualifying(snapshot: Snapshot, params: Params, common: Common, progress: Progress
                ) -> tuple[np.ndarray, np.ndarray]:
    """(qualifying account indexes, their EOD balances)."""
    eligible = eligible_accounts(snapshot, common, params.threshold.currency)
    as_of = day_number(common.as_of)
    found, amounts = [], []
    for block, s in walk(snapshot, progress):
        qualifies, eod = balances.high_balance(
            block.offsets, block.dates, block.amounts, *account_block(snapshot, eligible, s),
            as_of, params.threshold.amount)
        local = np.nonzero(qualifies)[0]
        found.append(local + block.first)
        amounts.append(eod[local])
    accounts = np.concatenate(found) if found else np.zeros(0, np.int64)
    values = np.concatenate(amounts) if amounts else np.zeros(0, np.int64)
    return accounts, values
