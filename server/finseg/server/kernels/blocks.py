"""What every kernel's block of accounts shares: the layout check and the
two ways kernels walk it.

A block holds its accounts' transactions account after account (CSR form):
`offsets` int64[n + 1] (rows of account i are offsets[i]:offsets[i+1]),
`dates` int32[m] ascending within an account, `amounts` int64[m], and per
account arrays of length n. Any of them may be read-only views over LMDB's
memory map.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel


@kernel
def first_row_from(dates, lo, hi, day):
    """The first row of lo..hi-1 (one account's, dates ascending) booked on
    or after `day`; hi if none. Window kernels start there instead of
    stepping over the account's older history."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if dates[mid] < day:
            lo = mid + 1
        else:
            hi = mid
    return lo


@kernel
def window_rows(offsets, dates, account, first_day, last_day):
    """The rows lo..hi-1 of an account booked in [first_day, last_day]."""
    lo, hi = offsets[account], offsets[account + 1]
    if lo == hi:
        return lo, hi
    # Windows mostly end at or after an account's last row and start inside
    # its history: one look saves the second search.
    if dates[lo] < first_day:
        lo = first_row_from(dates, lo, hi, first_day)
    if lo < hi and dates[hi - 1] > last_day:
        hi = first_row_from(dates, lo, hi, last_day + 1)
    return lo, hi


#: Blocks with at most this many rows per account are read whole, each row
#: masked by its date: finding each account's window first cost more
#: (about 40 ns an account) than reading a hundred rows outside it.
SCAN_ROWS = 128


def looks_up_windows(offsets: np.ndarray, scan_rows: int = SCAN_ROWS) -> bool:
    """Whether a window kernel should look up each account's window in this
    block (more than `scan_rows` rows per account) rather than read every
    row masked by its date. The answer is one flag per kernel call, so the
    compiler makes two loops and the scan's stays vectorized; a test per
    account inside the loop cost a third of the time."""
    n = offsets.shape[0] - 1
    return n > 0 and int(offsets[-1] - offsets[0]) > scan_rows * n


#: Runs up to this long are sorted by insertion (see sort_run).
SMALL_RUN = 32


@kernel
def counting_sort(bucket, n_buckets, starts, order):
    """A stable counting sort of rows by bucket (ints 0..n_buckets-1): the
    rows of bucket b become order[starts[b]:starts[b + 1]], in row order.
    Linear, where sorting keys of millions of rows took most of a job's
    set-up."""
    for b in range(n_buckets + 1):
        starts[b] = 0
    for r in range(bucket.shape[0]):
        starts[bucket[r] + 1] += 1
    for b in range(n_buckets):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    for r in range(bucket.shape[0]):
        order[fill[bucket[r]]] = r
        fill[bucket[r]] += 1


@kernel
def sort_run(order, lo, hi, key):
    """Sorts order[lo:hi] stably by key[order[...]]: by insertion for the
    handful of rows one user usually has, by merge sort for longer runs so
    that a user with thousands does not cost a quadratic sort."""
    if hi - lo <= SMALL_RUN:
        for q in range(lo + 1, hi):
            r = order[q]
            p = q
            while p > lo and key[order[p - 1]] > key[r]:
                order[p] = order[p - 1]
                p -= 1
            order[p] = r
    else:
        run = order[lo:hi].copy()
        order[lo:hi] = run[np.argsort(key[run], kind="mergesort")]


def check_block(offsets, dates, amounts, n: int, **per_account: np.ndarray) -> None:
    """Raises ValueError unless the block's arrays have the kernels' dtypes
    and shapes: offsets int64[n + 1], dates int32 and amounts int64 with at
    least offsets[-1] rows, and each per-account array 1-d of length n."""
    dtypes = {"balance": np.int64, "balance_date": np.int32, "opened_on": np.int32,
              "closed_on": np.int32, "eligible": np.bool_}
    expected = {"offsets": (offsets, np.int64, n + 1),
                **{name: (array, dtypes[name], n) for name, array in per_account.items()}}
    for name, (array, dtype, length) in expected.items():
        if array.dtype != dtype or array.ndim != 1 or array.shape[0] != length:
            raise ValueError(f"{name} must be 1-d {np.dtype(dtype).name}[{length}], "
                             f"got {array.dtype}{list(array.shape)}")
    m = int(offsets[-1]) if n else 0
    for name, array, dtype in (("dates", dates, np.int32), ("amounts", amounts, np.int64)):
        if array.dtype != dtype or array.ndim != 1 or array.shape[0] < m:
            raise ValueError(f"{name} must be 1-d {np.dtype(dtype).name} with at least "
                             f"{m} rows, got {array.dtype}{list(array.shape)}")


def check_slots(slot_of: np.ndarray, out: np.ndarray, columns: int) -> None:
    """Raises ValueError unless slot_of is int64[n] and out int64[slots,
    columns] has a row for every slot in slot_of (-1: none)."""
    if slot_of.dtype != np.int64 or out.dtype != np.int64 or out.ndim != 2 \
            or out.shape[1] != columns:
        raise ValueError(f"slot_of must be int64[n] and out int64[slots, {columns}]")
    if slot_of.shape[0] and int(slot_of.max()) >= out.shape[0]:
        raise ValueError("a slot is outside out")


def slot_runs(slot_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The accounts of a block grouped by slot, skipping those without one
    (-1): (runs int64[r + 1], accounts int64[...]) in CSR form."""
    accounts = np.flatnonzero(slot_of >= 0)
    slots = slot_of[accounts]
    # Accounts mostly arrive user by user, so a block's slots are already in
    # order: sorting them anyway took half of this.
    if slots.shape[0] > 1 and bool(np.any(slots[1:] < slots[:-1])):
        order = np.argsort(slots, kind="stable")
        accounts, slots = accounts[order], slots[order]
    if not accounts.size:
        return np.zeros(1, np.int64), accounts.astype(np.int64)
    change = np.flatnonzero(slots[1:] != slots[:-1]) + 1
    runs = np.empty(change.shape[0] + 2, np.int64)
    runs[0], runs[1:-1], runs[-1] = 0, change, accounts.shape[0]
    return runs, accounts.astype(np.int64)
