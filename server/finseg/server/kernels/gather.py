"""Gathering a few accounts' rows out of sorted runs: what a live segment
reads on every write (storage/subset.py).

numpy's way, an index of every wanted row built with cumsum and a fancy
take per column, cost more than the segments' own work on a batch's
10,000 users; these copy each account's run at once, cut each run at a
floor day, and move sorted keys in one pass.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, readonly


@kernel
def _copy_runs(source, starts, lengths, out, out_starts):
    for i in range(starts.shape[0]):
        s, d = starts[i], out_starts[i]
        for k in range(lengths[i]):
            out[d + k] = source[s + k]


def copy_runs(source: np.ndarray, starts: np.ndarray, lengths: np.ndarray, out: np.ndarray,
              out_starts: np.ndarray) -> None:
    """out[out_starts[i]:][:lengths[i]] = source[starts[i]:][:lengths[i]] for
    each i (int64 arrays); `out` has the dtype of `source`."""
    if not (starts.shape == lengths.shape == out_starts.shape):
        raise ValueError("starts, lengths and out_starts must have one entry per run")
    if lengths.size and (int((starts + lengths).max()) > source.shape[0]
                         or int((out_starts + lengths).max()) > out.shape[0]):
        raise ValueError("a run is outside its array")
    if out.dtype != source.dtype:
        raise ValueError("out must have the dtype of source")
    _copy_runs(*readonly(source, starts.astype(np.int64), lengths.astype(np.int64)), out,
               *readonly(out_starts.astype(np.int64)))


@kernel
def _replace_sorted(keys, gone_at, new, new_at, out):
    n, n_gone, n_new = keys.shape[0], gone_at.shape[0], new.shape[0]
    i = g = k = w = 0
    while True:
        # Copy the untouched keys up to the next change in one slice.
        stop = n
        if g < n_gone:
            stop = min(stop, gone_at[g])
        if k < n_new:
            stop = min(stop, new_at[k])
        out[w:w + stop - i] = keys[i:stop]
        w += stop - i
        i = stop
        while k < n_new and new_at[k] == i:  # new keys go before keys[i]
            out[w] = new[k]
            w += 1
            k += 1
        if g < n_gone and gone_at[g] == i:
            i += 1
            g += 1
        if i >= n and k >= n_new:
            return


def replace_sorted(keys: np.ndarray, gone: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Ascending unique int64 `keys` without `gone` (keys present in them)
    and with `new` (unique keys, absent from them once `gone` is out),
    ascending. Untouched stretches are copied whole, where np.delete and
    np.insert each built a mask and copied the whole array (a live RFM
    segment does this on every write, over every scored user)."""
    keys = keys.astype(np.int64, copy=False)
    gone, new = np.sort(gone.astype(np.int64)), np.sort(new.astype(np.int64))
    gone_at = np.searchsorted(keys, gone)
    if gone.size and (int(gone_at.max()) >= keys.shape[0]
                      or not np.array_equal(keys[gone_at], gone)
                      or np.any(np.diff(gone) == 0)):
        raise ValueError("a key to remove is not among the keys")
    new_at = np.searchsorted(keys, new)
    out = np.empty(keys.shape[0] - gone.shape[0] + new.shape[0], np.int64)
    _replace_sorted(*readonly(keys, gone_at, new, new_at), out)
    return out


@kernel
def _runs_after(dates, starts, lengths, floors, out_starts, out_lengths):
    for i in range(starts.shape[0]):
        a, end = starts[i], starts[i] + lengths[i]
        b = end
        while a < b:  # the first row booked after the floor; dates ascend in a run
            middle = (a + b) // 2
            if dates[middle] <= floors[i]:
                a = middle + 1
            else:
                b = middle
        out_starts[i] = a
        out_lengths[i] = end - a


def runs_after(dates: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
               floors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the rows of each run (ascending `dates`) booked
    after its floor, day numbers int32[runs]."""
    if not (starts.shape == lengths.shape == floors.shape):
        raise ValueError("starts, lengths and floors must have one entry per run")
    if lengths.size and int((starts + lengths).max()) > dates.shape[0]:
        raise ValueError("a run is outside its array")
    out_starts = np.empty(starts.shape[0], np.int64)
    out_lengths = np.empty(starts.shape[0], np.int64)
    _runs_after(*readonly(dates, starts.astype(np.int64), lengths.astype(np.int64),
                          floors.astype(np.int32)), out_starts, out_lengths)
    return out_starts, out_lengths
