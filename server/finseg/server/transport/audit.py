"""Recording calls in the audit log: every data change, every segment
created, cancelled or deleted, and every call the auth interceptor refused.

`AuditInterceptor` goes after the auth interceptor, so the calls it sees
carry the caller's identity; it records each audited call when it ends,
with its outcome. The log never holds a user id in clear (erasure would
have to rewrite it): a user is named by the SHA-256 of the id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from finseg.v1 import audit_pb2, audit_pb2_grpc

from ..errors import FinsegError, ResourceExhausted
from ..storage.audit import NO_TENANT, AuditLog
from ..storage.jobs import user_digest
from . import convert
from .auth import Identity, identity_of
from .errors import unary

log = logging.getLogger(__name__)

AUDITED = frozenset({
    "/finseg.v1.IngestionService/UpsertAccounts",
    "/finseg.v1.IngestionService/AppendTransactions",
    "/finseg.v1.IngestionService/DeleteUser",
    "/finseg.v1.SegmentService/CreateSegment",
    "/finseg.v1.SegmentService/CancelSegment",
    "/finseg.v1.SegmentService/DeleteSegment",
    "/finseg.v1.TaxonomyService/ReplaceTaxonomy",
})


@dataclass
class _Refused:
    """Calls refused alike in a window."""

    first_ns: int
    count: int


#: (tenant or NO_TENANT, subject, method, code, reason, peer host)
_RefusalKey = tuple[str, str, str, str, str, str]


class Auditor:
    """Writes the audit log: one event per audited call, and refused calls
    counted per window rather than one event each.

    A refused call costs its caller nothing, so an event per refusal would
    let anyone who reaches the port fill the store. Refusals alike (tenant,
    subject, method, code, reason and peer address) are counted in memory
    and written as one event per window; at most `max_keys` kinds are told
    apart per window (the rest are counted under their method and code,
    from "other peers"), the stored ones are kept to
    a fixed number (storage/audit.py), and none is written into the last
    tenth of the map, which is kept for the tenants' own work.
    """

    def __init__(self, audit_log: AuditLog, window_seconds: float = 60.0,
                 max_keys: int = 256, retention_days: float = 90.0,
                 sweep_seconds: float = 600.0) -> None:
        self.log = audit_log
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self.retention_days = retention_days
        self.sweep_seconds = sweep_seconds
        self._pending: dict[_RefusalKey, _Refused] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="finseg-audit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        now = time.monotonic()
        next_flush, next_sweep = now + self.window_seconds, now
        while True:
            now = time.monotonic()
            if now >= next_sweep:
                self._sweep()
                next_sweep = now + self.sweep_seconds
            if now >= next_flush:
                self.flush()
                next_flush = now + self.window_seconds
            if self._stopped.wait(max(min(next_flush, next_sweep) - time.monotonic(), 0.01)):
                return

    def _sweep(self) -> None:
        try:
            gone = self.log.sweep(self.retention_days)
            if gone:
                log.info("audit retention: deleted %d events older than %g days", gone,
                         self.retention_days)
        except Exception:  # the next round retries
            log.exception("audit retention sweep failed")

    def record(self, identity: Identity, method: str, target: str, outcome: str,
               detail: str = "") -> None:
        event = {"subject": identity.subject, "tenant": identity.tenant,
                 "action": method.lstrip("/"), "target": target, "outcome": outcome,
                 "detail": detail[:1000]}
        try:
            # A change that happened is recorded even in the reserve; a
            # failed call is not worth the tenants' last tenth.
            self.log.append(identity.tenant, event, within_headroom=outcome != "OK")
        except ResourceExhausted:
            log.warning("audit event of a failed call not recorded: the database is nearly "
                        "full (%s %s)", method, outcome)
        except Exception:
            # The call's own work is done (or refused); losing its record is
            # logged loudly rather than turned into the call's failure.
            # Not the event itself: its target and detail may quote the request.
            log.exception("could not write the audit event of %s (%s)", method, outcome)

    def denied(self, method: str, identity: Identity | None, error: FinsegError,
               peer: str) -> None:
        key = (identity.tenant if identity else NO_TENANT,
               identity.subject if identity else "", method.lstrip("/"), error.code,
               error.message[:300], _host(peer))
        with self._lock:
            if key not in self._pending and len(self._pending) >= self.max_keys:
                key = (key[0], "", key[2], key[3], "(reasons not told apart)", "other peers")
            counted = self._pending.get(key)
            if counted is None:
                self._pending[key] = _Refused(time.time_ns(), 1)
            else:
                counted.count += 1

    def flush(self) -> None:
        """Writes the refusals counted so far."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        events = [(tenant, {
            "time_ns": counted.first_ns, "subject": subject,
            "tenant": "" if tenant == NO_TENANT else tenant, "action": action,
            "target": f"peer {peer}", "outcome": code, "count": counted.count,
            "detail": f"{counted.count} call(s) refused: {reason}"})
            for (tenant, subject, action, code, reason, peer), counted in pending.items()]
        try:
            self.log.append_refusals(events)
        except ResourceExhausted:
            log.warning("%d refused calls not recorded: the database is nearly full",
                        sum(c.count for c in pending.values()))
        except Exception:
            log.exception("could not write %d refusal events", len(events))


