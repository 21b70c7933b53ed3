"""Live segments' memberships and event logs, inside the caller's write
transaction (the one that writes the data that moves them).

- DB.LIVE_MEMBERS: tenant + segment + user_id -> the member as stored for
  the wire (the bytes a finished job's page holds for that member). Keys
  sort by user_id bytes, the order results are listed in.
- DB.LIVE_EVENTS: tenant + segment + u64 sequence -> event JSON. Sequences
  of a segment start at 1 and have no gaps; the oldest are pruned by age.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import lmdb

from .env import DB, U64, Environment, tenant_prefix


def _segment(tenant_no: int, segment_id: str) -> bytes:
    return tenant_prefix(tenant_no) + bytes.fromhex(segment_id)


class LiveStore:
    def __init__(self, env: Environment) -> None:
        self.env = env

    # ---- members -----------------------------------------------------

    def member(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, user_id: str
               ) -> bytes | None:
        raw = txn.get(_segment(tenant_no, segment_id) + user_id.encode(),
                      db=self.env.db(DB.LIVE_MEMBERS))
        return None if raw is None else bytes(raw)

    def put_member(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, user_id: str,
                   member: bytes) -> None:
        txn.put(_segment(tenant_no, segment_id) + user_id.encode(), member,
                db=self.env.db(DB.LIVE_MEMBERS))

    def delete_member(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                      user_id: str) -> None:
        txn.delete(_segment(tenant_no, segment_id) + user_id.encode(),
                   db=self.env.db(DB.LIVE_MEMBERS))

    def members(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str
                ) -> Iterator[tuple[str, bytes]]:
        """(user_id, member) of every member, in user_id byte order."""
        prefix = _segment(tenant_no, segment_id)
        yield from ((bytes(key[len(prefix):]).decode(), bytes(value))
                    for key, value in _range(txn, self.env.db(DB.LIVE_MEMBERS), prefix))

    # ---- events ------------------------------------------------------

    def append_event(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                     event: dict[str, Any]) -> None:
        txn.put(_segment(tenant_no, segment_id) + U64.pack(event["sequence"]),
                json.dumps(event, separators=(",", ":")).encode(),
                db=self.env.db(DB.LIVE_EVENTS))

    def events(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, after: int,
               limit: int) -> list[dict[str, Any]]:
        """Up to `limit` events with a sequence above `after`, in order."""
        prefix = _segment(tenant_no, segment_id)
        out = []
        for _, value in _range(txn, self.env.db(DB.LIVE_EVENTS), prefix, U64.pack(after + 1)):
            out.append(json.loads(bytes(value)))
            if len(out) >= limit:
                break
        return out

    def first_sequence(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str
                       ) -> int | None:
        """The oldest sequence still kept, None if none is."""
        prefix = _segment(tenant_no, segment_id)
        for key, _ in _range(txn, self.env.db(DB.LIVE_EVENTS), prefix):
            return int(U64.unpack(bytes(key[len(prefix):]))[0])
        return None

    def prune(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, before: float
              ) -> int:
        """Deletes the events older than `before` (seconds since the epoch);
        times grow with sequences, so the walk stops at the first kept."""
        prefix, db = _segment(tenant_no, segment_id), self.env.db(DB.LIVE_EVENTS)
        gone = []
        for key, value in _range(txn, db, prefix):
            if json.loads(bytes(value))["time"] >= before:
                break
            gone.append(bytes(key))
        for key in gone:
            txn.delete(key, db=db)
        return len(gone)

    def scrub_user(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                   user_id: str) -> int:
        """Replaces the user's id in every kept event of the segment by the
        erased marker (an empty id, `erased` true), keeping the sequence."""
        prefix, db = _segment(tenant_no, segment_id), self.env.db(DB.LIVE_EVENTS)
        changed = []
        for key, value in _range(txn, db, prefix):
            event = json.loads(bytes(value))
            if event.get("user_id") == user_id:
                event.update(user_id="", erased=True)
                changed.append((bytes(key), event))
        for key, event in changed:
            txn.put(key, json.dumps(event, separators=(",", ":")).encode(), db=db)
        return len(changed)

    def drop(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str) -> None:
        """Deletes the segment's members and events."""
        prefix = _segment(tenant_no, segment_id)
        for which in (DB.LIVE_MEMBERS, DB.LIVE_EVENTS):
            db = self.env.db(which)
            for key in [bytes(k) for k, _ in _range(txn, db, prefix)]:
                txn.delete(key, db=db)


def _range(txn: lmdb.Transaction, db: Any, prefix: bytes, start: bytes = b""
           ) -> Iterator[tuple[Any, Any]]:
    cursor = txn.cursor(db=db)
    if not cursor.set_range(prefix + start):
        return
    for key, value in cursor:
        if not bytes(key[:len(prefix)]) == prefix:
            return
        yield key, value
