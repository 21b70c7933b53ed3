"""Recording calls in the audit log: every data change, every segment
created, cancelled or deleted, and every call the auth interceptor refused.

`AuditInterceptor` goes after the auth interceptor, so the calls it sees
carry the caller's identity; it records each audited call when it ends,
with its outcome. The log never holds a user id in clear (erasure would
have to rewrite it): a user is named by the SHA-256 of the id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc

from finseg.v1 import audit_pb2, audit_pb2_grpc

from ..errors import FinsegError
from ..storage.audit import AuditLog
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


class Auditor:
    def __init__(self, audit_log: AuditLog) -> None:
        self.log = audit_log

    def record(self, identity: Identity | None, method: str, target: str, outcome: str,
               detail: str = "") -> None:
        event = {"subject": identity.subject if identity else "",
                 "tenant": identity.tenant if identity else "", "action": method.lstrip("/"),
                 "target": target, "outcome": outcome, "detail": detail[:1000]}
        try:
            self.log.append(identity.tenant if identity else None, event)
        except Exception:
            # The call's own work is done (or refused); losing its record is
            # logged loudly rather than turned into the call's failure.
            log.exception("could not write the audit event %s", event)

    def denied(self, method: str, identity: Identity | None, error: FinsegError) -> None:
        self.record(identity, method, "", error.code, error.message)


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
    def __init__(self, audit_log: AuditLog, tokens: convert.PageTokens) -> None:
        self.log = audit_log
        self.tokens = tokens

    @unary
    def ListAuditEvents(self, request, context):  # noqa: N802 - gRPC's method name
        tenant = identity_of(context).tenant
        size = convert.page_size(request.page_size, default=100, upper=1000)
        start = request.from_time.ToNanoseconds() if request.HasField("from_time") else 0
        end = request.to_time.ToNanoseconds() if request.HasField("to_time") else 2**64 - 1
        scope = f"audit:{start}:{end}"
        skip = self.tokens.offset(request.page_token, tenant, scope, 2**62)
        events, more = self.log.events(tenant, start, end, skip, size)
        response = audit_pb2.ListAuditEventsResponse(events=[
            audit_pb2.AuditEvent(time=convert.timestamp(e["time_ns"]), subject=e["subject"],
                                 tenant=e["tenant"], action=e["action"], target=e["target"],
                                 outcome=e["outcome"], detail=e["detail"]) for e in events])
        if more:
            response.next_page_token = self.tokens.make(tenant, scope, skip + size)
        return response
