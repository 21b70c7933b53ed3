"""Who is in each live segment, and writing the changes of membership.

A live segment stores who its members are (one key per user, no value) and
not their figures: those are what a batch job at the segment's day computes
over the same snapshot, which is how GetSegment answers, so a batch that
moves balances writes nothing for members who stay members. The stored set
is mirrored in memory as a bitmap over the tenant's user indexes, loaded on
first use and changed only after a commit, so a write finds who of its
users were members without reading the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..storage.store import Store, TenantWriter

ENTER, EXIT = "ENTER", "EXIT"


class Members:
    """One live segment's members as a bitmap over tenant user indexes."""

    def __init__(self) -> None:
        self.bits = np.zeros(0, np.bool_)

    def has(self, users: np.ndarray) -> np.ndarray:
        inside = users < self.bits.shape[0]
        out = np.zeros(users.shape[0], np.bool_)
        out[inside] = self.bits[users[inside]]
        return out

    def set(self, users: np.ndarray, value: bool) -> None:
        if users.size and int(users.max()) >= self.bits.shape[0]:
            grown = np.zeros(max(int(users.max()) + 1, 2 * self.bits.shape[0]), np.bool_)
            grown[:self.bits.shape[0]] = self.bits
            self.bits = grown
        self.bits[users] = value

    def all(self) -> np.ndarray:
        return np.nonzero(self.bits)[0]


class Memberships:
    """The Members of every live segment, loaded from the store on first use."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._of: dict[str, Members] = {}

    def of(self, txn: Any, tenant_no: int, segment_id: str) -> Members:
        with self._lock:
            members = self._of.get(segment_id)
        if members is None:
            members = Members()
            ids = [user_id for user_id, _ in self.store.live.members(txn, tenant_no, segment_id)]
            found = np.asarray(self.store.accounts.user_ids.lookup(txn, tenant_no, ids),
                               np.int64)
            members.set(found[found >= 0], True)
            with self._lock:
                self._of[segment_id] = members
        return members

    def forget(self, segment_id: str) -> None:
        with self._lock:
            self._of.pop(segment_id, None)


def write_changes(store: Store, writer: TenantWriter, tenant: str, record: dict[str, Any],
                  members: Members, leaving: tuple[np.ndarray, list[str]],
                  entering: tuple[np.ndarray, list[str]], cause: dict[str, Any],
                  now: float, encode: Callable[[str, list[dict[str, Any]]], list[bytes]],
                  erased: str | None = None,
                  scrub: Callable[[bytes], bytes] | None = None) -> int:
    """Stores the users leaving and entering (tenant user indexes and ids,
    each in user_id order) with their events, numbered on from the
    segment's last, and one audit entry; `members` follows after the
    commit. An erased user's id is in none of the segment's events after
    this write. Returns how many events were written."""
    live, txn, tenant_no, segment_id = store.live, writer.txn, writer.tenant_no, record["id"]
    changes = [(EXIT, u) for u in leaving[1]] + [(ENTER, u) for u in entering[1]]
    live.change_members(txn, tenant_no, segment_id, leaving[1], entering[1])
    first = record["live"]["sequence"] + 1
    events = [{"sequence": first + k, "kind": kind, "user_id": "" if gone else user_id,
               "erased": gone, "time": now, "cause": cause}
              for k, (kind, user_id) in enumerate(changes) for gone in (user_id == erased,)]
    live.append_events(txn, tenant_no, segment_id, first, int(now * 1e9),
                       [event["user_id"] for event in events], encode(segment_id, events))
    if erased is not None and scrub is not None:
        live.scrub_user(txn, tenant_no, segment_id, erased, scrub)
    record["live"]["sequence"] += len(events)
    record["total_elements"] = record.get("total_elements", 0) + len(entering[1]) \
        - len(leaving[1])
    store.jobs.put_in(txn, tenant, record)
    if events:
        last = record["live"]["sequence"]
        # One entry per write and segment; the events it counts hold who.
        store.audit.append_in(txn, tenant_no, {
            "subject": "finseg", "tenant": tenant, "action": "SegmentMembership",
            "target": segment_id, "outcome": "OK", "count": len(events),
            "detail": f"events {first}-{last}: {len(entering[1])} ENTER, {len(leaving[1])} "
                      f"EXIT; cause {cause['kind']}"
                      + (f" batch_id {cause['batch_id']!r}" if cause.get("batch_id") else "")})

    def mirrored() -> None:
        members.set(leaving[0], False)
        members.set(entering[0], True)
    writer.after_commit.append(mirrored)
    return len(events)
