"""Live segments' memberships and event logs, inside the caller's write
transaction (the one that writes the data that moves them).

- DB.LIVE_MEMBERS: tenant + segment + user_id -> empty: who the members
  are (their figures are computed when they are read). Keys sort by
  user_id bytes, the order results are listed in.
- DB.LIVE_EVENTS: tenant + segment + u64 sequence -> the event as the wire
  carries it; DB.LIVE_EVENT_META, same key -> its time and user id.
  Sequences of a segment start at 1 and have no gaps; the oldest are
  pruned by age.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from .env import DB, U64, Environment, tenant_prefix


def _segment(tenant_no: int, segment_id: str) -> bytes:
    return tenant_prefix(tenant_no) + bytes.fromhex(segment_id)


class LiveStore:
    def __init__(self, env: Environment) -> None:
        self.env = env

    # ---- members -----------------------------------------------------

    def change_members(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                       leaving: list[str], entering: list[str]) -> None:
        """Drops the `leaving` members and stores the `entering` ones with no
        value, in one call per kind: a batch may move thousands."""
        prefix, db = _segment(tenant_no, segment_id), self.env.db(DB.LIVE_MEMBERS)
        for user_id in leaving:
            txn.delete(prefix + user_id.encode(), db=db)
        if entering:
            txn.cursor(db=db).putmulti([(prefix + u.encode(), b"") for u in entering])

    def members(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str
                ) -> Iterator[tuple[str, bytes]]:
        """(user_id, member) of every member, in user_id byte order."""
        prefix = _segment(tenant_no, segment_id)
        yield from ((bytes(key[len(prefix):]).decode(), bytes(value))
                    for key, value in _range(txn, self.env.db(DB.LIVE_MEMBERS), prefix))

    # ---- events ------------------------------------------------------
    #
    # DB.LIVE_EVENTS holds each event as the wire carries it (opaque here),
    # so a replay joins values without looking at them; DB.LIVE_EVENT_META,
    # under the same key, holds u64 time (ns) + the user id, which pruning
    # and erasure read.

    def append_events(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                      first: int, time_ns: int, user_ids: list[str], wires: list[bytes]
                      ) -> None:
        """Events first, first + 1, ... of one write, all at `time_ns`."""
        prefix, stamp = _segment(tenant_no, segment_id), U64.pack(time_ns)
        keys = [prefix + U64.pack(first + k) for k in range(len(wires))]
        txn.cursor(db=self.env.db(DB.LIVE_EVENTS)).putmulti(zip(keys, wires, strict=True))
        txn.cursor(db=self.env.db(DB.LIVE_EVENT_META)).putmulti(
            [(key, stamp + u.encode()) for key, u in zip(keys, user_ids, strict=True)])

    def events(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, after: int,
               count: int) -> bytes:
        """The wire bytes of events after+1 .. after+count, joined (sequences
        have no gaps; the caller knows how many there are)."""
        cursor = txn.cursor(db=self.env.db(DB.LIVE_EVENTS))
        if count <= 0 or not cursor.set_key(_segment(tenant_no, segment_id)
                                            + U64.pack(after + 1)):
            return b""
        return b"".join(itertools.islice(cursor.iternext(keys=False, values=True), count))

    def first_sequence(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str
                       ) -> int | None:
        """The oldest sequence still kept, None if none is."""
        prefix = _segment(tenant_no, segment_id)
        for key, _ in _range(txn, self.env.db(DB.LIVE_EVENT_META), prefix):
            return int(U64.unpack(bytes(key[len(prefix):]))[0])
        return None

    def prune(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str, before_ns: int
              ) -> int:
        """Deletes the events older than `before_ns`; times grow with
        sequences, so the walk stops at the first kept."""
        prefix = _segment(tenant_no, segment_id)
        gone = []
        for key, value in _range(txn, self.env.db(DB.LIVE_EVENT_META), prefix):
            if U64.unpack_from(value, 0)[0] >= before_ns:
                break
            gone.append(bytes(key))
        for key in gone:
            txn.delete(key, db=self.env.db(DB.LIVE_EVENTS))
            txn.delete(key, db=self.env.db(DB.LIVE_EVENT_META))
        return len(gone)

    def scrub_user(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str,
                   user_id: str, rewrite: Callable[[bytes], bytes]) -> int:
        """Rewrites every kept event of the user (`rewrite` puts the erased
        marker in the wire bytes) and drops the id from its meta, keeping
        the sequence."""
        prefix = _segment(tenant_no, segment_id)
        user = user_id.encode()
        changed = [(bytes(key), bytes(value[:8]))
                   for key, value in _range(txn, self.env.db(DB.LIVE_EVENT_META), prefix)
                   if bytes(value[8:]) == user]
        events = self.env.db(DB.LIVE_EVENTS)
        for key, stamp in changed:
            wire = txn.get(key, db=events)
            if wire is not None:
                txn.put(key, rewrite(bytes(wire)), db=events)
            txn.put(key, stamp, db=self.env.db(DB.LIVE_EVENT_META))
        return len(changed)

    def drop(self, txn: lmdb.Transaction, tenant_no: int, segment_id: str) -> None:
        """Deletes the segment's members and events."""
        prefix = _segment(tenant_no, segment_id)
        for which in (DB.LIVE_MEMBERS, DB.LIVE_EVENTS, DB.LIVE_EVENT_META):
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
