"""Gathering a few accounts' rows out of sorted runs: what a live segment
reads on every write (storage/subset.py).

numpy's way, an index of every wanted row built with cumsum and a fancy
take per column, cost more than the segments' own work on a batch's
10,000 users; these copy each account's run at once and find the runs of
sorted queries in one pass.
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
def _runs_of(keys, queries, lo, hi):
    j = 0
    n = keys.shape[0]
    for i in range(queries.shape[0]):
        q = queries[i]
        while j < n and keys[j] < q:
            j += 1
        lo[i] = j
        k = j
        while k < n and keys[k] == q:
            k += 1
        hi[i] = k


def runs_of(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): np.searchsorted(keys, queries, "left" / "right") for
    ascending int64 `keys` and ascending int64 `queries`, in one merge pass."""
    lo = np.empty(queries.shape[0], np.int64)
    hi = np.empty(queries.shape[0], np.int64)
    _runs_of(*readonly(keys.astype(np.int64, copy=False), queries.astype(np.int64, copy=False)),
             lo, hi)
    return lo, hi


@kernel
def _take_two(a, b, order, out):
    n_a = a.shape[0]
    for w in range(order.shape[0]):
        r = order[w]
        out[w] = a[r] if r < n_a else b[r - n_a]


def take_two(a: np.ndarray, b: np.ndarray, order: np.ndarray) -> np.ndarray:
    """np.concatenate([a, b])[order] without the concatenation."""
    if a.dtype != b.dtype:
        raise ValueError("a and b must have one dtype")
    if order.size and (int(order.min()) < 0 or int(order.max()) >= a.shape[0] + b.shape[0]):
        raise ValueError("order is outside a and b")
    out = np.empty(order.shape[0], a.dtype)
    _take_two(*readonly(a, b, order), out)
    return out
