"""RFM kernels: per result slot, the last day, count and sum of absolute
amounts of the outgoing rows booked in a window whose label counts; then
the 1-5 scores of those figures over all slots at once.

Blocks are laid out as in `breakdown`: CSR `offsets` int64[n + 1] into
`dates` int32[m] (ascending within an account), `amounts` int64[m] and
`labels` int32[m], each row's id in the tenant's label dictionary; `keep`
bool[n_labels] says which label ids count. Each account adds into its
result slot, so a user's accounts in the currency add up. Arrays may be
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

#: Columns of `outgoing`'s result: the last day counted (a day number,
#: meaningful only with a count), the count and the sum of |amount|.
LAST, COUNT, MONETARY = range(3)
#: Scores go from 1 to SCORES.
SCORES = 5


@parallel_kernel
def _outgoing(offsets, dates, amounts, labels, runs, run_accounts, slot_of, keep, every_label,
              search, first_day, last_day, out, bad):
    n_labels = keep.shape[0]
    # One run holds the block's accounts of one slot, so parallel runs never
    # write the same slot.
    for j in prange(runs.shape[0] - 1):
        slot = slot_of[run_accounts[runs[j]]]
        count = monetary = np.int64(0)
        # The last day counted, as days after first_day: the largest masked
        # one (rows that do not count give 0), found in the same pass.
        after = np.int64(0)
        for q in range(runs[j], runs[j + 1]):
            account = run_accounts[q]
            if search:  # the same for the whole call (blocks.looks_up_windows)
                lo, hi = window_rows(offsets, dates, account, first_day, last_day)
            else:
                lo, hi = offsets[account], offsets[account + 1]
            # Slices indexed from 0: numba wraps a possibly negative index
            # (r in range(lo, hi)) on every read, which kept these loops
            # from vectorizing and made them several times slower.
            window, days = amounts[lo:hi], dates[lo:hi]
            # Branch-free: whether a row counts is a mask (-1 or 0), since
            # in and out rows alternate unpredictably.
            if every_label:  # the label column is not even read
                for k in range(window.shape[0]):
                    day = np.int64(days[k]) - first_day
                    mask = (window[k] >> 63) & -np.int64((day >= 0) & (days[k] <= last_day))
                    count -= mask
                    monetary -= window[k] & mask
                    after = max(after, day & mask)
            else:
                row_labels = labels[lo:hi]
                for k in range(window.shape[0]):
                    label = row_labels[k]
                    if label < 0 or label >= n_labels:
                        bad[0] = 1  # the wrapper raises
                        continue
                    day = np.int64(days[k]) - first_day
                    mask = (window[k] >> 63) & -np.int64(
                        (day >= 0) & (days[k] <= last_day) & keep[label])
                    count -= mask
                    monetary -= window[k] & mask
                    after = max(after, day & mask)
        if count:
            last = np.int64(first_day) + after
            # Another block may have counted rows of this slot already.
            if out[slot, COUNT] == 0 or last > out[slot, LAST]:
                out[slot, LAST] = last
            out[slot, COUNT] += count
            out[slot, MONETARY] += monetary


def outgoing(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
             labels: np.ndarray | None, slot_of: np.ndarray, keep: np.ndarray | None,
             first_day: int, last_day: int, out: np.ndarray, scan_rows: int = SCAN_ROWS
             ) -> None:
    """Adds the block's outgoing rows (amount < 0) booked in [first_day,
    last_day] whose label id is kept to out int64[slots, 3] of (last day,
    count, sum of |amount|): each account's rows go to its slot, slot_of
    int64[n] (-1: left out). `keep` bool[n_labels] says which label ids
    count; None counts every row without reading the labels (which may
    then be None). `out` starts as zeros and is passed to every block of
    the snapshot; a slot's last day holds only where its count is not 0.
    A block of more than `scan_rows` rows per account looks up each
    account's window; tests pass 0 to take that way on small blocks."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    m = int(offsets[-1]) if n else 0
    every_label = keep is None
    if keep is None:  # the kernel reads no label: one empty column compiles once
        keep, labels = np.ones(1, np.bool_), np.zeros(0, np.int32)
    elif labels is None or labels.dtype != np.int32 or labels.ndim != 1 \
            or labels.shape[0] < m:
        raise ValueError(f"labels must be 1-d int32 with at least {m} rows")
    if keep.dtype != np.bool_ or keep.ndim != 1:
        raise ValueError("keep must be bool[n_labels]")
    check_slots(slot_of, out, 3)
    runs, run_accounts = slot_runs(slot_of)
    # Label ids are checked in the kernel, on the window's rows only:
    # checking the whole column first read every row of the history.
    bad = np.zeros(1, np.int64)
    search = looks_up_windows(offsets, scan_rows)
    _outgoing(*readonly(offsets, dates, amounts, labels, runs, run_accounts, slot_of, keep),
              every_label, search, np.int32(first_day), np.int32(last_day), out, bad)
    if bad[0]:
        raise ValueError("a label id is outside keep")


