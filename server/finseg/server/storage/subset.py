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
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np
import pyarrow as pa

from ..kernels import gather, layout
from .arrays import batch_from_value
from .env import DB
from .transactions import BASE_COLUMNS, Block, log_key

#: Columns of the log that the base columns come from.
_LOG_OF = {name: log for name, (_, _, log) in BASE_COLUMNS.items()}


class UserSubset:
    """`users` (tenant user indexes) with all their accounts, as `txn` and
    `state` (the tenant state the caller holds; a writer's is newer than
    the stored one) see them. Arrays are valid while `txn` lives."""

    def __init__(self, store: Any, txn: lmdb.Transaction, tenant_no: int,
                 state: dict[str, Any], users: np.ndarray,
                 own_batches: dict[int, pa.RecordBatch] | None = None,
                 cache_reads: bool = True, base_txn: lmdb.Transaction | None = None
                 ) -> None:
        self.store, self.txn, self.tenant_no, self.state = store, txn, tenant_no, state
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
        ids = table.user_ids.names(txn, tenant_no, users).to_pylist()
        by_id = np.argsort(np.array(ids, dtype=object), kind="stable")
        self._user_ids = [ids[i] for i in by_id]
        global_users = np.asarray(users, np.int64)[by_id]
        #: Tenant user index of each subset user, in user_id order.
        self.global_users = global_users
        accounts = table.accounts_of_users(txn, tenant_no, state["accounts"], global_users)
        account_ids = table.account_ids.names(txn, tenant_no, accounts).to_pylist()
        order = np.argsort(np.array(account_ids, dtype=object), kind="stable")
        self.global_accounts = accounts[order]
        self._account_ids = [account_ids[i] for i in order]
        columns = {name: table.gather(txn, tenant_no, name, self.global_accounts)
                   for name in ("user", "type", "currency", "balance", "balance_date",
                                "opened_on", "closed_on", "deleted")}
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
        return pa.array([self._user_ids[i] for i in np.asarray(indexes).tolist()], pa.string())

    def account_ids(self, indexes: np.ndarray) -> pa.Array:
        return pa.array([self._account_ids[i] for i in np.asarray(indexes).tolist()],
                        pa.string())

    def user_rank(self) -> np.ndarray:
        return np.arange(len(self._user_ids), dtype=np.int64)

    def account_rank(self) -> np.ndarray:
        return np.arange(self.n_accounts, dtype=np.int64)

    # ---- the rows ------------------------------------------------------

    def _rows(self) -> Block:
        """The subset's rows in CSR form: the base rows of each account, then
        the tail's merged in by date, as `TransactionStore.blocks` does."""
        if self._block is None:
            base_offsets, base = self._base_rows()
            tail_offsets, tail = self._tail_rows()
            offsets, columns = layout.merge(base_offsets, base, tail_offsets, tail)
            self._block = Block(0, self.n_accounts, offsets, columns)
        return self._block

    def _base_rows(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each subset account's rows of its base chunk, in subset order."""
        transactions = self.store.transactions
        lengths = np.zeros(self.n_accounts, np.int64)
        reads = []
        for chunk, first, count in transactions._chunk_ranges(self.state, self.state["accounts"]):
            inside = np.nonzero((self.global_accounts >= first)
                                & (self.global_accounts < first + count))[0]
            if inside.size == 0 or chunk is None:
                continue
            offsets, columns = transactions._base_run(self.base_txn, self.tenant_no, chunk,
                                                      count)
            local = self.global_accounts[inside] - first
            lengths[inside] = offsets[local + 1] - offsets[local]
            reads.append((inside, offsets[local], columns))
        csr = np.zeros(self.n_accounts + 1, np.int64)
        np.cumsum(lengths, out=csr[1:])
        out = {name: np.empty(int(csr[-1]), dtype) for name, (_, dtype, _) in BASE_COLUMNS.items()}
        for inside, starts, columns in reads:
            for name in BASE_COLUMNS:
                gather.copy_runs(columns[name], starts, lengths[inside], out[name], csr[inside])
        return csr, out

    def _tail_rows(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rows of the unmerged batches that belong to the subset's accounts,
        sorted by (subset account, date)."""
        wanted = np.argsort(self.global_accounts, kind="stable")
        queries = self.global_accounts[wanted]
        local_parts: list[np.ndarray] = []
        parts: dict[str, list[np.ndarray]] = {name: [] for name in BASE_COLUMNS}
        for batch in self.store.tail_index.batches(self.txn, self.tenant_no, self.state,
                                                   self.own_batches, self.cache_reads):
            lo, hi = gather.runs_of(batch.accounts, queries)
            lengths = hi - lo
            starts = np.cumsum(lengths) - lengths
            total = int(lengths.sum())
            if total == 0:
                continue
            local_parts.append(np.repeat(wanted, lengths))
            for name in BASE_COLUMNS:
                part = np.empty(total, BASE_COLUMNS[name][1])
                gather.copy_runs(batch.columns[name], lo, lengths, part, starts)
                parts[name].append(part)
        local = np.concatenate(local_parts) if local_parts else np.empty(0, np.int64)
        columns = {name: (np.concatenate(values) if values else
                          np.empty(0, BASE_COLUMNS[name][1]))
                   for name, values in parts.items()}
        order = layout.sort_rows(local, columns["dates"])
        local = local[order]
        return (layout.csr_offsets(local, 0, self.n_accounts),
                {name: values[order] for name, values in columns.items()})


@dataclass(frozen=True)
class SortedBatch:
    """A log batch's rows sorted by account: a subset finds its accounts'
    rows with two binary searches instead of reading the batch."""

    accounts: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def of(cls, batch: pa.RecordBatch) -> SortedBatch:
        accounts = batch.column("account").to_numpy().astype(np.int64)
        order = np.argsort(accounts, kind="stable")
        return cls(accounts[order], {name: batch.column(log).to_numpy()[order]
                                     for name, log in _LOG_OF.items()})


class TailIndex:
    """SortedBatch of each committed tail batch, per tenant, kept in memory.
    A live segment reads the tail on every write; in a write transaction
    LMDB hands out copies, so reading the batches each time cost more than
    the segments' work. Only committed batches are kept (`remember` runs
    after the commit); erasure rewrites the log, so it drops a tenant's."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self._lock = threading.Lock()
        self._batches: dict[int, dict[int, SortedBatch]] = {}

    def remember(self, tenant_no: int, stored: list[tuple[int, pa.RecordBatch]]) -> None:
        with self._lock:
            known = self._batches.setdefault(tenant_no, {})
            for seq, batch in stored:
                known[seq] = SortedBatch.of(batch)

    def forget(self, tenant_no: int) -> None:
        with self._lock:
            self._batches.pop(tenant_no, None)

    def batches(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any],
                own: dict[int, pa.RecordBatch], cache: bool = True) -> Iterator[SortedBatch]:
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
                yield SortedBatch.of(own[seq])
                continue
            found = cached.get(seq)
            if found is None:
                raw = txn.get(log_key(tenant_no, seq), db=self.env.db(DB.TXLOG))
                if raw is None:
                    continue
                found = SortedBatch.of(batch_from_value(raw))
                if cache:
                    with self._lock:
                        self._batches.setdefault(tenant_no, {})[seq] = found
            yield found
