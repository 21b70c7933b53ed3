"""RULE kernels (SPEC §4): the per-user metrics a rule's comparisons read.

Blocks are laid out as in `balances` (CSR offsets, dates ascending within an
account) plus `labels` int32[m] as in `breakdown`. A *slot* is one candidate
user (RULE reads one currency, so one slot per user), and `slot_of`
int64[n] maps a block's accounts to slots (-1: not a candidate's account).

A rule names its transaction metrics with K distinct *windows*, each a
(days, group, type) triple; all of them are added up in one pass over the
rows. Money is exact int64; no float is involved.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel, readonly
from .blocks import check_block, first_row_from, slot_runs

#: Columns of window_flows' result, per slot and window.
OUT_COUNT, OUT_SUM, IN_SUM, LAST_OUT = range(4)
#: LAST_OUT of a slot without an outgoing transaction in the window.
NO_DAY = np.iinfo(np.int64).min


@parallel_kernel
def _window_flows(offsets, dates, amounts, labels, runs, run_accounts, slot_of, first_days,
                  as_of, label_ok, account_ok, every_label, out, bad):
    n_windows = first_days.shape[0]
    n_labels = label_ok.shape[0]
    n_runs = runs.shape[0] - 1
    earliest = first_days.min()
    # Runs in chunks, each thread adding into its own small accumulator and
    # writing a slot once: adding every row into `out` directly took twice
    # as long. One run holds the block's accounts of one slot, so parallel
    # runs never write the same slot.
    for c in prange((n_runs + 255) // 256):
        acc = np.zeros((n_windows, 4), np.int64)
        reads = np.zeros(n_windows, np.bool_)
        for j in range(c * 256, min(n_runs, (c + 1) * 256)):
            slot = slot_of[run_accounts[runs[j]]]
            for k in range(n_windows):
                acc[k, OUT_COUNT] = acc[k, OUT_SUM] = acc[k, IN_SUM] = 0
                acc[k, LAST_OUT] = out[slot, k, LAST_OUT]
            for q in range(runs[j], runs[j + 1]):
                i = run_accounts[q]
                for k in range(n_windows):
                    reads[k] = account_ok[i, k]
                for r in range(first_row_from(dates, offsets[i], offsets[i + 1], earliest),
                               offsets[i + 1]):
                    day = dates[r]
                    if day > as_of:
                        break  # dates ascend within an account
                    amount = amounts[r]
                    if amount == 0:
                        continue  # neither outgoing nor incoming
                    label = 0
                    if not every_label:  # else the label column is not even read
                        label = labels[r]
                        if label < 0 or label >= n_labels:
                            bad[0] = 1  # the wrapper raises
                            continue
                    for k in range(n_windows):
                        if not reads[k] or day < first_days[k] or not label_ok[label, k]:
                            continue
                        if amount < 0:
                            acc[k, OUT_COUNT] += 1
                            acc[k, OUT_SUM] -= amount
                            if day > acc[k, LAST_OUT]:
                                acc[k, LAST_OUT] = day
                        else:
                            acc[k, IN_SUM] += amount
            for k in range(n_windows):
                out[slot, k, OUT_COUNT] += acc[k, OUT_COUNT]
                out[slot, k, OUT_SUM] += acc[k, OUT_SUM]
                out[slot, k, IN_SUM] += acc[k, IN_SUM]
                out[slot, k, LAST_OUT] = acc[k, LAST_OUT]


def new_flows(n_slots: int, n_windows: int) -> np.ndarray:
    """The zeroed int64[slots, K, 4] that window_flows adds blocks into."""
    out = np.zeros((n_slots, n_windows, 4), np.int64)
    out[:, :, LAST_OUT] = NO_DAY
    return out


def window_flows(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
                 labels: np.ndarray | None, slot_of: np.ndarray, first_days: np.ndarray,
                 as_of: int, label_ok: np.ndarray | None, account_ok: np.ndarray,
                 out: np.ndarray) -> None:
    """Adds the block's rows to out int64[slots, K, 4] (from new_flows): for
    window k, the rows booked in [first_days[k], as_of] whose label id l has
    label_ok[l, k] and whose account i has account_ok[i, k]: the count and
    the sum of absolute amounts of the outgoing ones (amount < 0), the sum of
    the incoming ones (amount > 0) and the day number of the last outgoing
    one (NO_DAY if none). Called once per block with the same `out`.
    label_ok None counts every label in every window without reading
    `labels` (which may then be None)."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    m = int(offsets[-1]) if n else 0
    k = first_days.shape[0]
    every_label = label_ok is None
    if label_ok is None:  # the kernel reads no label: one empty column compiles once
        labels, label_ok = np.zeros(0, np.int32), np.ones((1, max(k, 1)), np.bool_)
    elif labels is None:
        raise ValueError("labels are needed to apply label_ok")
    elif labels.dtype != np.int32 or labels.ndim != 1 or labels.shape[0] < m:
        raise ValueError(f"labels must be 1-d int32 with at least {m} rows")
    if first_days.dtype != np.int32 or first_days.ndim != 1 or k < 1:
        raise ValueError("first_days must be int32[K] with K >= 1")
    if label_ok.dtype != np.bool_ or label_ok.ndim != 2 or label_ok.shape[1] != k:
        raise ValueError("label_ok must be bool[n_labels, K]")
    if account_ok.dtype != np.bool_ or account_ok.shape != (n, k):
        raise ValueError("account_ok must be bool[n, K]")
    if slot_of.dtype != np.int64 or out.dtype != np.int64 or out.ndim != 3 \
            or out.shape[1:] != (k, 4):
        raise ValueError("slot_of must be int64[n] and out int64[slots, K, 4]")
    if n and int(slot_of.max()) >= out.shape[0]:
        raise ValueError("a slot is outside out")
    runs, run_accounts = slot_runs(slot_of)
    # Label ids are checked in the kernel, on the rows of the windows only:
    # checking the whole column first read every row of the history.
    bad = np.zeros(1, np.int64)
    _window_flows(*readonly(offsets, dates, amounts, labels, runs, run_accounts, slot_of,
                            first_days),
                  np.int32(as_of), *readonly(np.ascontiguousarray(label_ok),
                                             np.ascontiguousarray(account_ok)), every_label,
                  out, bad)
    if bad[0]:
        raise ValueError("a label id is outside label_ok")


