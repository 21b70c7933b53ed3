"""Transactions: an append-only log of batches, merged into sorted base chunks.

Layout of one tenant's transactions:

- The log (DB.TXLOG) holds every accepted batch as one Arrow IPC value, in
  arrival order, keyed by a batch sequence number. An append is one small
  write, so ingestion never rewrites old data.
- The base (DB.BASE) holds the same rows re-laid for the kernels: chunks
  covering a range of account indexes, rows sorted by (account, date), one
  LMDB value per column (CSR offsets, dates, amounts). Kernels read these
  values straight from the memory map.
- Batches not yet merged into the base are the tail. Readers merge the
  (small) sorted tail into each chunk on the fly; the compactor folds the
  tail into new chunks in the background and swaps them in atomically.

The transaction-id index (hash -> locator) is in memory, per tenant, rebuilt
from the log's stored hashes after a start: over a read snapshot on a
thread, then caught up under the write lock (or, if a write comes first,
by that write).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import AlreadyExists, Reason, Violation, quoted
from ..kernels import layout
from ..kernels.hashing import EMPTY, IdIndex, first_occurrence
from . import faults
from .arrays import batch_from_value, batch_to_value, from_value, required, to_value
from .env import DB, U32, U64, Environment, tenant_prefix

#: Columns of a log batch. Text columns are utf8 or dictionary<int32, utf8>,
#: as they arrived; the rest are fixed-width.
LOG_COLUMNS = ["transaction_id", "account", "booking_date", "amount", "label",
               "counterparty_name", "counterparty_iban", "purpose", "mcc", "id_hash",
               "content_hash", "label_id", "counterparty_id"]

#: A locator packs (batch seq, row in batch); batches hold fewer rows than this.
ROW_BITS = 24
MAX_BATCH_ROWS = 1 << 20
#: Base chunks aim at this many rows: large enough that LMDB stores each
#: column on contiguous overflow pages, small enough to bound a merge's copy.
CHUNK_ROWS = 1 << 20

OFFSETS = 0
#: The base's row columns: name in a Block -> (key id, dtype, log column).
BASE_COLUMNS: dict[str, tuple[int, Any, str]] = {
    "dates": (1, np.int32, "booking_date"),
    "amounts": (2, np.int64, "amount"),
    "labels": (3, np.int32, "label_id"),
    "counterparties": (4, np.int32, "counterparty_id"),
}


def log_key(tenant_no: int, seq: int) -> bytes:
    return tenant_prefix(tenant_no) + U64.pack(seq)


def _base_key(tenant_no: int, uid: int, column: int) -> bytes:
    return tenant_prefix(tenant_no) + U64.pack(uid) + bytes([column])


class LazyColumns(Mapping[str, np.ndarray]):
    """A block's columns, each built on first read: most segment types read
    two of the four, and merging the tail into a block copied all four.
    Built columns may view the map: read them while the transaction lives."""

    def __init__(self, build: Callable[[str], np.ndarray]) -> None:
        self.build = build
        self.built: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in BASE_COLUMNS:
            raise KeyError(name)
        if name not in self.built:
            self.built[name] = self.build(name)
        return self.built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(BASE_COLUMNS)

    def __len__(self) -> int:
        return len(BASE_COLUMNS)


@dataclass
class Block:
    """Transactions of accounts first..first+count-1 in CSR form: rows of
    account first+i are offsets[i]:offsets[i+1] of each column."""

    first: int
    count: int
    offsets: np.ndarray
    columns: Mapping[str, np.ndarray]

    @property
    def rows(self) -> int:
        return int(self.offsets[-1] - self.offsets[0])

    @property
    def dates(self) -> np.ndarray:
        """int32 booking day numbers, ascending within an account."""
        return self.columns["dates"]

    @property
    def amounts(self) -> np.ndarray:
        """int64 signed minor units."""
        return self.columns["amounts"]

    @property
    def labels(self) -> np.ndarray:
        """int32 ids in the tenant's label dictionary."""
        return self.columns["labels"]

    @property
    def counterparties(self) -> np.ndarray:
        """int32 ids in the tenant's counterparty name dictionary ("" when
        a row has no name)."""
        return self.columns["counterparties"]


Tail = tuple[np.ndarray, dict[str, np.ndarray]]


