"""Live segments (SPEC §5): memberships kept current by every write and
every day, and the ENTER/EXIT events each change makes.

A live segment is a job record with a "live" entry ({"day", "sequence"}).
Its members are stored one per user (storage/live.py) as the wire bytes a
finished job's page holds. Every write of a tenant's data calls
`on_write` inside its own write transaction: the users the write names are
evaluated again over a `UserSubset` of that transaction (the segment
type's own code, on their accounts only), compared with their stored
membership, and the changes and their events are written before the
commit. So a membership and its events are exactly as durable as the data
that moved them, and a batch costs its users, not the tenant.

The first membership and each day change evaluate the whole tenant over a
read snapshot while ingestion goes on, then catch up under the write lock
with the users the writes since named (live_journal.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidArgument, Reason, Violation
from ..storage.store import Snapshot, Store, TenantWriter
from ..storage.subset import UserSubset
from .ingest import today_at
from .live_journal import Journal
from .segment_types import TYPES
from .segment_types.common import Common, Progress

log = logging.getLogger(__name__)

#: The types whose membership depends on each user's own data only.
LIVE_TYPES = ("HIGH_BALANCE", "LOW_BALANCE", "RULE")
#: Cause kinds of an event.
CREATED, BATCH, ACCOUNTS, ERASURE, DAY = "CREATED", "BATCH", "ACCOUNTS", "ERASURE", "DAY"
ENTER, EXIT = "ENTER", "EXIT"
_QUIET = Progress(lambda share: None, lambda: False)

Encode = Callable[[str, pa.Table], pa.Table]


def check_type(type_name: str) -> None:
    if type_name not in LIVE_TYPES:
        raise InvalidArgument(
            f"spec.live: a {type_name} segment cannot be live; live segments are of type "
            + ", ".join(LIVE_TYPES), [Violation("spec.live", "not for this segment type")],
            reason=Reason.NOT_LIVE_TYPE, metadata={"live_types": ",".join(LIVE_TYPES)})


def check_url(url: str, field: str) -> str:
    """An http(s) URL to POST to: https, or http for local use."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2048:
        raise InvalidArgument(f"{field} must be an https (or, for local use, http) URL, e.g. "
                              "https://crm.example.com/finseg", [Violation(field, "not a URL")],
                              reason=Reason.INVALID_SPEC)
    return url


def check_webhook(url: str, secret: str) -> dict[str, Any]:
    """A live segment's webhook as its record keeps it."""
    check_url(url, "spec.webhook.url")
    if len(secret) < 16:
        raise InvalidArgument("spec.webhook.secret must be at least 16 characters: it keys "
                              "the events' HMAC-SHA256 signatures",
                              [Violation("spec.webhook.secret", "too short")],
                              reason=Reason.INVALID_SPEC)
    return {"url": url, "secret": secret, "delivered": 0, "error": ""}


