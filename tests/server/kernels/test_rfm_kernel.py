"""The RFM kernels against the plain reference (naive.rfm_ref): per-user
figures over blocks of accounts, the label filter, the window's ends on
month ends and leap days, and the 1-5 scores with ties everywhere."""

from __future__ import annotations

import datetime as dt

import naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import rfm
from finseg.server.kernels.calendar import day_number

CURRENCIES = ("EUR", "USD")
N_LABELS = 4


def arrays(rows_per_account, readonly):
    """One block: offsets, dates, amounts, labels; rows by date in an account."""
    offsets = [0]
    dates, amounts, labels = [], [], []
    for rows in rows_per_account:
        for day, amount, label in sorted(rows, key=lambda row: row[0]):
            dates.append(day_number(day))
            amounts.append(amount)
            labels.append(label)
        offsets.append(len(dates))
    out = [np.array(offsets, np.int64), np.array(dates, np.int32),
           np.array(amounts, np.int64), np.array(labels, np.int32)]
    if readonly:
        out = [np.frombuffer(a.tobytes(), a.dtype) for a in out]
    return out


def kernel_members(accounts, rows_per_account, as_of, window_days, keep, split, readonly,
                   scan_rows=rfm.SCAN_ROWS):
    """The kernels' figures and scores per user id: accounts (user index,
    currency) in two blocks cut at `split`, users' slots their indexes."""
    n_users = 1 + max((user for user, _ in accounts), default=0)
    figures = np.zeros((n_users, 3), np.int64)
    slot_of = np.array([user if currency == "EUR" else -1 for user, currency in accounts],
                       np.int64)
    for lo, hi in ((0, split), (split, len(accounts))):
        rfm.outgoing(*arrays(rows_per_account[lo:hi], readonly), slot_of[lo:hi],
                     None if keep is None else np.array(keep, np.bool_),
                     day_number(as_of) - window_days + 1,
                     day_number(as_of), figures, scan_rows)
    found = np.nonzero(figures[:, rfm.COUNT] > 0)[0]
    recency = day_number(as_of) - figures[found, rfm.LAST]
    r = rfm.scores(recency, more_is_better=False)
    f = rfm.scores(figures[found, rfm.COUNT], more_is_better=True)
    m = rfm.scores(figures[found, rfm.MONETARY], more_is_better=True)
    return {f"u{user}": {"recency": int(recency[k]), "frequency": int(figures[user, rfm.COUNT]),
                         "monetary": int(figures[user, rfm.MONETARY]), "r_score": int(r[k]),
                         "f_score": int(f[k]), "m_score": int(m[k])}
            for k, user in enumerate(found)}


def reference_members(accounts, rows_per_account, as_of, window_days, keep):
    plain_accounts = [{"account_id": str(i), "user_id": f"u{user}", "type": "CHECKING",
                       "currency": currency} for i, (user, currency) in enumerate(accounts)]
    transactions = [{"account_id": str(i), "booking_date": day, "amount": amount,
                     "label": str(label)}
                    for i, rows in enumerate(rows_per_account) for day, amount, label in rows]
    members = naive.rfm_ref(plain_accounts, transactions, as_of, window_days,
                            in_groups=lambda label: keep is None or keep[int(label)])
    return {m.pop("user_id"): {k: v for k, v in m.items() if k not in ("rfm_code",
                                                                        "segment_name")}
            for m in members}


AS_OF = dt.date(2024, 2, 29)
# Few distinct days (relative to as_of) and amounts, so that users tie on
# every figure.
days = st.integers(-40, 3)
amounts = st.sampled_from([-500, -100, -100, -1, 0, 1, 250, -10**15, 10**15])
rows = st.lists(st.tuples(days, amounts, st.integers(0, N_LABELS - 1)), max_size=8)
banks = st.lists(st.tuples(st.tuples(st.integers(0, 6), st.sampled_from(CURRENCIES)), rows),
                 max_size=14)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(banks, st.sampled_from([AS_OF, dt.date(1970, 1, 10), dt.date(1900, 3, 1)]), st.data())
def test_matches_the_reference(bank, as_of, data):
    # Before 1970 day numbers are negative: no last day may start at 0.
    accounts = [account for account, _ in bank]
    rows_per_account = [[(as_of + dt.timedelta(days=k), amount, label)
                         for k, amount, label in own] for _, own in bank]
    window_days = data.draw(st.sampled_from([1, 2, 28, 29, 30, 31, 365, 366]))
    # None: every label counts, and the kernel reads none.
    keep = data.draw(st.none() | st.lists(st.booleans(), min_size=N_LABELS, max_size=N_LABELS))
    split = data.draw(st.integers(0, len(accounts)))
    readonly = data.draw(st.booleans())
    # 0: each account's window is looked up, as in blocks of long accounts;
    # otherwise every row is read and masked by its date.
    scan_rows = data.draw(st.sampled_from([0, rfm.SCAN_ROWS]))
    got = kernel_members(accounts, rows_per_account, as_of, window_days, keep, split, readonly,
                         scan_rows)
    assert got == reference_members(accounts, rows_per_account, as_of, window_days, keep)


