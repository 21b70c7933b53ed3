"""Segment jobs: created at once, computed on worker threads over one
snapshot, results stored by page (SPEC §3).

A job record is a plain dict stored as JSON; while a job runs, its live
progress and its done/cancel signals are kept in memory here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import (
    Cancelled,
    FailedPrecondition,
    FinsegError,
    InvalidArgument,
    NotFound,
    Reason,
    ResourceExhausted,
    Violation,
    quoted,
)
from ..storage.arrays import batch_from_value
from ..storage.jobs import PAGE_ROWS
from ..storage.store import Store
from .ingest import today
from .live import LiveSegments, check_url, check_webhook
from .live import check_type as check_live_type
from .model import ACCOUNT_TYPE_CODES, MAX_DATE, MIN_DATE
from .segment_types import TYPES, page_of
from .segment_types.common import Common, Progress
from .taxonomy import Taxonomies

log = logging.getLogger(__name__)

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
#: 9999-12-31T23:59:59Z, the expiry of a segment that does not expire.
LIVE_EXPIRES = 253402300799.0


class JobObserver:
    """Told how each job ends, for the service's metrics, logs and traces,
    so the domain needs none of their libraries. Does nothing itself."""

    def created(self, tenant: str, record: dict[str, Any]) -> Any:
        """Called in the creating call's thread; what it returns comes back
        to `ended` as `origin` (a trace context, say)."""
        return None

    def ended(self, tenant: str, record: dict[str, Any], origin: Any,
              queued_seconds: float, run_seconds: float) -> None:
        """The job's record carries its last state: SUCCEEDED, FAILED,
        CANCELLED, or PENDING when a stop leaves it to the next start."""


@dataclass
class _Live:
    type_name: str
    progress: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    origin: Any = None
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None  # when a worker took it up


class JobManager:
    def __init__(self, store: Store, workers: int, timezone: str, ttl_days: int,
                 clock: Callable[[], float] = time.time,
                 taxonomies: Taxonomies | None = None, max_queued: int = 64,
                 max_queued_per_tenant: int = 16,
                 encode: Callable[[str, pa.Table], pa.Table] | None = None,
                 observer: JobObserver | None = None, live: LiveSegments | None = None,
                 events: Any = None) -> None:
        self.store = store
        self.observer = observer or JobObserver()
        # What a finished job's members table is stored as (the transport
        # encodes members for the wire once, not on every read).
        self.encode = encode
        self.taxonomies = taxonomies or Taxonomies(store)
        self.timezone = timezone
        self.ttl_seconds = ttl_days * 86400
        self.clock = clock
        self._live: dict[tuple[str, str], _Live] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.max_queued, self.max_queued_per_tenant = max_queued, max_queued_per_tenant
        self._queued: dict[str, int] = {}  # tenant -> jobs waiting for a worker
        self._stop_sweeping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="finseg-job")
        #: Called with (tenant, record) when a job ends (its callback URL).
        self.ended_hooks: list[Callable[[str, dict[str, Any]], None]] = []
        self.live = live or LiveSegments(store, encode or (lambda type_name, table: table),
                                         timezone, clock, events)

    # ---- lifecycle ---------------------------------------------------

    def recover(self) -> None:
        """Runs again every job a previous process left PENDING or RUNNING:
        its snapshot died with that process, so it starts over. Jobs that
        expired while no service ran go first."""
        self.sweep()
        self.live.load()
        for tenant, record in self.store.jobs.all_records():
            if record["state"] in (PENDING, RUNNING):
                record["state"], record["progress"] = PENDING, 0.0
                self.store.jobs.put(tenant, record)
                self._submit(tenant, record)

    def rerun(self, tenant: str, job_ids: list[str]) -> None:
        """Runs again jobs that are PENDING after an erasure withdrew their
        results (a ranking of merchants: storage.jobs.WITHDRAWN)."""
        for job_id in job_ids:
            record = self.store.jobs.get(tenant, job_id)
            if record is not None and record["state"] == PENDING:
                self._submit(tenant, record)

    def start_sweeper(self, interval: float) -> None:
        """Deletes expired jobs every `interval` seconds in the background."""
        def loop() -> None:
            while not self._stop_sweeping.wait(interval):
                try:
                    self.sweep()
                except Exception:  # the next round tries again
                    log.exception("expiry sweep failed")
        threading.Thread(target=loop, name="finseg-sweeper", daemon=True).start()

    def stop(self) -> None:
        """Stops running jobs at their next block and leaves them PENDING,
        so the next start runs them again; nobody cancelled them."""
        self._stop_sweeping.set()
        self.live.stop()
        self._stopping = True
        for live in list(self._live.values()):
            live.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # ---- requests ----------------------------------------------------

    def create(self, tenant: str, type_name: str, raw_params: dict[str, Any],
               account_types: list[str], as_of: dt.date | None, live: bool = False,
               webhook: tuple[str, str] | None = None, callback_url: str = ""
               ) -> dict[str, Any]:
        module = TYPES[type_name]
        if webhook is not None and not live:
            raise InvalidArgument("spec.webhook is for live segments: set spec.live too",
                                  [Violation("spec.webhook", "needs spec.live")],
                                  reason=Reason.INVALID_SPEC)
        if live:
            check_live_type(type_name)
            if as_of is not None:
                raise InvalidArgument("spec.as_of must be empty for a live segment: it is "
                                      "always today", [Violation("spec.as_of", "set with live")],
                                      reason=Reason.INVALID_SPEC)
        # The tenant's taxonomy resolves label groups now; the job keeps the
        # resolution, so a later change of taxonomy does not alter it.
        params = module.parse(raw_params, self.taxonomies.of(tenant)[0])
        for i, name in enumerate(account_types):
            if name not in ACCOUNT_TYPE_CODES:
                raise InvalidArgument(
                    f"spec.account_types[{i}] {quoted(name)} is not an account type; allowed: "
                    f"{', '.join(ACCOUNT_TYPE_CODES)}",
                    [Violation(f"spec.account_types[{i}]", "unknown account type")],
                    reason=Reason.INVALID_SPEC)
        as_of = as_of or (self.live.today() if live else today(self.timezone))
        if not MIN_DATE <= as_of <= MAX_DATE:
            raise InvalidArgument(f"spec.as_of must be between {MIN_DATE} and {MAX_DATE}",
                                  [Violation("spec.as_of", "out of range")],
                                  reason=Reason.INVALID_SPEC)
        self._reserve(tenant)
        now = self.clock()
        record = {
            "id": uuid.uuid4().hex,
            "type": type_name,
            "params": module.to_dict(params),
            "account_types": sorted(set(account_types)),
            "as_of": as_of.isoformat(),
            "state": PENDING,
            "progress": 0.0,
            "created": now,
            "expires": now + self.ttl_seconds,
            "error": "",
            "total_elements": 0,
            "pages": 0,
            "rows_scanned": 0,
            "compute_seconds": 0.0,
        }
        if live:
            # Kept current until deleted: it never expires.
            record.update(live={"day": as_of.isoformat(), "sequence": 0}, expires=LIVE_EXPIRES)
        if webhook is not None:
            record["webhook"] = check_webhook(*webhook)
        if callback_url:
            record["callback"] = {"url": check_url(callback_url, "spec.callback_url")}
        try:
            self.store.jobs.create(tenant, record)
        except BaseException:
            self._release(tenant)
            raise
        self._submit(tenant, record, reserved=True, origin=self._origin(tenant, record))
        return record

    def _origin(self, tenant: str, record: dict[str, Any]) -> Any:
        try:
            return self.observer.created(tenant, record)
        except Exception:  # the job is stored: it must run whatever the observer does
            log.exception("job observer failed for job %s", record["id"])
            return None

    def _reserve(self, tenant: str) -> None:
        """Takes a queue place for a new job, or says to come back later."""
        with self._lock:
            mine, total = self._queued.get(tenant, 0), sum(self._queued.values())
            if mine >= self.max_queued_per_tenant or total >= self.max_queued:
                limit = ("this tenant's" if mine >= self.max_queued_per_tenant else "the")
                raise ResourceExhausted(
                    f"{limit} job queue is full ({mine} of this tenant's jobs, {total} in all, "
                    "wait for a worker); retry in a few seconds", retry_after_seconds=5.0,
                    reason=Reason.QUEUE_FULL,
                    metadata={"queue": "tenant" if mine >= self.max_queued_per_tenant
                              else "service"})
            self._queued[tenant] = mine + 1

    def _release(self, tenant: str) -> None:
        with self._lock:
            left = self._queued.get(tenant, 0) - 1
            if left > 0:
                self._queued[tenant] = left
            else:
                self._queued.pop(tenant, None)

    def get(self, tenant: str, job_id: str) -> dict[str, Any]:
        record = self.store.jobs.get(tenant, job_id) if job_id else None
        if record is None or record["expires"] <= self.clock():
            raise NotFound(f"segment {quoted(job_id)} not found", reason=Reason.SEGMENT_NOT_FOUND,
                           metadata={"segment_id": job_id})
        live = self._live.get((tenant, job_id))
        if live is not None and record["state"] == RUNNING:
            record["progress"] = live.progress
        return record

    def wait(self, tenant: str, job_id: str, timeout: float) -> dict[str, Any]:
        """The job's record once it ended, or as it is after `timeout`."""
        record = self.get(tenant, job_id)
        live = self._live.get((tenant, job_id))
        if record["state"] not in FINISHED and live is not None:
            live.done.wait(timeout)
            record = self.get(tenant, job_id)
        return record

    def cancel(self, tenant: str, job_id: str, wait: float = 5.0) -> dict[str, Any]:
        """Asks a PENDING or RUNNING job to stop and waits (a while) until it
        has: a kernel checks between chunks of rows."""
        record = self.get(tenant, job_id)
        if record["state"] in (SUCCEEDED, FAILED):
            raise FailedPrecondition(f"segment {quoted(job_id)} already {record['state']}; only a "
                                     "PENDING or RUNNING segment can be cancelled",
                                     reason=Reason.SEGMENT_FINISHED,
                                     metadata={"state": record["state"]})
        live = self._live.get((tenant, job_id))
        if live is not None:
            with self._lock:
                live.cancel.set()
                current = self.store.jobs.get(tenant, job_id)
                running = current is not None and current["state"] == RUNNING
                if current is not None and current["state"] == PENDING:
                    # Still queued: it is cancelled now; the worker skips it.
                    current.update(state=CANCELLED, error="cancelled")
                    self.store.jobs.update(tenant, current)
            if running:
                live.done.wait(wait)
        return self.get(tenant, job_id)

    def delete(self, tenant: str, job_id: str) -> None:
        """Deletes the job and its results now, stopping it if it runs."""
        self.get(tenant, job_id)  # NOT_FOUND as for any other call
        live = self._live.get((tenant, job_id))
        if live is not None:
            live.cancel.set()
        self.live.forget(tenant, job_id)
        if not self.store.jobs.delete(tenant, job_id):
            raise NotFound(f"segment {quoted(job_id)} not found", reason=Reason.SEGMENT_NOT_FOUND,
                           metadata={"segment_id": job_id})

    def list(self, tenant: str, states: set[str], types: set[str]) -> list[dict[str, Any]]:
        """The tenant's jobs that have not expired, newest first."""
        now = self.clock()
        records = [r for r in self.store.jobs.records(tenant)
                   if r["expires"] > now and (not states or r["state"] in states)
                   and (not types or r["type"] in types)]
        for record in records:
            live = self._live.get((tenant, record["id"]))
            if live is not None and record["state"] == RUNNING:
                record["progress"] = live.progress
        return sorted(records, key=lambda r: (-r["created"], r["id"]))

    def depth(self) -> dict[str, tuple[int, int]]:
        """Jobs waiting for a worker and jobs running, by segment type."""
        counts: dict[str, tuple[int, int]] = {}
        for live in list(self._live.values()):
            queued, running = counts.get(live.type_name, (0, 0))
            counts[live.type_name] = (queued + (live.started is None),
                                      running + (live.started is not None))
        return counts

    def sweep(self) -> int:
        """Deletes expired jobs and their results; returns how many."""
        gone = self.store.jobs.sweep(self.clock())
        if gone:
            log.info("expiry sweep deleted %d segment(s)", gone)
        return gone

    def members(self, tenant: str, record: dict[str, Any], offset: int, limit: int
                ) -> pa.Table:
        """Members offset..offset+limit-1 of a SUCCEEDED job, from stored pages
        (of a live segment: of its current members)."""
        if record.get("live"):
            return self.live.members(tenant, record).slice(offset, limit)
        first, last = offset // PAGE_ROWS, (offset + limit - 1) // PAGE_ROWS
        batches = []
        for raw in self.store.jobs.pages(tenant, record["id"],
                                         range(first, min(last, record["pages"] - 1) + 1)):
            if raw is None:
                raise NotFound(f"segment {record['id']!r} not found",
                               reason=Reason.SEGMENT_NOT_FOUND,
                               metadata={"segment_id": record["id"]})
            batches.append(batch_from_value(raw))
        if not batches:
            return pa.table({})
        table = pa.Table.from_batches(batches)
        return table.slice(offset - first * PAGE_ROWS, limit)

    # ---- running -----------------------------------------------------

    def _submit(self, tenant: str, record: dict[str, Any], reserved: bool = False,
                origin: Any = None) -> None:
        live = _Live(record["type"], origin=origin)
        with self._lock:
            self._live[(tenant, record["id"])] = live
            if not reserved:  # recovered jobs run whatever the bound
                self._queued[tenant] = self._queued.get(tenant, 0) + 1
        self._pool.submit(self._run, tenant, dict(record), live)

    def _run(self, tenant: str, record: dict[str, Any], live: _Live) -> None:
        self._release(tenant)  # out of the queue, on a worker
        rerun = False
        try:
            module = TYPES[record["type"]]
            params = module.parse(record["params"])
            common = Common(tuple(record["account_types"]),
                            dt.date.fromisoformat(record["as_of"]))
            if not self._begin(tenant, record, live):
                return
            started = time.perf_counter()

            def report(share: float) -> None:
                live.progress = share

            if record.get("live"):
                if self.live.start(tenant, record, Progress(report, live.cancel.is_set)):
                    record["compute_seconds"] = time.perf_counter() - started
                    self._put_quietly(tenant, record)
                return
            with self.store.snapshot(tenant) as snapshot:
                record["rows_scanned"] = snapshot.n_transactions
                table = module.run(snapshot, params, common,
                                   Progress(report, live.cancel.is_set))
                erasures = snapshot.erasures
            record["compute_seconds"] = time.perf_counter() - started
            if live.cancel.is_set():
                raise Cancelled("the job was cancelled", reason=Reason.SEGMENT_CANCELLED)
            if self.encode is not None:
                table = self.encode(page_of(record), table)
            if live.cancel.is_set():  # storing a large result takes a while too
                raise Cancelled("the job was cancelled", reason=Reason.SEGMENT_CANCELLED)
            record.update(state=SUCCEEDED, progress=1.0)
            if not self.store.jobs.finish(tenant, record, table, erasures):
                # A user erased while it ran may be in every row: start over.
                record.update(state=PENDING, progress=0.0)
                self._put_quietly(tenant, record)
                rerun = True
        except Cancelled:
            if self._stopping:
                record.update(state=PENDING, progress=0.0)
            else:
                record.update(state=CANCELLED, error="cancelled")
            self._put_quietly(tenant, record)
        except FinsegError as exc:
            record.update(state=FAILED, error=exc.message)
            self._put_quietly(tenant, record)
        except Exception:
            log.exception("segment job %s of tenant %r failed", record["id"], tenant)
            record.update(state=FAILED, error="internal error while computing the segment")
            self._put_quietly(tenant, record)
        finally:
            with self._lock:
                self._live.pop((tenant, record["id"]), None)
            if rerun:
                self.rerun(tenant, [record["id"]])
            else:
                # Before the waiters wake: whoever learns the job ended then
                # finds it in the metrics too.
                self._tell_ended(tenant, record, live)
            live.done.set()

    def _begin(self, tenant: str, record: dict[str, Any], live: _Live) -> bool:
        """Marks the job RUNNING; False if it must not run after all."""
        with self._lock:
            # Cancelled (and so marked) or deleted while queued, or the
            # service is stopping and the job stays PENDING for the next.
            if live.cancel.is_set():
                record["state"] = PENDING if self._stopping else CANCELLED
                return False
            record["state"] = RUNNING
            if not self.store.jobs.update(tenant, record):
                record["state"] = CANCELLED  # deleted while queued
                return False
            live.started = time.monotonic()
            return True

    def _tell_ended(self, tenant: str, record: dict[str, Any], live: _Live) -> None:
        now = time.monotonic()
        began = live.started if live.started is not None else now
        try:
            self.observer.ended(tenant, record, live.origin, began - live.submitted,
                                now - began)
            if record["state"] in FINISHED:
                for hook in self.ended_hooks:
                    hook(tenant, record)
        except Exception:  # watching a job must never break it
            log.exception("job observer failed for job %s", record["id"])

    def _put_quietly(self, tenant: str, record: dict[str, Any]) -> None:
        try:
            self.store.jobs.update(tenant, record)
        except Exception:
            log.exception("could not store the final state of job %s", record["id"])
