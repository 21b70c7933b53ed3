"""Compiles every kernel once on tiny inputs, filling numba's on-disk cache.

Run at image build time (`python -m finseg.server.kernels.warmup`) so the
first request of a fresh container does not wait for the JIT, and in the
background at service start so the first job of a process loads the cached
machine code before anyone waits for it.
"""

from __future__ import annotations

import numpy as np

from . import balances, breakdown, flows, hashing, insurance, layout, slots, wire
from .calendar import NEVER_CLOSED, OPEN_SINCE_EVER


def warm() -> None:
    offsets = np.array([0, 2], np.int64)
    dates = np.array([1, 2], np.int32)
    amounts = np.array([5, -5], np.int64)
    per_account = (np.array([0], np.int64), np.array([0], np.int32),
                   np.array([OPEN_SINCE_EVER], np.int32), np.array([NEVER_CLOSED], np.int32),
                   np.array([True]))
    balances.high_balance(offsets, dates, amounts, *per_account, 3, 0)
    balances.low_balance(offsets, dates, amounts, *per_account, np.array([0, 31], np.int32), 0)
    run: dict[str, np.ndarray] = {"dates": dates, "amounts": amounts}
    layout.merge(offsets, run, offsets, run)
    flows.in_out(offsets, dates, amounts, np.zeros(1, np.int64), 0, 3, np.zeros((1, 5), np.int64))
    sums, counts = np.zeros((1, 1, 1), np.int64), np.zeros((1, 1), np.int64)
    breakdown.monthly_by_group(offsets, dates, amounts, np.array([0, 0], np.int32),
                               np.zeros(1, np.int64), np.array([0, 31], np.int32),
                               np.ones((1, 1), np.bool_), sums, counts)
    breakdown.stats(sums[:, 0, :])
    breakdown.rows(np.array([0, 1], np.int64), sums, counts)
    paid = insurance.payments(offsets, dates, amounts, np.array([0, 0], np.int32),
                              np.array([0, 0], np.int32), np.zeros(1, np.int64),
                              np.zeros(1, np.int32), 0, 3)
    insurance.contracts(np.array([0, 1], np.int64), paid["date"], paid["amount"],
                        paid["counterparty"])
    layout.sort_rows(np.array([0, 0], np.int32), dates)
    slots.number_slots(np.array([True]), np.zeros(1, np.int32), np.zeros(1, np.int64),
                       np.zeros(1, np.int64))
    index = hashing.IdIndex(16)
    out = np.empty(1, np.uint64)
    hashing.hash_strings(np.array([0, 1], np.int64), np.array([65], np.uint8), out,
                         np.uint64(0))
    hashing.combine(out, np.array([1], np.int64).astype(np.uint64))
    index.insert(out, np.array([0], np.int64))
    index.lookup(out)
    tag = np.array([8], np.uint8)
    rows, data = wire.varints(tag, np.array([1], np.uint64), True)
    wire.fixed64s(tag, np.array([1], np.uint64))
    wire.framed(tag, rows, data, True)
    both = np.stack([rows, rows])  # column slices, as the encoder passes them
    wire.concat_rows(both[:, :-1], both[:, 1:], data)


if __name__ == "__main__":
    warm()
    print("kernels compiled and cached")
