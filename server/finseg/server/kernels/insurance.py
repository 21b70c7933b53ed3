"""INSURANCE_SPENDING kernels (SPEC §4): the insurance payments of a window,
then one contract per run of payments with the same (user, contract key).

Blocks are laid out as in `breakdown`, plus `counterparties` int32[m]: each
row's id in the tenant's counterparty name dictionary. `type_of_label`
int32[n_labels] gives each label id's insurance type id, or -1 when the
label is not an insurance label the request keeps. Payment amounts are exact
int64; typical amount and annual cost are float64, positive.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel, readonly
from .blocks import check_block, counting_sort, first_row_from, sort_run

FREQUENCIES = ("ONCE", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "YEARLY", "IRREGULAR")
ONCE, IRREGULAR = 0, 5
#: Closed intervals of the median gap in days (SPEC §4), for MONTHLY,
#: QUARTERLY, HALF_YEARLY and YEARLY, and their payments per year.
BANDS = np.array([[25, 35], [80, 100], [170, 195], [350, 380]], np.float64)
PER_YEAR = np.array([12.0, 4.0, 2.0, 1.0])


@parallel_kernel
def _count_payments(offsets, dates, amounts, labels, slot_of, type_of_label, start, stop,
                    per_account):
    for i in prange(slot_of.shape[0]):
        c = 0
        if slot_of[i] >= 0:
            for r in range(first_row_from(dates, offsets[i], offsets[i + 1], start),
                           offsets[i + 1]):
                day = dates[r]
                if day >= stop:
                    break  # dates ascend within an account
                if amounts[r] < 0 and type_of_label[labels[r]] >= 0:
                    c += 1
        per_account[i] = c


@parallel_kernel
def _fill_payments(offsets, dates, amounts, labels, counterparties, slot_of, type_of_label,
                   start, stop, row_starts, slot, kind, counterparty, date, amount):
    for i in prange(slot_of.shape[0]):
        if row_starts[i] == row_starts[i + 1]:
            continue
        w = row_starts[i]
        for r in range(first_row_from(dates, offsets[i], offsets[i + 1], start), offsets[i + 1]):
            day = dates[r]
            if day >= stop:
                break
            t = type_of_label[labels[r]]
            if amounts[r] < 0 and t >= 0:
                slot[w] = slot_of[i]
                kind[w] = t
                counterparty[w] = counterparties[r]
                date[w] = day
                amount[w] = amounts[r]
                w += 1


def payments(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray, labels: np.ndarray,
             counterparties: np.ndarray, slot_of: np.ndarray, type_of_label: np.ndarray,
             start: int, stop: int) -> dict[str, np.ndarray]:
    """The block's insurance payments booked in [start, stop) (day numbers):
    outgoing rows (amount < 0) of accounts with a slot (slot_of int64[n],
    -1: left out) whose label has a type. Columns slot, type, counterparty,
    date, amount; rows by account, then date."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    m = int(offsets[-1]) if n else 0
    for name, array in (("labels", labels), ("counterparties", counterparties)):
        if array.dtype != np.int32 or array.ndim != 1 or array.shape[0] < m:
            raise ValueError(f"{name} must be 1-d int32 with at least {m} rows")
    if type_of_label.dtype != np.int32 or slot_of.dtype != np.int64:
        raise ValueError("type_of_label must be int32 and slot_of int64")
    if m and (int(labels[:m].max()) >= type_of_label.shape[0] or int(labels[:m].min()) < 0):
        raise ValueError("a label id is outside type_of_label")
    offsets, dates, amounts, labels, counterparties, slot_of, type_of_label = readonly(
        offsets, dates, amounts, labels, counterparties, slot_of, type_of_label)
    window = np.int64(start), np.int64(stop)
    per_account = np.empty(n, np.int64)
    _count_payments(offsets, dates, amounts, labels, slot_of, type_of_label, *window,
                    per_account)
    row_starts = np.concatenate([[0], np.cumsum(per_account)]).astype(np.int64)
    k = int(row_starts[-1])
    out: dict[str, np.ndarray] = {"slot": np.empty(k, np.int64), "type": np.empty(k, np.int32),
           "counterparty": np.empty(k, np.int32), "date": np.empty(k, np.int32),
           "amount": np.empty(k, np.int64)}
    _fill_payments(offsets, dates, amounts, labels, counterparties, slot_of, type_of_label,
                   *window, *readonly(row_starts), out["slot"], out["type"],
                   out["counterparty"], out["date"], out["amount"])
    return out


