"""FINANCIAL_BREAKDOWN kernels against plain references from SPEC §4."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.domain import taxonomy
from finseg.server.kernels import breakdown
from finseg.server.kernels.calendar import complete_months, day_number

TAXONOMY = taxonomy.default()
LABELS = ["", "SALARY", "INCOME.SALARY", "INCOME.PENSION", "INCOMETAX", "INSURANCE.CAR",
          "INSURANCE.PET", "GROCERIES", "SHOPPING"]
GROUPS = ["INCOME", "SALARY", "INSURANCE", "GROCERIES", "SHOPPING", "INSURANCE.CAR"]


def month_of(d: dt.date, as_of: dt.date, n: int) -> int | None:
    """0-based index of d's month among the N complete months, or None."""
    back = (as_of.year * 12 + as_of.month) - (d.year * 12 + d.month)
    return n - back if 1 <= back <= n else None


def reference(accounts, as_of, n, groups):
    """accounts: per account (eligible, [(date, amount, label)])."""
    out = []
    for eligible, rows in accounts:
        sums = [[0] * n for _ in groups]
        counts = [0] * len(groups)
        if eligible:
            for d, amount, label in rows:
                k = month_of(d, as_of, n)
                if k is None:
                    continue
                for g, group in enumerate(groups):
                    if TAXONOMY.contains(group, label):
                        sums[g][k] += amount
                        counts[g] += 1
        out.append((sums, counts))
    return out


def to_block(accounts):
    offsets, dates, amounts, labels = [0], [], [], []
    for _, rows in accounts:
        for d, amount, label in sorted(rows, key=lambda r: r[0]):
            dates.append(day_number(d))
            amounts.append(amount)
            labels.append(LABELS.index(label))
        offsets.append(len(dates))
    return (np.array(offsets, np.int64), np.array(dates, np.int32),
            np.array(amounts, np.int64), np.array(labels, np.int32))


def run(accounts, as_of, n, groups, readonly=False):
    offsets, dates, amounts, labels = to_block(accounts)
    if readonly:
        offsets, dates, amounts, labels = (np.frombuffer(a.tobytes(), a.dtype)
                                           for a in (offsets, dates, amounts, labels))
    member = TAXONOMY.membership(groups, LABELS)
    eligible = np.array([e for e, _ in accounts], bool)
    return breakdown.monthly_by_group(offsets, dates, amounts, labels, eligible,
                                      complete_months(as_of, n), member)


rows = st.lists(st.tuples(st.dates(dt.date(2024, 1, 1), dt.date(2026, 6, 30)),
                          st.integers(-10**9, 10**9) | st.just(0), st.sampled_from(LABELS)),
                max_size=40)


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.booleans(), rows), max_size=15),
       st.dates(dt.date(2024, 3, 1), dt.date(2026, 7, 31)), st.integers(1, 12),
       st.lists(st.sampled_from(GROUPS), min_size=1, max_size=5, unique=True), st.booleans())
def test_monthly_sums_match_reference(accounts, as_of, n, groups, readonly):
    sums, counts = run(accounts, as_of, n, groups, readonly)
    want = reference(accounts, as_of, n, groups)
    assert sums.tolist() == [s for s, _ in want]
    assert counts.tolist() == [c for _, c in want]


def test_edges_of_months_leap_day_and_year_change():
    as_of = dt.date(2025, 1, 10)  # months: Oct, Nov, Dec 2024 ... with N = 12: Jan-Dec 2024
    rows = [(dt.date(2024, 2, 29), -100, "GROCERIES"), (dt.date(2024, 12, 31), -7, "GROCERIES"),
            (dt.date(2025, 1, 1), -9, "GROCERIES"), (dt.date(2024, 1, 1), -3, "GROCERIES"),
            (dt.date(2023, 12, 31), -5, "GROCERIES"), (dt.date(2024, 6, 15), 40, "GROCERIES"),
            (dt.date(2024, 6, 15), 0, "GROCERIES")]
    sums, counts = run([(True, rows)], as_of, 12, ["GROCERIES"])
    assert sums[0, 0].tolist() == [-3, -100, 0, 0, 0, 40, 0, 0, 0, 0, 0, -7]  # refund, 0.00
    assert counts[0, 0] == 5
    sums, counts = run([(True, rows)], as_of, 1, ["GROCERIES"])
    assert sums[0, 0].tolist() == [-7] and counts[0, 0] == 1


def test_one_row_counts_in_every_group_it_belongs_to():
    rows = [(dt.date(2026, 1, 5), 3000, "SALARY"), (dt.date(2026, 1, 6), 50, "INCOMETAX")]
    sums, counts = run([(True, rows)], dt.date(2026, 2, 1), 1, ["INCOME", "SALARY", "SHOPPING"])
    assert sums[:, :, 0].tolist() == [[3000, 3000, 0]] and counts.tolist() == [[1, 1, 0]]


@pytest.mark.parametrize("monthly", [
    [5], [0, 0], [1, 2, 3, 4], [4, 1, 3], [-10, 0, 10, 20, -30, 5, 5, 7, 8, 9, 1, 2],
    [4 * 10**18, 4 * 10**18], [-(4 * 10**18), 4 * 10**18, 3],
])
def test_stats_match_the_statistics_module(monthly):
    got = breakdown.stats(np.array([monthly], np.int64))
    n = len(monthly)
    assert got["total"][0] == sum(monthly)
    assert got["min"][0] == min(monthly) and got["max"][0] == max(monthly)
    assert math.isclose(got["average"][0], sum(monthly) / n, rel_tol=1e-12)
    assert math.isclose(got["median"][0], float(statistics.median(monthly)), rel_tol=1e-12)
    assert math.isclose(got["std_dev"][0], statistics.pstdev([float(x) for x in monthly]),
                        rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(st.integers(-10**12, 10**12), min_size=12, max_size=12),
                max_size=20))
def test_stats_rows_match_reference(rows):
    monthly = np.array(rows, np.int64).reshape(-1, 12)
    got = breakdown.stats(monthly)
    for r, values in enumerate(rows):
        assert got["total"][r] == sum(values)
        assert math.isclose(got["median"][r], statistics.median(values), rel_tol=1e-12,
                            abs_tol=1e-9)
        assert math.isclose(got["std_dev"][r], statistics.pstdev(values), rel_tol=1e-9,
                            abs_tol=1e-3)


def test_argument_checks():
    offsets, dates, amounts, labels = to_block([(True, [(dt.date(2026, 1, 2), 1, "SALARY")])])
    member = TAXONOMY.membership(["INCOME"], LABELS)
    bounds = complete_months(dt.date(2026, 2, 1), 1)
    with pytest.raises(ValueError, match="labels"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels.astype(np.int64),
                                   np.ones(1, bool), bounds, member)
    with pytest.raises(ValueError, match="outside the membership"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels, np.ones(1, bool), bounds,
                                   member[:1])
    with pytest.raises(ValueError, match="monthly"):
        breakdown.stats(np.zeros((1, 0), np.int64))
