"""The LMDB environment: named databases, key packing, the format version and
the single writer.

Keys are packed big-endian and fixed-width so LMDB's byte order is numeric
order and a tenant's keys form one contiguous range. Every key of tenant data
starts with the tenant's 4-byte number.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb

from ..errors import FailedPrecondition, Reason, ResourceExhausted

#: Bump when the on-disk layout changes; `open` refuses other versions.
FORMAT_VERSION = 4
FORMAT_KEY = b"format_version"
#: The file in the data directory a writing process holds locked.
LOCK_FILE = "finseg.lock"


class DB(enum.Enum):
    """The named databases of the environment."""

    META = b"meta"                  # format version; tenant state JSON
    TENANTS = b"tenants"            # tenant name -> u32 tenant number
    ACCOUNT_IDS = b"account_ids"    # tenant + account_id -> u32 account index
    ACCOUNT_NAMES = b"account_names"  # tenant + u32 chunk -> Arrow ids of 65,536 indexes
    USER_IDS = b"user_ids"          # tenant + user_id -> u32 user index
    USER_NAMES = b"user_names"      # tenant + u32 chunk -> Arrow ids of 65,536 indexes
    LABEL_IDS = b"label_ids"        # tenant + label -> u32 label id
    LABEL_NAMES = b"label_names"    # tenant + u32 chunk -> Arrow labels of 65,536 ids
    COUNTERPARTY_IDS = b"counterparty_ids"  # tenant + counterparty name -> u32 id
    COUNTERPARTY_NAMES = b"counterparty_names"  # tenant + u32 chunk -> Arrow names
    ACCOUNT_COLUMNS = b"account_columns"  # tenant + column + u32 chunk -> array bytes
    TXLOG = b"txlog"                # tenant + u64 batch seq -> Arrow IPC batch
    BASE = b"base"                  # tenant + u64 chunk uid + column -> array bytes
    JOBS = b"jobs"                  # tenant + job id -> job record JSON
    RESULTS = b"results"            # tenant + job id + u32 page -> Arrow IPC page
    AUDIT = b"audit"                # tenant + u64 time ns + u32 seq -> event JSON
    REFUSALS = b"refusals"          # u64 time ns + u32 seq -> tenant, "\n", event JSON
    USAGE = b"usage"                # tenant + segment type -> u64 jobs, rows, results
    LIVE_MEMBERS = b"live_members"  # tenant + segment + user_id -> member wire bytes
    LIVE_EVENTS = b"live_events"    # tenant + segment + u64 sequence -> event wire bytes
    LIVE_EVENT_META = b"live_event_meta"  # same key -> u64 time ns + user id


U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")


def tenant_prefix(tenant_no: int) -> bytes:
    return U32.pack(tenant_no)


def state_key(tenant_no: int) -> bytes:
    return b"state/" + U32.pack(tenant_no)


class Environment:
    """One LMDB environment per process, with all writes serialised.

    LMDB allows one write transaction at a time and ties it to the thread
    that began it; `write()` takes a process-wide lock so every writer thread
    waits its turn here rather than inside LMDB, and maps a full map to
    RESOURCE_EXHAUSTED after aborting, so nothing half-written is kept.
    """

    def __init__(self, path: Path, map_size: int, readonly: bool = False) -> None:
        """`readonly` opens a store that another process (a running service)
        writes, for inspection; it needs the store to exist."""
        self._owner: DirectoryLock | None = None
        if not readonly:
            path.mkdir(parents=True, exist_ok=True)
            self._owner = DirectoryLock(path)
        try:
            self._open(path, map_size, readonly)
        except BaseException:
            if self._owner is not None:
                self._owner.release()
            raise

    def _open(self, path: Path, map_size: int, readonly: bool) -> None:
        self.path = path
        self.env = lmdb.open(str(path), map_size=map_size, max_dbs=len(DB) + 4,
                             max_readers=512, subdir=True, readonly=readonly)
        self._lock = threading.RLock()
        self.dbs = {}
        for db in DB:
            try:
                self.dbs[db] = self.env.open_db(db.value, create=not readonly)
            except lmdb.NotFoundError:
                # A read-only look at a store an older finseg wrote, before
                # this database existed; whoever needs it gets a KeyError.
                continue
        self._check_format(readonly)

    def _check_format(self, readonly: bool) -> None:
        with self.env.begin(write=not readonly) as txn:
            stored = txn.get(FORMAT_KEY, db=self.dbs[DB.META])
            if stored is None and not readonly:
                txn.put(FORMAT_KEY, str(FORMAT_VERSION).encode(), db=self.dbs[DB.META])
                return
            if stored is not None and int(stored) != FORMAT_VERSION:
                raise FailedPrecondition(
                    f"data directory {self.path} has format version {int(stored)}; this finseg "
                    f"reads version {FORMAT_VERSION}", reason=Reason.STORE_FORMAT_MISMATCH)

    def db(self, which: DB) -> Any:
        return self.dbs[which]

    @contextlib.contextmanager
    def write(self) -> Iterator[lmdb.Transaction]:
        with self._lock:
            txn = self.env.begin(write=True)
            try:
                yield txn
                txn.commit()
            except lmdb.MapFullError as exc:
                txn.abort()
                raise ResourceExhausted(
                    "the database is full (LMDB map_size reached); nothing of this request "
                    "was written. Restart the service with a larger --map-size.",
                    retry_after_seconds=None, reason=Reason.DATABASE_FULL) from exc
            except BaseException:
                txn.abort()
                raise

    def ensure_room(self, incoming_bytes: int) -> None:
        """Refuses a data write that would leave less than a tenth of the map
        free. The reserve keeps segment jobs, their results and erasures
        working when ingestion has filled the database. LMDB's high-water
        mark counts pages it could reuse, so the check errs on the safe side.
        """
        info = self.env.info()
        used = self._used(info)
        reserve = info["map_size"] // 10
        if used + 2 * incoming_bytes > info["map_size"] - reserve:
            raise ResourceExhausted(
                f"the database is nearly full ({used >> 20} MiB of the {info['map_size'] >> 20} "
                "MiB LMDB map_size in use; the last tenth is kept for segment jobs); nothing "
                "of this request was written. Restart the service with a larger --map-size.",
                reason=Reason.DATABASE_FULL)

    def _used(self, info: Any) -> int:
        """Bytes up to LMDB's high-water mark (it counts reusable pages too)."""
        return (info["last_pgno"] + 1) * self.page_size

    def space(self) -> dict[str, Any]:
        """How much of the map and the file the store uses, and each named
        database's entries and bytes (its pages), from LMDB's own counts."""
        info, page = self.env.info(), self.page_size
        databases = {}
        with self.env.begin() as txn:
            for db, handle in self.dbs.items():
                stat = txn.stat(handle)
                pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
                databases[db.name.lower()] = (stat["entries"], pages * page)
        return {"map_bytes": info["map_size"], "used_bytes": self._used(info),
                "file_bytes": (self.path / "data.mdb").stat().st_size,
                "readers": info["num_readers"], "max_readers": info["max_readers"],
                "databases": databases}

    def backup(self, dest: Path) -> None:
        """A consistent copy of the whole store in `dest` (a new or empty
        directory), taken inside one read transaction, so writers go on
        meanwhile; free pages are left out (LMDB's compacting copy)."""
        dest.mkdir(parents=True, exist_ok=True)
        if any(dest.iterdir()):
            raise FailedPrecondition(f"backup directory {dest} is not empty",
                                     reason=Reason.BACKUP_DIR_NOT_EMPTY)
        self.env.copy(str(dest), compact=True)

    @property
    def page_size(self) -> int:
        return int(self.env.stat()["psize"])

    def read(self, buffers: bool = True) -> lmdb.Transaction:
        """A read-only snapshot. Values are memoryviews into the map, valid
        only until the transaction ends: copy what outlives it. Without
        `buffers` they are bytes, which py-lmdb makes several times faster
        than views for many small values."""
        return self.env.begin(buffers=True) if buffers else self.env.begin()

    @property
    def write_lock(self) -> threading.RLock:
        return self._lock

    def tenant_no(self, txn: lmdb.Transaction, tenant: str, create: bool) -> int | None:
        key = tenant.encode()
        raw = txn.get(key, db=self.dbs[DB.TENANTS])
        if raw is not None:
            return int(U32.unpack(bytes(raw))[0])
        if not create:
            return None
        number = txn.stat(self.dbs[DB.TENANTS])["entries"] + 1
        txn.put(key, U32.pack(number), db=self.dbs[DB.TENANTS])
        return number

    def load_state(self, txn: lmdb.Transaction, tenant_no: int) -> dict[str, Any]:
        raw = txn.get(state_key(tenant_no), db=self.dbs[DB.META])
        if raw is None:
            return new_tenant_state()
        return json.loads(bytes(raw))

    def save_state(self, txn: lmdb.Transaction, tenant_no: int, state: dict[str, Any]) -> None:
        txn.put(state_key(tenant_no), json.dumps(state).encode(), db=self.dbs[DB.META])

    def secret(self, name: str) -> bytes:
        """A random 32-byte key kept in the store, made on first use, so what
        it signs stays valid across restarts and in a backup."""
        key = b"secret/" + name.encode()
        with self.read() as txn:
            raw = txn.get(key, db=self.dbs[DB.META])
            if raw is not None:
                return bytes(raw)
        with self.write() as txn:
            raw = txn.get(key, db=self.dbs[DB.META])
            if raw is None:
                raw = os.urandom(32)
                txn.put(key, raw, db=self.dbs[DB.META])
            return bytes(raw)

    def close(self) -> None:
        self.env.close()
        if self._owner is not None:
            self._owner.release()


