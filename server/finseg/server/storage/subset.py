"""Some users' data as a snapshot of its own, for live segments.

A live segment re-evaluates only the users a write names. `UserSubset`
shows a segment type the accounts of those users, and only theirs, with
the same methods a `Snapshot` has: the type's code runs unchanged and its
result holds exactly those users. It reads through any transaction, the
write transaction of the batch included, so a membership follows the data
in the same commit.

Accounts and users are numbered afresh inside the subset (users in user_id
order, accounts in account_id order), so ranks are positions and ids come
from two small lists, not from the tenant's catalogs, which a write
transaction may have just extended.

A subset copies only what its segment types read: the rows booked from
`since` on (and those after each account's snapshot date, which balances
need), and each column on first read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..kernels import gather, layout
from .arrays import batch_from_value
from .env import DB
from .transactions import BASE_COLUMNS, Block, LazyColumns, log_key

#: Columns of the log that the base columns come from.
_LOG_OF = {name: log for name, (_, _, log) in BASE_COLUMNS.items()}


class UserSubset:
    """`users` (tenant user indexes) with all their accounts, as `txn` and
    `state` (the tenant state the caller holds; a writer's is newer than
    the stored one) see them. Arrays are valid while `txn` lives."""

    def __init__(self, store: Any, txn: lmdb.Transaction, tenant_no: int,
                 state: dict[str, Any], users: np.ndarray,
                 own_batches: dict[int, pa.RecordBatch] | None = None,
                 cache_reads: bool = True, base_txn: lmdb.Transaction | None = None,
                 since: int | None = None, base_views: BaseViews | None = None) -> None:
        self.store, self.txn, self.tenant_no, self.state = store, txn, tenant_no, state
        #: Mapped base chunks held across writes (a writer's, under the write
        #: lock, whose write left the base alone); else read through base_txn.
        self.base_views = base_views
        #: The earliest booking day (day number) the caller's segment types
        #: read; None for every row. See `_floors`.
        self.since = since
        #: Where the base chunks are read: a write transaction hands out
        #: copies of whole chunk columns, so a caller under the write lock
        #: whose write left the base alone passes a read transaction, which
        #: sees the same base and maps it without copying.
        self.base_txn = base_txn or txn
        #: Log batches the caller's write appended (not committed yet).
        self.own_batches = own_batches or {}
        #: False when the caller's write rewrote the log (an erasure): what it
        #: reads is not committed and must not be cached.
        self.cache_reads = cache_reads
        table = store.accounts
        # Arrow sorts strings by their UTF-8 bytes, which is code point order:
        # Python's, without making 10,000 str objects per batch.
        ids = table.user_ids.names(txn, tenant_no, users)
        by_id = pc.sort_indices(ids).to_numpy()
        self._user_ids = ids.take(by_id)
        global_users = np.asarray(users, np.int64)[by_id]
        #: Tenant user index of each subset user, in user_id order.
        self.global_users = global_users
        accounts = table.accounts_of_users(txn, tenant_no, state["accounts"],
                                          state["users"], global_users)
        account_ids = table.account_ids.names(txn, tenant_no, accounts)
        order = pc.sort_indices(account_ids).to_numpy()
        self.global_accounts = accounts[order]
        self._account_ids = account_ids.take(order)
        columns = table.gather_columns(txn, tenant_no, [
            "user", "type", "currency", "balance", "balance_date", "opened_on", "closed_on",
            "deleted"], self.global_accounts)
        # Tenant user index -> subset user index, its place in user_id order.
        sorter = np.argsort(global_users, kind="stable")
        columns["user"] = sorter[np.searchsorted(global_users, columns["user"],
                                                 sorter=sorter)].astype(np.int32)
        self.accounts = columns
        self._block: Block | None = None

    # ---- what a segment type reads ------------------------------------

    @property
    def n_accounts(self) -> int:
        return int(self.global_accounts.shape[0])

    @property
    def n_transactions(self) -> int:
        return self._rows().rows

    @property
    def erasures(self) -> int:
        return len(self.state.get("erasures", []))

    def blocks(self) -> Iterator[Block]:
        if self.n_accounts:
            yield self._rows()

    def labels(self) -> pa.Array:
        count = self.state.get("labels", 0)
        return self.store.accounts.label_ids.names(self.txn, self.tenant_no,
                                                   np.arange(count, dtype=np.int64))

    def counterparties(self, ids: np.ndarray) -> pa.Array:
        return self.store.accounts.counterparty_ids.names(self.txn, self.tenant_no, ids)

    def user_ids(self, indexes: np.ndarray) -> pa.Array:
        return self._user_ids.take(pa.array(np.asarray(indexes, np.int64)))

    def account_ids(self, indexes: np.ndarray) -> pa.Array:
        return self._account_ids.take(pa.array(np.asarray(indexes, np.int64)))

    def user_rank(self) -> np.ndarray:
        return np.arange(len(self._user_ids), dtype=np.int64)

    def account_rank(self) -> np.ndarray:
        return np.arange(self.n_accounts, dtype=np.int64)

    # ---- the rows ------------------------------------------------------

    def _rows(self) -> Block:
        """The subset's rows in CSR form: the base rows of each account, then
        the tail's merged in by date, as `TransactionStore.blocks` does.
        Only dates are gathered up front (the merge needs them); every other
        column when a segment type first reads it, since most read two of
        the four."""
        if self._block is None:
            self._base_offsets, self._base_reads = self._base_plan()
            self._tail_reads, local = self._tail_plan()
            self._tail_rows = local.shape[0]
            base_dates, tail_dates = self._base_column("dates"), self._tail_column("dates")
            floors = self._floors()
            kept = np.arange(local.shape[0]) if floors is None else \
                np.flatnonzero(tail_dates > floors[local])
            local, tail_dates = local[kept], tail_dates[kept]
            order = layout.sort_rows(local, tail_dates)
            #: Which tail rows (in batch order) the block holds, in its order.
            self._tail_take = kept[order]
            self._merge: np.ndarray | None = None
            offsets, dates = self._base_offsets, base_dates
            if order.size:
                tail_dates = tail_dates[order]
                offsets, self._merge = layout.merged_positions(
                    self._base_offsets, base_dates,
                    layout.csr_offsets(local[order], 0, self.n_accounts), tail_dates)
                dates = layout.insert_rows(base_dates, tail_dates, self._merge)
            columns = LazyColumns(self._column)
            columns.built["dates"] = dates
            if self.base_views is None and self.base_txn is self.txn and not self.cache_reads:
                # The caller's write rewrote the base (an erasure): a write
                # transaction's values may not outlive its next write, and
                # the caller writes between the segment types it runs.
                columns.built.update((name, columns[name]) for name in BASE_COLUMNS)
            self._block = Block(0, self.n_accounts, offsets, columns)
        return self._block

    def _column(self, name: str) -> np.ndarray:
        base = self._base_column(name)
        if self._merge is None:
            return base
        return layout.insert_rows(base, self._tail_column(name)[self._tail_take], self._merge)

    def _floors(self) -> np.ndarray | None:
        """Per subset account, the day after which its rows are read; None
        for all. A segment type reads rows from `since` on, and balances:
        EOD(d) = balance + S(d) - S(balance_date) depends only on the rows
        booked after the earlier of d and the snapshot's date, so rows on or
        before both the floor and balance_date change no result. At 10,000
        users per batch, copying their whole histories was most of a live
        segment's cost."""
        if self.since is None:
            return None
        return np.minimum(np.int32(self.since - 1), self.accounts["balance_date"])

    def _base_plan(self) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray,
                                                         dict[str, np.ndarray]]]]:
        """Offsets of each subset account's base rows, and where they are:
        (subset accounts, their first rows, the chunk's columns) per chunk."""
        transactions = self.store.transactions
        lengths = np.zeros(self.n_accounts, np.int64)
        floors = self._floors()
        views = None if self.base_views is None else \
            self.base_views.chunks(self.tenant_no, self.state)
        reads = []
        for chunk, first, count in transactions._chunk_ranges(self.state, self.state["accounts"]):
            inside = np.nonzero((self.global_accounts >= first)
                                & (self.global_accounts < first + count))[0]
            if inside.size == 0 or chunk is None:
                continue
            if views is None:
                offsets, columns = transactions._base_run(self.base_txn, self.tenant_no,
                                                          chunk, count)
            else:
                offsets, columns = views[chunk[0]]
            local = self.global_accounts[inside] - first
            # Accounts created after the chunk was written have no base rows.
            last = offsets.shape[0] - 1
            starts = offsets[np.minimum(local, last)]
            lengths[inside] = offsets[np.minimum(local + 1, last)] - starts
            if floors is not None:
                starts, lengths[inside] = gather.runs_after(columns["dates"], starts,
                                                            lengths[inside], floors[inside])
            reads.append((inside, starts, columns))
        csr = np.zeros(self.n_accounts + 1, np.int64)
        np.cumsum(lengths, out=csr[1:])
        return csr, reads

    def _base_column(self, name: str) -> np.ndarray:
        csr = self._base_offsets
        lengths = np.diff(csr)
        out = np.empty(int(csr[-1]), BASE_COLUMNS[name][1])
        for inside, starts, columns in self._base_reads:
            gather.copy_runs(columns[name], starts, lengths[inside], out, csr[inside])
        return out

    def _tail_plan(self) -> tuple[list[tuple[TailBatch, np.ndarray, int]], np.ndarray]:
        """Where the unmerged batches hold rows of the subset's accounts:
        (batch, its rows, their first place in the tail) per batch, and the
        subset account of each tail row, in batch order. A map from tenant
        account to subset account makes each batch cost its own rows,
        whatever the subset's size: searching each batch for every subset
        account made a day change's catch-up of 100,000 users cost seconds."""
        place = np.full(max(int(self.state["accounts"]), 1), -1, np.int32)
        place[self.global_accounts] = np.arange(self.n_accounts, dtype=np.int32)
        local_parts: list[np.ndarray] = []
        reads = []
        placed = 0
        for batch in self.store.tail_index.batches(self.txn, self.tenant_no, self.state,
                                                   self.own_batches, self.cache_reads):
            where = place[batch.accounts]
            rows = np.flatnonzero(where >= 0)
            if rows.size == 0:
                continue
            local_parts.append(where[rows].astype(np.int64))
            reads.append((batch, rows, placed))
            placed += int(rows.shape[0])
        local = np.concatenate(local_parts) if local_parts else np.empty(0, np.int64)
        return reads, local

    def _tail_column(self, name: str) -> np.ndarray:
        """Column `name` of the tail rows, in batch order (unsorted)."""
        out = np.empty(self._tail_rows, BASE_COLUMNS[name][1])
        for batch, rows, placed in self._tail_reads:
            np.take(batch.columns[name], rows, out=out[placed:placed + rows.shape[0]])
        return out


