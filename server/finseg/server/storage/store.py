"""The store: what the domain sees of LMDB.

`Store.writer(tenant)` is one all-or-nothing write of a tenant's data;
`Store.snapshot(tenant)` is one consistent read of it (a job's snapshot).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lmdb
import numpy as np
import pyarrow as pa

from ..errors import NotFound, Reason, quoted
from .accounts import AccountTable, Catalog, IdMap
from .audit import AuditLog
from .env import DB, Environment, tenant_prefix
from .jobs import JobStore, user_digest, without_users
from .live import LiveStore
from .subset import BaseViews, TailIndex
from .transactions import Block, IndexUpdate, Tail, TransactionStore
from .usage import UsageStore


class TenantWriter:
    """The tenant's data inside one write transaction (under the write lock)."""

    def __init__(self, store: Store, txn: lmdb.Transaction, tenant_no: int) -> None:
        self.store, self.txn, self.tenant_no = store, txn, tenant_no
        self.state = store.env.load_state(txn, tenant_no)
        self.after_commit: list[Callable[[], None]] = []
        self.index_updates: list[IndexUpdate] = []
        #: (seq, log batch) of what this write appended, not yet committed.
        self.appended: list[tuple[int, pa.RecordBatch]] = []
        #: Jobs whose results an erasure withdrew: PENDING, to run again.
        self.withdrawn: list[str] = []

    def account_indexes(self, account_ids: list[str]) -> np.ndarray:
        found = self.store.accounts.account_ids.lookup(self.txn, self.tenant_no, account_ids)
        return np.asarray(found, dtype=np.int64)

    def label_ids(self, labels: list[str]) -> np.ndarray:
        """Ids of labels in the tenant's label dictionary, adding new ones."""
        return np.asarray(self.store.accounts.label_ids.assign(
            self.txn, self.tenant_no, self.state, labels), dtype=np.int32)

    def counterparty_ids(self, names: list[str]) -> np.ndarray:
        """Ids of counterparty names (as spelled), adding new ones."""
        return np.asarray(self.store.accounts.counterparty_ids.assign(
            self.txn, self.tenant_no, self.state, names), dtype=np.int32)

    def account_column(self, name: str, indexes: np.ndarray) -> np.ndarray:
        return self.store.accounts.gather(self.txn, self.tenant_no, name, indexes)

    def account_columns(self) -> dict[str, np.ndarray]:
        return self.store.accounts.read(self.txn, self.tenant_no, self.state["accounts"])

    def upsert_accounts(self, account_ids: list[str], user_ids: list[str],
                        columns: dict[str, np.ndarray]) -> None:
        accounts = self.store.accounts
        indexes = np.asarray(accounts.account_ids.assign(
            self.txn, self.tenant_no, self.state, account_ids), dtype=np.int64)
        users = np.asarray(accounts.user_ids.assign(
            self.txn, self.tenant_no, self.state, user_ids), dtype=np.int32)
        accounts.write(self.txn, self.tenant_no, indexes,
                       {**columns, "user": users, "deleted": np.zeros(len(indexes), np.bool_)})

    def append_transactions(self, batch: pa.RecordBatch) -> tuple[int, int]:
        appended, duplicates, update, stored = self.store.transactions.append(
            self.txn, self.tenant_no, self.state, batch)
        if update is not None:
            self.index_updates.append(update)
        if stored is not None:
            self.appended.append(stored)
        return appended, duplicates

    def delete_user(self, user_id: str) -> tuple[int, int]:
        accounts = self.store.accounts
        user = accounts.user_ids.lookup(self.txn, self.tenant_no, [user_id])[0]
        if user < 0:
            raise NotFound(f"user {quoted(user_id)} not found", reason=Reason.USER_NOT_FOUND)
        columns = self.account_columns()
        owned = np.nonzero((columns["user"] == user) & ~columns["deleted"])[0]
        removed, orphans = self.store.transactions.delete_accounts(
            self.txn, self.tenant_no, self.state, owned)
        erasures = len(self.state.get("erasures", [])) + 1  # with this one
        names = accounts.counterparty_ids.names(self.txn, self.tenant_no, orphans).to_pylist()
        accounts.counterparty_ids.forget(self.txn, self.tenant_no,
                                         zip(names, orphans.tolist(), strict=True), erasures)
        names = accounts.account_ids.names(self.txn, self.tenant_no, owned).to_pylist()
        accounts.account_ids.forget(self.txn, self.tenant_no, zip(names, owned.tolist(),
                                                                  strict=True), erasures)
        accounts.user_ids.forget(self.txn, self.tenant_no, [(user_id, user)], erasures)
        accounts.write(self.txn, self.tenant_no, owned,
                       {"deleted": np.ones(owned.shape[0], np.bool_)})
        self.withdrawn += self.store.jobs.rewrite_results(
            self.txn, self.tenant_no, lambda table: without_users(table, {user_id}))
        # A digest, not the id: the erasure itself must not keep personal data.
        self.state.setdefault("erasures", []).append(user_digest(user_id))
        # The id index points at log rows that may have moved; rebuild it.
        self.after_commit.append(lambda: self.store.transactions.forget_index(self.tenant_no))
        # The log's batches were rewritten without the user's rows.
        self.store.tail_index.forget(self.tenant_no)
        self.after_commit.append(lambda: self.store.tail_index.forget(self.tenant_no))
        return int(owned.shape[0]), removed


