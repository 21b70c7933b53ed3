"""FINANCIAL_BREAKDOWN kernels (SPEC §4): monthly sums per result slot and
label group, then one row per (slot, group) with its statistics.

Blocks are laid out as in `balances` (CSR offsets, dates ascending within an
account), plus `labels` int32[m]: each row's id in the tenant's label
dictionary. `member` bool[n_labels, G] says which label id is in which of the
G requested groups (taxonomy.Taxonomy.membership); a row in two groups counts
in each. A *slot* is what the result adds up: one (user, currency) pair.
Sums are exact int64; the statistics are float64.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel, readonly
from .blocks import check_block, first_row_from, slot_runs


@parallel_kernel
def _monthly_by_group(offsets, dates, amounts, labels, runs, run_accounts, slot_of, month_of,
                      start, group_starts, groups, sums, counts, bad):
    n_months = sums.shape[2]
    n_groups = sums.shape[1]
    n_labels = group_starts.shape[0] - 1
    n_runs = runs.shape[0] - 1
    stop = start + month_of.shape[0]
    # Runs in chunks, so each thread allocates its accumulators once. One
    # run holds the block's accounts of one slot, so parallel runs never
    # write the same slot.
    for c in prange((n_runs + 255) // 256):
        # Row n_groups takes the rows of labels in no requested group, so
        # every label has at least one entry and the inner loop no branch.
        acc = np.zeros((n_groups + 1) * n_months, np.int64)
        seen = np.zeros(n_groups + 1, np.int64)
        for j in range(c * 256, min(n_runs, (c + 1) * 256)):
            slot = slot_of[run_accounts[runs[j]]]
            for q in range(runs[j], runs[j + 1]):
                i = run_accounts[q]
                lo = first_row_from(dates, offsets[i], offsets[i + 1], start)
                hi = first_row_from(dates, lo, offsets[i + 1], stop)
                # Slices indexed from 0, and the month of a day looked up:
                # numba wraps an index that may be negative (r in range(lo,
                # hi)) on every read, and the month was a search per row.
                days, window, row_labels = dates[lo:hi], amounts[lo:hi], labels[lo:hi]
                for k in range(days.shape[0]):
                    label = row_labels[k]
                    if label < 0 or label >= n_labels:
                        bad[0] = 1  # the wrapper raises
                        continue
                    month = month_of[days[k] - start]
                    for p in range(group_starts[label], group_starts[label + 1]):
                        g = groups[p]
                        acc[g * n_months + month] += window[k]
                        seen[g] += 1
            for g in range(n_groups):
                if seen[g]:
                    counts[slot, g] += seen[g]
                    for k in range(n_months):
                        sums[slot, g, k] += acc[g * n_months + k]
            acc[:] = 0
            seen[:] = 0

def monthly_by_group(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
                     labels: np.ndarray, slot_of: np.ndarray, month_bounds: np.ndarray,
                     member: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> None:
    """Adds the block's rows in the N months [month_bounds[0],
    month_bounds[N]) to sums int64[slots, G, N] and counts int64[slots, G]:
    each account's rows go to its slot, slot_of int64[n] (-1: left out). A
    row of 0.00 counts. Called once per block with the same outputs."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    m = int(offsets[-1]) if n else 0
    if labels.dtype != np.int32 or labels.ndim != 1 or labels.shape[0] < m:
        raise ValueError(f"labels must be 1-d int32 with at least {m} rows, got "
                         f"{labels.dtype}{list(labels.shape)}")
    if month_bounds.dtype != np.int32 or month_bounds.ndim != 1 or month_bounds.shape[0] < 2:
        raise ValueError("month_bounds must be int32[N + 1] with N >= 1")
    if member.dtype != np.bool_ or member.ndim != 2:
        raise ValueError("member must be bool[n_labels, G]")
    n_months, n_groups = month_bounds.shape[0] - 1, member.shape[1]
    if (slot_of.dtype != np.int64 or sums.dtype != np.int64 or counts.dtype != np.int64
            or sums.ndim != 3 or sums.shape[1:] != (n_groups, n_months)
            or counts.shape != sums.shape[:2]):
        raise ValueError("slot_of, sums and counts must be int64 [n], [slots, G, N], [slots, G]")
    if n and int(slot_of.max()) >= sums.shape[0]:
        raise ValueError("a slot is outside the sums")
    runs, run_accounts = slot_runs(slot_of)
    # Each label's groups as a list (CSR); a label in none of them gets the
    # kernel's spare group n_groups, whose sums are dropped.
    member = np.concatenate([member, ~member.any(axis=1, keepdims=True)], axis=1)
    labels_of, groups = np.nonzero(member)  # row-major: by label, then group
    group_starts = np.searchsorted(labels_of, np.arange(member.shape[0] + 1)).astype(np.int64)
    # The month of each day of the N months; label ids are checked in the
    # kernel, on the rows it reads (a pass over the whole column took a
    # tenth of the job).
    start = int(month_bounds[0])
    month_of = np.repeat(np.arange(n_months, dtype=np.int64), np.diff(month_bounds))
    bad = np.zeros(1, np.int64)
    _monthly_by_group(*readonly(offsets, dates, amounts, labels, runs, run_accounts, slot_of,
                                month_of), np.int32(start),
                      *readonly(group_starts, groups.astype(np.int64)), sums, counts, bad)
    if bad[0]:
        raise ValueError("a label id is outside the membership table")


