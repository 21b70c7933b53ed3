"""What the account-by-account layout costs against the bandwidth limit:
`python -m bench.account_loops` (after `make bench` has built the 50M store).

Every kernel walks its blocks account by account (CSR), because SPEC §4 is
per account: a window starts at a different row in each account, and sums
go to the account's slot. The same bytes read as one flat loop run at the
machine's bandwidth; this times, on the bench store's real blocks:

- flat: one parallel loop over all rows of dates and amounts;
- per account, every row: the same rows, one inner loop per account;
- per account, binary search: only the first row on or after a day;
- per account, the window: binary search, then the rows up to a year on.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

import numba
import numpy as np
from numba import prange

from finseg.server.kernels.blocks import first_row_from
from finseg.server.kernels.calendar import day_number
from finseg.server.storage.store import Store

from .run import CACHE, MAP_SIZE, TENANT

STORE = CACHE / "data-50000000"
SINCE = day_number(dt.date(2025, 11, 1))


@numba.njit(parallel=True, nogil=True)
def flat(offsets, dates, amounts, day):
    s = 0
    for r in prange(offsets[-1]):
        if dates[r] >= day:
            s += amounts[r]
    return s


@numba.njit(parallel=True, nogil=True)
def per_account_every_row(offsets, dates, amounts, day):
    out = np.zeros(offsets.shape[0] - 1, np.int64)
    for i in prange(offsets.shape[0] - 1):
        s = 0
        for r in range(offsets[i], offsets[i + 1]):
            if dates[r] >= day:
                s += amounts[r]
        out[i] = s
    return out.sum()


@numba.njit(parallel=True, nogil=True)
def per_account_search(offsets, dates, amounts, day):
    out = np.zeros(offsets.shape[0] - 1, np.int64)
    for i in prange(offsets.shape[0] - 1):
        out[i] = first_row_from(dates, offsets[i], offsets[i + 1], day)
    return out.sum()


@numba.njit(parallel=True, nogil=True)
def per_account_window(offsets, dates, amounts, day):
    out = np.zeros(offsets.shape[0] - 1, np.int64)
    end = day + 365
    for i in prange(offsets.shape[0] - 1):
        s = 0
        for r in range(first_row_from(dates, offsets[i], offsets[i + 1], day), offsets[i + 1]):
            if dates[r] > end:
                break
            s += amounts[r]
        out[i] = s
    return out.sum()


def main() -> None:
    store = Store(STORE, MAP_SIZE, readonly=True)
    with store.snapshot(TENANT) as snapshot:
        blocks = list(snapshot.blocks())
        rows = sum(b.rows for b in blocks)
        accounts = sum(b.count for b in blocks)
        print(f"{rows:,} rows of {accounts:,} accounts in {len(blocks)} blocks")
        loops = {"flat": flat, "per account, every row": per_account_every_row,
                 "per account, binary search": per_account_search,
                 "per account, the window": per_account_window}
        for name, loop in loops.items():
            times = []
            for _ in range(6):  # the first compiles and brings the pages in
                started = time.perf_counter()
                for b in blocks:
                    loop(b.offsets, b.dates, b.amounts, SINCE)
                times.append(time.perf_counter() - started)
            print(f"{name}: median {statistics.median(times[1:]):.4f} s "
                  f"(runs {', '.join(f'{t:.4f}' for t in times[1:])})")
    store.close()


if __name__ == "__main__":
    main()