@kernel
def _sum_by_slot(values, slot_of, keep, out):
    for a in range(values.shape[0]):
        if keep[a] and slot_of[a] >= 0:
            out[slot_of[a]] += values[a]


def sum_by_slot(values: np.ndarray, slot_of: np.ndarray, keep: np.ndarray, out: np.ndarray
                ) -> None:
    """Adds values int64[n] of the accounts with keep[a] into out[slot_of[a]]."""
    n = values.shape[0]
    if values.dtype != np.int64 or slot_of.dtype != np.int64 or keep.dtype != np.bool_ \
            or slot_of.shape != (n,) or keep.shape != (n,) or out.dtype != np.int64:
        raise ValueError("values int64[n], slot_of int64[n], keep bool[n], out int64[slots]")
    if n and int(slot_of.max()) >= out.shape[0]:
        raise ValueError("a slot is outside out")
    _sum_by_slot(*readonly(values, slot_of, keep), out)


@kernel
def _months_below(below, slot_of, keep, out):
    # out[s, k] is set when any kept account of slot s was below in month k.
    for a in range(below.shape[0]):
        s = slot_of[a]
        if keep[a] and s >= 0:
            for k in range(below.shape[1]):
                if below[a, k]:
                    out[s, k] = True


def months_below(below: np.ndarray, slot_of: np.ndarray, keep: np.ndarray, out: np.ndarray
                 ) -> None:
    """ORs below bool[n, N] (an account below the threshold in month k) of
    the accounts with keep[a] into out bool[slots, N]."""
    n = slot_of.shape[0]
    if below.dtype != np.bool_ or below.ndim != 2 or below.shape[0] != n \
            or slot_of.dtype != np.int64 or keep.shape != (n,) or keep.dtype != np.bool_ \
            or out.dtype != np.bool_ or out.ndim != 2 or out.shape[1] != below.shape[1]:
        raise ValueError("below bool[n, N], slot_of int64[n], keep bool[n], out bool[slots, N]")
    if n and int(slot_of.max()) >= out.shape[0]:
        raise ValueError("a slot is outside out")
    _months_below(*readonly(np.ascontiguousarray(below), slot_of, keep), out)
