"""RULE's metric kernels against plain loops written from SPEC §4 (RULE):
windows (as_of − days, as_of], outgoing < 0 < incoming, a group keeps only
its labels, a type only its accounts, accounts of one user add up."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import rules

AS_OF = 19100


def reference(accounts, slot_of, n_slots, first_days, label_ok, account_ok):
    """accounts: per account a list of (date, amount, label id)."""
    out = [[[0, 0, 0, None] for _ in first_days] for _ in range(n_slots)]
    for i, rows in enumerate(accounts):
        if slot_of[i] < 0:
            continue
        for k, first in enumerate(first_days):
            if not account_ok[i][k]:
                continue
            for day, amount, label in rows:
                if not (first <= day <= AS_OF and label_ok[label][k]):
                    continue
                cell = out[slot_of[i]][k]
                if amount < 0:
                    cell[0] += 1
                    cell[1] += -amount
                    cell[3] = day if cell[3] is None else max(cell[3], day)
                elif amount > 0:
                    cell[2] += amount
    return [[[c, s, i, rules.NO_DAY if last is None else last] for c, s, i, last in slot]
            for slot in out]


def arrays(accounts, readonly):
    offsets = np.zeros(len(accounts) + 1, np.int64)
    rows = []
    for i, own in enumerate(accounts):
        rows += sorted(own, key=lambda r: r[0])
        offsets[i + 1] = len(rows)
    dates = np.array([r[0] for r in rows], np.int32)
    amounts = np.array([r[1] for r in rows], np.int64)
    labels = np.array([r[2] for r in rows], np.int32)
    out = [offsets, dates, amounts, labels]
    return [np.frombuffer(a.tobytes(), a.dtype) for a in out] if readonly else out


N_LABELS = 4
row = st.tuples(st.integers(AS_OF - 70, AS_OF + 5), st.integers(-10**12, 10**12) | st.just(0),
                st.integers(0, N_LABELS - 1))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(row, max_size=25), max_size=20), st.data())
def test_window_flows_match_reference(accounts, data):
    n = len(accounts)
    n_slots = data.draw(st.integers(1, 6))
    slot_of = data.draw(st.lists(st.integers(-1, n_slots - 1), min_size=n, max_size=n))
    k = data.draw(st.integers(1, 4))
    days = data.draw(st.lists(st.sampled_from([1, 2, 30, 31, 60, 3660]), min_size=k,
                              max_size=k))
    first_days = [AS_OF - d + 1 for d in days]
    label_ok = data.draw(st.lists(st.lists(st.booleans(), min_size=k, max_size=k),
                                  min_size=N_LABELS, max_size=N_LABELS))
    account_ok = data.draw(st.lists(st.lists(st.booleans(), min_size=k, max_size=k),
                                    min_size=n, max_size=n))
    out = rules.new_flows(n_slots, k)
    offsets, dates, amounts, labels = arrays(accounts, data.draw(st.booleans()))
    # No group in any window: the kernel is told so and reads no label.
    every_label = data.draw(st.booleans())
    if every_label:
        label_ok = [[True] * k for _ in range(N_LABELS)]
    rules.window_flows(offsets, dates, amounts, None if every_label else labels,
                       np.array(slot_of, np.int64), np.array(first_days, np.int32), AS_OF,
                       None if every_label else np.array(label_ok, bool).reshape(N_LABELS, k),
                       np.array(account_ok, bool).reshape(n, k), out)
    assert out.tolist() == reference(accounts, slot_of, n_slots, first_days, label_ok,
                                     account_ok)


def test_window_excludes_its_first_day_minus_one_and_includes_as_of():
    # days=30: (as_of - 30, as_of], so as_of - 29 .. as_of.
    accounts = [[(AS_OF - 30, -100, 0), (AS_OF - 29, -7, 0), (AS_OF, -5, 0), (AS_OF + 1, -1, 0),
                 (AS_OF - 3, 40, 0), (AS_OF - 2, 0, 0)]]
    out = rules.new_flows(1, 1)
    rules.window_flows(*arrays(accounts, False), np.zeros(1, np.int64),
                       np.array([AS_OF - 29], np.int32), AS_OF, np.ones((1, 1), bool),
                       np.ones((1, 1), bool), out)
    assert out.tolist() == [[[2, 12, 40, AS_OF]]]


def test_sum_by_slot_and_months_below():
    out = np.zeros(2, np.int64)
    rules.sum_by_slot(np.array([5, 7, -3, 100], np.int64), np.array([1, 0, 1, -1], np.int64),
                      np.array([True, True, True, True]), out)
    assert out.tolist() == [7, 2]
    months = np.zeros((2, 3), bool)
    rules.months_below(np.array([[True, False, False], [False, False, True], [True, True, True]]),
                       np.array([0, 0, 1], np.int64), np.array([True, True, False]), months)
    assert months.tolist() == [[True, False, True], [False, False, False]]


def test_argument_checks():
    offsets, dates, amounts, labels = arrays([[(AS_OF, -1, 0)]], False)
    good = dict(slot_of=np.zeros(1, np.int64), first_days=np.array([AS_OF], np.int32),
                as_of=AS_OF, label_ok=np.ones((1, 1), bool), account_ok=np.ones((1, 1), bool),
                out=rules.new_flows(1, 1))
    rules.window_flows(offsets, dates, amounts, labels, **good)
    for name, bad, match in (("labels", labels.astype(np.int64), "labels"),
                             ("label_ok", np.ones((1, 2), bool), "label_ok"),
                             ("account_ok", np.ones((2, 1), bool), "account_ok"),
                             ("out", np.zeros((1, 1, 3), np.int64), "out"),
                             ("slot_of", np.ones(1, np.int64), "outside")):
        args = {**good, "labels": labels, name: bad}
        with pytest.raises(ValueError, match=match):
            rules.window_flows(offsets, dates, amounts, **args)


def test_a_label_id_outside_the_table_is_refused_where_it_is_read():
    offsets, dates, amounts, labels = arrays([[(AS_OF, -1, 5)]], False)
    with pytest.raises(ValueError, match="label id is outside"):
        rules.window_flows(offsets, dates, amounts, labels, np.zeros(1, np.int64),
                           np.array([AS_OF], np.int32), AS_OF, np.ones((1, 1), bool),
                           np.ones((1, 1), bool), rules.new_flows(1, 1))
