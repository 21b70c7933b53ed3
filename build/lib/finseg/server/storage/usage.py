"""Usage per tenant and segment type, for billing: jobs created, rows
scanned and result rows returned, as three u64 counters per key."""

from __future__ import annotations

import struct
from typing import Any

from .env import DB, U32, Environment, tenant_prefix

_COUNTERS = struct.Struct(">QQQ")
FIELDS = ("jobs_created", "rows_scanned", "result_rows_returned")


class UsageStore:
    def __init__(self, env: Environment) -> None:
        self.env = env

    def add_in(self, txn: Any, tenant: str, type_name: str, **amounts: int) -> None:
        """Adds `amounts` (by FIELDS name) inside the caller's write
        transaction, so the count commits with what it counts."""
        tenant_no = self.env.tenant_no(txn, tenant, create=True)
        assert tenant_no is not None
        key = tenant_prefix(tenant_no) + type_name.encode()
        db = self.env.db(DB.USAGE)
        raw = txn.get(key, db=db)
        values = list(_COUNTERS.unpack(bytes(raw))) if raw is not None else [0, 0, 0]
        for name, amount in amounts.items():
            values[FIELDS.index(name)] += amount
        txn.put(key, _COUNTERS.pack(*values), db=db)

    def add(self, tenant: str, type_name: str, **amounts: int) -> None:
        with self.env.write() as txn:
            self.add_in(txn, tenant, type_name, **amounts)

    def of(self, tenant: str) -> dict[str, dict[str, int]]:
        """The tenant's counters by segment type."""
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return {}
            return self._of(txn, tenant_no)

    def _of(self, txn: Any, tenant_no: int) -> dict[str, dict[str, int]]:
        prefix = tenant_prefix(tenant_no)
        cursor = txn.cursor(db=self.env.db(DB.USAGE))
        out = {}
        if cursor.set_range(prefix):
            for key, value in cursor:
                key = bytes(key)
                if not key.startswith(prefix):
                    break
                out[key[len(prefix):].decode()] = dict(zip(FIELDS, _COUNTERS.unpack(bytes(value)),
                                                           strict=True))
        return out

    def everything(self) -> dict[tuple[str, str], dict[str, int]]:
        """(tenant, type) -> counters for every tenant: the metrics scrape."""
        out = {}
        with self.env.read() as txn:
            for name, number in txn.cursor(db=self.env.db(DB.TENANTS)):
                tenant = bytes(name).decode()
                for type_name, counters in self._of(txn, U32.unpack(bytes(number))[0]).items():
                    out[(tenant, type_name)] = counters
        return out
