"""Segment jobs and their result pages.

A job record is JSON (it changes shape more often than it is read in bulk);
each result page is an Arrow IPC batch of a fixed number of members, so a
page is served without recomputing or re-reading the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .env import DB, U32, Environment, tenant_prefix


def _job_key(tenant_no: int, job_id: str) -> bytes:
    return tenant_prefix(tenant_no) + job_id.encode()


def _page_key(tenant_no: int, job_id: str, page: int) -> bytes:
    return _job_key(tenant_no, job_id) + b"/" + U32.pack(page)


class JobStore:
    def __init__(self, env: Environment) -> None:
        self.env = env

    def put(self, tenant: str, record: dict[str, Any]) -> None:
        with self.env.write() as txn:
            self.put_in(txn, tenant, record)

    def put_in(self, txn: Any, tenant: str, record: dict[str, Any]) -> None:
        tenant_no = self.env.tenant_no(txn, tenant, create=True)
        assert tenant_no is not None
        txn.put(_job_key(tenant_no, record["id"]), json.dumps(record).encode(),
                db=self.env.db(DB.JOBS))

    def finish(self, tenant: str, record: dict[str, Any], pages: list[bytes]) -> None:
        """Stores the result pages and the final record in one transaction, so
        a job is never SUCCEEDED with missing pages."""
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=True)
            assert tenant_no is not None
            db = self.env.db(DB.RESULTS)
            for number, page in enumerate(pages):
                txn.put(_page_key(tenant_no, record["id"], number), page, db=db)
            self.put_in(txn, tenant, record)

    def get(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return None
            raw = txn.get(_job_key(tenant_no, job_id), db=self.env.db(DB.JOBS))
            return None if raw is None else json.loads(bytes(raw))

    def page(self, tenant: str, job_id: str, number: int) -> bytes | None:
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return None
            raw = txn.get(_page_key(tenant_no, job_id, number), db=self.env.db(DB.RESULTS))
            return None if raw is None else bytes(raw)

    def all_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(tenant, record) of every stored job, for recovery at start."""
        with self.env.read() as txn:
            names = {}
            for name, number in txn.cursor(db=self.env.db(DB.TENANTS)):
                names[bytes(number)] = bytes(name).decode()
            records = [(names[bytes(k)[:4]], json.loads(bytes(v)))
                       for k, v in txn.cursor(db=self.env.db(DB.JOBS))]
        yield from records