class DirectoryLock:
    """An exclusive lock on a data directory, held while a process may write
    it. Each process keeps in-memory state of its store (the transaction-id
    index, id caches), so a second writer would break idempotency; LMDB
    itself would let it in. Readers (`finseg backup`) take no lock. The lock
    is flock(2) on a file that stays: the kernel drops it when the holder
    exits, even by SIGKILL, so no stale lock outlives a crash."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise FailedPrecondition(
                f"the data directory {path} is in use by another finseg process (pid "
                f"{holder}); stop it or choose another --data-dir",
                reason=Reason.DATA_DIR_IN_USE) from None
        # The pid is for the message above only; the lock is what counts.
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def new_tenant_state() -> dict[str, Any]:
    return {
        "accounts": 0,        # account indexes handed out
        "users": 0,           # user indexes handed out
        "labels": 0,          # label ids handed out
        "counterparties": 0,  # counterparty name ids handed out
        "next_seq": 0,        # next transaction batch number
        "erasures": [],       # SHA-256 of each erased user id, in order: jobs
                              # running during an erasure drop those users
        "log_rows": 0,        # transactions stored
        "base": {
            "version": 0,     # bumped by every change of the base chunks
            "covered_seq": 0,  # batches below this are merged into the chunks
            "rows": 0,
            "next_uid": 0,
            # [uid, first_account, accounts_written, rows], ascending first_account
            "chunks": [],
            # uids a compaction has written and not yet swapped in; an
            # erasure drops them, and so does the next open after a crash
            "pending": [],
        },
    }