@pytest.mark.parametrize(("as_of", "window_days", "first_in"), [
    (dt.date(2024, 2, 29), 29, dt.date(2024, 2, 1)),    # leap day: February exactly
    (dt.date(2024, 3, 31), 31, dt.date(2024, 3, 1)),    # a month end: March exactly
    (dt.date(2025, 2, 28), 365, dt.date(2024, 3, 1)),   # the leap day is the day before
    (dt.date(2024, 3, 1), 366, dt.date(2023, 3, 2)),    # a year back over a leap day
    (dt.date(2024, 12, 31), 366, dt.date(2024, 1, 1)),  # a leap year exactly
    (dt.date(2026, 1, 1), 1, dt.date(2026, 1, 1)),      # as_of alone
])
def test_the_window_excludes_its_first_day_and_includes_as_of(as_of, window_days, first_in):
    one_day = dt.timedelta(days=1)
    # One user per day around the window's ends.
    days = [first_in - one_day, first_in, as_of, as_of + one_day]
    accounts = [(k, "EUR") for k in range(len(days))]
    for scan_rows in (0, rfm.SCAN_ROWS):
        got = kernel_members(accounts, [[(day, -100, 0)] for day in days], as_of, window_days,
                             [True], 2, False, scan_rows)
        assert sorted(got) == ["u1", "u2"]
    assert sorted(got) == ["u1", "u2"]
    assert got["u1"]["recency"] == window_days - 1 and got["u2"]["recency"] == 0
    # A newer purchase is better: the user on as_of scores 1 + 5 * 1 // 2,
    # unless the window is as_of alone and both bought on it.
    assert (got["u1"]["r_score"], got["u2"]["r_score"]) == ((1, 3) if window_days > 1
                                                            else (1, 1))


def test_several_accounts_of_a_user_add_up_across_blocks():
    as_of = dt.date(2026, 3, 31)
    accounts = [(0, "EUR"), (1, "EUR"), (0, "EUR"), (0, "USD")]
    rows_per_account = [[(dt.date(2026, 3, 1), -100, 0), (dt.date(2026, 3, 2), 50, 0)],
                        [(dt.date(2026, 3, 30), -7, 0)],
                        [(dt.date(2026, 3, 20), -300, 1), (dt.date(2026, 3, 10), -1, 0)],
                        [(dt.date(2026, 3, 31), -999, 0)]]  # another currency
    for split in range(5):
        got = kernel_members(accounts, rows_per_account, as_of, 31, [True, True], split, True)
        assert got["u0"] == {"recency": 11, "frequency": 3, "monetary": 401, "r_score": 1,
                             "f_score": 3, "m_score": 3}
    labelled = kernel_members(accounts, rows_per_account, as_of, 31, [False, True], 2, True)
    assert list(labelled) == ["u0"] and labelled["u0"]["frequency"] == 1


def test_no_user_and_one_user():
    assert kernel_members([], [], AS_OF, 30, [True], 0, False) == {}
    (only,) = kernel_members([(0, "EUR")], [[(AS_OF, -5, 0)]], AS_OF, 30, [True], 1,
                             False).values()
    assert (only["r_score"], only["f_score"], only["m_score"]) == (1, 1, 1)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(0, 4) | st.integers(-10**18, 10**18)
                | st.sampled_from([-2**63, 2**63 - 1]), max_size=40), st.booleans())
def test_scores_match_the_formula(values, more_is_better):
    # Spans of a few integers are counted, wider ones bucketed by their top
    # bits, and the widest, which could overflow, partitioned whole.
    got = rfm.scores(np.array(values, np.int64), more_is_better)
    assert got.dtype == np.int32
    assert got.tolist() == [naive.rfm_score(v, values, more_is_better) for v in values]


def test_ties_share_a_score():
    # 100 users with one purchase each and one with two: the 100 are all
    # worst (b = 0), the one beats them all, 1 + floor(5 * 100 / 101) = 5.
    assert set(rfm.scores(np.ones(100, np.int64), True).tolist()) == {1}
    scored = rfm.scores(np.array([1] * 100 + [2], np.int64), True)
    assert set(scored[:100].tolist()) == {1} and scored[100] == 5
    assert rfm.scores(np.arange(10, dtype=np.int64), True).tolist() == \
        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.scores(np.arange(10, dtype=np.int64), False).tolist() == \
        [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_argument_checks():
    offsets, dates, amounts, labels = arrays([[(AS_OF, -1, 0)]], False)
    out = np.zeros((1, 3), np.int64)
    keep = np.ones(1, np.bool_)
    with pytest.raises(ValueError, match="labels must be 1-d int32"):
        rfm.outgoing(offsets, dates, amounts, labels.astype(np.int64), np.zeros(1, np.int64),
                     keep, 0, 1, out)
    with pytest.raises(ValueError, match="outside keep"):  # checked on the rows read
        rfm.outgoing(offsets, dates, amounts, labels + 1, np.zeros(1, np.int64), keep, 0,
                     day_number(AS_OF), out)
    with pytest.raises(ValueError, match="out int64"):
        rfm.outgoing(offsets, dates, amounts, labels, np.zeros(1, np.int64), keep, 0, 1,
                     np.zeros((1, 5), np.int64))
    with pytest.raises(ValueError, match="outside out"):
        rfm.outgoing(offsets, dates, amounts, labels, np.ones(1, np.int64), keep, 0, 1, out)
    with pytest.raises(ValueError, match="integer"):
        rfm.scores(np.zeros(3), True)
