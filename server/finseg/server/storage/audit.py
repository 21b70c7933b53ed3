"""The audit log: append-only per tenant, in time order, with a retention.

Two databases hold it:

- DB.AUDIT, one event per data change or segment call of a tenant: keys are
  tenant + u64 nanoseconds + u32 sequence, so a tenant's events are one
  range in time order and a time filter is a cursor seek.
- DB.REFUSALS, refused calls counted per window (see transport/audit.py):
  keys are u64 nanoseconds + u32 sequence, values the tenant's name, a
  newline and the event. Whoever can reach the port can cause refusals, so
  this database is kept to a fixed number of events, oldest dropped first,
  and it is keyed by time alone so that dropping the oldest is a cursor
  walk from the start.

Nothing rewrites an event; the sweep deletes what is older than the
retention. Events name users only by the SHA-256 of their id, so erasure
leaves nothing of the user here.
"""

from __future__ import annotations

import heapq
import itertools
import json
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from .env import DB, U64, Environment, tenant_prefix

#: Refused calls without a verified token have no tenant; their events are
#: kept under this name, which no token can carry (it is not printable).
NO_TENANT = "\x00unauthenticated"

_SEQ = struct.Struct(">I")
#: Deletes per write transaction in the retention sweep, so ingestion waits
#: for the write lock only briefly.
_SWEEP_BATCH = 10_000

Event = dict[str, Any]


class AuditLog:
    def __init__(self, env: Environment, clock: Callable[[], float] = time.time,
                 max_refusal_events: int = 10_000) -> None:
        self.env = env
        self.clock = clock
        self.max_refusal_events = max_refusal_events
        self._seq = itertools.count()

    def _key_tail(self, stamp: int) -> bytes:
        return U64.pack(stamp) + _SEQ.pack(next(self._seq) & 0xFFFFFFFF)

    def append(self, tenant: str, event: Event, within_headroom: bool = False) -> None:
        """Records `event` (JSON-able) for `tenant`, durably, stamped now.
        `within_headroom`: refuse it (ResourceExhausted) rather than take the
        last tenth of the map, which is kept for the tenants' own work."""
        stamp = int(self.clock() * 1e9)
        value = json.dumps({"time_ns": stamp, **event}).encode()
        if within_headroom:
            self.env.ensure_room(len(value))
        with self.env.write() as txn:
            tenant_no = self.env.tenant_no(txn, tenant, create=True)
            assert tenant_no is not None
            txn.put(tenant_prefix(tenant_no) + self._key_tail(stamp), value,
                    db=self.env.db(DB.AUDIT))

    def append_in(self, txn: Any, tenant_no: int, event: Event) -> None:
        """Records `event` inside the caller's write transaction, so that it
        commits with the change it describes or not at all."""
        stamp = int(self.clock() * 1e9)
        txn.put(tenant_prefix(tenant_no) + self._key_tail(stamp),
                json.dumps({"time_ns": stamp, **event}).encode(), db=self.env.db(DB.AUDIT))

    def append_refusals(self, events: list[tuple[str, Event]]) -> None:
        """Stores counted refusals, (tenant or NO_TENANT, event with time_ns),
        within the headroom and the refusal budget."""
        values = [(event["time_ns"], tenant.encode() + b"\n" + json.dumps(event).encode())
                  for tenant, event in events]
        self.env.ensure_room(sum(len(v) for _, v in values))
        db = self.env.db(DB.REFUSALS)
        with self.env.write() as txn:
            for stamp, value in values:
                txn.put(self._key_tail(stamp), value, db=db)
            excess = txn.stat(db)["entries"] - self.max_refusal_events
            if excess > 0:
                cursor = txn.cursor(db=db)
                cursor.first()
                for _ in range(excess):
                    cursor.delete()

    def events(self, tenant: str, from_ns: int, to_ns: int, skip: int, limit: int
               ) -> tuple[list[Event], bool]:
        """Up to `limit` of the tenant's events with from_ns <= time < to_ns
        after the first `skip`, and whether more follow."""
        with self.env.read() as txn:
            merged = heapq.merge(self._changes(txn, tenant, from_ns, to_ns),
                                 self._refusals(txn, tenant, from_ns, to_ns),
                                 key=lambda keyed: keyed[0])
            page = list(itertools.islice(merged, skip, skip + limit + 1))
        return [event for _, event in page[:limit]], len(page) > limit

    def _changes(self, txn: Any, tenant: str, from_ns: int, to_ns: int
                 ) -> Iterator[tuple[bytes, Event]]:
        tenant_no = self.env.tenant_no(txn, tenant, create=False)
        if tenant_no is None:
            return
        prefix = tenant_prefix(tenant_no)
        cursor = txn.cursor(db=self.env.db(DB.AUDIT))
        if not cursor.set_range(prefix + U64.pack(from_ns)):
            return
        for key, value in cursor:
            key = bytes(key)
            if not key.startswith(prefix) or U64.unpack(key[4:12])[0] >= to_ns:
                return
            yield key[4:], json.loads(bytes(value))

    def _refusals(self, txn: Any, tenant: str, from_ns: int, to_ns: int
                  ) -> Iterator[tuple[bytes, Event]]:
        # A bounded database: reading it whole and keeping one tenant's
        # events costs a few milliseconds at most.
        mark = tenant.encode() + b"\n"
        cursor = txn.cursor(db=self.env.db(DB.REFUSALS))
        if not cursor.set_range(U64.pack(from_ns)):
            return
        for key, value in cursor:
            key = bytes(key)
            if U64.unpack(key[:8])[0] >= to_ns:
                return
            if bytes(value[:len(mark)]) == mark:
                yield key, json.loads(bytes(value[len(mark):]))

    def sweep(self, retention_days: float) -> int:
        """Deletes every event older than the retention; returns how many."""
        cutoff = U64.pack(max(int((self.clock() - retention_days * 86400) * 1e9), 0))
        gone = 0
        with self.env.read() as txn:
            prefixes = [bytes(number) for _, number in txn.cursor(db=self.env.db(DB.TENANTS))]
        for prefix in [*prefixes, b""]:
            db = self.env.db(DB.AUDIT if prefix else DB.REFUSALS)
            while True:
                with self.env.write() as txn:
                    cursor = txn.cursor(db=db)
                    deleted = 0
                    if cursor.set_range(prefix):
                        while deleted < _SWEEP_BATCH and _older(bytes(cursor.key()), prefix,
                                                                cutoff):
                            if not cursor.delete():
                                break
                            deleted += 1
                gone += deleted
                if deleted < _SWEEP_BATCH:
                    break
        return gone


def _older(key: bytes, prefix: bytes, cutoff: bytes) -> bool:
    return key.startswith(prefix) and key[len(prefix):len(prefix) + 8] < cutoff