class Snapshot:
    """One tenant's data as of one read transaction. Arrays it hands out are
    views into the memory map: valid until `close()`."""

    def __init__(self, store: Store, txn: lmdb.Transaction, tenant_no: int | None) -> None:
        self.store, self.txn, self.tenant_no = store, txn, tenant_no
        self.state = (store.env.load_state(txn, tenant_no) if tenant_no is not None
                      else None)
        count = self.state["accounts"] if self.state else 0
        self.accounts = store.accounts.read(txn, tenant_no or 0, count)
        self._tail: Tail | None = None

    @property
    def erasures(self) -> int:
        """How many erasures the snapshot includes; a job hands it back when
        it stores its results, which drops users erased since."""
        return len(self.state.get("erasures", [])) if self.state else 0

    @property
    def n_accounts(self) -> int:
        return int(self.accounts["user"].shape[0])

    @property
    def n_transactions(self) -> int:
        return int(self.state["log_rows"]) if self.state else 0

    def blocks(self) -> Iterator[Block]:
        if self.tenant_no is None or self.state is None:
            return
        if self._tail is None:
            self._tail = self.store.transactions.tail(self.txn, self.tenant_no, self.state)
        for _, _, block in self.store.transactions.blocks(
                self.txn, self.tenant_no, self.state, self.n_accounts, self._tail):
            yield block

    def labels(self) -> pa.Array:
        """The tenant's label dictionary: entry i is the label with id i."""
        if self.tenant_no is None or self.state is None:
            return pa.array([], pa.string())
        count = self.state.get("labels", 0)
        return self.store.accounts.label_ids.names(self.txn, self.tenant_no,
                                                   np.arange(count, dtype=np.int64))

    def counterparties(self, ids: np.ndarray) -> pa.Array:
        """Counterparty names, as spelled, of counterparty ids."""
        return self._names(self.store.accounts.counterparty_ids, ids)

    def _catalog(self, id_map: IdMap) -> Catalog:
        if self.tenant_no is None or self.state is None:  # a tenant that never stored anything
            return Catalog.of_chunks([])
        return id_map.catalog(self.txn, self.tenant_no, self.state[id_map.counter],
                              self.erasures)

    def _names(self, id_map: IdMap, indexes: np.ndarray) -> pa.Array:
        return self._catalog(id_map).take(indexes)

    def find_transactions(self, accounts: np.ndarray, days: np.ndarray, columns: list[str]
                          ) -> pa.Table:
        """Stored transactions of `accounts` booked on one of `days` (day
        numbers): account, booking_date and the given columns."""
        assert self.tenant_no is not None and self.state is not None
        return self.store.transactions.find(self.txn, self.tenant_no, accounts, days, columns)

    def account_ids(self, indexes: np.ndarray) -> pa.Array:
        return self._names(self.store.accounts.account_ids, indexes)

    def user_ids(self, indexes: np.ndarray) -> pa.Array:
        return self._names(self.store.accounts.user_ids, indexes)

    def account_rank(self) -> np.ndarray:
        """int64[n_accounts]: each account's place in account_id order."""
        return self._catalog(self.store.accounts.account_ids).rank()

    def user_rank(self) -> np.ndarray:
        """int64[users]: each user's place in user_id order (result order)."""
        return self._catalog(self.store.accounts.user_ids).rank()

    def close(self) -> None:
        self.txn.abort()


