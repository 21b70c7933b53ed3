"""Segment jobs and their result pages.

A job record is JSON (it changes shape more often than it is read in bulk);
each result page is an Arrow IPC batch of a fixed number of members, so a
page is served without recomputing or re-reading the rest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .arrays import batch_from_value, batch_to_value
from .env import DB, U32, Environment, tenant_prefix
from .live import LiveStore
from .usage import UsageStore

#: Members per stored page; a requested page of any size reads the few
#: stored pages it overlaps.
PAGE_ROWS = 1000
#: What `without_users` says of a result without user_id (a ranking of
#: merchants): every row may hold an erased user's payments, and which
#: cannot be told from the rows, so the job must run again.
WITHDRAWN = pa.table({})


def _job_key(tenant_no: int, job_id: str) -> bytes:
    return tenant_prefix(tenant_no) + job_id.encode()


def _page_key(tenant_no: int, job_id: str, page: int) -> bytes:
    return _job_key(tenant_no, job_id) + b"/" + U32.pack(page)


class JobStore:
    def __init__(self, env: Environment, usage: UsageStore, live: LiveStore) -> None:
        self.env = env
        self.live = live
        # Jobs created and rows scanned are metered in the transactions
        # that store the job and its results: a billed job always exists.
        self.usage = usage

    def create(self, tenant: str, record: dict[str, Any]) -> None:
        with self.env.write() as txn:
            self.put_in(txn, tenant, record)
            self.usage.add_in(txn, tenant, record["type"], jobs_created=1)

    def put(self, tenant: str, record: dict[str, Any]) -> None:
        with self.env.write() as txn:
            self.put_in(txn, tenant, record)

    def put_in(self, txn: Any, tenant: str, record: dict[str, Any]) -> None:
        tenant_no = self.env.tenant_no(txn, tenant, create=True)
        assert tenant_no is not None
        txn.put(_job_key(tenant_no, record["id"]), json.dumps(record).encode(),
                db=self.env.db(DB.JOBS))

    def get_in(self, txn: Any, tenant_no: int, job_id: str) -> dict[str, Any] | None:
        raw = txn.get(_job_key(tenant_no, job_id), db=self.env.db(DB.JOBS))
        return None if raw is None else json.loads(bytes(raw))

    def update(self, tenant: str, record: dict[str, Any]) -> bool:
        """Stores a changed record of an existing job; False (and nothing
        written) if the job was deleted meanwhile."""
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None or txn.get(_job_key(tenant_no, record["id"]),
                                            db=self.env.db(DB.JOBS)) is None:
                return False
            self.put_in(txn, tenant, record)
            return True

    def finish(self, tenant: str, record: dict[str, Any], table: pa.Table,
               erasures_seen: int) -> bool:
        """Stores the results by page and the final record in one
        transaction, so a job is never SUCCEEDED with missing pages. Users
        erased after the job's snapshot (beyond `erasures_seen`) are
        scrubbed here, under the write lock, so no erased user is stored;
        a result without user_id is not stored then (False: run it again)."""
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=True)
            assert tenant_no is not None
            if txn.get(_job_key(tenant_no, record["id"]), db=self.env.db(DB.JOBS)) is None:
                return True  # deleted while it ran: storing it would bring it back
            erased = set(self.env.load_state(txn, tenant_no).get("erasures", [])[erasures_seen:])
            scrubbed = None
            if erased and "user_id" not in table.column_names:
                return False
            if erased:
                members = table.column("user_id").to_pylist()
                scrubbed = without_users(table, {u for u in members if user_digest(u) in erased})
            self._write_pages(txn, tenant_no, record, table if scrubbed is None else scrubbed)
            self.put_in(txn, tenant, record)
            self.usage.add_in(txn, tenant, record["type"], rows_scanned=record["rows_scanned"])
            return True

    def delete(self, tenant: str, job_id: str) -> bool:
        """Removes a job's record and result pages; False if there was none."""
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return False
            return self.delete_in(txn, tenant_no, job_id)

    def delete_in(self, txn: Any, tenant_no: int, job_id: str) -> bool:
        raw = txn.get(_job_key(tenant_no, job_id), db=self.env.db(DB.JOBS))
        if raw is None:
            return False
        record = json.loads(bytes(raw))
        for number in range(record.get("pages", 0)):
            txn.delete(_page_key(tenant_no, job_id, number), db=self.env.db(DB.RESULTS))
        if record.get("live"):
            self.live.drop(txn, tenant_no, job_id)
        txn.delete(_job_key(tenant_no, job_id), db=self.env.db(DB.JOBS))
        return True

    def records(self, tenant: str) -> list[dict[str, Any]]:
        """Every stored job record of the tenant."""
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return []
            return self._records(txn, tenant_no)

    def _records(self, txn: Any, tenant_no: int) -> list[dict[str, Any]]:
        cursor = txn.cursor(db=self.env.db(DB.JOBS))
        prefix = tenant_prefix(tenant_no)
        records = []
        if cursor.set_range(prefix):
            for key, value in cursor:
                if not bytes(key).startswith(prefix):
                    break
                records.append(json.loads(bytes(value)))
        return records

    def sweep(self, now: float) -> int:
        """Deletes every job of every tenant that expired at `now`, with its
        pages, in one write; returns how many went."""
        with self.env.write() as txn:
            gone = 0
            for key, value in list(txn.cursor(db=self.env.db(DB.JOBS))):
                record = json.loads(bytes(value))
                if record["expires"] <= now:
                    gone += self.delete_in(txn, U32.unpack(bytes(key)[:4])[0], record["id"])
            return gone

    def _write_pages(self, txn: Any, tenant_no: int, record: dict[str, Any], table: pa.Table
                     ) -> None:
        db = self.env.db(DB.RESULTS)
        for number in range(record.get("pages", 0)):
            txn.delete(_page_key(tenant_no, record["id"], number), db=db)
        pages = 0
        for start in range(0, table.num_rows, PAGE_ROWS):
            # Arrow IPC writes a slice's own bytes: a page of a table in one
            # chunk is not copied out first (half a million members: 0.03 s).
            page = table.slice(start, PAGE_ROWS)
            batches = page.to_batches()
            batch = batches[0] if len(batches) == 1 else \
                page.combine_chunks().to_batches(max_chunksize=page.num_rows)[0]
            txn.put(_page_key(tenant_no, record["id"], pages), batch_to_value(batch), db=db)
            pages += 1
        record["pages"] = pages
        record["total_elements"] = table.num_rows

    def read_all(self, txn: Any, tenant_no: int, record: dict[str, Any]) -> pa.Table | None:
        batches = [batch_from_value(txn.get(_page_key(tenant_no, record["id"], n),
                                            db=self.env.db(DB.RESULTS)))
                   for n in range(record["pages"])]
        return pa.Table.from_batches(batches) if batches else None

    def rewrite_results(self, txn: Any, tenant_no: int,
                        transform: Callable[[pa.Table], pa.Table | None]) -> list[str]:
        """Applies `transform` to the stored results of every finished job of
        the tenant (None: unchanged). A job whose results it withdraws
        (WITHDRAWN) loses its pages and is PENDING again; returns their ids,
        for the caller to run them again."""
        withdrawn = []
        for record in self._records(txn, tenant_no):
            if record.get("pages", 0) == 0:
                continue
            table = self.read_all(txn, tenant_no, record)
            new = transform(table) if table is not None else None
            if new is None:
                continue
            if new is WITHDRAWN:
                self._write_pages(txn, tenant_no, record, pa.table({}))
                record.update(state="PENDING", progress=0.0)
                withdrawn.append(record["id"])
            else:
                self._write_pages(txn, tenant_no, record, new)
            txn.put(_job_key(tenant_no, record["id"]), json.dumps(record).encode(),
                    db=self.env.db(DB.JOBS))
        return withdrawn

    def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return None
            raw = txn.get(_job_key(tenant_no, job_id), db=self.env.db(DB.JOBS))
            return None if raw is None else json.loads(bytes(raw))

    def pages(self, tenant: str, job_id: str, numbers: range) -> list[bytes | None]:
        """Result pages of a job, read in one transaction (None: missing)."""
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return [None] * len(numbers)
            db = self.env.db(DB.RESULTS)
            raws = [txn.get(_page_key(tenant_no, job_id, n), db=db) for n in numbers]
            return [None if raw is None else bytes(raw) for raw in raws]

    def all_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(tenant, record) of every stored job, for recovery at start."""
        with self.env.read() as txn:
            names = {}
            for name, number in txn.cursor(db=self.env.db(DB.TENANTS)):
                names[bytes(number)] = bytes(name).decode()
            records = [(names[bytes(k)[:4]], json.loads(bytes(v)))
                       for k, v in txn.cursor(db=self.env.db(DB.JOBS))]
        yield from records


def user_digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()


def without_users(table: pa.Table, user_ids: set[str]) -> pa.Table | None:
    """The members table minus the users' rows; None when none is in it;
    WITHDRAWN for a result without user_id."""
    if not user_ids:
        return None
    if "user_id" not in table.column_names:
        return WITHDRAWN
    drop = pc.is_in(table.column("user_id"), value_set=pa.array(sorted(user_ids), pa.string()))
    if not pc.any(drop).as_py():
        return None
    return table.filter(pc.invert(drop))
