"""The gather kernels a live segment's subset reads with, against plain
Python: copied runs (empty ones, runs at either end), sorted replaces and
runs after a floor; and the merge of a tail into a base (layout.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import gather, layout

settings.register_profile("gather", max_examples=200, deadline=None, derandomize=True,
                          database=None)


@settings(settings.get_profile("gather"))
@given(source=st.lists(st.integers(-2**62, 2**62), max_size=40), data=st.data())
def test_copy_runs_copies_each_run_to_its_place(source, data):
    n = len(source)
    runs = data.draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)), max_size=8))
    starts = [min(a, b) for a, b in runs]
    lengths = [abs(a - b) for a, b in runs]
    out_starts = np.cumsum([0, *lengths])[:-1]
    want: list[int] = []
    for s, k in zip(starts, lengths, strict=True):
        want += source[s:s + k]
    for dtype in (np.int64, np.int32):
        values = np.array(source, np.int64).astype(dtype)
        out = np.full(len(want), -1, dtype)
        gather.copy_runs(values, np.array(starts, np.int64), np.array(lengths, np.int64), out,
                         out_starts.astype(np.int64))
        assert out.tolist() == np.array(want, np.int64).astype(dtype).tolist()


def test_copy_runs_refuses_a_run_outside_its_array():
    with pytest.raises(ValueError, match="outside"):
        gather.copy_runs(np.zeros(3, np.int64), np.array([2]), np.array([2]),
                         np.zeros(5, np.int64), np.array([0]))
    with pytest.raises(ValueError, match="dtype"):
        gather.copy_runs(np.zeros(3, np.int64), np.array([0]), np.array([1]),
                         np.zeros(5, np.int32), np.array([0]))


@settings(settings.get_profile("gather"))
@given(keys=st.sets(st.integers(-2**62, 2**62), max_size=40), data=st.data())
def test_replace_sorted_removes_and_adds_keys_keeping_the_order(keys, data):
    present = sorted(keys)
    gone = data.draw(st.lists(st.sampled_from(present), unique=True) if present
                     else st.just([]))
    # A key may leave and come back (a user whose figure stayed the same).
    new = data.draw(st.sets(st.integers(-2**62, 2**62).filter(lambda k: k not in keys)
                            | st.sampled_from(gone or [2**63 - 1]), max_size=10))
    want = sorted((keys - set(gone)) | new)
    out = gather.replace_sorted(np.array(present, np.int64), np.array(gone, np.int64),
                                np.array(sorted(new, reverse=True), np.int64))
    assert out.tolist() == want


def test_replace_sorted_refuses_to_remove_an_absent_key():
    with pytest.raises(ValueError, match="not among"):
        gather.replace_sorted(np.array([1, 3], np.int64), np.array([2], np.int64),
                              np.zeros(0, np.int64))


@settings(settings.get_profile("gather"))
@given(runs=st.lists(st.lists(st.integers(-5, 5), max_size=8), max_size=6), data=st.data())
def test_runs_after_keeps_the_rows_booked_after_each_floor(runs, data):
    dates, starts, lengths = [], [], []
    for run in runs:
        starts.append(len(dates))
        lengths.append(len(run))
        dates += sorted(run)
    floors = data.draw(st.lists(st.integers(-7, 7), min_size=len(runs), max_size=len(runs)))
    got_starts, got_lengths = gather.runs_after(
        np.array(dates, np.int32), np.array(starts, np.int64), np.array(lengths, np.int64),
        np.array(floors, np.int32))
    for k in range(len(runs)):
        kept = [d for d in sorted(runs[k]) if d > floors[k]]
        assert dates[got_starts[k]:got_starts[k] + got_lengths[k]] == kept
        assert got_starts[k] + got_lengths[k] == starts[k] + lengths[k]


@settings(settings.get_profile("gather"))
@given(accounts=st.lists(st.tuples(st.lists(st.integers(0, 9), max_size=8),
                                   st.lists(st.integers(0, 9), max_size=4)), max_size=8))
def test_merge_inserts_the_tail_after_base_rows_of_the_same_date(accounts):
    """Each account's base rows with its tail rows merged by date, base
    first among equal dates (amounts tell which row went where)."""
    base_offsets, tail_offsets = [0], [0]
    base_dates, base_amounts, tail_dates, tail_amounts, want = [], [], [], [], []
    for k, (base, tail) in enumerate(accounts):
        rows = [(d, 1000 * k + j) for j, d in enumerate(sorted(base))]
        news = [(d, -1000 * k - j - 1) for j, d in enumerate(sorted(tail))]
        base_dates += [d for d, _ in rows]
        base_amounts += [a for _, a in rows]
        tail_dates += [d for d, _ in news]
        tail_amounts += [a for _, a in news]
        base_offsets.append(len(base_dates))
        tail_offsets.append(len(tail_dates))
        # sorted() is stable: base rows, listed first, stay first on a tie.
        want += sorted(rows + news, key=lambda row: row[0])
    offsets, columns = layout.merge(
        np.array(base_offsets, np.int64),
        {"dates": np.array(base_dates, np.int32), "amounts": np.array(base_amounts, np.int64)},
        np.array(tail_offsets, np.int64),
        {"dates": np.array(tail_dates, np.int32), "amounts": np.array(tail_amounts, np.int64)})
    assert offsets.tolist() == [b + t for b, t in zip(base_offsets, tail_offsets, strict=True)]
    assert list(zip(columns["dates"].tolist(), columns["amounts"].tolist(),
                    strict=True)) == want


def test_insert_rows_refuses_positions_that_do_not_ascend():
    with pytest.raises(ValueError, match="ascend"):
        layout.insert_rows(np.zeros(3, np.int64), np.zeros(2, np.int64),
                           np.array([2, 1], np.int64))
