"""The MERCHANT_AFFINITY kernels against a plain reference on Hypothesis
data: accounts of one user in several blocks (a slot split across blocks is
counted once), two currencies, refunds and 0.00, the window's ends, and
last days that several spellings of one key share, split between threads."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from finseg.server.kernels import merchants

PROPERTY = settings(deadline=None, derandomize=True, database=None, max_examples=150)
#: Counterparty ids 0..4; key_of folds them onto keys 0..2 (spelling variants).
KEY_OF = np.array([0, 0, 1, 2, 2], np.int64)
#: The spellings' rank in byte order: not their id order.
SPELLING_RANK = np.array([3, 1, 4, 0, 2], np.int64)
START, STOP = 10, 40  # the window [START, STOP)

#: Few days, on and around the window's ends, so that last days tie.
row = st.tuples(st.sampled_from([9, 10, 25, 39, 40]), st.sampled_from([-300, -7, -1, 0, 5]),
                st.integers(0, 4))
#: Few users, so that one user's accounts fall in several blocks; user 5 has no slot.
account = st.tuples(st.sampled_from([0, 1, 2, 5]), st.sampled_from([0, 1]),
                    st.lists(row, max_size=6))


def blocks(accounts, cuts):
    """Per block: (first account, offsets, dates, amounts, counterparties)."""
    edges = [0, *sorted(set(cuts)), len(accounts)]
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        if lo >= hi:
            continue
        offsets, dates, amounts, spellings = [0], [], [], []
        for _, _, rows in accounts[lo:hi]:
            for day, amount, spelling in sorted(rows, key=lambda r: r[0]):
                dates.append(day)
                amounts.append(amount)
                spellings.append(spelling)
            offsets.append(len(dates))
        out.append((lo, np.array(offsets, np.int64), np.array(dates, np.int32),
                    np.array(amounts, np.int64), np.array(spellings, np.int32)))
    return out


def slots_of(accounts):
    """Slot = (user, currency), numbered; -1 for user 5 (not eligible)."""
    pairs = sorted({(u, c) for u, c, _ in accounts if u != 5})
    number = {p: i for i, p in enumerate(pairs)}
    slot_of = np.array([number.get((u, c), -1) for u, c, _ in accounts], np.int64)
    return slot_of, np.array([c for _, c in pairs], np.int64), len(pairs)


def reference(accounts):
    cells: dict[int, dict] = {}
    for user, currency, rows in accounts:
        if user == 5:
            continue
        for day, amount, spelling in rows:
            if amount >= 0 or not START <= day < STOP:
                continue
            cell = cells.setdefault(int(KEY_OF[spelling]) * 2 + currency,
                                    {"users": set(), "n": 0, "spend": 0, "days": {}})
            cell["users"].add(user)
            cell["n"] += 1
            cell["spend"] -= amount
            cell["days"].setdefault(day, set()).add(spelling)
    return cells


@PROPERTY
@given(st.lists(account, max_size=10), st.lists(st.integers(0, 10), max_size=4),
       st.sampled_from([1, 2, 3]))
# User 0's slot in blocks one and three, another slot paying between.
@example([(0, 0, [(25, -1, 0)]), (1, 0, [(25, -1, 0)]), (0, 0, [(25, -1, 1)])], [1, 2], 1)
# Two parts of one block with one cell's last day, in two spellings (the
# first part's spelling is the greater).
@example([(0, 0, [(25, -1, 0)]), (1, 0, [(25, -1, 1)])], [], 2)
def test_ranking_matches_reference(accounts, cuts, parts):
    slot_of, currency_of_slot, n_slots = slots_of(accounts)
    first, last = merchants.slot_spans(slot_of, n_slots)
    ranking = merchants.Ranking(3, 2, first, last, SPELLING_RANK, parts)
    parts = blocks(accounts, cuts)
    for lo, offsets, dates, amounts, spellings in parts:
        ranking.add(offsets, dates, amounts, spellings, lo, slot_of[lo:lo + len(offsets) - 1],
                    currency_of_slot, KEY_OF, START, STOP)
    ranking.finish()
    want = reference(accounts)
    paid = np.flatnonzero(ranking.payments)
    assert sorted(want) == paid.tolist()
    for cell, w in want.items():
        assert ranking.customers[cell] == len(w["users"])
        assert ranking.payments[cell] == w["n"]
        assert ranking.spend[cell] == w["spend"]
        day = max(w["days"])
        assert ranking.best_day[cell] == day
        # On the last day, the spelling greatest in byte order.
        assert ranking.best_spelling[cell] == max(w["days"][day], key=lambda s: SPELLING_RANK[s])


@PROPERTY
@given(st.lists(account, max_size=12), st.lists(st.integers(0, 12), max_size=3),
       st.integers(0, 2))
def test_customers_match_reference(accounts, cuts, key):
    slot_of, _, n_slots = slots_of(accounts)
    wanted = KEY_OF == key
    payments, spend = np.zeros(n_slots, np.int64), np.zeros(n_slots, np.int64)
    first = np.full(n_slots, np.iinfo(np.int32).max, np.int32)
    last = np.full(n_slots, np.iinfo(np.int32).min, np.int32)
    for lo, offsets, dates, amounts, spellings in blocks(accounts, cuts):
        merchants.customers(offsets, dates, amounts, spellings,
                            slot_of[lo:lo + len(offsets) - 1], wanted, START, STOP, payments,
                            spend, first, last)
    want: dict[int, list] = {}
    for i, (_, _, rows) in enumerate(accounts):
        if slot_of[i] < 0:
            continue
        for day, amount, spelling in rows:
            if amount < 0 and START <= day < STOP and KEY_OF[spelling] == key:
                w = want.setdefault(int(slot_of[i]), [0, 0, day, day])
                w[0] += 1
                w[1] -= amount
                w[2], w[3] = min(w[2], day), max(w[3], day)
    assert np.flatnonzero(payments).tolist() == sorted(want)
    for slot, (n, total, lo_day, hi_day) in want.items():
        assert (payments[slot], spend[slot], first[slot], last[slot]) == (n, total, lo_day,
                                                                           hi_day)


def test_a_counterparty_outside_key_of_is_refused():
    ranking = merchants.Ranking(1, 1, np.zeros(1, np.int64), np.zeros(1, np.int64),
                                np.zeros(1, np.int64), 1)
    try:
        ranking.add(np.array([0, 1]), np.array([20], np.int32), np.array([-1]),
                    np.array([7], np.int32), 0, np.array([0]), np.array([0]),
                    np.array([0]), START, STOP)
    except ValueError as error:
        assert "outside key_of" in str(error)
    else:
        raise AssertionError("an unknown counterparty id was accepted")
