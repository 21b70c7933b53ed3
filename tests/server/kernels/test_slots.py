"""Slot numbering against plain Python: (user, currency) pairs of eligible
accounts, in user rank order then currency, with every account mapped to
its pair's slot."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import slots
from finseg.server.kernels.blocks import SMALL_RUN


def reference(eligible, user, rank, currency):
    pairs = sorted({(rank[u], c) for e, u, c in zip(eligible, user, currency, strict=True) if e})
    slot = {pair: i for i, pair in enumerate(pairs)}
    of_account = [slot[(rank[u], c)] if e else -1
                  for e, u, c in zip(eligible, user, currency, strict=True)]
    ranks = [r for r, _ in pairs]
    user_starts = [i for i in range(len(pairs)) if i == 0 or ranks[i] != ranks[i - 1]]
    return of_account, pairs, user_starts + [len(pairs)]


def check(eligible, user, rank, currency):
    of_account, slot_account, user_starts = slots.number_slots(eligible, user, rank, currency)
    want_of, pairs, want_starts = reference(eligible, user, rank, currency)
    assert of_account.tolist() == want_of
    assert [(rank[user[a]], currency[a]) for a in slot_account] == pairs
    assert user_starts.tolist() == want_starts


accounts = st.lists(st.tuples(st.booleans(), st.integers(0, 5), st.integers(0, 3)),
                    max_size=80)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(accounts, st.permutations(range(6)))
def test_slots_follow_rank_then_currency(rows, permutation):
    eligible = np.array([e for e, _, _ in rows], np.bool_)
    user = np.array([u for _, u, _ in rows], np.int32)
    currency = np.array([c for _, _, c in rows], np.int64)
    rank = np.array(permutation, np.int64)
    check(eligible, user, rank, currency)
    check_by_user(eligible, user, rank)


def check_by_user(eligible, user, rank):
    """number_user_slots is number_slots when every account has one currency."""
    of_account, slot_account, user_starts = slots.number_user_slots(eligible, user, rank)
    want_of, pairs, want_starts = reference(eligible, user, rank, [0] * len(user))
    assert of_account.tolist() == want_of
    assert [(rank[user[a]], 0) for a in slot_account] == pairs
    assert user_starts.tolist() == want_starts


def test_a_user_with_many_accounts_takes_the_sorting_path():
    # More accounts than the insertion sort handles, currencies interleaved.
    rng = np.random.default_rng(7)
    n = SMALL_RUN * 5
    user = np.zeros(n, np.int32)
    user[::7] = 1
    currency = rng.integers(0, 9, n).astype(np.int64)
    eligible = rng.random(n) < 0.9
    rank = np.array([1, 0], np.int64)
    check(eligible, user, rank, currency)


def test_no_eligible_account_gives_no_slot():
    of_account, slot_account, user_starts = slots.number_slots(
        np.zeros(3, np.bool_), np.zeros(3, np.int32), np.zeros(1, np.int64),
        np.zeros(3, np.int64))
    assert of_account.tolist() == [-1, -1, -1]
    assert slot_account.size == 0 and user_starts.tolist() == [0]
    of_account, slot_account, user_starts = slots.number_user_slots(
        np.zeros(3, np.bool_), np.zeros(3, np.int32), np.zeros(1, np.int64))
    assert of_account.tolist() == [-1, -1, -1]
    assert slot_account.size == 0 and user_starts.tolist() == [0]


def test_slots_check_their_arguments():
    with pytest.raises(ValueError, match="outside"):
        slots.number_slots(np.ones(1, np.bool_), np.array([2], np.int32),
                           np.zeros(2, np.int64), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="int64"):
        slots.number_slots(np.ones(1, np.bool_), np.zeros(1, np.int32),
                           np.zeros(1, np.int32), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="outside"):
        slots.number_user_slots(np.ones(1, np.bool_), np.array([2], np.int32),
                                np.zeros(2, np.int64))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.binary(min_size=0, max_size=3), max_size=40))
def test_currency_keys_order_like_the_codes(codes):
    array = np.array(codes, "S3")
    keys = slots.currency_keys(array)
    padded = [c.ljust(3, b"\0") for c in codes]
    assert keys.tolist() == [int.from_bytes(c, "big") for c in padded]
    assert sorted(range(len(codes)), key=lambda i: (keys[i], i)) == \
        sorted(range(len(codes)), key=lambda i: (padded[i], i))
