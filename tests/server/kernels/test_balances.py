"""HIGH_BALANCE and LOW_BALANCE kernels against the plain-Python SPEC reference.

The reference (naive.py next to this file) is written from SPEC §1 and §4
only and computes every end-of-day balance day by day. Hand-computed cases
check the reference and the kernels alike; property tests compare the two on
random blocks.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from finseg.server.kernels.balances import high_balance, low_balance, monthly_minimums
from finseg.server.kernels.calendar import (
    NEVER_CLOSED,
    OPEN_SINCE_EVER,
    complete_months,
    day_number,
)


def _load_naive():
    # Loaded by path under a unique name: independent of pytest's import mode
    # and of any other test folder's `naive` module.
    name = "finseg_tests_server_kernels_naive"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("naive.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


naive = _load_naive()
Account = naive.Account
T = naive.Transaction
D = dt.date

PROPERTY = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- running the kernels and the reference ---------------------------------------------------

def kernel_high(accounts, txs, as_of, threshold, *, readonly=False):
    block = naive.to_block(accounts, txs, readonly=readonly)
    qualifies, eod = high_balance(**block, as_of=day_number(as_of), threshold=threshold)
    n = len(accounts)
    assert qualifies.dtype == np.bool_ and qualifies.shape == (n,)
    assert eod.dtype == np.int64 and eod.shape == (n,)
    return [(bool(q), int(e)) for q, e in zip(qualifies, eod, strict=True)]


def ref_high(accounts, txs, as_of, threshold):
    return [(r.qualifies, r.eod) for r in naive.high_balance_ref(accounts, txs, as_of, threshold)]


def kernel_low(accounts, txs, as_of, n_months, threshold, *, readonly=False):
    """(qualifies, period_min, monthly_min) per account; the two minimums only
    for a qualifying account (the kernel promises nothing for the others)."""
    block = naive.to_block(accounts, txs, readonly=readonly)
    bounds = complete_months(as_of, n_months)
    if readonly:
        bounds.setflags(write=False)
    qualifies, period_min, monthly_min = low_balance(**block, month_bounds=bounds,
                                                     threshold=threshold)
    n = len(accounts)
    assert qualifies.dtype == np.bool_ and qualifies.shape == (n,)
    assert period_min.dtype == np.int64 and period_min.shape == (n,)
    assert monthly_min.dtype == np.int64 and monthly_min.shape == (n, n_months)
    return [(True, int(period_min[i]), [int(v) for v in monthly_min[i]]) if qualifies[i]
            else (False, None, None) for i in range(n)]


def ref_low(accounts, txs, as_of, n_months, threshold):
    return [(r.qualifies, r.period_min, r.monthly_min)
            for r in naive.low_balance_ref(accounts, txs, as_of, n_months, threshold)]


def _mismatches(accounts, txs, got, want):
    return [{"account": i, "data": accounts[i], "transactions": naive.own_transactions(txs, i),
             "kernel": g, "reference": w}
            for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]


def check_high(accounts, txs, as_of, threshold, *, readonly=False):
    got = kernel_high(accounts, txs, as_of, threshold, readonly=readonly)
    want = ref_high(accounts, txs, as_of, threshold)
    assert got == want, (as_of, threshold, _mismatches(accounts, txs, got, want))
    return want


def check_low(accounts, txs, as_of, n_months, threshold, *, readonly=False):
    got = kernel_low(accounts, txs, as_of, n_months, threshold, readonly=readonly)
    want = ref_low(accounts, txs, as_of, n_months, threshold)
    assert got == want, (as_of, n_months, threshold, _mismatches(accounts, txs, got, want))
    return want


# --- SPEC §4 worked example ------------------------------------------------------------------

EXAMPLE_AS_OF = D(2026, 3, 10)
EXAMPLE_ACCOUNTS = [Account(balance=10000, balance_date=D(2026, 3, 10))]
EXAMPLE_TXS = [T(0, D(2026, 1, 15), -15000), T(0, D(2026, 1, 20), 20000),
               T(0, D(2026, 2, 27), -8000), T(0, D(2026, 3, 5), 5000)]


def test_reference_reproduces_the_worked_example_day_by_day():
    account, own = EXAMPLE_ACCOUNTS[0], EXAMPLE_TXS
    assert naive.S(own, D(2026, 3, 10)) == 2000
    assert naive.complete_months(EXAMPLE_AS_OF, 2) == [(2026, 1), (2026, 2)]

    def spec_says(d):  # the piecewise EOD the SPEC lists
        if d <= D(2026, 1, 14):
            return 8000
        if d <= D(2026, 1, 19):
            return -7000
        if d <= D(2026, 2, 26):
            return 13000
        if d <= D(2026, 3, 4):
            return 5000
        return 10000

    d = D(2025, 11, 1)
    while d <= D(2026, 5, 31):
        assert naive.eod(account, own, d) == spec_says(d), d
        d += dt.timedelta(days=1)
    assert naive.monthly_minimums(account, own, EXAMPLE_AS_OF, 2) == [-7000, 5000]


@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize(("threshold", "expected"), [
    (0, (False, None, None)),  # February never went below 0.00
    (5000, (False, None, None)),  # below means strictly below
    (6000, (True, -7000, [-7000, 5000])),
    (5001, (True, -7000, [-7000, 5000])),
    (-6999, (False, None, None)),  # January would, February does not
    (-7000, (False, None, None)),
])
def test_worked_example_low_balance(threshold, expected, readonly):
    got = kernel_low(EXAMPLE_ACCOUNTS, EXAMPLE_TXS, EXAMPLE_AS_OF, 2, threshold, readonly=readonly)
    assert got == [expected]
    assert ref_low(EXAMPLE_ACCOUNTS, EXAMPLE_TXS, EXAMPLE_AS_OF, 2, threshold) == [expected]


@pytest.mark.parametrize(("as_of", "threshold", "expected"), [
    (D(2026, 3, 10), 9999, (True, 10000)),
    (D(2026, 3, 10), 10000, (False, 10000)),
    (D(2026, 3, 4), 4999, (True, 5000)),  # before the snapshot date
    (D(2026, 1, 17), -7001, (True, -7000)),
    (D(2026, 1, 17), -7000, (False, -7000)),
    (D(2026, 1, 14), 7999, (True, 8000)),
    (D(2026, 12, 31), 9999, (True, 10000)),  # after the snapshot date
    (D(2020, 1, 1), 7999, (True, 8000)),
])
def test_worked_example_high_balance(as_of, threshold, expected):
    assert kernel_high(EXAMPLE_ACCOUNTS, EXAMPLE_TXS, as_of, threshold) == [expected]
    assert ref_high(EXAMPLE_ACCOUNTS, EXAMPLE_TXS, as_of, threshold) == [expected]


# --- hand-computed edge cases (kernel == reference == expectation) ---------------------------

def both_low(accounts, txs, as_of, n_months, threshold):
    got = kernel_low(accounts, txs, as_of, n_months, threshold)
    want = ref_low(accounts, txs, as_of, n_months, threshold)
    return got, want


def both_high(accounts, txs, as_of, threshold):
    return kernel_high(accounts, txs, as_of, threshold), ref_high(accounts, txs, as_of, threshold)


MARCH = D(2026, 3, 10)  # N = 1: February 2026; N = 2: January and February 2026


@pytest.mark.parametrize(("txs", "threshold", "expected"), [
    # dip on the last day of the month, back on the 1st of the next: counts
    ([(D(2026, 2, 28), -500), (D(2026, 3, 1), 500)], 501, (True, 500, [500])),
    ([(D(2026, 2, 28), -500), (D(2026, 3, 1), 500)], 500, (False, None, None)),
    # dip on the 1st of the month only
    ([(D(2026, 2, 1), -500), (D(2026, 2, 2), 500)], 501, (True, 500, [500])),
    # dip on the last day of the month before the window: not in it
    ([(D(2026, 1, 31), -500), (D(2026, 2, 1), 500)], 1001, (True, 1000, [1000])),
    ([(D(2026, 1, 31), -500), (D(2026, 2, 1), 500)], 501, (False, None, None)),
    # dip starting on the 1st of the month after the window: not in it, but in S
    ([(D(2026, 3, 1), -500)], 1501, (True, 1500, [1500])),
    ([(D(2026, 3, 1), -500)], 1500, (False, None, None)),
    # a change on the 1st carries to the end of the month
    ([(D(2026, 2, 1), -500), (D(2026, 3, 1), 500)], 501, (True, 500, [500])),
    ([(D(2026, 2, 1), -500)], 1001, (True, 1000, [1000])),  # S(as_of) = -500
])
def test_month_boundaries(txs, threshold, expected):
    accounts = [Account(balance=1000, balance_date=MARCH)]
    rows = [T(0, d, a) for d, a in txs]
    got, want = both_low(accounts, rows, MARCH, 1, threshold)
    assert got == want == [expected]


def test_month_boundaries_two_months():
    accounts = [Account(balance=1000, balance_date=MARCH)]
    rows = [T(0, D(2026, 1, 31), -300), T(0, D(2026, 2, 1), 300)]
    got, want = both_low(accounts, rows, MARCH, 2, 1001)
    assert got == want == [(True, 700, [700, 1000])]


def test_29_february_2024_is_in_the_window():
    as_of = D(2024, 3, 15)
    bounds = complete_months(as_of, 1)
    assert list(bounds) == [day_number(D(2024, 2, 1)), day_number(D(2024, 3, 1))]
    assert bounds[1] - bounds[0] == 29
    rows = [T(i, D(2024, 2, 29), -1000) for i in range(3)] + [
        T(i, D(2024, 3, 1), 1000) for i in range(3)]
    accounts = [
        Account(balance=0, balance_date=as_of),
        Account(balance=0, balance_date=as_of, closed_on=D(2024, 2, 29)),  # open 1..28
        Account(balance=0, balance_date=as_of, opened_on=D(2024, 2, 29)),  # open on the 29th
    ]
    got, want = both_low(accounts, rows, as_of, 1, 0)
    assert got == want == [(True, -1000, [-1000]), (False, None, None), (True, -1000, [-1000])]


def test_december_to_january_window():
    as_of = D(2026, 1, 5)
    assert naive.complete_months(as_of, 2) == [(2025, 11), (2025, 12)]
    assert list(complete_months(as_of, 2)) == [
        day_number(D(2025, 11, 1)), day_number(D(2025, 12, 1)), day_number(D(2026, 1, 1))]
    accounts = [Account(balance=0, balance_date=as_of)]
    rows = [T(0, D(2025, 11, 30), -100), T(0, D(2025, 12, 1), 100),
            T(0, D(2025, 12, 31), -200), T(0, D(2026, 1, 1), 200)]
    for day in (D(2026, 1, 1), as_of, D(2026, 1, 31)):
        got, want = both_low(accounts, rows, day, 2, 0)
        assert got == want == [(True, -200, [-100, -200])]
        got, want = both_low(accounts, rows, day, 2, -100)
        assert got == want == [(False, None, None)]
    got, want = both_low(accounts, rows, as_of, 13, 1)  # December 2024 .. December 2025
    assert got == want == [(True, -200, [0] * 11 + [-100, -200])]


@pytest.mark.parametrize(("opened_on", "closed_on", "n_months", "expected"), [
    (None, D(2026, 2, 1), 2, (False, None, None)),  # closed on the 1st: not open in February
    (None, D(2026, 1, 1), 2, (False, None, None)),
    (None, D(2026, 2, 2), 2, (True, -100, [-100, -100])),  # open on 1 February only
    (None, D(2026, 3, 1), 2, (True, -100, [-100, -100])),
    (None, D(2025, 12, 31), 1, (False, None, None)),  # closed before the window
    (D(2026, 3, 1), None, 1, (False, None, None)),  # opened after the window
    (D(2026, 3, 10), None, 1, (False, None, None)),
    (D(2026, 2, 28), None, 1, (True, -100, [-100])),  # opened on the last day: open one day
    (D(2026, 1, 31), None, 2, (True, -100, [-100, -100])),
    (D(2026, 2, 28), None, 2, (False, None, None)),  # January not open
    (D(2026, 2, 14), D(2026, 2, 15), 1, (True, -100, [-100])),  # opened_on == closed_on - 1
    (D(2026, 2, 14), D(2026, 2, 14), 1, (False, None, None)),  # never open
    (D(2024, 1, 1), D(2027, 1, 1), 24, (True, -100, [-100] * 24)),
    (D(2024, 4, 1), D(2027, 1, 1), 24, (False, None, None)),  # March 2024 missing
    (D(2024, 3, 31), D(2026, 2, 2), 24, (True, -100, [-100] * 24)),
])
def test_open_period_per_month(opened_on, closed_on, n_months, expected):
    accounts = [Account(balance=-100, balance_date=D(2025, 6, 1), opened_on=opened_on,
                        closed_on=closed_on)]
    got, want = both_low(accounts, [], MARCH, n_months, 10**12)
    assert got == want == [expected]


def test_opened_on_last_day_of_month_ignores_earlier_days_but_not_earlier_rows():
    accounts = [Account(balance=0, balance_date=MARCH, opened_on=D(2026, 1, 31))]
    rows = [T(0, D(2026, 1, 20), -500), T(0, D(2026, 1, 31), 1000)]
    # S(as_of) = 500, so EOD = S(d) - 500: -1000 on 20..30 January (not open), 0 from the 31st.
    got, want = both_low(accounts, rows, MARCH, 2, 1)
    assert got == want == [(True, 0, [0, 0])]
    got, want = both_low(accounts, rows, MARCH, 2, 0)
    assert got == want == [(False, None, None)]


def test_transactions_outside_the_open_period_count_in_s():
    accounts = [Account(balance=0, balance_date=MARCH, opened_on=D(2026, 2, 10),
                        closed_on=D(2026, 2, 20))]
    rows = [T(0, D(2026, 2, 5), -300), T(0, D(2026, 2, 15), -50), T(0, D(2026, 2, 25), 1000),
            T(0, D(2025, 1, 1), 7), T(0, D(2026, 4, 1), -7)]
    # S(as_of) = 657: EOD = S(d) - 657 is -950 on 10..14 February and -1000 on 15..19.
    got, want = both_low(accounts, rows, MARCH, 1, -999)
    assert got == want == [(True, -1000, [-1000])]
    got, want = both_low(accounts, rows, MARCH, 1, -1000)
    assert got == want == [(False, None, None)]
    got, want = both_high(accounts, rows, D(2026, 2, 15), -1001)
    assert got == want == [(True, -1000)]
    got, want = both_high(accounts, rows, D(2026, 2, 25), -1001)  # closed, EOD still given
    assert got == want == [(False, 0)]


def test_snapshot_before_and_after_the_window():
    accounts = [Account(balance=100, balance_date=D(2025, 1, 1)),
                Account(balance=0, balance_date=D(2026, 6, 1))]
    rows = [T(0, D(2025, 6, 15), -300), T(0, D(2026, 2, 10), 50),
            T(1, D(2026, 4, 1), -200), T(1, D(2026, 2, 10), 50)]
    # account 0: -200 on 1..9 February, -150 from the 10th; account 1: EOD(d) = S(d) + 150.
    got, want = both_low(accounts, rows, MARCH, 1, 151)
    assert got == want == [(True, -200, [-200]), (True, 150, [150])]
    got, want = both_high(accounts, rows, MARCH, 0)
    assert got == want == [(False, -150), (True, 200)]


def test_account_without_transactions():
    accounts = [Account(balance=-1, balance_date=D(2023, 5, 5)),
                Account(balance=0, balance_date=D(2030, 1, 1))]
    got, want = both_low(accounts, [], MARCH, 24, 0)
    assert got == want == [(True, -1, [-1] * 24), (False, None, None)]
    got, want = both_high(accounts, [], MARCH, -2)
    assert got == want == [(True, -1), (True, 0)]


@pytest.mark.parametrize("opened_on", [None, D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 28)])
def test_intraday_values_do_not_count(opened_on):
    accounts = [Account(balance=500, balance_date=MARCH, opened_on=opened_on)]
    rows = []
    for day in (D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 28), D(2026, 3, 1)):
        rows += [T(0, day, -1000), T(0, day, 400), T(0, day, 600)]  # lower during the day
    got, want = both_low(accounts, rows, MARCH, 1, 500)
    assert got == want == [(False, None, None)]
    got, want = both_low(accounts, rows, MARCH, 1, 501)
    assert got == want == [(True, 500, [500])]
    got, want = both_high(accounts, rows, D(2026, 2, 28), 499)
    assert got == want == [(True, 500)]


def test_balance_exactly_at_the_threshold():
    accounts = [Account(balance=700, balance_date=MARCH)]
    rows = [T(0, D(2026, 1, 10), -100), T(0, D(2026, 1, 11), 100)]  # 600 on 10 January
    assert both_low(accounts, [], MARCH, 3, 700) == ([(False, None, None)],) * 2
    assert both_low(accounts, [], MARCH, 3, 701) == ([(True, 700, [700] * 3)],) * 2
    assert both_low(accounts, rows, MARCH, 2, 700) == ([(False, None, None)],) * 2
    assert both_low(accounts, rows, MARCH, 2, 601) == ([(False, None, None)],) * 2
    assert both_low(accounts, rows, MARCH, 2, 701) == ([(True, 600, [600, 700])],) * 2
    assert both_high(accounts, [], MARCH, 700) == ([(False, 700)],) * 2
    assert both_high(accounts, [], MARCH, 699) == ([(True, 700)],) * 2


@pytest.mark.parametrize(("opened_on", "closed_on", "as_of", "open_"), [
    (D(2026, 3, 10), None, D(2026, 3, 9), False),  # before opened_on
    (D(2026, 3, 10), None, D(2026, 3, 10), True),
    (None, D(2026, 3, 10), D(2026, 3, 10), False),  # on closed_on
    (None, D(2026, 3, 10), D(2026, 3, 9), True),
    (D(2026, 3, 9), D(2026, 3, 10), D(2026, 3, 9), True),  # open one day
    (D(2026, 3, 9), D(2026, 3, 10), D(2026, 3, 10), False),
    (D(2026, 3, 9), D(2026, 3, 10), D(2026, 3, 8), False),
    (D(2026, 3, 9), D(2026, 3, 9), D(2026, 3, 9), False),
    (None, None, D(1971, 1, 1), True),
])
def test_high_balance_open_on_as_of(opened_on, closed_on, as_of, open_):
    accounts = [Account(balance=300, balance_date=as_of, opened_on=opened_on,
                        closed_on=closed_on)]
    rows = [T(0, as_of, 100)]
    got, want = both_high(accounts, rows, as_of, 299)
    assert got == want == [(open_, 300)]


def test_ineligible_accounts_never_qualify():
    accounts = [Account(balance=b, balance_date=MARCH, eligible=e)
                for b in (-10**12, 0, 10**12) for e in (True, False)]
    rows = [T(i, D(2026, 2, 3), -5) for i in range(len(accounts))]
    assert both_high(accounts, rows, MARCH, -10**13) == (
        [(e, b) for b in (-10**12, 0, 10**12) for e in (True, False)],) * 2
    got, want = both_low(accounts, rows, MARCH, 2, 10**13)
    assert got == want
    assert [q for q, _, _ in got] == [True, False] * 3


@pytest.mark.parametrize("readonly", [False, True])
def test_empty_block(readonly):
    block = naive.to_block([], [], readonly=readonly)
    assert list(block["offsets"]) == [0]
    qualifies, eod = high_balance(**block, as_of=day_number(MARCH), threshold=0)
    assert qualifies.shape == (0,) and eod.shape == (0,)
    qualifies, period_min, monthly_min = low_balance(
        **block, month_bounds=complete_months(MARCH, 5), threshold=0)
    assert qualifies.shape == (0,) and period_min.shape == (0,) and monthly_min.shape == (0, 5)


def test_large_amounts_are_exact():
    big = 10**12
    accounts = [Account(balance=big * 3 + 1, balance_date=D(2026, 2, 15))]
    rows = [T(0, D(2026, 2, 1) + dt.timedelta(days=k), (-1) ** k * big) for k in range(40)]
    for threshold in (2 * big + 2, 2 * big + 1, 2 * big, 4 * big):
        check_low(accounts, rows, MARCH, 2, threshold)
        check_high(accounts, rows, MARCH, threshold)


# --- calendar ----------------------------------------------------------------------------------

def test_calendar_constants():
    assert day_number(D(1970, 1, 1)) == 0
    assert day_number(D(2026, 3, 25)) == naive.day_number(D(2026, 3, 25)) == 20537
    assert day_number(D(1969, 12, 31)) == -1
    assert OPEN_SINCE_EVER.dtype == np.int32 and NEVER_CLOSED.dtype == np.int32
    assert OPEN_SINCE_EVER <= day_number(D(1, 1, 1))
    assert NEVER_CLOSED > day_number(D(9999, 12, 31))
    assert list(complete_months(D(2026, 3, 25), 3)) == [
        day_number(D(2025, 12, 1)), day_number(D(2026, 1, 1)), day_number(D(2026, 2, 1)),
        day_number(D(2026, 3, 1))]
    with pytest.raises(ValueError):
        complete_months(MARCH, 0)


@settings(PROPERTY, max_examples=300)
@given(as_of=st.dates(D(1901, 1, 1), D(2199, 12, 31)), n=st.integers(1, 24))
def test_complete_months_matches_reference(as_of, n):
    bounds = complete_months(as_of, n)
    assert bounds.dtype == np.int32 and bounds.shape == (n + 1,)
    months = naive.complete_months(as_of, n)
    for k, (year, month) in enumerate(months):
        days = naive.days_of_month(year, month)
        assert bounds[k] == day_number(days[0]) == naive.day_number(days[0])
        assert bounds[k + 1] == day_number(days[-1]) + 1
    assert bounds[n] == day_number(as_of.replace(day=1))


# --- argument checks ---------------------------------------------------------------------------

def _small_block():
    accounts = [Account(balance=5, balance_date=MARCH), Account(balance=6, balance_date=MARCH)]
    rows = [T(0, D(2026, 2, 1), 1), T(1, D(2026, 2, 2), 2), T(1, D(2026, 2, 3), 3)]
    return naive.to_block(accounts, rows)


def _call(kernel, block):
    if kernel == "high":
        return high_balance(**block, as_of=day_number(MARCH), threshold=0)
    return low_balance(**block, month_bounds=complete_months(MARCH, 2), threshold=0)


def _wrong_variants():
    block = _small_block()
    wrong_dtype = {"offsets": np.int32, "dates": np.int64, "amounts": np.int32,
                   "balance": np.float64, "balance_date": np.int64, "opened_on": np.int64,
                   "closed_on": np.uint32, "eligible": np.uint8}
    for name, array in block.items():
        yield f"{name}-dtype", name, array.astype(wrong_dtype[name])
        yield f"{name}-2d", name, array.reshape(1, -1)
        yield f"{name}-short", name, array[:-1]
    yield "amounts-float", "amounts", block["amounts"].astype(np.float64)
    yield "balance-long", "balance", np.append(block["balance"], np.int64(1))
    yield "eligible-long", "eligible", np.append(block["eligible"], True)


WRONG = list(_wrong_variants())


@pytest.mark.parametrize("kernel", ["high", "low"])
@pytest.mark.parametrize(("name", "value"), [(n, v) for _, n, v in WRONG],
                         ids=[i for i, _, _ in WRONG])
def test_argument_checks(kernel, name, value):
    _call(kernel, _small_block())  # the correct block is accepted
    block = _small_block()
    block[name] = value
    with pytest.raises(ValueError):
        _call(kernel, block)


@pytest.mark.parametrize("bounds", [
    np.array([1, 2, 3], dtype=np.int64),
    np.array([1], dtype=np.int32),
    np.array([], dtype=np.int32),
    np.array([[1, 2, 3]], dtype=np.int32),
    np.array([1.0, 2.0], dtype=np.float64),
], ids=["int64", "one-bound", "empty", "2d", "float"])
def test_month_bounds_checks(bounds):
    with pytest.raises(ValueError):
        low_balance(**_small_block(), month_bounds=bounds, threshold=0)


# --- property tests against the reference ------------------------------------------------------

AS_OF_SPECIAL = (D(2026, 3, 10), D(2026, 3, 25), D(2026, 1, 1), D(2026, 1, 31), D(2025, 1, 15),
                 D(2024, 3, 1), D(2024, 3, 31), D(2024, 2, 29), D(2025, 12, 31), D(2024, 12, 1))


def _add_months(year, month, delta):
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def _month_edge(as_of, delta, which):
    year, month = _add_months(as_of.year, as_of.month, delta)
    days = naive.days_of_month(year, month)
    return {"first": days[0], "second": days[1], "last": days[-1], "before_last": days[-2]}[which]


def dates_near(as_of, n_months):
    """~3 years around as_of, often inside the N complete months, on a month's
    first or last days, or near as_of."""
    window_start = _month_edge(as_of, -n_months, "first")
    window_days = (as_of.replace(day=1) - window_start).days
    return st.one_of(
        st.integers(0, window_days - 1).map(lambda k: window_start + dt.timedelta(days=k)),
        st.integers(-800, 300).map(lambda k: as_of + dt.timedelta(days=k)),
        st.builds(_month_edge, st.just(as_of), st.integers(-26, 3),
                  st.sampled_from(("first", "second", "last", "before_last"))),
        st.integers(-2, 2).map(lambda k: as_of + dt.timedelta(days=k)),
    )


AMOUNTS = st.one_of(st.just(0), st.integers(-1000, 1000), st.integers(-10**12, 10**12),
                    st.sampled_from((10**12, -10**12)))


@st.composite
def accounts_near(draw, as_of, n_months):
    when = dates_near(as_of, n_months)
    # opened/closed on a month's first, second or last day around the window
    edge = st.builds(_month_edge, st.just(as_of), st.integers(-n_months - 1, 0),
                     st.sampled_from(("first", "second", "last")))
    open_close = st.one_of(edge, when)
    balance = draw(AMOUNTS)
    balance_date = draw(st.one_of(st.just(as_of), when))
    kind = draw(st.sampled_from(("always", "opened", "closed", "both", "one_day", "any")))
    opened_on = closed_on = None
    if kind in ("opened", "both", "any"):
        opened_on = draw(open_close)
    if kind in ("closed", "both", "any"):
        closed_on = draw(open_close)
    if kind == "both" and closed_on < opened_on:
        opened_on, closed_on = closed_on, opened_on
    if kind == "one_day":
        opened_on = draw(open_close)
        closed_on = opened_on + dt.timedelta(days=1)
    eligible = draw(st.sampled_from((True, True, True, False)))
    return Account(balance=balance, balance_date=balance_date, opened_on=opened_on,
                   closed_on=closed_on, eligible=eligible)


@st.composite
def blocks(draw):
    """(as_of, N, accounts, transactions); N also steers the dates towards its window."""
    as_of = draw(st.one_of(st.sampled_from(AS_OF_SPECIAL), st.dates(D(2021, 1, 1),
                                                                     D(2029, 12, 31))))
    n_months = draw(st.integers(1, 24), label="n_months")
    accounts = draw(st.lists(accounts_near(as_of, n_months), min_size=1, max_size=30))
    txs = []
    for i in range(len(accounts)):
        # A few dates of its own make several rows on one day common.
        pool = draw(st.lists(dates_near(as_of, n_months), min_size=1, max_size=3))
        row = st.tuples(st.one_of(dates_near(as_of, n_months), st.sampled_from(pool)), AMOUNTS)
        txs += [T(i, d, a) for d, a in draw(st.lists(row, max_size=40))]
    return as_of, n_months, accounts, txs


def _events(accounts, txs, result):
    # --hypothesis-show-statistics shows how much the random data covers.
    event(f"accounts: {'1' if len(accounts) == 1 else '2-9' if len(accounts) < 10 else '10+'}")
    event(f"rows: {'0' if not txs else '1-49' if len(txs) < 50 else '50+'}")
    qualifying = sum(r[0] for r in result)
    share = "none" if not qualifying else "all" if qualifying == len(result) else "some"
    event(f"qualifying: {share}")


def _near(values):
    return st.sampled_from(values).flatmap(lambda v: st.sampled_from((v - 1, v, v + 1)))


@settings(PROPERTY, max_examples=200)
@given(block=blocks(), data=st.data(), readonly=st.booleans())
def test_high_balance_matches_reference(block, data, readonly):
    as_of, _, accounts, txs = block
    eods = [e for _, e in ref_high(accounts, txs, as_of, 0)]
    threshold = data.draw(st.one_of(_near(eods), st.integers(-2 * 10**13, 2 * 10**13)),
                          label="threshold")
    result = check_high(accounts, txs, as_of, threshold, readonly=readonly)
    _events(accounts, txs, result)


@settings(PROPERTY, max_examples=300)
@given(block=blocks(), data=st.data(), readonly=st.booleans())
def test_low_balance_matches_reference(block, data, readonly):
    as_of, n_months, accounts, txs = block
    # A threshold at a value an account reaches: its highest monthly minimum
    # (+1 qualifies it, +0 does not), or any monthly minimum +-1.
    eligible = [i for i, a in enumerate(accounts) if a.eligible] or [0]
    j = data.draw(st.sampled_from(eligible), label="account")
    mins = [m for m in naive.monthly_minimums(naive.as_account(accounts[j]),
                                              naive.own_transactions(txs, j), as_of, n_months)
            if m is not None]
    choices = [st.integers(-2 * 10**13, 2 * 10**13), st.just(0), st.just(2**62)]
    if mins:
        choices += [st.sampled_from((max(mins), max(mins) + 1)), _near(mins)]
    threshold = data.draw(st.one_of(*choices), label="threshold")
    result = check_low(accounts, txs, as_of, n_months, threshold, readonly=readonly)
    _events(accounts, txs, result)
    event(f"months: {(n_months + 5) // 6 * 6 - 5}-{(n_months + 5) // 6 * 6}")


def _random_block(rng: random.Random):
    """Full-size blocks (30 accounts, up to 40 rows each), which Hypothesis rarely draws."""
    as_of = D(2023, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))
    n_months = rng.randint(1, 24)
    window_start = _month_edge(as_of, -n_months, "first")
    window_days = (as_of.replace(day=1) - window_start).days

    def when():
        r = rng.random()
        if r < 0.3:
            return window_start + dt.timedelta(days=rng.randrange(window_days))
        if r < 0.6:
            return as_of + dt.timedelta(days=rng.randint(-800, 300))
        if r < 0.9:
            return _month_edge(as_of, rng.randint(-26, 3),
                               rng.choice(("first", "second", "last", "before_last")))
        return as_of + dt.timedelta(days=rng.randint(-2, 2))

    def amount():
        r = rng.random()
        if r < 0.1:
            return 0
        if r < 0.6:
            return rng.randint(-1000, 1000)
        return rng.randint(-10**12, 10**12)

    accounts, txs = [], []
    for i in range(30):
        opened_on = when() if rng.random() < 0.4 else None
        closed_on = when() if rng.random() < 0.4 else None
        if opened_on and rng.random() < 0.2:
            closed_on = opened_on + dt.timedelta(days=1)
        accounts.append(Account(balance=amount(), balance_date=as_of if rng.random() < 0.3
                                else when(), opened_on=opened_on, closed_on=closed_on,
                                eligible=rng.random() < 0.8))
        pool = [when() for _ in range(3)]
        txs += [T(i, rng.choice(pool) if rng.random() < 0.3 else when(), amount())
                for _ in range(rng.randint(0, 40))]
    rng.shuffle(txs)
    return as_of, n_months, accounts, txs


@pytest.mark.parametrize("seed", range(24))
def test_full_blocks_match_reference(seed):
    rng = random.Random(seed)
    as_of, n_months, accounts, txs = _random_block(rng)
    eods = [e for _, e in ref_high(accounts, txs, as_of, 0)]
    for threshold in (0, rng.choice(eods), rng.choice(eods) + 1):
        check_high(accounts, txs, as_of, threshold, readonly=seed % 2 == 0)
    mins = [m for i, a in enumerate(accounts)
            for m in naive.monthly_minimums(a, naive.own_transactions(txs, i), as_of, n_months)
            if m is not None]
    qualified = 0
    for threshold in (0, max(mins) + 1, rng.choice(mins), rng.choice(mins) + 1):
        qualified += sum(q for q, _, _ in check_low(accounts, txs, as_of, n_months, threshold,
                                                    readonly=seed % 2 == 1))
    assert qualified > 0  # the comparison did cover qualifying accounts


@settings(PROPERTY, max_examples=150)
@given(block=blocks(), readonly=st.booleans())
def test_monthly_minimums_match_reference_for_every_account(block, readonly):
    """RULE's low_balance_months reads every month of every account, also the
    months in which it was not open (INT64_MAX) and ineligible accounts."""
    as_of, n_months, accounts, txs = block
    arrays = naive.to_block(accounts, txs, readonly=readonly)
    got = monthly_minimums(**arrays, month_bounds=complete_months(as_of, n_months))
    assert got.shape == (len(accounts), n_months)
    for i, account in enumerate(accounts):
        want = naive.monthly_minimums(naive.as_account(account), naive.own_transactions(txs, i),
                                      as_of, n_months) if account.eligible else [None] * n_months
        assert [None if v == np.iinfo(np.int64).max else int(v) for v in got[i]] == want, i
