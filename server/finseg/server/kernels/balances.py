"""HIGH_BALANCE and LOW_BALANCE kernels (SPEC §1 end-of-day balance, §4).

Every kernel here works on one block of accounts whose transactions are laid
out account after account (CSR form):

    offsets      int64[n + 1]  rows of account i are offsets[i]:offsets[i+1]
    dates        int32[m]      booking day numbers, ascending within an account
    amounts      int64[m]      signed minor units
    balance      int64[n]      snapshot balance, minor units
    balance_date int32[n]      day number of the snapshot
    opened_on    int32[n]      first open day (calendar.OPEN_SINCE_EVER if none)
    closed_on    int32[n]      first closed day (calendar.NEVER_CLOSED if none)
    eligible     bool[n]       passes the request's account filters (type,
                               currency); ineligible accounts never qualify

The arrays may be read-only views over LMDB's memory map. EOD(d) of an
account is balance + S(d) - S(balance_date), S(x) being the sum of its
amounts booked on or before x; every row counts in S, also rows outside the
open period.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel, readonly
from .blocks import check_block, first_row_from

INT64_MAX = np.iinfo(np.int64).max


@kernel
def _eod_change(dates, amounts, start, end, since, until):
    """S(until) - S(since) of one account (rows start..end-1, dates
    ascending): the rows booked in (since, until], negated when until comes
    first. Walks back from the account's last row, so only the rows after
    the earlier day are read; snapshots and as_of dates lie near the end of
    a history, where that is a handful of rows."""
    low = min(since, until)
    high = max(since, until)
    change = np.int64(0)
    r = end - 1
    while r >= start and dates[r] > low:
        if dates[r] <= high:
            change += amounts[r]
        r -= 1
    return change if until >= since else -change


@parallel_kernel
def _high_balance(offsets, dates, amounts, balance, balance_date, opened_on, closed_on,
                  eligible, as_of, threshold, qualifies, eod):
    for i in prange(balance.shape[0]):
        value = balance[i] + _eod_change(dates, amounts, offsets[i], offsets[i + 1],
                                         balance_date[i], as_of)
        eod[i] = value
        qualifies[i] = (eligible[i] and opened_on[i] <= as_of < closed_on[i]
                        and value > threshold)


@kernel
def _month_low(dates, amounts, r, end, s, first, stop):
    """The lowest of S over the open days [first, stop) of one month, walking
    on from row r where s is the sum so far: (lowest, next row, sum). S on
    `first` includes every row up to that day; after it, only a day's last
    row gives its EOD."""
    while r < end and dates[r] <= first:
        s += amounts[r]
        r += 1
    m = s
    while r < end and dates[r] < stop:
        s += amounts[r]
        if (r + 1 == end or dates[r + 1] != dates[r]) and s < m:
            m = s
        r += 1
    return m, r, s


@kernel
def _snapshot_sum(dates, amounts, first_row, r, end, s, balance_date):
    """S(balance_date) - S(origin - 1) of a month walk that stopped at row r
    with s the sum of rows first_row..r-1: the walk's sum moved forward or
    back to the snapshot's day, so no row is read twice."""
    snapshot = s
    q = r
    while q < end and dates[q] <= balance_date:
        snapshot += amounts[q]
        q += 1
    q = r - 1
    while q >= first_row and dates[q] > balance_date:
        snapshot -= amounts[q]
        q -= 1
    return snapshot


@parallel_kernel
def _low_balance(offsets, dates, amounts, balance, balance_date, opened_on, closed_on,
                 eligible, month_bounds, threshold, qualifies, period_min, monthly_min):
    n_months = month_bounds.shape[0] - 1
    for i in prange(balance.shape[0]):
        qualifies[i] = False
        period_min[i] = INT64_MAX
        for k in range(n_months):
            monthly_min[i, k] = INT64_MAX
        if not eligible[i]:
            continue
        start, end = offsets[i], offsets[i + 1]
        # EOD(d) = balance + S(d) - S(balance_date). Counting S from `origin`
        # instead of from the account's first row changes neither term's
        # difference, and the rows before it (the history before the window,
        # often most of it) are never read.
        origin = min(month_bounds[0], balance_date[i] + 1)
        first_row = first_row_from(dates, start, end, origin)
        r = first_row
        # One forward walk over the rows: `s` is S(day) - S(origin - 1) for
        # the last day whose rows were added. EOD is constant between booking
        # days, so a month's minimum is the EOD of its first open day or of a
        # booking day inside its open days, never anything in between. The
        # minima are kept relative to S(origin - 1) and the snapshot's term
        # added at the end, so no row is read twice.
        s = np.int64(0)
        open_every_month = True
        for k in range(n_months):
            first = max(month_bounds[k], opened_on[i])
            stop = min(month_bounds[k + 1], closed_on[i])
            if first >= stop:
                open_every_month = False
                break
            monthly_min[i, k], r, s = _month_low(dates, amounts, r, end, s, first, stop)
        if not open_every_month:
            continue
        base = balance[i] - _snapshot_sum(dates, amounts, first_row, r, end, s,
                                          balance_date[i])
        all_below = True
        lowest = INT64_MAX
        for k in range(n_months):
            m = base + monthly_min[i, k]
            monthly_min[i, k] = m
            lowest = min(lowest, m)
            all_below = all_below and m < threshold
        period_min[i] = lowest
        qualifies[i] = all_below