class IndexUpdate:
    """Adds a batch's ids to the in-memory index on a helper thread while
    the batch's transaction commits (numba releases the GIL, LMDB's sync
    waits for the disk). If the commit fails, the index is dropped and
    rebuilt from the log on next use, as it may hold ids that were not
    stored."""

    def __init__(self, store: TransactionStore, tenant_no: int, index: IdIndex,
                 hashes: np.ndarray, locators: np.ndarray) -> None:
        self.store, self.tenant_no = store, tenant_no
        self._thread = threading.Thread(target=index.insert, args=(hashes, locators),
                                        name="finseg-index")

    def start(self) -> None:
        self._thread.start()

    def finish(self, committed: bool) -> None:
        if self._thread.is_alive() or self._thread.ident is not None:
            self._thread.join()
        if not committed:
            self.store.forget_index(self.tenant_no)


class TransactionStore:
    def __init__(self, env: Environment) -> None:
        self.env = env
        # Used only under the environment's write lock.
        self._indexes: dict[int, IdIndex] = {}

    # ---- the id index -------------------------------------------------

    def _index(self, txn: lmdb.Transaction, tenant_no: int) -> IdIndex:
        index = self._indexes.get(tenant_no)
        if index is None:
            index = self._indexed(txn, tenant_no, 0, IdIndex())
            assert index is not None
            self._indexes[tenant_no] = index
        return index

    def _indexed(self, txn: lmdb.Transaction, tenant_no: int, from_seq: int, index: IdIndex,
                 stopping: Callable[[], bool] = lambda: False) -> IdIndex | None:
        for seq, batch in self._log_batches(txn, tenant_no, from_seq):
            if stopping():
                return None
            hashes = batch.column("id_hash").to_numpy()
            rows = np.arange(batch.num_rows, dtype=np.int64)
            index.insert(hashes, (np.int64(seq) << ROW_BITS) | rows)
        return index

    def snapshot_index(self, tenant_no: int, stopping: Callable[[], bool] = lambda: False
                       ) -> tuple[IdIndex, int, int] | None:
        """The id index of the log as a read snapshot holds it, built
        without the write lock: (index, the snapshot's next log sequence,
        its erasures). At 50M transactions reading the whole log takes
        half a minute, which the first write after a start used to spend
        holding the lock. None if `stopping` said so meanwhile."""
        with self.env.read() as txn:
            state = self.env.load_state(txn, tenant_no)
            index = self._indexed(txn, tenant_no, 0, IdIndex(), stopping)
            return None if index is None else (index, state["next_seq"],
                                               len(state.get("erasures", [])))

    def adopt_index(self, tenant_no: int, built: tuple[IdIndex, int, int]) -> bool:
        """Under the write lock, makes a `snapshot_index` the tenant's after
        adding the batches appended since; an erasure since moved log rows,
        so then it is dropped (the next write builds one). False if dropped
        or one was there already."""
        index, next_seq, erasures = built
        with self.env.write_lock, self.env.read() as txn:
            state = self.env.load_state(txn, tenant_no)
            if tenant_no in self._indexes or len(state.get("erasures", [])) != erasures:
                return False
            caught_up = self._indexed(txn, tenant_no, next_seq, index)
            assert caught_up is not None
            self._indexes[tenant_no] = caught_up
            return True

    def forget_index(self, tenant_no: int) -> None:
        self._indexes.pop(tenant_no, None)

    # ---- the log ----------------------------------------------------

    def _log_batches(self, txn: lmdb.Transaction, tenant_no: int, from_seq: int
                     ) -> Iterator[tuple[int, pa.RecordBatch]]:
        cursor = txn.cursor(db=self.env.db(DB.TXLOG))
        prefix = tenant_prefix(tenant_no)
        if not cursor.set_range(log_key(tenant_no, from_seq)):
            return
        for key, value in cursor:
            key = bytes(key)
            if not key.startswith(prefix):
                return
            yield U64.unpack(key[4:])[0], batch_from_value(value)

    def find(self, txn: lmdb.Transaction, tenant_no: int, accounts: np.ndarray,
             days: np.ndarray, columns: list[str]) -> pa.Table:
        """The stored rows of `accounts` booked on one of `days`, with the
        given log columns plus account and booking_date. A scan of the whole
        log: meant for the rare row a kernel cannot settle from the base."""
        wanted = list(dict.fromkeys(["account", "booking_date", *columns]))
        found = []
        # Lookup tables, not np.isin, which hashes its inputs on every call:
        # for 40,000 accounts over the 50M log that took 1.5 s.
        on_day, of_account = _membership(days), _membership(accounts)
        for _, batch in self._log_batches(txn, tenant_no, 0):
            # Days first, and the (possibly many) accounts looked for in
            # those days' rows only.
            hit = np.flatnonzero(on_day(batch.column("booking_date").to_numpy()))
            hit = hit[of_account(batch.column("account").to_numpy()[hit])]
            if hit.size:
                rows = batch.select(wanted).take(pa.array(hit))
                found.append(pa.table({
                    # Text arrives plain or dictionary-encoded, batch by batch.
                    name: (column.cast(pa.string()) if pa.types.is_dictionary(column.type)
                           else column)
                    for name, column in zip(wanted, rows.columns, strict=True)}))
        return pa.concat_tables(found) if found else pa.table(
            {name: pa.array([], pa.string()) for name in wanted})

    def _stored_rows(self, txn: lmdb.Transaction, tenant_no: int, locators: np.ndarray
                     ) -> tuple[list[str], np.ndarray]:
        """transaction_id and content_hash of stored rows, by locator."""
        ids: list[str] = [""] * locators.shape[0]
        content = np.zeros(locators.shape[0], dtype=np.uint64)
        seqs = locators >> ROW_BITS
        for seq in np.unique(seqs):
            at = np.nonzero(seqs == seq)[0]
            rows = locators[at] & ((1 << ROW_BITS) - 1)
            batch = batch_from_value(required(
                txn.get(log_key(tenant_no, int(seq)), db=self.env.db(DB.TXLOG)),
                f"transaction batch {int(seq)}"))
            taken = batch.select(["transaction_id", "content_hash"]).take(pa.array(rows))
            for j, text in zip(at, taken.column(0).to_pylist(), strict=True):
                ids[j] = text
            content[at] = taken.column(1).to_numpy()
        return ids, content

    def append(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any],
               batch: pa.RecordBatch
               ) -> tuple[int, int, IndexUpdate | None, tuple[int, pa.RecordBatch] | None]:
        """Appends the rows of `batch` (LOG_COLUMNS) not stored before.

        Returns (appended, duplicates, update, stored): `stored` is the log
        batch written and its seq, None if none was. The caller starts `update`
        just before the commit and finishes it after, under the write lock,
        so the in-memory index is updated while LMDB syncs to disk and never
        runs ahead of what is durable. Raises AlreadyExists naming every row
        whose id is stored (or repeated in the batch) with different content.
        """
        n = batch.num_rows
        id_hash = batch.column("id_hash").to_numpy()
        content = batch.column("content_hash").to_numpy()
        ids = batch.column("transaction_id")
        keep = np.ones(n, dtype=bool)
        conflicts: list[Violation] = []

        # Repeats inside the batch: the first occurrence stands for the rest.
        first_of = np.empty(n, dtype=np.int64)
        first_occurrence(id_hash, first_of)
        for later in np.nonzero(first_of != np.arange(n))[0]:
            first = int(first_of[later])
            if ids[first].as_py() != ids[int(later)].as_py():
                continue  # a 64-bit hash collision of two different ids
            keep[later] = False
            if content[first] != content[later]:
                conflicts.append(Violation(
                    f"transactions[{later}].transaction_id",
                    f"repeats transactions[{first}] of this batch with different content"))

        index = self._index(txn, tenant_no)
        found = index.lookup(id_hash)
        hits = np.nonzero((found != EMPTY) & keep)[0]
        if hits.size:
            stored_ids, stored_content = self._stored_rows(txn, tenant_no, found[hits])
            incoming = ids.take(pa.array(hits)).to_pylist()
            for j, row in enumerate(hits):
                if stored_ids[j] != incoming[j]:
                    continue  # a 64-bit hash collision: a different id, so new
                keep[row] = False
                if stored_content[j] != content[row]:
                    conflicts.append(Violation(
                        f"transactions[{row}].transaction_id",
                        f"transaction id {quoted(incoming[j])} is already stored with different "
                        "content"))
        if conflicts:
            raise AlreadyExists(
                f"{len(conflicts)} transaction(s) reuse a stored transaction id with different "
                "content; nothing of this batch was written", conflicts,
                reason=Reason.TRANSACTION_ID_CONFLICT)

        appended = int(keep.sum())
        if appended == 0:
            return 0, n, None, None
        new_rows = batch.filter(pa.array(keep)) if appended < n else batch
        seq = state["next_seq"]
        txn.put(log_key(tenant_no, seq), batch_to_value(new_rows), db=self.env.db(DB.TXLOG))
        state["next_seq"] = seq + 1
        state["log_rows"] += appended
        locators = (np.int64(seq) << ROW_BITS) | np.arange(appended, dtype=np.int64)
        return appended, n - appended, IndexUpdate(self, tenant_no, index, id_hash[keep],
                                                   locators), (seq, new_rows)

    # ---- reading a snapshot ----------------------------------------

    def tail(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any]) -> Tail:
        """Batches not merged into the base: (accounts, columns), rows sorted
        by (account, date)."""
        batches = [b for _, b in self._log_batches(txn, tenant_no,
                                                   state["base"]["covered_seq"])]
        accounts = np.concatenate([b.column("account").to_numpy() for b in batches]) \
            if batches else np.empty(0, np.int32)
        columns = {name: (np.concatenate([b.column(log).to_numpy() for b in batches])
                          if batches else np.empty(0, dtype))
                   for name, (_, dtype, log) in BASE_COLUMNS.items()}
        order = layout.sort_rows(accounts, columns["dates"])
        return accounts[order], {name: values[order] for name, values in columns.items()}

    def _chunk_ranges(self, state: dict[str, Any], n_accounts: int
                      ) -> list[tuple[list[Any] | None, int, int]]:
        chunks = state["base"]["chunks"]
        if not chunks:
            return [(None, 0, n_accounts)]
        ranges = []
        for i, chunk in enumerate(chunks):
            last = chunks[i + 1][1] if i + 1 < len(chunks) else n_accounts
            ranges.append((chunk, chunk[1], last - chunk[1]))
        return ranges

    def _base_run(self, txn: lmdb.Transaction, tenant_no: int, chunk: list[Any] | None,
                  count: int) -> tuple[np.ndarray, Mapping[str, np.ndarray]]:
        if chunk is None:
            return np.zeros(count + 1, np.int64), {
                name: np.empty(0, dtype) for name, (_, dtype, _) in BASE_COLUMNS.items()}
        db = self.env.db(DB.BASE)
        uid = chunk[0]

        def column(number: int, dtype: Any) -> np.ndarray:
            raw = required(txn.get(_base_key(tenant_no, uid, number), db=db), f"base chunk {uid}")
            return from_value(raw, dtype)

        offsets = column(OFFSETS, np.int64)
        if offsets.shape[0] < count + 1:
            # Accounts created after the chunk was written have no base rows.
            offsets = np.concatenate(
                [offsets, np.full(count + 1 - offsets.shape[0], offsets[-1], np.int64)])
        # Each column is looked up when first read: a lookup costs about
        # 18 us, and most types read two of the four.
        return offsets, LazyColumns(lambda name: column(*BASE_COLUMNS[name][:2]))

    def blocks(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any],
               n_accounts: int, tail: Tail | None = None
               ) -> Iterator[tuple[list[Any] | None, bool, Block]]:
        """Every account's transactions, block by block, base and tail merged.

        Yields (chunk, merged, block): `merged` says whether tail rows went
        into the block (the compactor rewrites only those). Base arrays are
        zero-copy views valid while `txn` lives.
        """
        t_acc, t_cols = tail if tail is not None else self.tail(txn, tenant_no, state)
        for chunk, first, count in self._chunk_ranges(state, n_accounts):
            offsets, columns = self._base_run(txn, tenant_no, chunk, count)
            if not t_acc.shape[0]:  # compacted: no tail to look up
                yield chunk, False, Block(first, count, offsets, columns)
                continue
            t_off = layout.csr_offsets(t_acc, first, count)
            lo, hi = int(t_off[0]), int(t_off[-1])
            if hi == lo:
                yield chunk, False, Block(first, count, offsets, columns)
                continue
            merged, positions = layout.merged_positions(offsets, columns["dates"], t_off - lo,
                                                        t_cols["dates"][lo:hi])
            yield chunk, True, Block(first, count, merged, LazyColumns(functools.partial(
                _merged_column, columns, int(offsets[-1]), t_cols, lo, hi, positions)))

    # ---- compaction ------------------------------------------------

    def write_chunk(self, txn: lmdb.Transaction, tenant_no: int, uid: int, block: Block) -> None:
        db = self.env.db(DB.BASE)
        start, stop = int(block.offsets[0]), int(block.offsets[-1])
        txn.put(_base_key(tenant_no, uid, OFFSETS), to_value(block.offsets - start), db=db)
        for name, (number, _, _) in BASE_COLUMNS.items():
            txn.put(_base_key(tenant_no, uid, number),
                    to_value(block.columns[name][start:stop]), db=db)

    def drop_chunk(self, txn: lmdb.Transaction, tenant_no: int, uid: int) -> None:
        for number in (OFFSETS, *(number for number, _, _ in BASE_COLUMNS.values())):
            txn.delete(_base_key(tenant_no, uid, number), db=self.env.db(DB.BASE))

    def compact(self, tenant_no: int, state_of: Any) -> bool:
        """Merges the tail into the base. Returns False when there was nothing
        to do or the base changed meanwhile (the caller may try again).

        New chunks are written under fresh uids in their own write
        transactions, so ingestion interleaves; they become visible only in
        the final transaction that swaps the chunk list, and only if no other
        change of the base (an erasure) happened since the snapshot. Until
        then they are listed as pending, so an erasure or a restart finds
        and drops them.
        """
        with self.env.read() as txn:
            state = state_of(txn)
            base = state["base"]
            if base["covered_seq"] >= state["next_seq"]:
                return False
            version = base["version"]
            new_chunks: list[list[Any]] = []
            written: list[int] = []
            replaced: list[int] = []
            for chunk, merged, block in self.blocks(txn, tenant_no, state, state["accounts"]):
                if not merged and chunk is not None:
                    new_chunks.append(chunk)
                    continue
                if chunk is not None:
                    replaced.append(chunk[0])
                for part in _split(block):
                    uid = self._write_pending(tenant_no, state_of, version, part)
                    if uid is None:
                        # An erasure came in; it dropped the pending chunks,
                        # and the rest of this snapshot may hold its rows.
                        return False
                    new_chunks.append([uid, part.first, part.count, part.rows])
                    written.append(uid)
            covered = state["next_seq"]
        with self.env.write() as wtxn:
            current = state_of(wtxn)
            if current["base"]["version"] != version:
                return False  # as above: the erasure dropped what was written
            for old in replaced:
                self.drop_chunk(wtxn, tenant_no, old)
            current["base"] = {
                "version": version + 1, "covered_seq": covered,
                "rows": sum(c[3] for c in new_chunks),
                "next_uid": current["base"]["next_uid"], "chunks": new_chunks,
                "pending": [u for u in _pending(current["base"]) if u not in written]}
            self.env.save_state(wtxn, tenant_no, current)
        return True

    def _write_pending(self, tenant_no: int, state_of: Any, version: int, part: Block
                       ) -> int | None:
        """Writes one chunk of a compaction and lists it as pending in the
        same transaction, so no crash can leave a chunk the state does not
        name. Returns its uid, or None when the base is no longer `version`.
        The uid is reserved in the state too, so an erasure running
        meanwhile never hands out the same one."""
        with self.env.write() as wtxn:
            current = state_of(wtxn)
            base = current["base"]
            if base["version"] != version:
                return None
            uid = base["next_uid"]
            base["next_uid"] = uid + 1
            base["pending"] = [*_pending(base), uid]
            self.env.save_state(wtxn, tenant_no, current)
            self.write_chunk(wtxn, tenant_no, uid, part)
        faults.point("chunk-written")
        return uid

    def sweep(self) -> None:
        """Drops every base chunk its tenant's state does not list: chunks a
        compaction had not swapped in when the process died, and orphans of
        stores written before pending chunks were recorded. Run at open,
        before anything else writes. Reads keys only (five per chunk)."""
        states: dict[int, dict[str, Any]] = {}
        listed: dict[int, set[int]] = {}
        stale: set[tuple[int, int]] = set()
        with self.env.write() as txn:
            cursor = txn.cursor(db=self.env.db(DB.BASE))
            for key in cursor.iternext(keys=True, values=False):
                tenant_no, uid = U32.unpack(key[:4])[0], U64.unpack(key[4:12])[0]
                if tenant_no not in states:
                    states[tenant_no] = self.env.load_state(txn, tenant_no)
                    listed[tenant_no] = {c[0] for c in states[tenant_no]["base"]["chunks"]}
                if uid not in listed[tenant_no]:
                    stale.add((tenant_no, uid))
            for tenant_no, uid in stale:
                self.drop_chunk(txn, tenant_no, uid)
            for tenant_no, state in states.items():
                if _pending(state["base"]):
                    state["base"]["pending"] = []
                    self.env.save_state(txn, tenant_no, state)

    # ---- erasure -----------------------------------------------------

    def delete_accounts(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any],
                        accounts: np.ndarray) -> tuple[int, np.ndarray]:
        """Removes every transaction of `accounts` from the log and the base.
        Returns how many went, and the counterparty ids that only they used
        (their names are personal data of the erased user too)."""
        removed = 0
        log_db = self.env.db(DB.TXLOG)
        theirs: list[np.ndarray] = []
        for seq, batch in list(self._log_batches(txn, tenant_no, 0)):
            hit = np.isin(batch.column("account").to_numpy(), accounts)
            if not hit.any():
                continue
            removed += int(hit.sum())
            theirs.append(batch.column("counterparty_id").to_numpy()[hit])
            kept = _unused_dictionary_entries_dropped(batch.filter(pa.array(~hit)))
            # The batch keeps its seq (and the base's covered_seq stays
            # meaningful) even when it ends up empty.
            txn.put(log_key(tenant_no, seq), batch_to_value(kept), db=log_db)
        base = state["base"]
        # A running compaction's chunks hold the rows as they were; it gives
        # way at its next write, but they must not outlive this transaction.
        for uid in _pending(base):
            self.drop_chunk(txn, tenant_no, uid)
        base["pending"] = []
        new_chunks = []
        for chunk, first, count in self._chunk_ranges(state, state["accounts"]):
            if chunk is None:
                continue
            local = accounts[(accounts >= first) & (accounts < first + count)] - first
            offsets, columns = self._base_run(txn, tenant_no, chunk, count)
            if local.size == 0 or all(offsets[a] == offsets[a + 1] for a in local):
                new_chunks.append(chunk)
                continue
            keep = np.ones(int(offsets[-1]), dtype=bool)
            for a in local:
                keep[offsets[a]:offsets[a + 1]] = False
            counts = np.diff(offsets)
            counts[local] = 0
            new_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            block = Block(first, count, new_offsets,
                          {name: values[:keep.shape[0]][keep] for name, values in columns.items()})
            uid = base["next_uid"]
            base["next_uid"] = uid + 1
            self.drop_chunk(txn, tenant_no, chunk[0])
            self.write_chunk(txn, tenant_no, uid, block)
            new_chunks.append([uid, first, count, block.rows])
        base["chunks"] = new_chunks
        base["rows"] = sum(c[3] for c in new_chunks)
        base["version"] += 1
        state["log_rows"] -= removed
        orphans = np.unique(np.concatenate(theirs)) if theirs else np.zeros(0, np.int32)
        for _, batch in self._log_batches(txn, tenant_no, 0):
            if orphans.size == 0:
                break
            orphans = orphans[~np.isin(orphans, batch.column("counterparty_id").to_numpy())]
        return removed, orphans


