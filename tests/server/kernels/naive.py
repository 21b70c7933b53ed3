"""Plain-Python references for the balance segments and RFM, written from SPEC.md only.

Nothing here looks at the kernels: these are the obvious, slow loops over
Python ints and `datetime.date` that SPEC §1 ("End-of-day balance",
"Complete months", "Money is exact") and §4 (HIGH_BALANCE, LOW_BALANCE)
describe, so the kernels can be compared against them.

- EOD(d) = balance + S(d) - S(balance_date), S(x) = sum of the account's
  amounts with booking_date <= x, over *every* transaction of the account
  (also those booked outside its open period). Computed literally, day by day.
- An account is open on d when (opened_on is None or opened_on <= d) and
  (closed_on is None or d < closed_on).
- The N complete months are the N calendar months just before the month that
  contains as_of.

Accounts and transactions may be given as the dataclasses below or as dicts
with the same keys. `to_block` at the end lays the same data out as the
kernels' CSR arrays (that part follows the kernels' array contract, not the
SPEC).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from finseg.server.kernels.calendar import NEVER_CLOSED, OPEN_SINCE_EVER


@dataclass(frozen=True)
class Account:
    balance: int
    balance_date: dt.date
    opened_on: dt.date | None = None
    closed_on: dt.date | None = None
    eligible: bool = True


@dataclass(frozen=True)
class Transaction:
    account: int  # index into the accounts list
    booking_date: dt.date
    amount: int


@dataclass(frozen=True)
class HighResult:
    qualifies: bool
    eod: int  # EOD(as_of), given for every account


@dataclass(frozen=True)
class LowResult:
    qualifies: bool
    period_min: int | None  # only for a qualifying account
    monthly_min: list[int] | None  # only for a qualifying account, oldest month first


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


def as_account(obj: Any) -> Account:
    if isinstance(obj, Account):
        return obj
    return Account(balance=_get(obj, "balance"), balance_date=_get(obj, "balance_date"),
                   opened_on=_get(obj, "opened_on"), closed_on=_get(obj, "closed_on"),
                   eligible=_get(obj, "eligible"))


def as_transaction(obj: Any) -> Transaction:
    if isinstance(obj, Transaction):
        return obj
    return Transaction(account=_get(obj, "account"), booking_date=_get(obj, "booking_date"),
                       amount=_get(obj, "amount"))


# --- SPEC §1 -----------------------------------------------------------------------------------

def own_transactions(transactions: Sequence[Any], account: int) -> list[Transaction]:
    return [t for t in map(as_transaction, transactions) if t.account == account]


def S(own: Sequence[Transaction], x: dt.date) -> int:  # noqa: N802 - the SPEC's name
    """Sum of the account's amounts with booking_date <= x."""
    total = 0
    for t in own:
        if t.booking_date <= x:
            total += t.amount
    return total


def eod(account: Account, own: Sequence[Transaction], d: dt.date) -> int:
    """EOD(d) = balance + S(d) - S(balance_date)."""
    return account.balance + S(own, d) - S(own, account.balance_date)


def is_open(account: Account, d: dt.date) -> bool:
    if account.opened_on is not None and not account.opened_on <= d:
        return False
    if account.closed_on is not None and not d < account.closed_on:
        return False
    return True


def complete_months(as_of: dt.date, n: int) -> list[tuple[int, int]]:
    """(year, month) of the N complete months before as_of's month, oldest first."""
    year, month = as_of.year, as_of.month
    months = []
    for _ in range(n):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append((year, month))
    months.reverse()
    return months


def days_of_month(year: int, month: int) -> list[dt.date]:
    return [dt.date(year, month, day) for day in range(1, calendar.monthrange(year, month)[1] + 1)]


def monthly_minimums(account: Account, own: Sequence[Transaction], as_of: dt.date,
                     n_months: int) -> list[int | None]:
    """Lowest EOD over the open days of each complete month; None: not open that month."""
    result: list[int | None] = []
    for year, month in complete_months(as_of, n_months):
        lowest: int | None = None
        for d in days_of_month(year, month):
            if not is_open(account, d):
                continue
            value = eod(account, own, d)
            if lowest is None or value < lowest:
                lowest = value
        result.append(lowest)
    return result


# --- SPEC §4 -----------------------------------------------------------------------------------

def high_balance_ref(accounts: Sequence[Any], transactions: Sequence[Any], as_of: dt.date,
                     threshold: int) -> list[HighResult]:
    """HIGH_BALANCE: open on as_of and EOD(as_of) > threshold (and eligible)."""
    results = []
    for i, raw in enumerate(accounts):
        account = as_account(raw)
        value = eod(account, own_transactions(transactions, i), as_of)
        qualifies = account.eligible and is_open(account, as_of) and value > threshold
        results.append(HighResult(qualifies=qualifies, eod=value))
    return results


def low_balance_ref(accounts: Sequence[Any], transactions: Sequence[Any], as_of: dt.date,
                    n_months: int, threshold: int) -> list[LowResult]:
    """LOW_BALANCE: in each of the N complete months the lowest EOD over the open
    days is < threshold; not open on any day of one of them: does not qualify."""
    results = []
    for i, raw in enumerate(accounts):
        account = as_account(raw)
        if not account.eligible:
            results.append(LowResult(False, None, None))
            continue
        mins = monthly_minimums(account, own_transactions(transactions, i), as_of, n_months)
        if all(m is not None and m < threshold for m in mins):
            values = [m for m in mins if m is not None]
            results.append(LowResult(True, min(values), values))
        else:
            results.append(LowResult(False, None, None))
    return results


