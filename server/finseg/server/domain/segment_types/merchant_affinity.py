"""MERCHANT_AFFINITY (SPEC §4): which merchants the customers pay.

Over the outgoing rows (amount < 0) of the N complete months, per merchant
key (the insurance provider key of the counterparty name) and currency: the
distinct customers, the payments and their spend, the merchant shown by its
most recent spelling (on one date the greatest in UTF-8 byte order); rows
with fewer than `min_customers` customers are left out. Ordered by
customers descending, then key (UTF-8 bytes), then currency.

With a counterparty (any spelling: it is keyed too) the job is a drill-down:
that merchant's customers, one row per (user, currency), ordered by user_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import InvalidArgument, Reason, Violation
from ...kernels import merchants
from ...kernels.calendar import complete_months
from ...kernels.slots import currency_keys
from ...storage.store import Snapshot
from ..model import FIELD_LIMITS
from .common import (
    Common,
    Progress,
    Slots,
    currency_array,
    eligible_accounts,
    parse_months,
    user_currency_slots,
    walk,
)
from .insurance_spending import provider_key

NAME = "MERCHANT_AFFINITY"
FIELD = "spec.merchant_affinity"
MAX_MONTHS = 24
#: The result page of a drill-down (a ranking's is the type's own).
CUSTOMERS_PAGE = "MERCHANT_CUSTOMERS"


@dataclass(frozen=True)
class Params:
    months: int
    min_customers: int
    counterparty: str  # "": the ranking


def parse(raw: dict[str, Any], taxonomy: Any = None) -> Params:
    months = parse_months(raw.get("months"), f"{FIELD}.months", MAX_MONTHS)
    # int64 arrives as a JSON string.
    least = int(raw.get("min_customers") or 0)
    if least < 0:
        field = f"{FIELD}.min_customers"
        raise InvalidArgument(f"{field} must be 0 or more, got {least}",
                              [Violation(field, "must be 0 or more")], reason=Reason.INVALID_SPEC)
    counterparty = str(raw.get("counterparty") or "")
    if len(counterparty) > FIELD_LIMITS["counterparty_name"]:
        field = f"{FIELD}.counterparty"
        limit = FIELD_LIMITS["counterparty_name"]
        raise InvalidArgument(f"{field} is longer than a counterparty name ({limit} characters)",
                              [Violation(field, f"at most {limit} characters")],
                              reason=Reason.INVALID_SPEC)
    return Params(months, least, counterparty)


def to_dict(params: Params) -> dict[str, Any]:
    return {"months": params.months, "min_customers": params.min_customers,
            "counterparty": params.counterparty}


def page(params: Params) -> str:
    """The ResultPage field the job's members go in."""
    return CUSTOMERS_PAGE if params.counterparty else NAME


def spellings(snapshot: Snapshot) -> pa.Array:
    """Every counterparty name as spelled, by id."""
    count = int(snapshot.state.get("counterparties", 0)) if snapshot.state else 0
    return snapshot.counterparties(np.arange(count, dtype=np.int64))


def merchant_keys(spelled: pa.Array) -> tuple[np.ndarray, list[str]]:
    """(key number of every counterparty id, the keys in UTF-8 byte order)."""
    keys = [provider_key(name or "") for name in spelled.to_pylist()]
    names = sorted(set(keys), key=str.encode)
    rank = {k: i for i, k in enumerate(names)}
    return np.array([rank[k] for k in keys], np.int64), names


def spelling_ranks(spelled: pa.Array) -> np.ndarray:
    """Each counterparty id's rank in the UTF-8 byte order of the spellings
    (Arrow orders binary by its bytes)."""
    order = pc.sort_indices(spelled.cast(pa.binary())).to_numpy()
    rank = np.empty(len(spelled), np.int64)
    rank[order] = np.arange(len(spelled))
    return rank


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    slots = user_currency_slots(snapshot, eligible_accounts(snapshot, common))
    bounds = complete_months(common.as_of, params.months)
    window = int(bounds[0]), int(bounds[-1])
    spelled = spellings(snapshot)
    key_of, keys = merchant_keys(spelled)
    if params.counterparty:
        return _customers(snapshot, slots, key_of, keys, params.counterparty, window, progress)
    return _ranking(snapshot, slots, key_of, keys, spelling_ranks(spelled),
                    params.min_customers, window, progress)


def _currencies(slots: Slots) -> tuple[np.ndarray, np.ndarray]:
    """(each slot's currency number, the codes in byte order)."""
    keys = currency_keys(slots.currency)
    if keys.size and bool((keys == keys[0]).all()):  # one currency, most banks
        return np.zeros(keys.shape[0], np.int64), slots.currency[:1]
    codes, number = np.unique(slots.currency, return_inverse=True)
    return number.reshape(-1).astype(np.int64), codes


def _ranking(snapshot: Snapshot, slots: Slots, key_of: np.ndarray, keys: list[str],
             spelling_rank: np.ndarray, least: int, window: tuple[int, int],
             progress: Progress) -> pa.Table:
    currency_of_slot, codes = _currencies(slots)
    first, last = merchants.slot_spans(slots.of_account, slots.count)
    ranking = merchants.Ranking(len(keys), max(len(codes), 1), first, last, spelling_rank)
    for block, s in walk(snapshot, progress):
        ranking.add(block.offsets, block.dates, block.amounts, block.counterparties, s.start,
                    slots.of_account[s], currency_of_slot, key_of, *window)
    ranking.finish()
    cells = np.flatnonzero(ranking.customers >= max(least, 1))
    # Cells are numbered key by key, currency by currency: both in order.
    cells = cells[np.argsort(-ranking.customers[cells], kind="stable")]
    n_currencies = ranking.n_currencies
    return pa.table({
        "merchant_key": pa.array(keys, pa.string()).take(pa.array(cells // n_currencies)),
        "merchant_name": snapshot.counterparties(ranking.best_spelling[cells]),
        "currency": currency_array(codes, cells % n_currencies),
        "customers": pa.array(ranking.customers[cells]),
        "transactions": pa.array(ranking.payments[cells]),
        "spend": pa.array(ranking.spend[cells]),
    })


def _customers(snapshot: Snapshot, slots: Slots, key_of: np.ndarray, keys: list[str],
               counterparty: str, window: tuple[int, int], progress: Progress) -> pa.Table:
    """The drill-down: per slot (user, currency), the payments to the
    merchant of `counterparty`'s key, in result order."""
    key = provider_key(counterparty)
    wanted = key_of == (keys.index(key) if key in keys else -1)
    n = slots.count
    payments, spend = np.zeros(n, np.int64), np.zeros(n, np.int64)
    first = np.full(n, np.iinfo(np.int32).max, np.int32)
    last = np.full(n, np.iinfo(np.int32).min, np.int32)
    for block, s in walk(snapshot, progress):
        merchants.customers(block.offsets, block.dates, block.amounts, block.counterparties,
                            slots.of_account[s], wanted, *window, payments, spend, first, last)
    paid = np.flatnonzero(payments)
    return pa.table({
        "user_id": snapshot.user_ids(slots.user[paid]),
        "currency": currency_array(slots.currency, paid),
        "transactions": pa.array(payments[paid]),
        "spend": pa.array(spend[paid]),
        "first_purchase": pa.array(first[paid], pa.date32()).cast(pa.string()),
        "last_purchase": pa.array(last[paid], pa.date32()).cast(pa.string()),
    })
