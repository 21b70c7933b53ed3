"""Every call and every job, measured.

`CallInterceptor` goes first, outside the auth interceptor, so calls that
auth refuses are seen with their status too. Per call it costs a clock
read, two counter increments and a histogram observation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc

from ..domain.jobs import JobObserver
from .calls import CallRecord, Observed, kind_of
from .instruments import ServiceMetrics

_UNKNOWN = "/unknown/unknown"


class CallInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

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
        return call

    def _unary(self, method: str, kind: str, behavior: Any) -> Any:
        def observed(request: Any, context: Any) -> Any:
            call = self._begin(method, kind, context)
            try:
                response = behavior(request, Observed(context, call))
            except BaseException:
                self._end(call, _code(context, grpc.StatusCode.UNKNOWN))
                raise
            self._end(call, _code(context, grpc.StatusCode.OK))
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
                self._end(call, code)
        return observed

    def _end(self, call: CallRecord, code: grpc.StatusCode) -> None:
        self.metrics.call_ended(call.children, code, time.perf_counter() - call.started)


def _code(context: Any, otherwise: grpc.StatusCode) -> grpc.StatusCode:
    """The status the call ends with: what the servicer (or an abort) set,
    else `otherwise`."""
    code = context.code()
    return otherwise if code is None else code


class JobWatch(JobObserver):
    """Each job's end, in the metrics."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def ended(self, tenant: str, record: dict[str, Any], origin: Any,
              queued_seconds: float, run_seconds: float) -> None:
        self.metrics.job_ended(record["type"], record["state"], queued_seconds, run_seconds)