class LiveSegments:
    def __init__(self, store: Store, encode: Encode, timezone: str,
                 clock: Callable[[], float], codec: Any = None) -> None:
        self.store, self.encode, self.timezone, self.clock = store, encode, timezone, clock
        #: How events are stored: `encode(segment_id, events) -> [bytes]` and
        #: `scrub(bytes) -> bytes` (transport/events.py's Codec).
        self.codec = codec
        self._ids: dict[str, set[str]] = {}   # tenant -> its live segments' ids
        self._params: dict[str, Any] = {}     # segment id -> parsed params
        self._hooked: set[tuple[str, str]] = set()  # (tenant, id) with a webhook
        self.journal = Journal()
        self._changed = threading.Condition()
        self.version = 0                      # bumped after each commit with events

    def today(self) -> dt.date:
        return today_at(self.timezone, self.clock())

    def load(self) -> None:
        """Finds the live segments a previous process left."""
        for tenant, record in self.store.jobs.all_records():
            if record.get("live"):
                self._ids.setdefault(tenant, set()).add(record["id"])
                if record.get("webhook"):
                    self._hooked.add((tenant, record["id"]))

    def forget(self, tenant: str, segment_id: str) -> None:
        self._ids.get(tenant, set()).discard(segment_id)
        self._params.pop(segment_id, None)
        self._hooked.discard((tenant, segment_id))

    def run_clock(self, interval: float, retention_days: float) -> None:
        """Moves live segments to each new day and prunes events older than
        the retention, on a thread of its own until `stop`."""
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                    self.prune(retention_days)
                except Exception:  # the next round tries again
                    log.exception("live segments: day change or pruning failed")
        threading.Thread(target=loop, name="finseg-live-clock", daemon=True).start()

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()

    def prune(self, retention_days: float) -> int:
        """Deletes events older than the retention; returns how many."""
        before = int((self.clock() - retention_days * 86400) * 1e9)
        gone = 0
        for tenant, ids in list(self._ids.items()):
            with self.store.writer(tenant) as writer:
                for segment_id in sorted(ids):
                    gone += self.store.live.prune(writer.txn, writer.tenant_no, segment_id,
                                                  before)
        return gone

    # ---- whole-tenant evaluations ---------------------------------------

    def start(self, tenant: str, record: dict[str, Any], progress: Progress) -> bool:
        """Computes the first membership and stores it with its ENTER events
        and the SUCCEEDED record in one write; False if the job was deleted."""
        day = self.today()

        def finish(writer: TenantWriter, current: dict[str, Any], table: pa.Table,
                   rows: int) -> None:
            record["live"] = {"day": day.isoformat(), "sequence": 0}
            record.update(as_of=day.isoformat(), state="SUCCEEDED", progress=1.0,
                          rows_scanned=rows)
            self._apply(writer, tenant, record, {}, table, {"kind": CREATED})
            self.store.usage.add_in(writer.txn, tenant, record["type"], rows_scanned=rows)

        if not self._whole_tenant(tenant, record, day, progress, finish):
            return False
        self._ids.setdefault(tenant, set()).add(record["id"])
        if record.get("webhook"):
            self._hooked.add((tenant, record["id"]))
        return True

    def tick(self) -> int:
        """Moves every live segment whose day is past to today; the events'
        cause is DAY. Returns how many segments moved."""
        moved = 0
        day = self.today()
        for tenant, ids in list(self._ids.items()):
            for segment_id in sorted(ids):
                moved += self._move_day(tenant, segment_id, day)
        return moved

    def _move_day(self, tenant: str, segment_id: str, day: dt.date) -> bool:
        record = self.store.jobs.get(tenant, segment_id)
        if record is None or record["state"] != "SUCCEEDED" or \
                record["live"]["day"] >= day.isoformat():
            return False

        def finish(writer: TenantWriter, current: dict[str, Any], table: pa.Table,
                   rows: int) -> None:
            # The members as the writes since the snapshot left them.
            old = dict(self.store.live.members(writer.txn, writer.tenant_no, segment_id))
            current["live"]["day"] = current["as_of"] = day.isoformat()
            self._apply(writer, tenant, current, old, table, {"kind": DAY})

        return self._whole_tenant(tenant, record, day, _QUIET, finish)

    def _whole_tenant(self, tenant: str, record: dict[str, Any], day: dt.date,
                      progress: Progress, finish: Callable[..., None]) -> bool:
        """Evaluates every user of the tenant over a read snapshot while
        ingestion goes on, then, under the write lock, the users the writes
        since then named over the write transaction, and hands the members
        of that moment to `finish(writer, record as stored, table, rows)`.
        False if the segment was deleted meanwhile."""
        module, params = TYPES[record["type"]], self._parsed(record)
        with self.store.env.write_lock:  # every write is in the snapshot or in the journal
            self.journal.open(tenant)
            snapshot_txn = self.store.env.read()
        try:
            try:
                tenant_no = self.store.env.tenant_no(snapshot_txn, tenant, create=False)
                snapshot = Snapshot(self.store, snapshot_txn, tenant_no)
                table = self.encode(record["type"], module.run(
                    snapshot, params, self._common(record, day), progress))
                since = snapshot.state.get("generation", 0) if snapshot.state else 0
                rows = snapshot.n_transactions
            finally:
                snapshot_txn.abort()
            with self.store.writer(tenant) as writer:
                current = self.store.jobs.get_in(writer.txn, writer.tenant_no, record["id"])
                if current is None:
                    return False
                users, erased = self.journal.since(tenant, since)
                if users.size or erased:
                    table = self._caught_up(writer, record, day, table, users, erased)
                finish(writer, current, table, rows)
            return True
        finally:
            self.journal.close(tenant)

    def _caught_up(self, writer: TenantWriter, record: dict[str, Any], day: dt.date,
                   table: pa.Table, users: np.ndarray, erased: set[str]) -> pa.Table:
        """`table` with the rows of `users` evaluated again over the write."""
        subset = UserSubset(self.store, writer.txn, writer.tenant_no, writer.state, users,
                            dict(writer.appended), cache_reads=not erased)
        fresh = self.encode(record["type"], TYPES[record["type"]].run(
            subset, self._parsed(record), self._common(record, day), _QUIET))
        gone = pa.array(sorted({*subset.user_ids(np.arange(users.shape[0])).to_pylist(),
                                *erased}), pa.string())
        kept = table.filter(pc.invert(pc.is_in(table.column("user_id"), value_set=gone)))
        merged = pa.concat_tables([kept, fresh.cast(kept.schema)])
        return merged.take(pc.sort_indices(merged, [("user_id", "ascending")]))

    # ---- writes ------------------------------------------------------------

    def on_write(self, tenant: str, writer: TenantWriter, users: np.ndarray,
                 cause: dict[str, Any], erased: str | None = None) -> None:
        """Brings every live segment of the tenant up to date with the write
        `writer` holds, for `users` (tenant user indexes) and, for an
        erasure, the erased user."""
        users = np.unique(np.asarray(users, np.int64))
        users = users[users >= 0]
        self.journal.note(tenant, writer.state, users, erased)
        ids = self._ids.get(tenant)
        if not ids:
            return
        # Under the write lock, a read transaction sees the base this write
        # starts from; an erasure rewrites it, so it reads its own.
        with self.store.env.read() as base_txn:
            self._update(tenant, writer, ids, users, cause, erased,
                         base_txn if erased is None else None)

    def _update(self, tenant: str, writer: TenantWriter, ids: set[str], users: np.ndarray,
                cause: dict[str, Any], erased: str | None, base_txn: Any) -> None:
        subset = UserSubset(self.store, writer.txn, writer.tenant_no, writer.state, users,
                            dict(writer.appended), cache_reads=erased is None,
                            base_txn=base_txn)
        named = [u for u in subset.user_ids(np.arange(users.shape[0])).to_pylist() if u]
        for segment_id in sorted(ids):
            record = self.store.jobs.get_in(writer.txn, writer.tenant_no, segment_id)
            if record is None or record["state"] != "SUCCEEDED":
                continue  # still computing its first membership, which sees this write
            day = dt.date.fromisoformat(record["live"]["day"])
            table = TYPES[record["type"]].run(subset, self._parsed(record),
                                              self._common(record, day), _QUIET)
            old = {}
            for user_id in [*named, *([erased] if erased else [])]:
                member = self.store.live.member(writer.txn, writer.tenant_no, segment_id,
                                                user_id)
                if member is not None:
                    old[user_id] = member
            self._apply(writer, tenant, record, old, self.encode(record["type"], table),
                        cause, erased)

    def _apply(self, writer: TenantWriter, tenant: str, record: dict[str, Any],
               old: dict[str, bytes], table: pa.Table, cause: dict[str, Any],
               erased: str | None = None) -> None:
        """Writes the members of `table` over `old` (the stored members of
        the users it was evaluated for) with an event per change."""
        live, txn, tenant_no = self.store.live, writer.txn, writer.tenant_no
        segment_id = record["id"]
        new = dict(zip(table.column("user_id").to_pylist(),
                       table.column("member").to_pylist(), strict=True))
        changes: list[tuple[str, str]] = []  # (kind, user_id), in event order
        for user_id in sorted(old.keys() - new.keys(), key=str.encode):
            live.delete_member(txn, tenant_no, segment_id, user_id)
            changes.append((EXIT, user_id))
        for user_id, member in new.items():  # in user_id order, as the table is
            if old.get(user_id) != member:
                live.put_member(txn, tenant_no, segment_id, user_id, member)
                if user_id not in old:
                    changes.append((ENTER, user_id))
        self._write_events(writer, record, changes, cause, erased)
        events = len(changes)
        entered, left = len(new.keys() - old.keys()), len(old.keys() - new.keys())
        record["total_elements"] = record.get("total_elements", 0) + entered - left
        self.store.jobs.put_in(txn, tenant, record)
        if events:
            last = record["live"]["sequence"]
            # One entry per write and segment; the events it counts hold who.
            self.store.audit.append_in(txn, tenant_no, {
                "subject": "finseg", "tenant": tenant, "action": "SegmentMembership",
                "target": segment_id, "outcome": "OK", "count": events,
                "detail": f"events {last - events + 1}-{last}: {entered} ENTER, {left} EXIT; "
                          f"cause {cause['kind']}" + (f" batch_id {cause['batch_id']!r}"
                                                      if cause.get("batch_id") else "")})
            writer.after_commit.append(self._notify)

    def _write_events(self, writer: TenantWriter, record: dict[str, Any],
                      changes: list[tuple[str, str]], cause: dict[str, Any],
                      erased: str | None) -> None:
        """The changes' events, numbered on from the segment's last; an
        erased user's id is in none of them, this write's EXIT included."""
        live, txn, tenant_no = self.store.live, writer.txn, writer.tenant_no
        now = self.clock()
        first = record["live"]["sequence"] + 1
        events = [{"sequence": first + k, "kind": kind, "user_id": "" if gone else user_id,
                   "erased": gone, "time": now, "cause": cause}
                  for k, (kind, user_id) in enumerate(changes)
                  for gone in (user_id == erased,)]
        for event, wire in zip(events, self.codec.encode(record["id"], events), strict=True):
            live.append_event(txn, tenant_no, record["id"], event["sequence"],
                              int(now * 1e9), event["user_id"], wire)
        record["live"]["sequence"] += len(events)
        if erased is not None:
            live.scrub_user(txn, tenant_no, record["id"], erased, self.codec.scrub)

    # ---- reading -------------------------------------------------------------

    def members(self, tenant: str, record: dict[str, Any]) -> pa.Table:
        """The current members as stored (user_id, member), one read."""
        with self.store.env.read(buffers=False) as txn:  # many small values
            tenant_no = self.store.env.tenant_no(txn, tenant, create=False)
            rows = list(self.store.live.members(txn, tenant_no, record["id"])) \
                if tenant_no is not None else []
        return pa.table({"user_id": pa.array([u for u, _ in rows], pa.string()),
                         "member": pa.array([m for _, m in rows], pa.large_binary())})

    def events(self, tenant: str, segment_id: str, after: int, limit: int
               ) -> tuple[bytes, int, int]:
        """(the stored bytes of up to `limit` events after `after`, how many,
        the oldest sequence kept). With none kept, the oldest is the next
        sequence to come."""
        with self.store.env.read(buffers=False) as txn:  # many small values
            tenant_no = self.store.env.tenant_no(txn, tenant, create=False)
            record = self.store.jobs.get_in(txn, tenant_no, segment_id) \
                if tenant_no is not None else None
            if record is None or tenant_no is None:
                return b"", 0, 1
            live, last = self.store.live, record["live"]["sequence"]
            oldest = live.first_sequence(txn, tenant_no, segment_id) or last + 1
            count = max(0, min(limit, last - max(after, oldest - 1)))
            return live.events(txn, tenant_no, segment_id, max(after, oldest - 1), count), \
                count, oldest

    def with_webhooks(self) -> list[tuple[str, str]]:
        """(tenant, segment id) of the live segments with a webhook."""
        return sorted(self._hooked)

    def webhook(self, tenant: str, segment_id: str) -> dict[str, Any] | None:
        record = self.store.jobs.get(tenant, segment_id)
        return None if record is None else record.get("webhook")

    def webhook_done(self, tenant: str, segment_id: str, delivered: int, error: str) -> None:
        """Stores a webhook's delivery position and last error."""
        with self.store.env.write() as txn:
            tenant_no = self.store.env.tenant_no(txn, tenant, create=False)
            record = self.store.jobs.get_in(txn, tenant_no, segment_id) \
                if tenant_no is not None else None
            if record is None:
                return  # deleted meanwhile
            record["webhook"].update(delivered=max(delivered, record["webhook"]["delivered"]),
                                     error=error)
            self.store.jobs.put_in(txn, tenant, record)

    def wait(self, version: int, timeout: float) -> int:
        """Waits until a commit with events after `version`, or `timeout`."""
        with self._changed:
            if self.version == version:
                self._changed.wait(timeout)
            return self.version

    def _notify(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    # ---- helpers -------------------------------------------------------------

    def _parsed(self, record: dict[str, Any]) -> Any:
        params = self._params.get(record["id"])
        if params is None:
            params = self._params[record["id"]] = TYPES[record["type"]].parse(record["params"])
        return params

    @staticmethod
    def _common(record: dict[str, Any], day: dt.date) -> Common:
        return Common(tuple(record["account_types"]), day)