def _host(peer: str) -> str:
    """The caller's address without its port, which differs per connection."""
    kind, _, address = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return address.rsplit(":", 1)[0]
    return peer


def _target(method: str, request: Any, response: Any) -> str:
    name = method.rsplit("/", 1)[1]
    if name == "DeleteUser":
        done = f" accounts={response.deleted_accounts} transactions=" \
               f"{response.deleted_transactions}" if response is not None else ""
        return f"user sha256:{user_digest(request.user_id)}{done}"
    if name in ("CancelSegment", "DeleteSegment"):
        return f"segment {request.segment_id}"
    if name == "CreateSegment":
        kind = request.spec.WhichOneof("kind") or ""
        return f"segment {response.segment.segment_id} {kind}" if response is not None \
            else kind
    if name == "UpsertAccounts":
        return f"accounts={response.upserted_count}" if response is not None else ""
    if name == "ReplaceTaxonomy":
        return "restore default" if request.restore_default \
            else f"groups={len(request.taxonomy.groups)}"
    return ""


def _outcome(context: Any, failed: bool) -> tuple[str, str]:
    code = context.code()
    if code is None or code == grpc.StatusCode.OK:
        return ("CANCELLED", "the call ended early") if failed else ("OK", "")
    details = context.details() or ""
    return code.name, details.decode(errors="replace") if isinstance(details, bytes) else details


class AuditInterceptor(grpc.ServerInterceptor):
    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method: str = details.method  # type: ignore[attr-defined]
        if handler is None or method not in AUDITED:
            return handler
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._unary(method, handler.unary_unary))
        if handler.stream_stream is not None:
            return handler._replace(stream_stream=self._append(method, handler.stream_stream))
        raise TypeError(f"{method}: no audit wrapper for its shape")

    def _unary(self, method: str, behavior: Any) -> Any:
        def audited(request: Any, context: Any) -> Any:
            response = None
            try:
                response = behavior(request, context)
                return response
            finally:
                outcome, detail = _outcome(context, response is None)
                self.auditor.record(identity_of(context), method,
                                    _target(method, request, response), outcome, detail)
        return audited

    def _append(self, method: str, behavior: Any) -> Any:
        """AppendTransactions: one event per call, with its batch totals."""
        def audited(requests: Any, context: Any) -> Iterator[Any]:
            batches = appended = duplicates = 0
            finished = False
            try:
                for response in behavior(requests, context):
                    batches += 1
                    appended += response.appended_count
                    duplicates += response.duplicate_count
                    yield response
                finished = True
            finally:
                outcome, detail = _outcome(context, not finished)
                self.auditor.record(
                    identity_of(context), method,
                    f"batches={batches} appended={appended} duplicates={duplicates}",
                    outcome, detail)
        return audited


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, auditor: Auditor, tokens: convert.PageTokens) -> None:
        self.auditor = auditor
        self.tokens = tokens

    @unary
    def ListAuditEvents(self, request, context):  # noqa: N802 - gRPC's method name
        tenant = identity_of(context).tenant
        size = convert.page_size(request.page_size, default=100, upper=1000)
        start = convert.nanoseconds(request.from_time, "from_time") \
            if request.HasField("from_time") else 0
        end = convert.nanoseconds(request.to_time, "to_time") \
            if request.HasField("to_time") else 2**64 - 1
        scope = f"audit:{start}:{end}"
        skip = self.tokens.offset(request.page_token, tenant, scope, 2**62)
        # Refusals counted so far are part of what the reader asks for.
        self.auditor.flush()
        events, more = self.auditor.log.events(tenant, start, end, skip, size)
        response = audit_pb2.ListAuditEventsResponse(events=[
            audit_pb2.AuditEvent(time=convert.timestamp(e["time_ns"]), subject=e["subject"],
                                 tenant=e["tenant"], action=e["action"], target=e["target"],
                                 outcome=e["outcome"], detail=e["detail"],
                                 count=e.get("count", 1)) for e in events])
        if more:
            response.next_page_token = self.tokens.make(tenant, scope, skip + size)
        return response
