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
from finseg.server.kernels import breakdown, warmup
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


def run(accounts, as_of, n, groups, readonly=False, slot_of=None):
    """Sums per account (or per slot, with slot_of); ineligible accounts
    get no slot."""
    offsets, dates, amounts, labels = to_block(accounts)
    if readonly:
        offsets, dates, amounts, labels = (np.frombuffer(a.tobytes(), a.dtype)
                                           for a in (offsets, dates, amounts, labels))
    member = TAXONOMY.membership(groups, LABELS)
    if slot_of is None:
        slot_of = np.arange(len(accounts), dtype=np.int64)
    n_slots = int(slot_of.max()) + 1 if len(accounts) else 0
    slot_of = np.where([e for e, _ in accounts], slot_of, -1).astype(np.int64)
    sums = np.zeros((n_slots, len(groups), n), np.int64)
    counts = np.zeros(sums.shape[:2], np.int64)
    breakdown.monthly_by_group(offsets, dates, amounts, labels, slot_of,
                               complete_months(as_of, n), member, sums, counts)
    return sums, counts


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


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.booleans(), rows, st.integers(0, 3)), min_size=1, max_size=12),
       st.dates(dt.date(2024, 3, 1), dt.date(2026, 7, 31)), st.integers(1, 12),
       st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True))
def test_accounts_sharing_a_slot_add_up(accounts, as_of, n, groups):
    slot_of = np.array([slot for _, _, slot in accounts], np.int64)
    accounts = [(e, r) for e, r, _ in accounts]
    sums, counts = run(accounts, as_of, n, groups, slot_of=slot_of)
    want_sums = np.zeros_like(sums)
    want_counts = np.zeros_like(counts)
    for slot, (s, c) in zip(slot_of, reference(accounts, as_of, n, groups), strict=True):
        want_sums[slot] += np.array(s, np.int64)
        want_counts[slot] += np.array(c, np.int64)
    assert sums.tolist() == want_sums.tolist()
    assert counts.tolist() == want_counts.tolist()


def test_rows_come_per_user_then_group_then_slot_with_their_statistics():
    # Slots 0-1 are one user's (two currencies), slot 2 another user's.
    sums = np.array([[[1, 2], [0, 0]], [[0, 0], [5, -5]], [[-3, 0], [7, 7]]], np.int64)
    counts = np.array([[2, 0], [0, 1], [1, 3]], np.int64)
    out = breakdown.rows(np.array([0, 2, 3], np.int64), sums, counts)
    assert out["user_rows"].tolist() == [2, 2]
    assert list(zip(out["slot"].tolist(), out["group"].tolist(), strict=True)) == [
        (0, 0), (1, 1), (2, 0), (2, 1)]
    assert out["count"].tolist() == [2, 1, 1, 3]  # a zero total still counts (5 - 5)
    assert out["monthly"].tolist() == [[1, 2], [5, -5], [-3, 0], [7, 7]]
    assert out["total"].tolist() == [3, 0, -3, 14]
    assert out["median"].tolist() == [1.5, 0.0, -1.5, 7.0]
    assert out["std_dev"].tolist() == [0.5, 5.0, 1.5, 0.0]
    empty = breakdown.rows(np.zeros(1, np.int64), np.zeros((0, 1, 3), np.int64),
                           np.zeros((0, 1), np.int64))
    assert empty["monthly"].shape == (0, 3) and empty["user_rows"].shape == (0,)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(1, 4), max_size=12), st.integers(1, 3), st.integers(1, 4),
       st.randoms(use_true_random=False))
def test_rows_match_a_plain_listing_of_the_sums(slots_per_user, n_groups, n, rnd):
    # rows() moves sums inside their own array; compare with a copy taken first.
    user_starts = np.concatenate([[0], np.cumsum(slots_per_user)]).astype(np.int64)
    n_slots = int(user_starts[-1])
    sums = np.array([rnd.randint(-9, 9) for _ in range(n_slots * n_groups * n)],
                    np.int64).reshape(n_slots, n_groups, n)
    counts = np.array([rnd.choice([0, 0, 1, 3]) for _ in range(n_slots * n_groups)],
                      np.int64).reshape(n_slots, n_groups)
    want = [(s, g, int(counts[s, g]), sums[s, g].tolist())
            for a, b in zip(user_starts[:-1], user_starts[1:], strict=True)
            for g in range(n_groups) for s in range(a, b) if counts[s, g]]
    want_user_rows = [sum(1 for g in range(n_groups) for s in range(a, b) if counts[s, g])
                      for a, b in zip(user_starts[:-1], user_starts[1:], strict=True)]
    out = breakdown.rows(user_starts, sums, counts)
    got = list(zip(out["slot"].tolist(), out["group"].tolist(), out["count"].tolist(),
                   out["monthly"].tolist(), strict=True))
    assert got == want
    assert out["user_rows"].tolist() == want_user_rows
    assert out["total"].tolist() == [sum(m) for *_, m in want]


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
    slot_of = np.zeros(1, np.int64)
    sums, counts = np.zeros((1, 1, 1), np.int64), np.zeros((1, 1), np.int64)
    with pytest.raises(ValueError, match="labels"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels.astype(np.int64),
                                   slot_of, bounds, member, sums, counts)
    with pytest.raises(ValueError, match="outside the membership"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels, slot_of, bounds,
                                   member[:1], sums, counts)
    with pytest.raises(ValueError, match="outside the sums"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels, slot_of + 1, bounds,
                                   member, sums, counts)
    with pytest.raises(ValueError, match="slot_of, sums and counts"):
        breakdown.monthly_by_group(offsets, dates, amounts, labels, slot_of, bounds,
                                   member, sums[:, :, :0], counts)
    with pytest.raises(ValueError, match="monthly"):
        breakdown.stats(np.zeros((1, 0), np.int64))


def test_warm_up_compiles_every_kernel_with_the_arguments_it_takes():
    warmup.warm()  # an argument list out of date with a kernel raises here