def _membership(chosen: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A test of integers for being among `chosen`: a bool per value, by a
    table over chosen's range."""
    chosen = np.asarray(chosen, np.int64)
    lo = int(chosen.min()) if chosen.size else 0
    table = np.zeros(int(chosen.max()) - lo + 1 if chosen.size else 0, np.bool_)
    table[chosen - lo] = True

    def test(values: np.ndarray) -> np.ndarray:
        at = values.astype(np.int64) - lo
        inside = (at >= 0) & (at < table.shape[0])
        return inside & table[np.where(inside, at, 0)] if table.size else inside
    return test


def _merged_column(base: Mapping[str, np.ndarray], base_rows: int, tail: dict[str, np.ndarray],
                   lo: int, hi: int, positions: np.ndarray, name: str) -> np.ndarray:
    return layout.insert_rows(base[name][:base_rows], tail[name][lo:hi], positions)


def _pending(base: dict[str, Any]) -> list[int]:
    """Uids of chunks written by a compaction and not swapped in (states
    written before these were recorded have none listed)."""
    return list(base.get("pending", []))


def _unused_dictionary_entries_dropped(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Filtering keeps a dictionary-encoded column's whole dictionary, so the
    erased rows' text (names, purposes) would stay in the batch: encode
    such columns again from the rows that remain."""
    columns = [pc.dictionary_encode(column.cast(column.type.value_type))
               if pa.types.is_dictionary(column.type) else column
               for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _split(block: Block) -> Iterator[Block]:
    """Cuts a block at account boundaries into parts of about CHUNK_ROWS."""
    if block.rows <= 2 * CHUNK_ROWS or block.count <= 1:
        yield block
        return
    targets = np.arange(CHUNK_ROWS, block.rows, CHUNK_ROWS)
    cuts = np.unique(np.searchsorted(block.offsets, targets, side="left"))
    cuts = cuts[(cuts > 0) & (cuts < block.count)]
    bounds = [0, *cuts.tolist(), block.count]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        yield Block(block.first + a, b - a, block.offsets[a:b + 1], block.columns)
