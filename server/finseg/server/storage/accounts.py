"""Accounts as columns of fixed-width arrays, in chunks of CHUNK accounts.

Account and user ids (strings) map to dense u32 indexes, which is what the
columns and the kernels use; the reverse direction, index -> id, is kept as
Arrow string chunks so a result of many members gets its ids in a few
vectorised takes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import lmdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import FailedPrecondition, Reason
from ..kernels.calendar import NEVER_CLOSED, OPEN_SINCE_EVER
from .arrays import batch_from_value, batch_to_value, from_value, to_value
from .env import DB, U32, Environment, tenant_prefix

CHUNK = 1 << 16

#: column name -> (one-byte id in keys, dtype, value of a fresh slot)
COLUMNS: dict[str, tuple[int, Any, Any]] = {
    "user": (1, np.int32, -1),
    "type": (2, np.int8, 0),
    "currency": (3, np.dtype("S3"), b""),
    "balance": (4, np.int64, 0),
    "balance_date": (5, np.int32, 0),
    "opened_on": (6, np.int32, OPEN_SINCE_EVER),
    "closed_on": (7, np.int32, NEVER_CLOSED),
    "deleted": (8, np.bool_, True),
}


def _column_key(tenant_no: int, column: str, chunk: int) -> bytes:
    return tenant_prefix(tenant_no) + bytes([COLUMNS[column][0]]) + U32.pack(chunk)


#: LMDB keys are at most 511 bytes, and 128 characters of UTF-8 may take 512.
#: A longer id is keyed by its SHA-256 behind a NUL byte (ids have no control
#: characters, so no plain key starts with one), and its value carries the
#: whole id after the index.
MAX_PLAIN_KEY = 400


def _id_key(tenant_no: int, text: str) -> bytes:
    raw = text.encode()
    if len(raw) > MAX_PLAIN_KEY:
        raw = b"\x00" + hashlib.sha256(raw).digest()
    return tenant_prefix(tenant_no) + raw


def _id_value(index: int, text: str) -> bytes:
    raw = text.encode()
    return U32.pack(index) + (raw if len(raw) > MAX_PLAIN_KEY else b"")


def _names_key(tenant_no: int, chunk: int) -> bytes:
    return tenant_prefix(tenant_no) + U32.pack(chunk)


#: Catalogs kept per id map: one per tenant, for this many tenants.
CATALOG_TENANTS = 8
#: Bytes of ids beyond which a catalog holds them with 64-bit offsets.
STRING_BYTES = 2**31 - 1


class Catalog:
    """Every id of one tenant's id map at one version, as one Arrow array.

    A job names hundreds of thousands of users and accounts and orders them
    by id; reading the id chunks and sorting the strings again for every
    job cost more than the kernels. Ids are only ever appended or, on
    erasure, blanked, so (count, erasures) pins the content and the catalog
    can be shared by every snapshot that sees that version.
    """

    def __init__(self, names: pa.Array) -> None:
        self.names = names
        self._rank: np.ndarray | None = None

    @classmethod
    def of_chunks(cls, chunks: list[pa.Array]) -> Catalog:
        if not chunks:
            return cls(pa.array([], pa.string()))
        # pa.string() offsets are 32-bit: a tenant with more than 2 GiB of
        # ids (tens of millions of long ones) is held as large_string.
        if sum(chunk.nbytes for chunk in chunks) > STRING_BYTES:
            chunks = [chunk.cast(pa.large_string()) for chunk in chunks]
        return cls(pa.concat_arrays(chunks))

    def rank(self) -> np.ndarray:
        """int64[count]: each index's position among all ids in UTF-8 byte
        order (Arrow's string order), the order results are listed in."""
        if self._rank is None:
            order = pc.sort_indices(self.names).to_numpy()
            rank = np.empty(order.shape[0], np.int64)
            rank[order] = np.arange(order.shape[0])
            rank.flags.writeable = False  # shared by every job of the version
            self._rank = rank
        return self._rank

    def take(self, indexes: np.ndarray) -> pa.Array:
        indexes = np.asarray(indexes, dtype=np.int64)
        if indexes.size and (int(indexes.min()) < 0 or int(indexes.max()) >= len(self.names)):
            raise FailedPrecondition("the store is inconsistent: an index has no id",
                                     reason=Reason.STORE_INCONSISTENT)
        names = self.names.take(pa.array(indexes))
        if names.type == pa.large_string() and names.nbytes <= STRING_BYTES:
            names = names.cast(pa.string())
        return names


class IdMap:
    """A string id <-> dense index mapping kept in two named databases.

    The forward direction is also cached in memory per tenant (filled by one
    cursor walk on first use): ingestion resolves tens of thousands of
    account ids per batch, and a Python dict answers in a tenth of the time
    of an LMDB lookup. Writes update the cache as they go; when a write does
    not commit, `abandon` drops the caches it changed (and only those: a
    rejected batch that added no id costs no rebuild).
    """

    def __init__(self, env: Environment, forward: DB, reverse: DB, counter: str) -> None:
        self.env, self.forward, self.reverse, self.counter = env, forward, reverse, counter
        self._cache: dict[int, dict[str, int]] = {}
        self._changed: set[int] = set()
        self._catalogs: OrderedDict[int, tuple[tuple[int, int], Catalog]] = OrderedDict()
        self._catalog_lock = threading.Lock()
        # Per tenant, the erasure count after its last committed erasure and
        # after one being written: a catalog of an older version holds an
        # erased id, so a snapshot opened before the erasure may still build
        # one, but it is not kept once that snapshot is gone.
        self._erased_to: dict[int, int] = {}
        self._erasing: dict[int, int] = {}

    def _ids(self, txn: lmdb.Transaction, tenant_no: int) -> dict[str, int]:
        cached = self._cache.get(tenant_no)
        if cached is None:
            prefix = tenant_prefix(tenant_no)
            cached = {}
            cursor = txn.cursor(db=self.env.db(self.forward))
            if cursor.set_range(prefix):
                for key, value in cursor:
                    key = bytes(key)
                    if not key.startswith(prefix):
                        break
                    value = bytes(value)
                    text = value[4:] if len(value) > 4 else key[4:]
                    cached[text.decode()] = U32.unpack(value[:4])[0]
            self._cache[tenant_no] = cached
        return cached

    def abandon(self, tenant_no: int) -> None:
        """The write of the tenant did not commit: forget what it cached."""
        if tenant_no in self._changed:
            self._cache.pop(tenant_no, None)
        self._changed.discard(tenant_no)
        with self._catalog_lock:
            self._erasing.pop(tenant_no, None)

    def committed(self, tenant_no: int) -> None:
        self._changed.discard(tenant_no)
        with self._catalog_lock:
            if tenant_no in self._erasing:
                self._erased_to[tenant_no] = max(self._erased_to.get(tenant_no, 0),
                                                 self._erasing.pop(tenant_no))

    def lookup(self, txn: lmdb.Transaction, tenant_no: int, ids: Iterable[str]) -> list[int]:
        get = self._ids(txn, tenant_no).get
        return [get(text, -1) for text in ids]

    def assign(self, txn: lmdb.Transaction, tenant_no: int, state: dict, ids: Sequence[str]
               ) -> list[int]:
        """Indexes of `ids`, handing out new ones for ids not seen before."""
        cache = self._ids(txn, tenant_no)
        found = self.lookup(txn, tenant_no, ids)
        fdb = self.env.db(self.forward)
        first_new = state[self.counter]
        fresh: list[str] = []
        # An id new to the store may repeat within one request (two accounts
        # of one new user): it gets one index, the first time it is seen.
        for i, index in enumerate(found):
            if index >= 0:
                continue
            text = ids[i]
            if text not in cache:
                self._changed.add(tenant_no)
                cache[text] = first_new + len(fresh)
                fresh.append(text)
                txn.put(_id_key(tenant_no, text), _id_value(cache[text], text), db=fdb)
            found[i] = cache[text]
        state[self.counter] = first_new + len(fresh)
        self._append_names(txn, tenant_no, first_new, fresh)
        return found

    def _chunk(self, txn: lmdb.Transaction, tenant_no: int, chunk: int) -> pa.Array:
        raw = txn.get(_names_key(tenant_no, chunk), db=self.env.db(self.reverse))
        return pa.array([], pa.string()) if raw is None else batch_from_value(raw).column(0)

    def _put_chunk(self, txn: lmdb.Transaction, tenant_no: int, chunk: int, names: pa.Array
                   ) -> None:
        txn.put(_names_key(tenant_no, chunk), batch_to_value(
            pa.RecordBatch.from_arrays([names], names=["id"])), db=self.env.db(self.reverse))

    def _append_names(self, txn: lmdb.Transaction, tenant_no: int, first: int,
                      texts: list[str]) -> None:
        """Ids of the new indexes first, first+1, ... (always at the end)."""
        done = 0
        while done < len(texts):
            index = first + done
            chunk, offset = divmod(index, CHUNK)
            existing = self._chunk(txn, tenant_no, chunk)
            if len(existing) != offset:
                raise FailedPrecondition(f"the store is inconsistent: id chunk {chunk} holds "
                                         f"{len(existing)} ids, expected {offset}",
                                         reason=Reason.STORE_INCONSISTENT)
            take = texts[done:done + CHUNK - offset]
            self._put_chunk(txn, tenant_no, chunk,
                            pa.concat_arrays([existing, pa.array(take, pa.string())]))
            done += len(take)

    def names(self, txn: lmdb.Transaction, tenant_no: int, indexes: np.ndarray) -> pa.Array:
        """The ids of `indexes`, in their order."""
        indexes = np.asarray(indexes, dtype=np.int64)
        out: list[pa.Array] = []
        positions: list[np.ndarray] = []
        chunk_of = indexes // CHUNK
        for chunk in np.unique(chunk_of):
            at = np.nonzero(chunk_of == chunk)[0]
            names = self._chunk(txn, tenant_no, int(chunk))
            local = indexes[at] - chunk * CHUNK
            if local.size and int(local.max()) >= len(names):
                raise FailedPrecondition(f"the store is inconsistent: id chunk {chunk} is short",
                                         reason=Reason.STORE_INCONSISTENT)
            out.append(names.take(pa.array(local)))
            positions.append(at)
        if not out:
            return pa.array([], pa.string())
        order = np.argsort(np.concatenate(positions), kind="stable")
        return pa.concat_arrays(out).take(pa.array(order))

    def catalog(self, txn: lmdb.Transaction, tenant_no: int, count: int, erasures: int
                ) -> Catalog:
        """The catalog of the tenant's first `count` ids as `txn` sees them;
        `erasures` (how many erasures that state includes) tells versions
        with the same count apart."""
        version = (count, erasures)
        with self._catalog_lock:
            cached = self._catalogs.get(tenant_no)
            if cached is not None and cached[0] == version:
                self._catalogs.move_to_end(tenant_no)
                return cached[1]
        chunks = [self._chunk(txn, tenant_no, c) for c in range((count + CHUNK - 1) // CHUNK)]
        stored = sum(len(chunk) for chunk in chunks)
        if stored < count:
            raise FailedPrecondition(f"the store is inconsistent: {stored} ids stored, "
                                     f"expected {count}", reason=Reason.STORE_INCONSISTENT)
        if chunks:
            chunks[-1] = chunks[-1].slice(0, count - (len(chunks) - 1) * CHUNK)
        catalog = Catalog.of_chunks(chunks)
        with self._catalog_lock:
            if erasures < max(self._erased_to.get(tenant_no, 0),
                              self._erasing.get(tenant_no, 0)):
                return catalog  # from before an erasure: used, not kept
            self._catalogs[tenant_no] = (version, catalog)
            self._catalogs.move_to_end(tenant_no)
            while len(self._catalogs) > CATALOG_TENANTS:
                self._catalogs.popitem(last=False)
        return catalog

    def forget(self, txn: lmdb.Transaction, tenant_no: int, ids: Iterable[tuple[str, int]],
               erasures: int) -> None:
        """Erases ids: the forward key goes, and the id's text in its chunk
        becomes empty, so no later read returns it. `erasures` is the
        tenant's erasure count once this write commits."""
        cache = self._ids(txn, tenant_no)
        self._changed.add(tenant_no)
        with self._catalog_lock:  # an erased id is not kept in memory either
            self._catalogs.pop(tenant_no, None)
            self._erasing[tenant_no] = erasures
        blank: dict[int, list[int]] = {}
        for text, index in ids:
            txn.delete(_id_key(tenant_no, text), db=self.env.db(self.forward))
            cache.pop(text, None)
            blank.setdefault(index // CHUNK, []).append(index % CHUNK)
        for chunk, offsets in blank.items():
            names = self._chunk(txn, tenant_no, chunk).to_pylist()
            for offset in offsets:
                names[offset] = ""
            self._put_chunk(txn, tenant_no, chunk, pa.array(names, pa.string()))


class AccountTable:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self.account_ids = IdMap(env, DB.ACCOUNT_IDS, DB.ACCOUNT_NAMES, "accounts")
        self.user_ids = IdMap(env, DB.USER_IDS, DB.USER_NAMES, "users")
        # Labels take the same two-way map: kernels see label ids.
        self.label_ids = IdMap(env, DB.LABEL_IDS, DB.LABEL_NAMES, "labels")
        # And counterparty names, exactly as spelled: a kernel groups by the
        # id, and the provider key of a spelling is derived when needed.
        self.counterparty_ids = IdMap(env, DB.COUNTERPARTY_IDS, DB.COUNTERPARTY_NAMES,
                                      "counterparties")

    @property
    def id_maps(self) -> tuple[IdMap, ...]:
        return self.account_ids, self.user_ids, self.label_ids, self.counterparty_ids

    def read(self, txn: lmdb.Transaction, tenant_no: int, count: int) -> dict[str, np.ndarray]:
        """Every column for accounts 0..count-1, copied out of the snapshot."""
        db = self.env.db(DB.ACCOUNT_COLUMNS)
        out = {}
        for name, (_, dtype, fresh) in COLUMNS.items():
            column = np.full(count, fresh, dtype=dtype)
            for chunk in range((count + CHUNK - 1) // CHUNK):
                raw = txn.get(_column_key(tenant_no, name, chunk), db=db)
                if raw is not None:
                    values = from_value(raw, dtype)
                    start = chunk * CHUNK
                    n = min(values.shape[0], count - start)
                    column[start:start + n] = values[:n]
            out[name] = column
        return out

    def accounts_of_users(self, txn: lmdb.Transaction, tenant_no: int, count: int,
                          n_users: int, users: np.ndarray) -> np.ndarray:
        """Indexes (ascending) of the accounts among 0..count-1 that `users`
        (of the tenant's n_users) own, erased ones included. Reads the user
        column chunk by chunk in place: a live segment asks this on every
        batch."""
        db = self.env.db(DB.ACCOUNT_COLUMNS)
        # One lookup table for every chunk (np.isin built one per chunk); an
        # owner of -1 (none) reads its last entry, which stays False.
        wanted = np.zeros(n_users + 1, np.bool_)
        wanted[np.asarray(users, np.int64)] = True
        found = []
        for chunk in range((count + CHUNK - 1) // CHUNK):
            raw = txn.get(_column_key(tenant_no, "user", chunk), db=db)
            if raw is None:
                continue
            owners = np.frombuffer(raw, np.int32)[:count - chunk * CHUNK]
            found.append(np.flatnonzero(wanted[owners]) + chunk * CHUNK)
        return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)

    def gather(self, txn: lmdb.Transaction, tenant_no: int, name: str, indexes: np.ndarray
               ) -> np.ndarray:
        """Column `name` at `indexes`, reading only the chunks they fall in."""
        return self.gather_columns(txn, tenant_no, [name], indexes)[name]

    def gather_columns(self, txn: lmdb.Transaction, tenant_no: int, names: list[str],
                       indexes: np.ndarray) -> dict[str, np.ndarray]:
        """Columns `names` at `indexes`, reading only the chunks they fall
        in; the indexes are grouped by chunk once for all the columns."""
        indexes = np.asarray(indexes, np.int64)
        order = np.argsort(indexes, kind="stable")
        ordered = indexes[order]
        first = int(ordered[0]) // CHUNK if ordered.size else 0
        last = int(ordered[-1]) // CHUNK if ordered.size else -1
        bounds = np.searchsorted(ordered, np.arange(first, last + 2) * CHUNK)
        db = self.env.db(DB.ACCOUNT_COLUMNS)
        out = {}
        for name in names:
            _, dtype, fresh = COLUMNS[name]
            column = out[name] = np.full(indexes.shape[0], fresh, dtype=dtype)
            for k, chunk in enumerate(range(first, last + 1)):
                lo, hi = int(bounds[k]), int(bounds[k + 1])
                if lo == hi:
                    continue
                raw = txn.get(_column_key(tenant_no, name, chunk), db=db)
                if raw is None:
                    continue
                values = np.frombuffer(raw, dtype=dtype)
                local = ordered[lo:hi] - chunk * CHUNK
                inside = local < values.shape[0]
                column[order[lo:hi][inside]] = values[local[inside]]
        return out

    def write(self, txn: lmdb.Transaction, tenant_no: int, indexes: np.ndarray,
              values: dict[str, np.ndarray]) -> None:
        """Sets the given columns at `indexes`, rewriting only touched chunks."""
        db = self.env.db(DB.ACCOUNT_COLUMNS)
        for chunk in np.unique(indexes // CHUNK):
            in_chunk = (indexes // CHUNK) == chunk
            local = indexes[in_chunk] - chunk * CHUNK
            for name, (_, dtype, fresh) in COLUMNS.items():
                if name not in values:
                    continue
                key = _column_key(tenant_no, name, int(chunk))
                raw = txn.get(key, db=db)
                column = np.full(CHUNK, fresh, dtype=dtype)
                if raw is not None:
                    stored = np.frombuffer(raw, dtype=dtype)
                    column[:stored.shape[0]] = stored
                column[local] = values[name][in_chunk]
                txn.put(key, to_value(column), db=db)