@kernel
def _row_stats(monthly, ordered, r, total, average, low, high, median, std_dev):
    """Statistics of one row's N monthly sums; `ordered` is scratch of N."""
    n = monthly.shape[0]
    t = np.int64(0)
    for k in range(n):
        t += monthly[k]
        # Insertion sort: N is at most a few dozen.
        v = monthly[k]
        p = k
        while p > 0 and ordered[p - 1] > v:
            ordered[p] = ordered[p - 1]
            p -= 1
        ordered[p] = v
    total[r] = t
    mean = t / n
    average[r] = mean
    low[r] = ordered[0]
    high[r] = ordered[n - 1]
    if n % 2:
        median[r] = float(ordered[n // 2])
    else:
        # Halves first: the sum of two large int64 could overflow.
        median[r] = ordered[n // 2 - 1] / 2.0 + ordered[n // 2] / 2.0
    squares = 0.0
    for k in range(n):
        d = monthly[k] - mean
        squares += d * d
    std_dev[r] = np.sqrt(squares / n)


@parallel_kernel
def _stats(monthly, total, average, low, high, median, std_dev):
    # Rows in chunks, so each thread allocates its scratch once.
    for c in prange((monthly.shape[0] + 1023) // 1024):
        ordered = np.empty(monthly.shape[1], dtype=np.int64)
        for r in range(c * 1024, min(monthly.shape[0], (c + 1) * 1024)):
            _row_stats(monthly[r], ordered, r, total, average, low, high, median, std_dev)


def _stat_columns(rows: int) -> dict[str, np.ndarray]:
    return {"total": np.empty(rows, np.int64), "average": np.empty(rows),
            "min": np.empty(rows, np.int64), "max": np.empty(rows, np.int64),
            "median": np.empty(rows), "std_dev": np.empty(rows)}


def stats(monthly: np.ndarray) -> dict[str, np.ndarray]:
    """Over each row of N monthly sums (int64[r, N]): total (int64, exact),
    average (= total / N), min, max, median (mean of the two middle values
    for even N) and population standard deviation (ddof = 0)."""
    if monthly.dtype != np.int64 or monthly.ndim != 2 or monthly.shape[1] < 1:
        raise ValueError("monthly must be int64[rows, N] with N >= 1")
    out = _stat_columns(monthly.shape[0])
    _stats(*readonly(monthly), out["total"], out["average"], out["min"], out["max"],
           out["median"], out["std_dev"])
    return out


@parallel_kernel
def _rows_per_user(user_starts, counts, per_user):
    for u in prange(user_starts.shape[0] - 1):
        c = 0
        for s in range(user_starts[u], user_starts[u + 1]):
            for g in range(counts.shape[1]):
                if counts[s, g] > 0:
                    c += 1
        per_user[u] = c


@kernel
def _compact(user_starts, sums, counts, row_starts, slot, group, count):
    n_groups, n_months = sums.shape[1], sums.shape[2]
    flat = sums.reshape(sums.shape[0] * n_groups, n_months)
    for u in range(user_starts.shape[0] - 1):
        a, b = user_starts[u], user_starts[u + 1]
        # Rows of users before u are at most G per slot, so u's rows start
        # at or before its own slots' sums: writing users in order only
        # overwrites sums already moved. A one-slot user's rows also keep
        # the order of its sums; a user with several slots lists them group
        # by group, so its sums are copied out first.
        source = sums[a:b].copy() if b - a > 1 else sums[a:b]
        r = row_starts[u]
        # Inside a user: by group (the request's order), then by slot.
        for g in range(n_groups):
            for s in range(a, b):
                if counts[s, g] == 0:
                    continue
                slot[r] = s
                group[r] = g
                count[r] = counts[s, g]
                for k in range(n_months):
                    flat[r, k] = source[s - a, g, k]
                r += 1


def rows(user_starts: np.ndarray, sums: np.ndarray, counts: np.ndarray
         ) -> dict[str, np.ndarray]:
    """One row per (slot, group) with a count, in result order: users as
    user_starts (CSR over slots) gives them, then group, then slot. Columns:
    slot, group, count, monthly int64[rows, N] and the statistics of
    `stats`.

    `sums` (C-contiguous) is consumed: `monthly` is a view of its memory,
    so the job neither allocates nor touches a second array of that size."""
    if not sums.flags.c_contiguous:
        raise ValueError("sums must be C-contiguous: rows are moved inside it")
    user_starts, counts = readonly(user_starts, counts)
    per_user = np.empty(user_starts.shape[0] - 1, np.int64)
    _rows_per_user(user_starts, counts, per_user)
    row_starts = np.concatenate([[0], np.cumsum(per_user)]).astype(np.int64)
    n = int(row_starts[-1])
    out = {"slot": np.empty(n, np.int64), "group": np.empty(n, np.int64),
           "count": np.empty(n, np.int64)}
    _compact(user_starts, sums, counts, *readonly(row_starts), out["slot"], out["group"],
             out["count"])
    out["monthly"] = sums.reshape(-1, sums.shape[2])[:n]
    out.update(stats(out["monthly"]))
    out["user_rows"] = per_user
    return out