@parallel_kernel
def _monthly_minimums(offsets, dates, amounts, balance, balance_date, opened_on, closed_on,
                      eligible, month_bounds, monthly_min):
    # _low_balance's walk without its early exit: every month is measured,
    # and a month without an open day is INT64_MAX, which no threshold is
    # above.
    n_months = month_bounds.shape[0] - 1
    for i in prange(balance.shape[0]):
        for k in range(n_months):
            monthly_min[i, k] = INT64_MAX
        if not eligible[i]:
            continue
        start, end = offsets[i], offsets[i + 1]
        origin = min(month_bounds[0], balance_date[i] + 1)
        first_row = first_row_from(dates, start, end, origin)
        r = first_row
        s = np.int64(0)
        for k in range(n_months):
            first = max(month_bounds[k], opened_on[i])
            stop = min(month_bounds[k + 1], closed_on[i])
            if first >= stop:
                continue  # the next open month's walk adds these rows
            monthly_min[i, k], r, s = _month_low(dates, amounts, r, end, s, first, stop)
        base = balance[i] - _snapshot_sum(dates, amounts, first_row, r, end, s,
                                          balance_date[i])
        for k in range(n_months):
            if monthly_min[i, k] != INT64_MAX:
                monthly_min[i, k] += base


def _check_block(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible):
    check_block(offsets, dates, amounts, balance.shape[0], balance=balance,
                balance_date=balance_date, opened_on=opened_on, closed_on=closed_on,
                eligible=eligible)


def high_balance(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible,
                 as_of: int, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """HIGH_BALANCE over one block of accounts.

    Returns (qualifies bool[n], eod int64[n]): an account qualifies when it is
    eligible, open on `as_of` and EOD(as_of) > threshold; eod[i] is EOD(as_of)
    of every account.
    """
    _check_block(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible)
    n = balance.shape[0]
    qualifies = np.empty(n, dtype=np.bool_)
    eod = np.empty(n, dtype=np.int64)
    _high_balance(*readonly(offsets, dates, amounts, balance, balance_date, opened_on,
                            closed_on, eligible),
                  np.int32(as_of), np.int64(threshold), qualifies, eod)
    return qualifies, eod


def low_balance(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible,
                month_bounds: np.ndarray, threshold: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LOW_BALANCE over one block of accounts.

    `month_bounds` is int32[N + 1] from calendar.complete_months: month k is
    the days [month_bounds[k], month_bounds[k + 1]). Requires dates ascending
    within each account.

    Returns (qualifies bool[n], period_min int64[n], monthly_min int64[n, N]).
    An account qualifies when it is eligible and, in each month, it was open
    on at least one day and its lowest EOD over its open days was strictly
    below `threshold`. For a qualifying account, monthly_min holds those N
    lowest balances and period_min the lowest of them; for others the values
    are not meaningful (INT64_MAX where a month was not reached).
    """
    _check_block(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible)
    if month_bounds.dtype != np.int32 or month_bounds.ndim != 1 or month_bounds.shape[0] < 2:
        raise ValueError("month_bounds must be int32[N + 1] with N >= 1")
    n, n_months = balance.shape[0], month_bounds.shape[0] - 1
    qualifies = np.empty(n, dtype=np.bool_)
    period_min = np.empty(n, dtype=np.int64)
    monthly_min = np.empty((n, n_months), dtype=np.int64)
    _low_balance(*readonly(offsets, dates, amounts, balance, balance_date, opened_on, closed_on,
                           eligible, month_bounds),
                 np.int64(threshold), qualifies, period_min, monthly_min)
    return qualifies, period_min, monthly_min


def monthly_minimums(offsets, dates, amounts, balance, balance_date, opened_on, closed_on,
                     eligible, month_bounds: np.ndarray) -> np.ndarray:
    """Each account's lowest EOD over its open days of each of the N months
    of `month_bounds` (as in low_balance): int64[n, N], INT64_MAX for a month
    in which the account was not open on any day and for every month of an
    account that is not eligible."""
    _check_block(offsets, dates, amounts, balance, balance_date, opened_on, closed_on, eligible)
    if month_bounds.dtype != np.int32 or month_bounds.ndim != 1 or month_bounds.shape[0] < 2:
        raise ValueError("month_bounds must be int32[N + 1] with N >= 1")
    monthly_min = np.empty((balance.shape[0], month_bounds.shape[0] - 1), dtype=np.int64)
    _monthly_minimums(*readonly(offsets, dates, amounts, balance, balance_date, opened_on,
                                closed_on, eligible, month_bounds), monthly_min)
    return monthly_min
