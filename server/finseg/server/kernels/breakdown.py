"""FINANCIAL_BREAKDOWN kernels (SPEC §4): monthly sums per label group, then
the statistics over each row of N monthly sums.

Blocks are laid out as in `balances` (CSR offsets, dates ascending within an
account), plus `labels` int32[m]: each row's id in the tenant's label
dictionary. `member` bool[n_labels, G] says which label id is in which of the
G requested groups (taxonomy.Taxonomy.membership); a row in two groups counts
in each. Sums are exact int64; the statistics are float64.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel
from .balances import check_block


@parallel_kernel
def _monthly_by_group(offsets, dates, amounts, labels, eligible, month_bounds, member,
                      sums, counts):
    n_months = month_bounds.shape[0] - 1
    n_groups = member.shape[1]
    start, stop = month_bounds[0], month_bounds[n_months]
    for i in prange(eligible.shape[0]):
        for g in range(n_groups):
            counts[i, g] = 0
            for k in range(n_months):
                sums[i, g, k] = 0
        if not eligible[i]:
            continue
        k = 0
        for r in range(offsets[i], offsets[i + 1]):
            day = dates[r]
            if day < start:
                continue
            if day >= stop:
                break  # dates ascend within an account
            while day >= month_bounds[k + 1]:
                k += 1
            label = labels[r]
            for g in range(n_groups):
                if member[label, g]:
                    sums[i, g, k] += amounts[r]
                    counts[i, g] += 1


def monthly_by_group(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
                     labels: np.ndarray, eligible: np.ndarray, month_bounds: np.ndarray,
                     member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per account and group over the N months [month_bounds[0],
    month_bounds[N]): (sums int64[n, G, N], counts int64[n, G]). A row of
    0.00 counts; ineligible accounts get zeros."""
    n = eligible.shape[0]
    check_block(offsets, dates, amounts, n, eligible=eligible)
    m = int(offsets[-1]) if n else 0
    if labels.dtype != np.int32 or labels.ndim != 1 or labels.shape[0] < m:
        raise ValueError(f"labels must be 1-d int32 with at least {m} rows, got "
                         f"{labels.dtype}{list(labels.shape)}")
    if month_bounds.dtype != np.int32 or month_bounds.ndim != 1 or month_bounds.shape[0] < 2:
        raise ValueError("month_bounds must be int32[N + 1] with N >= 1")
    if member.dtype != np.bool_ or member.ndim != 2:
        raise ValueError("member must be bool[n_labels, G]")
    if m and labels[:m].size and (int(labels[:m].max()) >= member.shape[0]
                                  or int(labels[:m].min()) < 0):
        raise ValueError("a label id is outside the membership table")
    n_months, n_groups = month_bounds.shape[0] - 1, member.shape[1]
    sums = np.empty((n, n_groups, n_months), dtype=np.int64)
    counts = np.empty((n, n_groups), dtype=np.int64)
    _monthly_by_group(offsets, dates, amounts, labels, eligible, month_bounds, member, sums,
                      counts)
    return sums, counts


@kernel
def _stats(monthly, total, average, low, high, median, std_dev):
    rows, n = monthly.shape
    ordered = np.empty(n, dtype=np.int64)
    for r in range(rows):
        t = np.int64(0)
        for k in range(n):
            t += monthly[r, k]
            ordered[k] = monthly[r, k]
        ordered.sort()
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
            d = monthly[r, k] - mean
            squares += d * d
        std_dev[r] = np.sqrt(squares / n)


def stats(monthly: np.ndarray) -> dict[str, np.ndarray]:
    """Over each row of N monthly sums (int64[r, N]): total (int64, exact),
    average (= total / N), min, max, median (mean of the two middle values
    for even N) and population standard deviation (ddof = 0)."""
    if monthly.dtype != np.int64 or monthly.ndim != 2 or monthly.shape[1] < 1:
        raise ValueError("monthly must be int64[rows, N] with N >= 1")
    rows = monthly.shape[0]
    out = {"total": np.empty(rows, np.int64), "average": np.empty(rows),
           "min": np.empty(rows, np.int64), "max": np.empty(rows, np.int64),
           "median": np.empty(rows), "std_dev": np.empty(rows)}
    _stats(monthly, out["total"], out["average"], out["min"], out["max"], out["median"],
           out["std_dev"])
    return out
