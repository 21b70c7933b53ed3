"""MERCHANT_AFFINITY kernels (SPEC §4): per merchant and currency, the
customers, payments and spend of a window; and one merchant's customers.

Blocks are laid out as in `insurance`. A *slot* is one (user, currency)
pair, numbered as in the other types; `key_of` int64[n_spellings] gives each
counterparty id its merchant key's number, and a *cell* is one (key,
currency): key * n_currencies + currency. Sums are exact int64. A cell is
shown by the spelling of its latest payment, on one date the greatest
spelling in UTF-8 byte order (`spelling_rank`): no transaction id needed.

Distinct customers are counted without a set per cell: the block's accounts
are walked slot by slot (`blocks.slot_runs`), so a cell counts a slot the
first time the slot pays it, `last_slot` telling whether it already has. A
slot whose accounts lie in several blocks would be counted once per block;
its (cell, slot) pairs are handed back instead and counted once by the
caller. Users mostly have their accounts side by side, so those are few.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._jit import kernel, parallel_kernel, readonly
from .blocks import check_block, slot_runs, window_rows

#: best_day of a cell nobody paid.
NO_DAY = np.iinfo(np.int32).min
#: Fields of a cell's record in the totals, one cache line per cell: a row
#: touches one line instead of one per column (the scan at 50M went from
#: about 0.42 to 0.36 s).
#: LATEST packs the latest payment's (day - start) << 32 | spelling rank.
PAYMENTS, SPEND, LATEST, LAST_SLOT, CUSTOMERS, FIELDS = 0, 1, 2, 3, 4, 8


@parallel_kernel
def _rank(offsets, dates, amounts, counterparties, runs, run_accounts, slot_of, whole,
          currency_of_slot, key_of, spelling_rank, n_currencies, start, stop, part_runs,
          part_pairs, totals, pair_cell, pair_slot, n_pairs, bad):
    # Each part of the runs adds into its own rows of the totals (merged by
    # _merge), so the parts run in parallel without sharing a cell. Rows
    # are read through slices indexed from 0: numba checks a possibly
    # negative index (r in range(lo, hi)) on every read.
    for t in prange(part_runs.shape[0] - 1):
        own = totals[t]
        w = part_pairs[t]
        for j in range(part_runs[t], part_runs[t + 1]):
            slot = slot_of[run_accounts[runs[j]]]
            base = currency_of_slot[slot]
            slot_whole = whole[j]
            for q in range(runs[j], runs[j + 1]):
                i = run_accounts[q]
                lo, hi = window_rows(offsets, dates, i, start, stop - 1)
                days, money, names = dates[lo:hi], amounts[lo:hi], counterparties[lo:hi]
                for k in range(days.shape[0]):
                    amount = money[k]
                    if amount >= 0:
                        continue
                    spelling = names[k]
                    if spelling < 0 or spelling >= key_of.shape[0]:
                        bad[0] = 1  # the caller raises
                        continue
                    number = key_of[spelling] * n_currencies + base
                    cell = own[number]
                    cell[PAYMENTS] += 1
                    cell[SPEND] -= amount
                    # Branch-free, as both tests are a coin toss per row
                    # (with branches the scan took 0.36 s at 50M, without
                    # 0.29 s): the latest (day, spelling rank) as one packed
                    # maximum, and a customer counted when the cell's last
                    # slot changes.
                    latest = (np.int64(days[k] - start) << 32) | spelling_rank[spelling]
                    cell[LATEST] = max(cell[LATEST], latest)
                    new = cell[LAST_SLOT] != slot
                    cell[LAST_SLOT] = slot
                    cell[CUSTOMERS] += new & slot_whole
                    if not slot_whole and new:
                        pair_cell[w] = number
                        pair_slot[w] = slot
                        w += 1
        n_pairs[t] = w - part_pairs[t]


@kernel
def _merge(totals):
    """Folds the parts' totals into part 0's."""
    for t in range(1, totals.shape[0]):
        for c in range(totals.shape[1]):
            into, cell = totals[0, c], totals[t, c]
            into[PAYMENTS] += cell[PAYMENTS]
            into[SPEND] += cell[SPEND]
            into[CUSTOMERS] += cell[CUSTOMERS]
            into[LATEST] = max(into[LATEST], cell[LATEST])


class Ranking:
    """The running totals of a ranking over the blocks of one snapshot: one
    record per part of a block's accounts (a thread each) and cell, folded
    by `finish` into the per-cell columns customers, payments, spend,
    best_day (the last day paid) and best_spelling (the counterparty id
    paid that day that is greatest by `spelling_rank`, int64 per id)."""

    def __init__(self, n_keys: int, n_currencies: int, slot_first: np.ndarray,
                 slot_last: np.ndarray, spelling_rank: np.ndarray, parts: int = 0) -> None:
        self.n_currencies = n_currencies
        self.spelling_rank = spelling_rank
        self.slot_first, self.slot_last = slot_first, slot_last
        self._totals = np.zeros((parts or numba.get_num_threads(), n_keys * n_currencies,
                                 FIELDS), np.int64)
        self._totals[:, :, LATEST] = -1
        self._totals[:, :, LAST_SLOT] = -1
        self._start: int | None = None
        self._pairs: list[np.ndarray] = []

    def add(self, offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
            counterparties: np.ndarray, first: int, slot_of: np.ndarray,
            currency_of_slot: np.ndarray, key_of: np.ndarray, start: int, stop: int) -> None:
        """Adds the outgoing rows booked in [start, stop) of one block, whose
        accounts first..first+n-1 have the slots slot_of int64[n] (-1: left
        out); currency_of_slot int64 numbers each slot's currency."""
        n = slot_of.shape[0]
        check_block(offsets, dates, amounts, n)
        m = int(offsets[-1]) if n else 0
        if counterparties.dtype != np.int32 or counterparties.shape[0] < m:
            raise ValueError(f"counterparties must be 1-d int32 with at least {m} rows")
        if self._start is None:
            self._start = start
        if start != self._start:
            raise ValueError("every block of a ranking has the same window")
        runs, run_accounts = slot_runs(slot_of)
        if not run_accounts.size:
            return
        # A run's slot is whole here when every one of its accounts is in
        # the block.
        run_slots = slot_of[run_accounts[runs[:-1]]]
        whole = (self.slot_first[run_slots] >= first) & (self.slot_last[run_slots] < first + n)
        # The parts split the runs by rows, so the threads share the work.
        run_rows = np.add.reduceat(offsets[run_accounts + 1] - offsets[run_accounts],
                                   runs[:-1])
        before = np.concatenate([[0], np.cumsum(run_rows)]).astype(np.int64)
        parts = self._totals.shape[0]
        part_runs = np.searchsorted(before, np.linspace(0, before[-1], parts + 1),
                                    side="left").astype(np.int64)
        part_runs[0], part_runs[-1] = 0, run_rows.shape[0]
        # A split slot's (cell, slot) pairs: at most one per row of its part.
        split = not bool(whole.all())
        part_pairs = before[part_runs] if split else np.zeros(parts + 1, np.int64)
        pair_cell = np.empty(int(part_pairs[-1]), np.int64)
        pair_slot = np.empty(int(part_pairs[-1]), np.int64)
        n_pairs, bad = np.zeros(parts, np.int64), np.zeros(1, np.int64)
        _rank(*readonly(offsets, dates, amounts, counterparties, runs, run_accounts, slot_of,
                        whole, currency_of_slot, key_of, self.spelling_rank),
              np.int64(self.n_currencies), np.int32(start), np.int32(stop),
              *readonly(part_runs, part_pairs), self._totals, pair_cell, pair_slot, n_pairs, bad)
        if bad[0]:
            raise ValueError("a counterparty id is outside key_of")
        for t in range(parts):
            if n_pairs[t]:
                at = slice(int(part_pairs[t]), int(part_pairs[t] + n_pairs[t]))
                self._pairs.append(pair_cell[at] * (self.slot_last.shape[0] + 1)
                                   + pair_slot[at])

    def finish(self) -> None:
        """Folds the parts together and counts each split slot once per
        cell it paid."""
        _merge(self._totals)
        totals = self._totals[0]
        self.customers = np.ascontiguousarray(totals[:, CUSTOMERS])
        self.payments = np.ascontiguousarray(totals[:, PAYMENTS])
        self.spend = np.ascontiguousarray(totals[:, SPEND])
        latest = totals[:, LATEST]
        paid = latest >= 0
        self.best_day = np.where(paid, (self._start or 0) + (latest >> 32), NO_DAY
                                 ).astype(np.int32)
        # Ranks back to ids; a cell nobody paid keeps id 0.
        by_rank = np.argsort(self.spelling_rank).astype(np.int32)
        self.best_spelling = by_rank[np.where(paid, latest & 0xFFFFFFFF, 0)] if by_rank.size \
            else np.zeros(latest.shape[0], np.int32)
        self._totals = self._totals[:1, :0]  # the parts' memory goes
        if self._pairs:
            pairs = np.unique(np.concatenate(self._pairs))
            np.add.at(self.customers, pairs // (self.slot_last.shape[0] + 1), 1)
            self._pairs = []


@parallel_kernel
def _customers(offsets, dates, amounts, counterparties, runs, run_accounts, slot_of, wanted,
               start, stop, payments, spend, first_day, last_day, bad):
    # One run holds the block's accounts of one slot, so parallel runs
    # never write the same slot. Slices indexed from 0, as in _rank.
    n_spellings = wanted.shape[0]
    for j in prange(runs.shape[0] - 1):
        slot = slot_of[run_accounts[runs[j]]]
        for q in range(runs[j], runs[j + 1]):
            i = run_accounts[q]
            lo, hi = window_rows(offsets, dates, i, start, stop - 1)
            days, money, names = dates[lo:hi], amounts[lo:hi], counterparties[lo:hi]
            for k in range(days.shape[0]):
                spelling = names[k]
                if spelling < 0 or spelling >= n_spellings:
                    bad[0] = 1  # the caller raises
                elif money[k] < 0 and wanted[spelling]:
                    payments[slot] += 1
                    spend[slot] -= money[k]
                    first_day[slot] = min(first_day[slot], days[k])
                    last_day[slot] = max(last_day[slot], days[k])


def customers(offsets: np.ndarray, dates: np.ndarray, amounts: np.ndarray,
              counterparties: np.ndarray, slot_of: np.ndarray, wanted: np.ndarray,
              start: int, stop: int, payments: np.ndarray, spend: np.ndarray,
              first_day: np.ndarray, last_day: np.ndarray) -> None:
    """Adds one block's outgoing rows booked in [start, stop) whose
    counterparty id is `wanted` (bool[n_spellings]) to the per-slot
    payments, spend (int64) and first and last day (int32; start them at
    the int32 maximum and minimum)."""
    n = slot_of.shape[0]
    check_block(offsets, dates, amounts, n)
    runs, run_accounts = slot_runs(slot_of)
    bad = np.zeros(1, np.int64)
    _customers(*readonly(offsets, dates, amounts, counterparties, runs, run_accounts, slot_of,
                         wanted), np.int32(start), np.int32(stop), payments, spend,
               first_day, last_day, bad)
    if bad[0]:
        raise ValueError("a counterparty id is outside wanted")


@kernel
def _slot_spans(of_account, first, last):
    for i in range(of_account.shape[0]):
        slot = of_account[i]
        if slot >= 0:
            if i < first[slot]:
                first[slot] = i
            if i > last[slot]:
                last[slot] = i


def slot_spans(of_account: np.ndarray, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest account of each slot (of_account int64[n],
    -1: none): whether a block holds all of a slot's accounts."""
    first = np.full(n_slots, np.iinfo(np.int64).max, np.int64)
    last = np.full(n_slots, -1, np.int64)
    _slot_spans(*readonly(of_account), first, last)
    return first, last
