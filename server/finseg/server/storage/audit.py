"""The audit log: append-only, per tenant, in time order.

Keys are tenant + u64 nanoseconds + u32 sequence, so a tenant's events are
one range in time order and a time filter is a cursor seek. Nothing deletes
or rewrites an event. Events name users only by the SHA-256 of their id, so
erasure leaves nothing of the user here.
"""

from __future__ import annotations

import itertools
import json
import struct
import time
from collections.abc import Callable
from typing import Any

from .env import DB, U64, Environment, tenant_prefix

#: Refused calls without a verified token have no tenant; their events are
#: kept under this name, which no token can carry (it is not printable).
NO_TENANT = "\x00unauthenticated"

_SEQ = struct.Struct(">I")


class AuditLog:
    def __init__(self, env: Environment, clock: Callable[[], float] = time.time) -> None:
        self.env = env
        self.clock = clock
        self._seq = itertools.count()

    def append(self, tenant: str | None, event: dict[str, Any]) -> None:
        """Records `event` (JSON-able) for `tenant`, durably, stamped now."""
        stamp = int(self.clock() * 1e9)
        event = {"time_ns": stamp, **event}
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant or NO_TENANT, create=True)
            assert tenant_no is not None
            key = tenant_prefix(tenant_no) + U64.pack(stamp) + \
                _SEQ.pack(next(self._seq) & 0xFFFFFFFF)
            txn.put(key, json.dumps(event).encode(), db=self.env.db(DB.AUDIT))

    def events(self, tenant: str, from_ns: int, to_ns: int, skip: int, limit: int
               ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` of the tenant's events with from_ns <= time < to_ns
        after the first `skip`, and whether more follow."""
        out: list[dict[str, Any]] = []
        with self.env.read() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=False)
            if tenant_no is None:
                return out, False
            prefix = tenant_prefix(tenant_no)
            cursor = txn.cursor(db=self.env.db(DB.AUDIT))
            if not cursor.set_range(prefix + U64.pack(max(from_ns, 0))):
                return out, False
            for index, (key, value) in enumerate(cursor):
                key = bytes(key)
                if not key.startswith(prefix) or U64.unpack(key[4:12])[0] >= to_ns:
                    return out, False
                if index < skip:
                    continue
                if len(out) == limit:
                    return out, True
                out.append(json.loads(bytes(value)))
        return out, False
