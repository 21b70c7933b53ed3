"""Every call and every job, measured, logged and (when configured) traced.

`CallInterceptor` goes first, outside the auth interceptor, so calls that
auth refuses are seen with their status too. Per call it costs a clock
read, two counter increments and a histogram observation; a log line
when INFO is on; a span only with tracing, which is otherwise never
imported. A log line or span names the method, tenant, segment id, status
and duration, never a message or value of the request: error messages
quote what was sent.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc

from ..domain.jobs import JobObserver
from .calls import CallRecord, Observed, kind_of
from .instruments import ServiceMetrics

if TYPE_CHECKING:
    from .tracing import Tracing

call_log = logging.getLogger("finseg.calls")
job_log = logging.getLogger("finseg.jobs")

#: A segment id as the service makes them; a request's segment_id is
#: logged only in this form, since a client may put anything there.
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_UNKNOWN = "/unknown/unknown"


class CallInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: ServiceMetrics, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:  # gRPC answers UNIMPLEMENTED; the name is the caller's
            children = self.metrics.call_started(_UNKNOWN, "unknown")
            self.metrics.call_ended(children, grpc.StatusCode.UNIMPLEMENTED, 0.0)
            return None
        method: str = details.method  # type: ignore[attr-defined]
        kind = kind_of(handler)
        wrap = self._unary if kind.endswith("_unary") else self._streaming
        return handler._replace(**{kind: wrap(method, kind, getattr(handler, kind))})

    def _begin(self, method: str, kind: str, context: Any) -> CallRecord:
        call = CallRecord(method, time.perf_counter())
        call.children = self.metrics.call_started(method, kind)
        if self.tracing is not None:
            call.span = self.tracing.start_call(method, context.invocation_metadata())
        return call

    def _unary(self, method: str, kind: str, behavior: Any) -> Any:
        def observed(request: Any, context: Any) -> Any:
            call = self._begin(method, kind, context)
            # Current while the servicer runs, so a job it creates is traced
            # under this call.
            token = self.tracing.activate(call.span) if self.tracing is not None else None
            try:
                response = behavior(request, Observed(context, call))
            except BaseException:
                self._end(call, _code(context, grpc.StatusCode.UNKNOWN), request, None)
                raise
            finally:
                if token is not None:
                    self.tracing.deactivate(token)  # type: ignore[union-attr]
            self._end(call, _code(context, grpc.StatusCode.OK), request, response)
            return response
        return observed

    def _streaming(self, method: str, kind: str, behavior: Any) -> Any:
        def observed(request: Any, context: Any) -> Iterator[Any]:
            call = self._begin(method, kind, context)
            code = grpc.StatusCode.UNKNOWN
            try:
                yield from behavior(request, Observed(context, call))
                code = _code(context, grpc.StatusCode.OK)
            except GeneratorExit:  # gRPC stopped reading: the client went away
                code = grpc.StatusCode.CANCELLED
                raise
            except BaseException:
                code = _code(context, grpc.StatusCode.UNKNOWN)
                raise
            finally:
                self._end(call, code, request, None)
        return observed

    def _end(self, call: CallRecord, code: grpc.StatusCode, request: Any,
             response: Any) -> None:
        seconds = time.perf_counter() - call.started
        self.metrics.call_ended(call.children, code, seconds)
        logging_on = call_log.isEnabledFor(logging.INFO)
        if not logging_on and call.span is None:
            return
        job_id = _job_id(request, response)
        if logging_on:
            call_log.info("%s %s %.3f ms tenant=%s segment=%s", call.method.lstrip("/"),
                          code.name, seconds * 1e3, call.tenant or "-", job_id or "-",
                          extra={"fields": {"event": "call", "method": call.method.lstrip("/"),
                                            "tenant": call.tenant, "job_id": job_id,
                                            "status": code.name,
                                            "duration_ms": round(seconds * 1e3, 3)}})
        if call.span is not None:
            self.tracing.end_call(call.span, code, call.tenant, job_id)  # type: ignore[union-attr]


def _code(context: Any, otherwise: grpc.StatusCode) -> grpc.StatusCode:
    """The status the call ends with: what the servicer (or an abort) set,
    else `otherwise`."""
    code = context.code()
    return otherwise if code is None else code


def _job_id(request: Any, response: Any) -> str:
    """The segment a call is about: the request's (GetSegment and others)
    or the new one (CreateSegment); "" for other calls."""
    found = getattr(request, "segment_id", "") or \
        getattr(getattr(response, "segment", None), "segment_id", "")
    return found if isinstance(found, str) and _JOB_ID.fullmatch(found) else ""


class JobWatch(JobObserver):
    """Each job's end, in the metrics, the log and (with tracing) a span
    under the CreateSegment call that made it."""

    def __init__(self, metrics: ServiceMetrics, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def created(self, tenant: str, record: dict[str, Any]) -> Any:
        return self.tracing.origin() if self.tracing is not None else None

    def ended(self, tenant: str, record: dict[str, Any], origin: Any,
              queued_seconds: float, run_seconds: float) -> None:
        state, type_name = record["state"], record["type"]
        self.metrics.job_ended(type_name, state, queued_seconds, run_seconds)
        job_log.info("job %s %s %s %.3f ms tenant=%s", record["id"], type_name, state,
                     run_seconds * 1e3, tenant,
                     extra={"fields": {"event": "job", "job_id": record["id"], "tenant": tenant,
                                       "type": type_name, "status": state,
                                       "duration_ms": round(run_seconds * 1e3, 3),
                                       "queued_ms": round(queued_seconds * 1e3, 3),
                                       "rows_scanned": record["rows_scanned"],
                                       "members": record["total_elements"]}})
        if self.tracing is not None:
            self.tracing.job(tenant, record, origin, queued_seconds, run_seconds)