# --- RFM --------------------------------------------------------------------------------------

#: The segment name of each (R, F) cell, by R then F; M plays no part.
RFM_GRID = {
    5: ["New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"],
    4: ["Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"],
    1: ["Lost", "Lost", "At risk", "At risk", "Cannot lose them"],
}


def rfm_score(value: int, values: Sequence[int], more_is_better: bool) -> int:
    """1 + floor(5 b / n): b counts the values strictly worse than `value`."""
    worse = sum(1 for v in values if (v < value if more_is_better else v > value))
    return 1 + (5 * worse) // len(values)


def rfm_ref(accounts: Sequence[Mapping[str, Any]], transactions: Sequence[Mapping[str, Any]],
            as_of: dt.date, window_days: int, *, currency: str = "EUR",
            account_types: Sequence[str] = (), in_groups: Any = None,
            segment_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """RFM members, ordered by user_id bytes. Accounts are dicts with
    account_id, user_id, type and currency; transactions dicts with
    account_id, booking_date, amount and label. `in_groups(label)` says
    whether a label is in one of the requested groups (None: no filter).

    A transaction counts when its account is in `currency` (and of one of
    `account_types`, if any), it is outgoing (amount < 0), booked in
    (as_of - window_days, as_of] and, with groups, its label is in one."""
    counted = {a["account_id"]: a["user_id"] for a in accounts
               if a["currency"] == currency and (not account_types or a["type"] in account_types)}
    start = as_of - dt.timedelta(days=window_days)  # not in the window
    rows: dict[str, list[tuple[dt.date, int]]] = {}
    for t in transactions:
        if t["account_id"] not in counted or t["amount"] >= 0:
            continue
        if not start < t["booking_date"] <= as_of:
            continue
        if in_groups is not None and not in_groups(t.get("label") or ""):
            continue
        rows.setdefault(counted[t["account_id"]], []).append((t["booking_date"], t["amount"]))
    figures = {user: ((as_of - max(day for day, _ in own)).days, len(own),
                      sum(-amount for _, amount in own)) for user, own in rows.items()}
    recencies = [r for r, _, _ in figures.values()]
    frequencies = [f for _, f, _ in figures.values()]
    monetaries = [m for _, _, m in figures.values()]
    members = []
    for user in sorted(figures, key=lambda u: u.encode()):
        recency, frequency, monetary = figures[user]
        r = rfm_score(recency, recencies, more_is_better=False)
        f = rfm_score(frequency, frequencies, more_is_better=True)
        m = rfm_score(monetary, monetaries, more_is_better=True)
        name = RFM_GRID[r][f - 1]
        if segment_names and name not in segment_names:
            continue
        members.append({"user_id": user, "recency": recency, "frequency": frequency,
                        "monetary": monetary, "r_score": r, "f_score": f, "m_score": m,
                        "rfm_code": f"{r}{f}{m}", "segment_name": name})
    return members


# --- the kernels' array layout (not SPEC) ------------------------------------------------------

EPOCH = dt.date(1970, 1, 1)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01, the kernels' date encoding."""
    return (d - EPOCH).days


def to_block(accounts: Sequence[Any], transactions: Sequence[Any], *,
             readonly: bool = False) -> dict[str, np.ndarray]:
    """The kernels' CSR block: rows sorted by (account, booking_date), the input
    order kept within a day. Keys are the kernels' parameter names. With
    readonly=True every array is a read-only np.frombuffer view, as from LMDB."""
    accs = [as_account(a) for a in accounts]
    txs = [as_transaction(t) for t in transactions]
    for t in txs:
        if not 0 <= t.account < len(accs):
            raise ValueError(f"transaction of unknown account {t.account}")
    rows = sorted(txs, key=lambda t: (t.account, t.booking_date))
    counts = [0] * len(accs)
    for t in rows:
        counts[t.account] += 1
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + c)
    block = {
        "offsets": np.array(offsets, dtype=np.int64),
        "dates": np.array([day_number(t.booking_date) for t in rows], dtype=np.int32),
        "amounts": np.array([t.amount for t in rows], dtype=np.int64),
        "balance": np.array([a.balance for a in accs], dtype=np.int64),
        "balance_date": np.array([day_number(a.balance_date) for a in accs], dtype=np.int32),
        "opened_on": np.array([OPEN_SINCE_EVER if a.opened_on is None else day_number(a.opened_on)
                               for a in accs], dtype=np.int32),
        "closed_on": np.array([NEVER_CLOSED if a.closed_on is None else day_number(a.closed_on)
                               for a in accs], dtype=np.int32),
        "eligible": np.array([a.eligible for a in accs], dtype=np.bool_),
    }
    if readonly:
        block = {name: np.frombuffer(array.tobytes(), dtype=array.dtype)
                 for name, array in block.items()}
        assert not any(array.flags.writeable for array in block.values())
    return block