@parallel_kernel
def _sort_within_users(user_starts, key, order, new_run):
    for u in prange(user_starts.shape[0] - 1):
        a, b = user_starts[u], user_starts[u + 1]
        sort_run(order, a, b, key)
        for q in range(a, b):
            new_run[q] = q == a or (key[order[q]] >> 10) != (key[order[q - 1]] >> 10)


def contract_runs(user: np.ndarray, key: np.ndarray, n_users: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Orders payment rows by user (int64 positions < n_users), then `key`
    (contract << 10 | day offset): (order, starts), where the rows
    order[starts[j]:starts[j + 1]] are contract j's, dates ascending."""
    if user.dtype != np.int64 or key.dtype != np.int64 or user.shape != key.shape:
        raise ValueError("user and key must be int64 of one length")
    if user.size and (int(user.min()) < 0 or int(user.max()) >= n_users):
        raise ValueError("a user position is outside 0..n_users-1")
    user_starts = np.empty(n_users + 1, np.int64)
    order = np.empty(user.shape[0], np.int64)
    counting_sort(*readonly(user), np.int64(n_users), user_starts, order)
    new_run = np.empty(user.shape[0], np.bool_)
    _sort_within_users(*readonly(user_starts, key), order, new_run)
    starts = np.concatenate([np.nonzero(new_run)[0], [user.shape[0]]]).astype(np.int64)
    return order, starts


@kernel
def _median(values, n):
    """Median of values[:n], sorted in place; the mean of the two middle
    values for even n."""
    v = values[:n]
    v.sort()
    if n % 2:
        return float(v[n // 2])
    return v[n // 2 - 1] / 2.0 + v[n // 2] / 2.0


@parallel_kernel
def _contracts(starts, date, amount, counterparty, scratch_size, count, first, last,
               typical, frequency, annual, spelling, tie):
    n_contracts = starts.shape[0] - 1
    for c in prange((n_contracts + 255) // 256):
        # Scratch once per chunk of contracts, not once per contract.
        paid = np.empty(scratch_size, np.int64)
        gaps = np.empty(scratch_size, np.int64)
        for j in range(c * 256, min(n_contracts, (c + 1) * 256)):
            a, b = starts[j], starts[j + 1]
            n = b - a
            total = np.int64(0)
            n_gaps = 0
            for q in range(n):
                paid[q] = -amount[a + q]
                total += paid[q]
                if q and date[a + q] != date[a + q - 1]:
                    gaps[n_gaps] = date[a + q] - date[a + q - 1]
                    n_gaps += 1
            count[j] = n
            first[j] = date[a]
            last[j] = date[b - 1]
            typical[j] = _median(paid, n)
            f = ONCE
            per_year = 0.0
            if n_gaps:
                f = IRREGULAR
                gap = _median(gaps, n_gaps)
                for band in range(BANDS.shape[0]):
                    if BANDS[band, 0] <= gap <= BANDS[band, 1]:
                        f = band + 1
                        per_year = PER_YEAR[band]
            frequency[j] = f
            annual[j] = typical[j] * per_year if per_year > 0 else float(total)
            # The spelling of the last payment; several spellings on that
            # day are settled by transaction id, which the caller looks up.
            spelling[j] = counterparty[b - 1]
            tie[j] = False
            q = b - 2
            while q >= a and date[q] == date[b - 1]:
                if counterparty[q] != counterparty[b - 1]:
                    tie[j] = True
                q -= 1


def contracts(starts: np.ndarray, date: np.ndarray, amount: np.ndarray,
              counterparty: np.ndarray) -> dict[str, np.ndarray]:
    """One contract per run starts[j]:starts[j + 1] of payments (ordered by
    date within the run): count, first and last date, typical amount
    (median payment, positive), frequency (index into FREQUENCIES), annual
    cost, the spelling (counterparty id) of the last payment and whether
    other spellings share its date (`tie`)."""
    if starts.dtype != np.int64 or date.dtype != np.int32 or amount.dtype != np.int64:
        raise ValueError("starts and amount must be int64, date int32")
    k = starts.shape[0] - 1
    longest = int(np.diff(starts).max()) if k > 0 else 0
    out = {"count": np.empty(k, np.int64), "first": np.empty(k, np.int32),
           "last": np.empty(k, np.int32), "typical": np.empty(k), "frequency": np.empty(k, np.int8),
           "annual": np.empty(k), "spelling": np.empty(k, np.int32), "tie": np.empty(k, np.bool_)}
    _contracts(*readonly(starts, date, amount, counterparty), np.int64(longest), out["count"],
               out["first"], out["last"], out["typical"], out["frequency"], out["annual"],
               out["spelling"], out["tie"])
    return out
