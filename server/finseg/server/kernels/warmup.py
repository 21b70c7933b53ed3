"""Compiles every kernel once on tiny inputs, filling numba's on-disk cache.

Run at image build time (`python -m finseg.server.kernels.warmup`) so the
first request of a fresh container does not wait for the JIT, and in the
background at service start so the first job of a process loads the cached
machine code before anyone waits for it.

numba compiles per argument type (dtype, dimensions, layout, read-only), so
each call below goes through the entry point the service calls, with the
dtypes the service passes: the entry points make every input read-only
(`_jit.readonly`), so the inputs' origin does not matter. A test runs the
service's jobs after this and checks that nothing new was compiled
(tests/e2e/test_warm_start.py).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import (
    balances,
    breakdown,
    flows,
    gather,
    hashing,
    insurance,
    layout,
    merchants,
    parsing,
    rfm,
    rules,
    slots,
    wire,
)
from .calendar import NEVER_CLOSED, OPEN_SINCE_EVER


def _block() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One account with two rows: offsets int64, dates int32, amounts int64."""
    return np.array([0, 2], np.int64), np.array([1, 2], np.int32), np.array([5, -5], np.int64)


def _jobs() -> None:
    """The kernels of the segment types, as domain/segment_types calls them."""
    offsets, dates, amounts = _block()
    labels = counterparties = np.zeros(2, np.int32)
    per_account = (np.array([0], np.int64), np.array([0], np.int32),
                   np.array([OPEN_SINCE_EVER], np.int32), np.array([NEVER_CLOSED], np.int32),
                   np.array([True]))
    months = np.array([0, 31], np.int32)
    slot_of = np.zeros(1, np.int64)
    balances.high_balance(offsets, dates, amounts, *per_account, 3, 0)
    balances.low_balance(offsets, dates, amounts, *per_account, months, 0)
    flows.in_out(offsets, dates, amounts, slot_of, 0, 3, np.zeros((1, 5), np.int64))
    balances.monthly_minimums(offsets, dates, amounts, *per_account, months)
    rules.window_flows(offsets, dates, amounts, labels, slot_of, np.zeros(1, np.int32), 3,
                       np.ones((1, 1), np.bool_), np.ones((1, 1), np.bool_),
                       rules.new_flows(1, 1))
    rules.sum_by_slot(np.zeros(1, np.int64), slot_of, np.array([True]), np.zeros(1, np.int64))
    rules.months_below(np.zeros((1, 1), np.bool_), slot_of, np.array([True]),
                       np.zeros((1, 1), np.bool_))
    rfm.outgoing(offsets, dates, amounts, labels, slot_of, np.ones(1, np.bool_), 0, 3,
                 np.zeros((1, 3), np.int64))
    rfm.scores(np.arange(2, dtype=np.int64), True)

    sums, counts = np.zeros((1, 1, 1), np.int64), np.zeros((1, 1), np.int64)
    breakdown.monthly_by_group(offsets, dates, amounts, labels, slot_of, months,
                               np.ones((1, 1), np.bool_), sums, counts)
    breakdown.rows(np.array([0, 1], np.int64), sums, counts)  # and stats

    paid = insurance.payments(offsets, dates, amounts, labels, counterparties, slot_of,
                              np.zeros(1, np.int32), 0, 3)
    k = paid["slot"].shape[0]
    order, starts = insurance.contract_runs(np.zeros(k, np.int64), np.arange(k, dtype=np.int64),
                                            1)
    insurance.contracts(starts, paid["date"][order], paid["amount"][order],
                        paid["counterparty"][order])

    first, last = merchants.slot_spans(slot_of, 1)
    one = np.zeros(1, np.int64)
    ranking = merchants.Ranking(1, 1, first, last, one)
    ranking.add(offsets, dates, amounts, counterparties, 0, slot_of, one, one, 0, 3)
    ranking.finish()
    merchants.customers(offsets, dates, amounts, counterparties, slot_of, np.ones(1, np.bool_),
                        0, 3, np.zeros(1, np.int64), np.zeros(1, np.int64),
                        np.zeros(1, np.int32), np.zeros(1, np.int32))

    slots.number_slots(np.array([True]), np.zeros(1, np.int32), np.zeros(1, np.int64),
                       np.zeros(1, np.int64))
    slots.number_user_slots(np.array([True]), np.zeros(1, np.int32), np.zeros(1, np.int64))
    slots.currency_keys(np.array([b"EUR"], "S3"))


def _storage() -> None:
    """Ingestion's hashes, id index and text parsing, and the merge of the tail into the
    base that jobs and the compactor do."""
    out = np.empty(1, np.uint64)
    hashing.hash_strings(np.array([0, 1], np.int64), np.array([65], np.uint8), out, 0)
    hashing.combine(out, np.ones(1, np.uint64))
    hashing.first_occurrence(out, np.empty(1, np.int64))
    index = hashing.IdIndex(2)
    index.insert(out, np.zeros(1, np.int64))
    index.insert(np.arange(1, 3, dtype=np.uint64), np.ones(2, np.int64))  # grows the table
    index.lookup(out)
    # Text columns as a CSV load sends them.
    parsing.days(pa.array(["2026-01-31"]))
    parsing.decimals(pa.array(["-1.50"]), np.array([2], np.int64), 16)

    offsets, dates, amounts = _block()
    run = {"dates": dates, "amounts": amounts}
    layout.merge(offsets, run, offsets, run)
    for column in (dates, amounts):  # subset.py gathers int32 and int64 columns
        gather.copy_runs(column, np.zeros(1, np.int64), np.ones(1, np.int64),
                         np.empty(1, column.dtype), np.zeros(1, np.int64))
        layout.insert_rows(column, column[:1], np.zeros(1, np.int64))
    gather.replace_sorted(offsets, offsets[:1], np.zeros(0, np.int64))
    gather.runs_after(dates, np.zeros(1, np.int64), np.ones(1, np.int64), dates[:1])
    layout.sort_rows(np.zeros(2, np.int32), dates)


def _wire() -> None:
    """The encoding of a job's members (transport/wire.py)."""
    tag, at, values = np.array([8], np.uint8), np.zeros(1, np.int64), np.ones(1, np.uint64)
    offsets, sizes = np.array([0, 1], np.int64), np.ones(1, np.int64)
    out, total = np.zeros(16, np.uint8), np.zeros(1, np.int64)
    wire.add_scalar_sizes(total, tag, values)
    wire.add_fixed64_sizes(total, tag, values)
    wire.add_bytes_sizes(total, tag, offsets, at)
    wire.add_packed_sizes(total, tag, offsets, values)
    wire.add_element_sizes(total, tag, offsets, sizes)
    wire.element_sizes(tag, sizes)
    wire.put_varints(out, at, tag, values)
    wire.put_fixed64s(out, at, tag, values)
    wire.put_bytes(out, at, tag, offsets, out[:1], at)
    wire.put_packed(out, at, tag, offsets, values)
    wire.put_elements(out, at, tag, offsets, sizes)
    wire.put_heads(out, at, tag, sizes)
    wire.put_rows(out, at, np.zeros(1, np.int64), np.zeros(1, np.int64), tag, offsets,
                  np.ones((1, 1), np.uint64), offsets, out[:1], np.zeros((1, 1), np.int64),
                  offsets, values)


def warm() -> None:
    _jobs()
    _storage()
    _wire()


if __name__ == "__main__":
    warm()
    print("kernels compiled and cached")
