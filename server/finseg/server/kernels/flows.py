"""Money-flow kernels: counts and sums of transactions in a date range
(INCOME_SPENDING_SUMMARY, SPEC §4).

Blocks are laid out as in `balances`: CSR `offsets` int64[n + 1] into
`dates` int32[m] and `amounts` int64[m], ascending dates within an account;
`eligible` bool[n] masks accounts the request does not look at. Arrays may be
read-only views over LMDB's memory map.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import parallel_kernel
from .balances import check_block


@parallel_kernel
def _in_out(offsets, dates, amounts, eligible, first_day, last_day, out):
    for i in prange(eligible.shape[0]):
        for k in range(5):
            out[i, k] = 0
        if not eligible[i]:
            continue
        for r in range(offsets[i], offsets[i + 1]):
            day = dates[r]
            if day < first_day:
                continue
            if day > last_day:
                break  # dates ascend within an account
            amount = amounts[r]
            out[i, 4] += 1
            if amount > 0:
                out[i, 0] += 1
                out[i, 1] += amount
            elif amount < 0:
                out[i, 2] += 1
                out[i, 3] += amount


#: Columns of in_out's result.
IN_COUNT, IN_SUM, OUT_COUNT, OUT_SUM, ALL_COUNT = range(5)


def in_out(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray, eligible: np.ndarray,
           first_day: int, last_day: int) -> np.ndarray:
    """Per account, over rows booked in [first_day, last_day]: int64[n, 5] of
    (incoming count, incoming sum, outgoing count, outgoing sum, all rows).
    Incoming is amount > 0, outgoing amount < 0 (its sum stays negative); a
    row of 0 counts only in the last column. Ineligible accounts get zeros."""
    n = eligible.shape[0]
    check_block(offsets, dates, amounts, n, eligible=eligible)
    out = np.empty((n, 5), dtype=np.int64)
    _in_out(offsets, dates, amounts, eligible, np.int32(first_day), np.int32(last_day), out)
    return out
