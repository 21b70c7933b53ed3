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
from .blocks import check_block, check_slots, first_row_from, slot_runs


@parallel_kernel
def _in_out(offsets, dates, amounts, runs, run_accounts, slot_of, first_day, last_day, out):
    # One run holds the block's accounts of one slot, so parallel runs never
    # write the same slot.
    for j in prange(runs.shape[0] - 1):
        slot = slot_of[run_accounts[runs[j]]]
        in_count = in_sum = out_count = out_sum = rows = np.int64(0)
        for q in range(runs[j], runs[j + 1]):
            i = run_accounts[q]
            for r in range(first_row_from(dates, offsets[i], offsets[i + 1], first_day),
                           offsets[i + 1]):
                if dates[r] > last_day:
                    break  # dates ascend within an account
                amount = amounts[r]
                rows += 1
                incoming = amount > 0
                outgoing = amount < 0
                in_count += incoming
                in_sum += amount if incoming else 0
                out_count += outgoing
                out_sum += amount if outgoing else 0
        out[slot, 0] += in_count
        out[slot, 1] += in_sum
        out[slot, 2] += out_count
        out[slot, 3] += out_sum
        out[slot, 4] += rows


#: Columns of in_out's result.
IN_COUNT, IN_SUM, OUT_COUNT, OUT_SUM, ALL_COUNT = range(5)


def in_out(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray, slot_of: np.ndarray,
           first_day: int, last_day: int, out: np.ndarray) -> None:
    """Adds the block's rows booked in [first_day, last_day] to out
    int64[slots, 5] of (incoming count, incoming sum, outgoing count,
    outgoing sum, all rows): each account's rows go to its slot, slot_of
    int64[n] (-1: left out). Incoming is amount > 0, outgoing amount < 0 (its
    sum stays negative); a row of 0 counts only in the last column. Called
    once per block with the same `out`."""
    check_block(offsets, dates, amounts, slot_of.shape[0])
    check_slots(slot_of, out, 5)
    runs, run_accounts = slot_runs(slot_of)
    _in_out(*readonly(offsets, dates, amounts, runs, run_accounts, slot_of),
            np.int32(first_day), np.int32(last_day), out)
