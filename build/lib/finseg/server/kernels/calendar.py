"""Calendar dates as int32 day numbers (days since 1970-01-01).

Kernels compare and subtract dates as plain integers; this module is the only
place that converts between `datetime.date` and day numbers and knows what a
complete month is (SPEC §1).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)
#: `opened_on` of an account open since ever.
OPEN_SINCE_EVER = np.int32(np.iinfo(np.int32).min)
#: `closed_on` of an account that is still open.
NEVER_CLOSED = np.int32(np.iinfo(np.int32).max)


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def complete_months(as_of: dt.date, n: int) -> np.ndarray:
    """Bounds of the N complete months before the month of `as_of`.

    Returns int32[n + 1] day numbers: month k (0 = oldest) covers the days
    [bounds[k], bounds[k + 1]). With as_of 2026-03-25 and n = 3 the months
    are December 2025, January and February 2026.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    bounds = np.empty(n + 1, dtype=np.int32)
    for k in range(n + 1):
        year, month = add_months(as_of.year, as_of.month, k - n)
        bounds[k] = day_number(dt.date(year, month, 1))
    return bounds