class Store:
    def __init__(self, path: Path, map_size: int, readonly: bool = False) -> None:
        self.env = Environment(path, map_size, readonly)
        self.accounts = AccountTable(self.env)
        self.transactions = TransactionStore(self.env)
        self.usage = UsageStore(self.env)
        self.live = LiveStore(self.env)
        self.tail_index = TailIndex(self.env)
        self.base_views = BaseViews(self.env, self.transactions)
        self.jobs = JobStore(self.env, self.usage, self.live)
        self.audit = AuditLog(self.env)
        self._compact_lock = threading.Lock()
        self._closing = threading.Event()
        self._warming: threading.Thread | None = None
        if not readonly:
            # Chunks a crash left between a compaction's writes and its swap.
            self.transactions.sweep()

    @contextlib.contextmanager
    def writer(self, tenant: str) -> Iterator[TenantWriter]:
        # The outer hold of the (re-entrant) write lock spans the commit and
        # the index updates that finish after it, so no other writer looks
        # ids up in a half-updated index.
        with self.env.write_lock:
            updates: list[IndexUpdate] = []
            tenant_no: int | None = None
            try:
                with self.env.write() as txn:
                    tenant_no = self.env.tenant_no(txn, tenant, create=True)
                    assert tenant_no is not None
                    writer = TenantWriter(self, txn, tenant_no)
                    yield writer
                    # Counts committed writes: what a cache of results keys on.
                    writer.state["writes"] = writer.state.get("writes", 0) + 1
                    self.env.save_state(txn, tenant_no, writer.state)
                    updates = writer.index_updates
                    for update in updates:
                        update.start()
            except BaseException:
                for update in updates:
                    update.finish(committed=False)
                # The id caches may hold ids of the write that did not commit.
                if tenant_no is not None:
                    for ids in self.accounts.id_maps:
                        ids.abandon(tenant_no)
                raise
            for ids in self.accounts.id_maps:
                ids.committed(tenant_no)
            for update in updates:
                update.finish(committed=True)
            if writer.appended:
                self.tail_index.remember(tenant_no, writer.appended)
            for hook in writer.after_commit:
                hook()

    @contextlib.contextmanager
    def snapshot(self, tenant: str) -> Iterator[Snapshot]:
        txn = self.env.read()
        try:
            snapshot = Snapshot(self, txn, self.env.tenant_no(txn, tenant, create=False))
            yield snapshot
        finally:
            txn.abort()

    def tail_rows(self, tenant: str) -> tuple[int, int]:
        """(rows in the tail, rows in the base) of a tenant, for the compactor."""
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return 0, 0
            state = self.env.load_state(txn, tenant_no)
        return state["log_rows"] - state["base"]["rows"], state["base"]["rows"]

    def warm_indexes(self) -> None:
        """Builds each tenant's transaction id index off the write lock, on a
        thread, so the first batch after a restart is not held up reading
        the whole log; `close` stops it first."""
        def build() -> None:
            for tenant in self.tenants():
                with self.env.read() as txn:
                    tenant_no = self.env.tenant_no(txn, tenant, create=False)
                if tenant_no is None:
                    continue
                built = self.transactions.snapshot_index(tenant_no, self._closing.is_set)
                if built is None:
                    return  # closing
                self.transactions.adopt_index(tenant_no, built)
        self._warming = threading.Thread(target=build, name="finseg-index-warmup", daemon=True)
        self._warming.start()

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Waits for the id indexes a start builds (a batch before then waits
        for its tenant's); True once they are built."""
        if self._warming is not None:
            self._warming.join(timeout)
        return self._warming is None or not self._warming.is_alive()

    def compact(self, tenant: str) -> bool:
        with self._compact_lock:
            with self.env.read() as txn:
                tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return False
            return self.transactions.compact(
                tenant_no, lambda txn: self.env.load_state(txn, tenant_no))

    def taxonomy(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's own taxonomy as stored, or None for the default."""
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return None
            raw = txn.get(b"taxonomy/" + tenant_prefix(tenant_no), db=self.env.db(DB.META))
            return None if raw is None else json.loads(bytes(raw))

    def put_taxonomy(self, tenant: str, taxonomy: dict[str, Any] | None) -> None:
        """Stores the tenant's taxonomy; None restores the default."""
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=True)
            assert tenant_no is not None
            key = b"taxonomy/" + tenant_prefix(tenant_no)
            if taxonomy is None:
                txn.delete(key, db=self.env.db(DB.META))
            else:
                txn.put(key, json.dumps(taxonomy).encode(), db=self.env.db(DB.META))

    def tenants(self) -> list[str]:
        with self.env.read() as txn:
            return [bytes(k).decode() for k, _ in txn.cursor(db=self.env.db(DB.TENANTS))]

    def close(self) -> None:
        self._closing.set()
        if self._warming is not None:
            self._warming.join()  # it reads the map, which closing unmaps
        self.base_views.close()
        self.env.close()


def backup(data_dir: Path, dest: Path, map_size: int) -> None:
    """A consistent copy of the store in `dest`, taken read-only beside a
    running service (LMDB lets another process read while it writes).
    Chunks a compaction had not swapped in are copied as they are and then
    swept from the copy, so it holds only what its states list."""
    env = Environment(data_dir, map_size, readonly=True)
    try:
        env.backup(dest)
    finally:
        env.close()
    Store(dest, map_size).close()
