"""Live segments (SPEC §5): memberships kept current by every write and
every day, and the ENTER/EXIT events each change makes.

A live segment is a job record with a "live" entry ({"day", "sequence"}).
Who its members are is stored (live_changes.py); their figures are not:
GetSegment computes them as a batch job at the segment's day would, over
one snapshot, which by construction has exactly the stored members. Every
write of a tenant's data calls `on_write` inside its own write
transaction: the users the write names are evaluated again over a
`UserSubset` of that transaction (the segment type's own code, on their
accounts only), and those who enter or leave, with their events, are
written before the commit. So a membership and its events are exactly as
durable as the data that moved them, and a batch costs its users, not the
tenant.

The first membership and each day change evaluate the whole tenant over a
read snapshot while ingestion goes on, then catch up with the users the
writes since named (live_journal.py): over newer snapshots while many are
left, and under the write lock only for the last few.
"""

from __future__ import annotations

import datetime as dt
import json
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
from .live_changes import Members, Memberships, write_changes
from .live_journal import Journal
from .live_rfm import Figures
from .segment_types import TYPES
from .segment_types.common import Common, Progress

log = logging.getLogger(__name__)

#: The types that can be live. RFM's scores rank users against each other
#: (live_rfm.py); the others depend on each user's own data only.
LIVE_TYPES = ("HIGH_BALANCE", "LOW_BALANCE", "RULE", "RFM")
#: Cause kinds of an event.
CREATED, BATCH, ACCOUNTS, ERASURE, DAY = "CREATED", "BATCH", "ACCOUNTS", "ERASURE", "DAY"
_QUIET = Progress(lambda share: None, lambda: False)
#: A whole-tenant evaluation catches up with the writes made meanwhile over
#: newer snapshots, outside the write lock, at most this many rounds, until
#: no more than LOCKED_CATCH_UP_USERS are left for the round under the lock.
CATCH_UP_ROUNDS = 6
LOCKED_CATCH_UP_USERS = 10_000

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
        self.memberships = Memberships(store)
        self._lock = threading.Lock()
        #: segment id -> ((segment id, tenant data version), members table)
        self._members_cache: dict[str, tuple[tuple[str, int], pa.Table]] = {}
        #: Every scored user's figures as of the last commit, shared by the
        #: RFM segments of one tenant, definition and day (_figure_key)
        self._figures: dict[tuple[Any, ...], Figures] = {}
        #: figure key -> (the write changing them, figures), until it commits
        self._pending: dict[tuple[Any, ...], tuple[TenantWriter, Figures]] = {}
        #: RFM segment id -> its figure key
        self._figure_of: dict[str, tuple[Any, ...]] = {}
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
        self.memberships.forget(segment_id)
        key = self._figure_of.pop(segment_id, None)
        if key is not None and key not in self._figure_of.values():
            self._figures.pop(key, None)
            self._pending.pop(key, None)
        with self._lock:
            self._members_cache.pop(segment_id, None)

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

        def finish(writer: TenantWriter, current: dict[str, Any], users: np.ndarray,
                   rows: int) -> None:
            record["live"] = {"day": day.isoformat(), "sequence": 0}
            record.update(as_of=day.isoformat(), state="SUCCEEDED", progress=1.0,
                          rows_scanned=rows)
            members = self.memberships.of(writer.txn, writer.tenant_no, record["id"])
            self._write(writer, tenant, record, members, (np.empty(0, np.int64), []),
                        self._named(writer, users), {"kind": CREATED})
            self.store.usage.add_in(writer.txn, tenant, record["type"], rows_scanned=rows)

        if not self._whole_tenant(tenant, [[record]], day, progress, finish):
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
            # Segments of one definition share one evaluation of the tenant,
            # and all of them one catch-up with the writes meanwhile.
            due: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for segment_id in sorted(ids):
                record = self.store.jobs.get(tenant, segment_id)
                if record is not None and record["state"] == "SUCCEEDED" and \
                        record["live"]["day"] < day.isoformat():
                    due.setdefault(_definition(record), []).append(record)
            if due:
                moved += self._move_day(tenant, list(due.values()), day)
        return moved

    def _move_day(self, tenant: str, groups: list[list[dict[str, Any]]], day: dt.date) -> int:
        def finish(writer: TenantWriter, current: dict[str, Any], users: np.ndarray,
                   rows: int) -> None:
            members = self.memberships.of(writer.txn, writer.tenant_no, current["id"])
            leaving, entering = _moved(members, users)
            current["live"]["day"] = current["as_of"] = day.isoformat()
            self._write(writer, tenant, current, members,
                        self._named(writer, leaving), self._named(writer, entering),
                        {"kind": DAY})

        return self._whole_tenant(tenant, groups, day, _QUIET, finish)

    def _whole_tenant(self, tenant: str, groups: list[list[dict[str, Any]]], day: dt.date,
                      progress: Progress, finish: Callable[..., None]) -> int:
        """Evaluates every user of the tenant over a read snapshot while
        ingestion goes on; then, still outside the lock, the users the writes
        since then named, over a newer snapshot, round after round while that
        leaves more than a few; then, under the write lock, the last few over
        the write transaction. Each of `groups` holds segments of one
        definition, evaluated once; the catch-ups of all groups share one
        subset per round. Hands the members of that moment to
        `finish(writer, record as stored, tenant user indexes, rows)` for
        every segment, in one write. Returns how many were not deleted
        meanwhile."""
        firsts = [records[0] for records in groups]
        # Catching up reads only the days the definitions read at `day`.
        since_day = min(self._reads_since(r, day) for r in firsts)
        with self.store.env.write_lock:  # every write is in the snapshot or in the journal
            self.journal.open(tenant)
            txn = self.store.env.read()
        try:
            evaluated: list[Figures | np.ndarray] = []
            users, erased, since, rows = np.empty(0, np.int64), set[str](), 0, 0
            for round_no in range(CATCH_UP_ROUNDS):
                if round_no:
                    users, erased = self.journal.since(tenant, since)
                    if users.shape[0] <= LOCKED_CATCH_UP_USERS:
                        break
                    with self.store.env.write_lock:
                        txn = self.store.env.read()
                try:
                    snapshot = Snapshot(self.store, txn, self.store.env.tenant_no(
                        txn, tenant, create=False))
                    if not round_no:
                        evaluated = [self._evaluated(snapshot, r, day, progress) for r in firsts]
                    else:
                        subset = UserSubset(self.store, txn, snapshot.tenant_no or 0,
                                            snapshot.state or {}, users, since=since_day)
                        evaluated = [self._refreshed(subset, r, day, e)
                                     for r, e in zip(firsts, evaluated, strict=True)]
                    since = snapshot.state.get("generation", 0) if snapshot.state else 0
                    rows = snapshot.n_transactions
                finally:
                    txn.abort()
            with self.store.writer(tenant) as writer:
                users, erased = self.journal.since(tenant, since)
                if users.size or erased:
                    # This writer has written nothing yet, so the base views
                    # writers share hold its base: the write transaction
                    # copied whole chunk columns (a second per segment, under
                    # the lock, at 50M rows).
                    subset = UserSubset(self.store, writer.txn, writer.tenant_no, writer.state,
                                        users, dict(writer.appended), cache_reads=not erased,
                                        base_views=self.store.base_views, since=since_day)
                    evaluated = [self._refreshed(subset, r, day, e)
                                 for r, e in zip(firsts, evaluated, strict=True)]
                done = 0
                for records, first, result in zip(groups, firsts, evaluated, strict=True):
                    currents = [current for current in (
                        self.store.jobs.get_in(writer.txn, writer.tenant_no, r["id"])
                        for r in records) if current is not None]
                    if not currents:
                        continue
                    members = self._members_of(first, result)
                    for current in currents:
                        if isinstance(result, Figures):
                            self._keep_figures(writer, self._figure_key(tenant, current, day),
                                               result)
                        finish(writer, current, members, rows)
                    done += len(currents)
                return done
        finally:
            self.journal.close(tenant)

    def _evaluated(self, snapshot: Snapshot, record: dict[str, Any], day: dt.date,
                   progress: Progress) -> Figures | np.ndarray:
        """A whole-tenant evaluation: RFM's figures, else whether each tenant
        user index is a member."""
        params, common = self._parsed(record), self._common(record, day)
        if record["type"] == "RFM":
            return Figures.of(snapshot, params, common, progress)
        member = np.zeros(max(int(snapshot.state["users"]) if snapshot.state else 0, 1),
                          np.bool_)
        member[TYPES[record["type"]].member_users(snapshot, params, common, progress)] = True
        return member

    def _refreshed(self, subset: UserSubset, record: dict[str, Any], day: dt.date,
                   evaluated: Figures | np.ndarray) -> Figures | np.ndarray:
        """A whole-tenant evaluation with the users of `subset` evaluated
        again (an erased user among them is a member of nothing now)."""
        params, common = self._parsed(record), self._common(record, day)
        if isinstance(evaluated, Figures):
            evaluated.update(subset, params, common, _QUIET)
            return evaluated
        users = subset.global_users
        if users.size and int(users.max()) >= evaluated.shape[0]:  # users created since
            evaluated = np.concatenate([evaluated, np.zeros(
                int(users.max()) + 1 - evaluated.shape[0], np.bool_)])
        evaluated[users] = False
        evaluated[users[TYPES[record["type"]].member_users(subset, params, common,
                                                            _QUIET)]] = True
        return evaluated

    def _members_of(self, record: dict[str, Any], evaluated: Figures | np.ndarray
                    ) -> np.ndarray:
        """The members' tenant user indexes, ascending."""
        if isinstance(evaluated, Figures):
            return evaluated.members(self._parsed(record))
        return np.flatnonzero(evaluated)

    def _keep_figures(self, writer: TenantWriter, key: tuple[Any, ...], figures: Figures
                      ) -> None:
        writer.after_commit.append(lambda: self._figures.__setitem__(key, figures))

    def _figure_key(self, tenant: str, record: dict[str, Any], day: dt.date
                    ) -> tuple[Any, ...]:
        """What RFM segments that share their figures have in common: one
        write updates them once, and the segments of one definition (teams
        do make the same one) stay in step."""
        key = (tenant, *_definition(record), day.isoformat())
        before = self._figure_of.get(record["id"])
        self._figure_of[record["id"]] = key
        if before is not None and before != key and before not in self._figure_of.values():
            self._figures.pop(before, None)  # of a day no segment is at any more
        return key

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
        self._update(tenant, writer, ids, users, cause, erased)

    def _update(self, tenant: str, writer: TenantWriter, ids: set[str], users: np.ndarray,
                cause: dict[str, Any], erased: str | None) -> None:
        records = [record for record in (
            self.store.jobs.get_in(writer.txn, writer.tenant_no, segment_id)
            for segment_id in sorted(ids))
            # One still computing its first membership sees this write.
            if record is not None and record["state"] == "SUCCEEDED"]
        # The base this write starts from, mapped once for many writes; an
        # erasure rewrites it, so it reads its own.
        subset = UserSubset(self.store, writer.txn, writer.tenant_no, writer.state, users,
                            dict(writer.appended), cache_reads=erased is None,
                            base_views=self.store.base_views if erased is None else None,
                            since=min((self._reads_since(record, dt.date.fromisoformat(
                                record["live"]["day"])) for record in records), default=None))
        # The subset's users in user_id order; an erased user's id is blank now.
        named = [u or erased or "" for u in subset.user_ids(
            np.arange(users.shape[0])).to_pylist()]
        touched = subset.global_users
        evaluated: dict[tuple[Any, ...], np.ndarray] = {}
        rescored: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        for record in records:
            segment_id = record["id"]
            day = dt.date.fromisoformat(record["live"]["day"])
            members = self.memberships.of(writer.txn, writer.tenant_no, segment_id)
            if record["type"] == "RFM":
                key = self._figure_key(tenant, record, day)
                if key not in rescored:
                    rescored[key] = self._rescored(writer, key, record, day, subset)
                moved, now = rescored[key]
                was = members.has(moved)
                leaving = self._named(writer, moved[was & ~now], erased)
                entering = self._named(writer, moved[now & ~was], erased)
            else:
                # Segments of the same definition (teams do make the same
                # one) share one evaluation of the write.
                same = (*_definition(record), day)
                if same not in evaluated:
                    stays = np.zeros(touched.shape[0], np.bool_)
                    stays[TYPES[record["type"]].member_users(
                        subset, self._parsed(record), self._common(record, day), _QUIET)] = True
                    evaluated[same] = stays
                stays = evaluated[same]
                was = members.has(touched)
                out, into = np.nonzero(was & ~stays)[0], np.nonzero(stays & ~was)[0]
                leaving = (touched[out], [named[i] for i in out])
                entering = (touched[into], [named[i] for i in into])
            if leaving[1] or entering[1]:
                self._write(writer, tenant, record, members, leaving, entering, cause, erased)
            elif erased is not None:
                self.store.live.scrub_user(writer.txn, writer.tenant_no, segment_id, erased,
                                           self.codec.scrub)

    def _rescored(self, writer: TenantWriter, key: tuple[Any, ...], record: dict[str, Any],
                  day: dt.date, subset: UserSubset) -> tuple[np.ndarray, np.ndarray]:
        """RFM's (users whose membership may have changed, whether each is a
        member now): the write's users get their figures again and everyone
        is scored again, so users it does not name may move too."""
        params, common = self._parsed(record), self._common(record, day)
        figures = self._uncommitted(writer, key, params, common)
        users = figures.update(subset, params, common, _QUIET)
        return users, figures.is_member(users, params)

    def _uncommitted(self, writer: TenantWriter, key: tuple[Any, ...], params: Any,
                     common: Common) -> Figures:
        """The RFM figures `writer` changes in place: they are the segments'
        again once it commits; a write that fails takes them with it, and
        the next one builds them anew."""
        pending = self._pending.get(key)
        if pending is not None and pending[0] is writer:
            return pending[1]
        figures = self._figures.pop(key, None)
        if figures is None:  # the first write since the service started, or a failed one
            # Under the write lock, a read transaction holds the data before this write.
            with self.store.env.read() as txn:
                figures = Figures.of(Snapshot(self.store, txn, writer.tenant_no), params,
                                     common, _QUIET)
        self._pending[key] = (writer, figures)

        def committed() -> None:
            if self._pending.pop(key, (None,))[0] is writer:
                self._figures[key] = figures
        writer.after_commit.append(committed)
        return figures

    def _write(self, writer: TenantWriter, tenant: str, record: dict[str, Any],
               members: Members, leaving: tuple[np.ndarray, list[str]],
               entering: tuple[np.ndarray, list[str]], cause: dict[str, Any],
               erased: str | None = None) -> None:
        if write_changes(self.store, writer, tenant, record, members, leaving, entering,
                         cause, self.clock(), self.codec.encode, erased, self.codec.scrub):
            writer.after_commit.append(self._notify)
        elif record["state"] == "SUCCEEDED":
            self.store.jobs.put_in(writer.txn, tenant, record)

    def _named(self, writer: TenantWriter, users: np.ndarray, erased: str | None = None
               ) -> tuple[np.ndarray, list[str]]:
        """Tenant user indexes with their ids, in user_id order; the erased
        user's id is blank in the store by now."""
        names = self.store.accounts.user_ids.names(writer.txn, writer.tenant_no, users)
        if erased is not None:
            names = pc.if_else(pc.equal(names, ""), erased, names)
        # Arrow orders UTF-8 by bytes: user_id order, without a Python sort.
        order = pc.sort_indices(names).to_numpy()
        return np.asarray(users)[order], names.take(order).to_pylist()

    # ---- reading -------------------------------------------------------------

    def members(self, tenant: str, record: dict[str, Any]) -> pa.Table:
        """The members now with their figures (user_id, member as stored
        for the wire): the segment's type at its day over one snapshot,
        which holds exactly the stored members. Cached per version of the
        tenant's data, so paging through them computes them once."""
        with self.store.snapshot(tenant) as snapshot:
            version = (record["id"], snapshot.state.get("writes", 0) if snapshot.state else 0)
            with self._lock:
                cached = self._members_cache.get(record["id"])
            if cached is not None and cached[0] == version:
                return cached[1]
            current = self.store.jobs.get_in(snapshot.txn, snapshot.tenant_no, record["id"]) \
                if snapshot.tenant_no is not None else None
            day = dt.date.fromisoformat((current or record)["live"]["day"])
            table = self.encode(record["type"], TYPES[record["type"]].run(
                snapshot, self._parsed(record), self._common(record, day), _QUIET))
        with self._lock:
            self._members_cache[record["id"]] = (version, table)
        return table

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

    def _reads_since(self, record: dict[str, Any], day: dt.date) -> int:
        """The earliest booking day the segment's type reads at `day`."""
        return int(TYPES[record["type"]].reads_since(self._parsed(record),
                                                     self._common(record, day)))

    @staticmethod
    def _common(record: dict[str, Any], day: dt.date) -> Common:
        return Common(tuple(record["account_types"]), day)


def _moved(members: Members, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leaving, entering) tenant user indexes when the members become `users`."""
    now = np.zeros(max(members.bits.shape[0], int(users.max(initial=-1)) + 1), np.bool_)
    now[users] = True
    was = members.has(np.arange(now.shape[0]))
    return np.nonzero(was & ~now)[0], np.nonzero(now & ~was)[0]


def _definition(record: dict[str, Any]) -> tuple[Any, ...]:
    """What segments that compute the same members on the same day share."""
    return (record["type"], json.dumps(record["params"], sort_keys=True),
            tuple(record["account_types"]))