def scores(values: np.ndarray, more_is_better: bool) -> np.ndarray:
    """int32 scores 1..5 of each of n values against all of them:
    1 + floor(5 b / n), where b counts the values strictly worse (smaller
    when more is better, larger otherwise). Equal values share a score.

    floor(5 b / n) >= s - 1 exactly when b >= ceil((s - 1) n / 5) = b_s,
    and "at least b_s values strictly below v" is "the b_s-th smallest is
    below v". So four order statistics (np.partition, linear) and four
    comparisons per value give every score: no sort, and no binary search
    per value, which took a quarter of a second for half a million users."""
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError("values must be a 1-d integer array")
    n = values.shape[0]
    out = np.ones(n, np.int32)
    if n == 0:
        return out
    needed = [-(-(s - 1) * n // SCORES) for s in range(2, SCORES + 1)]  # b_s, 1..n
    # The b-th smallest for more_is_better, the b-th largest otherwise.
    at = [b - 1 if more_is_better else n - b for b in needed]
    bounds = _order_statistics(values, at)
    if values.dtype == np.int64:
        # One parallel pass: four numpy comparisons and adds per value made
        # eight passes over half a million values, per score.
        _scored(*readonly(values, bounds.astype(np.int64)), more_is_better, out)
        return out
    for bound in bounds:
        out += (values > bound) if more_is_better else (values < bound)
    return out


@parallel_kernel
def _scored(values, bounds, more_is_better, out):
    for i in prange(values.shape[0]):
        v = values[i]
        score = np.int32(1)
        for b in range(bounds.shape[0]):
            score += (v > bounds[b]) if more_is_better else (v < bounds[b])
        out[i] = score


def _order_statistics(values: np.ndarray, at: list[int]) -> np.ndarray:
    """The values at positions `at` of `values` sorted. Recency spans the
    window's days and frequency a few hundred counts: over such a span a
    histogram's running total finds them in one pass, three times faster
    than np.partition for half a million users. Money spans more: the same
    histogram over its top 16 bits finds the bucket of each position, and
    only that bucket's values are partitioned (twice as fast)."""
    low, high = int(values.min()), int(values.max())
    span = high - low
    if span >= 1 << 62:  # values - low could overflow
        return np.partition(values, sorted(set(at)))[at]
    shift = max(span.bit_length() - 16, 0)
    bucket = (values - low) >> shift if shift else values - low
    below = np.cumsum(np.bincount(bucket.astype(np.intp), minlength=(span >> shift) + 1))
    # The k-th smallest (from 0) is in the first bucket with more than k below or at it.
    buckets = np.searchsorted(below, np.asarray(at), side="right")
    if not shift:
        return buckets + low
    found = []
    for k, b in zip(at, buckets.tolist(), strict=True):
        rank = k - (int(below[b - 1]) if b else 0)
        found.append(np.partition(values[bucket == b], rank)[rank])
    return np.array(found, values.dtype)
