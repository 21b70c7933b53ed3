"""Merging transaction runs that are sorted by (account, date).

The store keeps a tenant's transactions in base chunks sorted by account and
date, plus a tail of recent batches in arrival order. A job (and the
compactor) sorts the tail and merges it into each chunk with these kernels.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly
from .blocks import counting_sort, first_row_from, sort_run


@kernel
def _tail_positions(a_offsets, a_dates, b_offsets, b_dates, out_offsets, positions):
    w = 0
    out_offsets[0] = 0
    for i in range(a_offsets.shape[0] - 1):
        p, p_end = a_offsets[i], a_offsets[i + 1]
        for q in range(b_offsets[i], b_offsets[i + 1]):
            # The first row of a booked after b's row: a's rows come first
            # among equal dates. A binary search, since a's runs are long
            # and b's rows are few and recent.
            lo = first_row_from(a_dates, p, p_end, b_dates[q] + 1)
            w += lo - p
            p = lo
            positions[q] = w
            w += 1
        w += p_end - p
        out_offsets[i + 1] = w


@kernel
def _insert_rows(a, b, positions, out):
    # Element loops: slice copies cost more per tail row than they saved
    # (a live subset has a tail row every 30 base rows).
    i = w = 0
    for q in range(b.shape[0]):
        p = positions[q]
        while w < p:
            out[w] = a[i]
            w += 1
            i += 1
        out[w] = b[q]
        w += 1
    while w < out.shape[0]:
        out[w] = a[i]
        w += 1
        i += 1


Columns = dict[str, np.ndarray]


def merge(a_offsets: np.ndarray, a: Columns, b_offsets: np.ndarray, b: Columns
          ) -> tuple[np.ndarray, Columns]:
    """(offsets, columns) of run a merged with run b (same accounts, same
    column names, "dates" among them and ascending within each account)."""
    offsets, positions = merged_positions(a_offsets, a["dates"], b_offsets, b["dates"])
    return offsets, {name: insert_rows(a[name][:int(a_offsets[-1])], b[name], positions)
                     for name in a}


def merged_positions(a_offsets: np.ndarray, a_dates: np.ndarray, b_offsets: np.ndarray,
                     b_dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, positions) of run a merged with run b, both CSR over the
    same accounts and date-sorted per account, a's rows first among equal
    dates: b's row q goes to positions[q], and a merged column is
    insert_rows(a_column, b_column, positions), so a caller takes only the
    columns it reads. The tail (b) is small beside the base (a): each
    column is then one streaming copy, where a take through a per-row
    order array cost three passes and a branch per row."""
    if a_offsets.shape != b_offsets.shape:
        raise ValueError("runs must cover the same accounts")
    if int(b_offsets[-1]) > b_dates.shape[0] or int(a_offsets[-1]) > a_dates.shape[0]:
        raise ValueError("offsets run past the dates")
    offsets = np.empty_like(a_offsets, dtype=np.int64)
    positions = np.empty(int(b_offsets[-1]), dtype=np.int64)
    _tail_positions(*readonly(a_offsets, a_dates[:int(a_offsets[-1])], b_offsets, b_dates),
                    offsets, positions)
    return offsets, positions


def insert_rows(a: np.ndarray, b: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """a with b's rows inserted: b[q] at positions[q] (strictly ascending,
    each within the result), a's rows in order around them."""
    if a.dtype != b.dtype:
        raise ValueError("a and b must have one dtype")
    if positions.shape != b.shape or (positions.size and (
            int(positions[0]) < 0 or int(positions[-1]) >= a.shape[0] + b.shape[0]
            or bool(np.any(np.diff(positions) <= 0)))):
        raise ValueError("positions must ascend strictly inside the result, one per row of b")
    out = np.empty(a.shape[0] + b.shape[0], a.dtype)
    _insert_rows(*readonly(a, b, positions.astype(np.int64, copy=False)), out)
    return out


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
