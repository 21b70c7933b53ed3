"""Merging transaction runs that are sorted by (account, date).

The store keeps a tenant's transactions in base chunks sorted by account and
date, plus a tail of recent batches in arrival order. A job (and the
compactor) sorts the tail and merges it into each chunk with these kernels.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly
from .blocks import counting_sort, sort_run
from .gather import take_two


@kernel
def merge_order(a_offsets, a_dates, b_offsets, b_dates, out_offsets, order):
    """Merges two CSR runs over the same accounts, each date-sorted per
    account: order[w] is the row, in run a followed by run b, that goes to
    position w. Rows of run a come first among equal dates (stable)."""
    w = 0
    n_a = a_dates.shape[0]
    out_offsets[0] = 0
    for i in range(a_offsets.shape[0] - 1):
        p, p_end = a_offsets[i], a_offsets[i + 1]
        q, q_end = b_offsets[i], b_offsets[i + 1]
        while p < p_end or q < q_end:
            if q >= q_end or (p < p_end and a_dates[p] <= b_dates[q]):
                order[w] = p
                p += 1
            else:
                order[w] = n_a + q
                q += 1
            w += 1
        out_offsets[i + 1] = w


Columns = dict[str, np.ndarray]


def merge(a_offsets: np.ndarray, a: Columns, b_offsets: np.ndarray, b: Columns
          ) -> tuple[np.ndarray, Columns]:
    """(offsets, columns) of run a merged with run b (same accounts, same
    column names, "dates" among them and ascending within each account)."""
    offsets, order = merged_order(a_offsets, a["dates"], b_offsets, b["dates"])
    return offsets, {name: take_two(a[name][:int(a_offsets[-1])], b[name], order)
                     for name in a}


def merged_order(a_offsets: np.ndarray, a_dates: np.ndarray, b_offsets: np.ndarray,
                 b_dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, order) of run a merged with run b: the merged column is
    take_two(a_column, b_column, order), so a caller can take only the
    columns it reads."""
    if a_offsets.shape != b_offsets.shape:
        raise ValueError("runs must cover the same accounts")
    total = int(a_offsets[-1]) + int(b_offsets[-1])
    offsets = np.empty_like(a_offsets, dtype=np.int64)
    order = np.empty(total, dtype=np.int64)
    merge_order(*readonly(a_offsets, a_dates[:int(a_offsets[-1])], b_offsets, b_dates),
                offsets, order)
    return offsets, order


@kernel
def _account_date_order(accounts, dates, n_accounts, out):
    # Counting sort by account (stable), then each account's few rows by
    # date: O(rows + accounts), where a general sort of the tail was the
    # compactor's largest cost.
    bounds = np.empty(n_accounts + 1, dtype=np.int64)
    counting_sort(accounts, n_accounts, bounds, out)
    for a in range(n_accounts):
        sort_run(out, bounds[a], bounds[a + 1], dates)


def sort_rows(accounts: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Stable permutation ordering rows by (account, date)."""
    out = np.empty(accounts.shape[0], dtype=np.int64)
    if accounts.shape[0]:
        _account_date_order(*readonly(accounts, dates), np.int64(accounts.max()) + 1, out)
    return out


def csr_offsets(sorted_accounts: np.ndarray, first: int, count: int) -> np.ndarray:
    """int64[count + 1] offsets of accounts first..first+count-1 in sorted rows."""
    bounds = np.arange(first, first + count + 1, dtype=np.int64)
    return np.searchsorted(sorted_accounts, bounds, side="left").astype(np.int64)
