"""Money-flow kernels: counts and sums of transactions in a date range
(INCOME_SPENDING_SUMMARY, SPEC §4).

Blocks are laid out as in `balances`: CSR `offsets` int64[n + 1] into
`dates` int32[m] and `amounts` int64[m], ascending dates within an account;
each account adds into its result slot (see `breakdown`). Arrays may be
read-only views over LMDB's memory map.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import parallel_kernel, readonly
from .blocks import (
    SCAN_ROWS,
    check_block,
    check_slots,
    looks_up_windows,
    slot_runs,
    window_rows,
)


@parallel_kernel
def _in_out(offsets, dates, amounts, runs, run_accounts, slot_of, search, first_day, last_day,
            out):
    # One run holds the block's accounts of one slot, so parallel runs never
    # write the same slot.
    for j in prange(runs.shape[0] - 1):
        slot = slot_of[run_accounts[runs[j]]]
        in_count = in_sum = out_count = out_sum = rows = np.int64(0)
        for q in range(runs[j], runs[j + 1]):
            i = run_accounts[q]
            if search:  # the same for the whole call (blocks.looks_up_windows)
                lo, hi = window_rows(offsets, dates, i, first_day, last_day)
            else:
                lo, hi = offsets[i], offsets[i + 1]
            # Slices indexed from 0, branch-free masks: numba wraps an index
            # that may be negative (r in range(lo, hi)) on every read, and
            # that and the branches kept this loop scalar.
            window, days = amounts[lo:hi], dates[lo:hi]
            for k in range(window.shape[0]):
                amount = window[k]
                inside = np.int64((days[k] >= first_day) & (days[k] <= last_day))
                incoming = inside & np.int64(amount > 0)
                outgoing = inside & np.int64(amount < 0)
                rows += inside
                in_count += incoming
                in_sum += amount & -incoming
                out_count += outgoing
                out_sum += amount & -outgoing
        out[slot, 0] += in_count
        out[slot, 1] += in_sum
        out[slot, 2] += out_count
        out[slot, 3] += out_sum
        out[slot, 4] += rows


#: Columns of in_out's result.
IN_COUNT, IN_SUM, OUT_COUNT, OUT_SUM, ALL_COUNT = range(5)


def in_out(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray, slot_of: np.ndarray,
           first_day: int, last_day: int, out: np.ndarray, scan_rows: int = SCAN_ROWS) -> None:
    """Adds the block's rows booked in [first_day, last_day] to out
    int64[slots, 5] of (incoming count, incoming sum, outgoing count,
    outgoing sum, all rows): each account's rows go to its slot, slot_of
    int64[n] (-1: left out). Incoming is amount > 0, outgoing amount < 0 (its
    sum stays negative); a row of 0 counts only in the last column. Called
    once per block with the same `out`. A block of more than `scan_rows`
    rows per account looks up each account's range; tests pass 0 to take
    that way on small blocks."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    check_slots(slot_of, out, 5)
    runs, run_accounts = slot_runs(slot_of)
    search = looks_up_windows(offsets, scan_rows)
    _in_out(*readonly(offsets, dates, amounts, runs, run_accounts, slot_of), search,
            np.int32(first_day), np.int32(last_day), out)