@dataclass(frozen=True)
class TailBatch:
    """A log batch's account and base columns as numpy arrays, in arrival
    order: a subset picks its accounts' rows out through an account map."""

    accounts: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def of(cls, batch: pa.RecordBatch) -> TailBatch:
        return cls(batch.column("account").to_numpy().astype(np.int64),
                   {name: batch.column(log).to_numpy() for name, log in _LOG_OF.items()})


class TailIndex:
    """TailBatch of each committed tail batch, per tenant, kept in memory.
    A live segment reads the tail on every write; in a write transaction
    LMDB hands out copies, so reading the batches each time cost more than
    the segments' work. Only committed batches are kept (`remember` runs
    after the commit); erasure rewrites the log, so it drops a tenant's."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._batches: dict[int, dict[int, TailBatch]] = {}

    def remember(self, tenant_no: int, stored: list[tuple[int, pa.RecordBatch]]) -> None:
        with self._lock:
            known = self._batches.setdefault(tenant_no, {})
            for seq, batch in stored:
                known[seq] = TailBatch.of(batch)

    def forget(self, tenant_no: int) -> None:
        with self._lock:
            self._batches.pop(tenant_no, None)

    def batches(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any],
                own: dict[int, pa.RecordBatch], cache: bool = True) -> Iterator[TailBatch]:
        """The tail's batches as `state` sees them: `own` are the caller's
        own uncommitted ones, the rest are committed and, with `cache`,
        kept on first read."""
        covered, end = state["base"]["covered_seq"], state["next_seq"]
        with self._lock:
            known = self._batches.setdefault(tenant_no, {})
            for seq in [s for s in known if s < covered]:
                del known[seq]  # merged into the base by a compaction
            cached = dict(known) if cache else {}
        for seq in range(covered, end):
            if seq in own:
                yield TailBatch.of(own[seq])
                continue
            found = cached.get(seq)
            if found is None:
                raw = txn.get(log_key(tenant_no, seq), db=self.env.db(DB.TXLOG))
                if raw is None:
                    continue
                found = TailBatch.of(batch_from_value(raw))
                if cache:
                    with self._lock:
                        self._batches.setdefault(tenant_no, {})[seq] = found
            yield found


class BaseViews:
    """The base chunks' columns, mapped through one read transaction that
    is held across writes. Getting a chunk column from LMDB costs about
    6 µs per MB of it (48 chunks of 5 columns at 50M rows: 10 ms), and a
    live segment's subset reads every chunk on every batch. A chunk never
    changes under its uid (compaction and erasure write new ones), so a
    view stays right while the transaction that mapped it lives. The
    transaction is renewed when a chunk is missing from it and after
    MAX_AGE seconds, so the pages writes free meanwhile are reused soon.
    Only writers use this, under the write lock: a renewal unmaps the
    views handed out before, so they must be used before the next call."""

    MAX_AGE = 10.0

    def __init__(self, env: Any, transactions: Any) -> None:
        self.env, self.transactions = env, transactions
        self._txn: lmdb.Transaction | None = None
        self._opened = 0.0
        self._views: dict[tuple[int, int], tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    def chunks(self, tenant_no: int, state: dict[str, Any]
               ) -> dict[int, tuple[np.ndarray, dict[str, np.ndarray]]]:
        """(offsets, columns) of every base chunk of `state`, by uid; the
        offsets as stored (accounts created since have none)."""
        uids = [chunk[0] for chunk in state["base"]["chunks"]]
        if self._txn is None or time.monotonic() - self._opened > self.MAX_AGE \
                or any((tenant_no, uid) not in self._views for uid in uids):
            self.close()  # a chunk not seen yet may be newer than the transaction
            self._txn, self._opened = self.env.read(), time.monotonic()
        for uid in uids:
            if (tenant_no, uid) not in self._views:
                self._views[tenant_no, uid] = self.transactions._base_run(
                    self._txn, tenant_no, [uid], 0)
        return {uid: self._views[tenant_no, uid] for uid in uids}

    def close(self) -> None:
        self._views.clear()
        if self._txn is not None:
            self._txn.abort()
            self._txn = None
