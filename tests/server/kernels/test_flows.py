"""The in/out flow kernel against a plain loop written from SPEC §4
(INCOME_SPENDING_SUMMARY): rows in [from, to], both ends included."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import flows
from finseg.server.kernels.calendar import day_number


def reference(rows_per_account, eligible, first, last):
    """rows_per_account: per account a list of (date, amount)."""
    out = []
    for rows, ok in zip(rows_per_account, eligible, strict=True):
        inside = [a for d, a in rows if first <= d <= last] if ok else []
        out.append([sum(1 for a in inside if a > 0), sum(a for a in inside if a > 0),
                    sum(1 for a in inside if a < 0), sum(a for a in inside if a < 0),
                    len(inside)])
    return out


def per_account(offsets, dates, amounts, eligible, first, last, scan_rows=flows.SCAN_ROWS):
    """in_out with one slot per eligible account: its rows, or zeros."""
    n = eligible.shape[0]
    out = np.zeros((n, 5), np.int64)
    slot_of = np.where(eligible, np.arange(n), -1).astype(np.int64)
    flows.in_out(offsets, dates, amounts, slot_of, first, last, out, scan_rows)
    return out


def block(rows_per_account, readonly=False):
    offsets = np.zeros(len(rows_per_account) + 1, np.int64)
    dates, amounts = [], []
    for i, rows in enumerate(rows_per_account):
        for d, a in sorted(rows, key=lambda r: r[0]):
            dates.append(d)
            amounts.append(a)
        offsets[i + 1] = len(dates)
    arrays = [offsets, np.array(dates, np.int32), np.array(amounts, np.int64)]
    if readonly:
        arrays = [np.frombuffer(a.tobytes(), a.dtype) for a in arrays]
    return arrays


accounts = st.lists(st.lists(st.tuples(st.integers(19000, 19100),
                                       st.integers(-10**12, 10**12) | st.just(0)),
                             max_size=30), max_size=25)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(accounts, st.data())
def test_matches_reference(rows_per_account, data):
    n = len(rows_per_account)
    eligible = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    first = data.draw(st.integers(18990, 19110))
    last = data.draw(st.integers(first, 19120))
    readonly = data.draw(st.booleans())
    # 0: each account's range is looked up, as in blocks of long accounts;
    # otherwise every row is read and masked by its date.
    scan_rows = data.draw(st.sampled_from([0, flows.SCAN_ROWS]))
    got = per_account(*block(rows_per_account, readonly), eligible, first, last, scan_rows)
    assert got.tolist() == reference(rows_per_account, eligible, first, last)


def test_both_ends_included_and_zero_amounts_count_only_as_rows():
    d = day_number
    rows = [[(d(dt.date(2026, 1, 1)), 500), (d(dt.date(2026, 1, 31)), -200),
             (d(dt.date(2025, 12, 31)), 7), (d(dt.date(2026, 2, 1)), 9),
             (d(dt.date(2026, 1, 15)), 0)],
            [(d(dt.date(2026, 1, 10)), 0)], []]
    for scan_rows in (0, flows.SCAN_ROWS):
        got = per_account(*block(rows), np.ones(3, bool), d(dt.date(2026, 1, 1)),
                           d(dt.date(2026, 1, 31)), scan_rows)
        assert got.tolist() == [[1, 500, 1, -200, 3], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]


def test_one_day_range_and_ineligible_accounts():
    rows = [[(100, 5), (100, -3), (101, 4)], [(100, 5)]]
    got = per_account(*block(rows), np.array([True, False]), 100, 100)
    assert got.tolist() == [[1, 5, 1, -3, 2], [0, 0, 0, 0, 0]]


def test_accounts_of_one_slot_add_up():
    rows = [[(100, 5), (101, -3)], [(100, 7)], [(100, -1)]]
    out = np.zeros((2, 5), np.int64)
    flows.in_out(*block(rows), np.array([1, 0, 1], np.int64), 100, 101, out)
    assert out.tolist() == [[1, 7, 0, 0, 1], [1, 5, 2, -4, 3]]


def test_argument_checks():
    offsets, dates, amounts = block([[(1, 1)]])
    out = np.zeros((1, 5), np.int64)
    with pytest.raises(ValueError, match="offsets must be 1-d int64\\[3\\]"):
        flows.in_out(offsets, dates, amounts, np.zeros(2, np.int64), 0, 5, out)  # 2 accounts?
    with pytest.raises(ValueError, match="slot_of must be int64"):
        flows.in_out(offsets, dates, amounts, np.zeros(1, np.int32), 0, 5, out)
    with pytest.raises(ValueError, match="outside out"):
        flows.in_out(offsets, dates, amounts, np.ones(1, np.int64), 0, 5, out)
    with pytest.raises(ValueError, match="amounts"):
        flows.in_out(offsets, dates, amounts.astype(np.int32), np.zeros(1, np.int64), 0, 5, out)
