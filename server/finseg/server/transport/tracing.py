"""OpenTelemetry spans for calls and jobs, exported over OTLP/HTTP.

Imported only when an endpoint is configured, so a service without one
carries none of the SDK. Each service has its own TracerProvider (tests run
several services in one process; the global provider would mix them). A
call's span continues the client's trace when the call carries a W3C
`traceparent`; a job's span is a child of its CreateSegment call's span and
spans the job from creation to its end.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError as exc:  # pragma: no cover - both are dependencies of finseg
    raise ValueError("--otlp-endpoint needs the OpenTelemetry SDK and its OTLP/HTTP exporter: "
                     "pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http "
                     f"({exc})") from exc

#: Codes that are the server's fault (OpenTelemetry's gRPC conventions);
#: the others are the caller's and leave the span's status unset.
SERVER_ERRORS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                           grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                           grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})

_propagator = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of an endpoint given as its base
    (http://collector:4318) or in full (…/v1/traces)."""
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"--otlp-endpoint {endpoint!r} must be the http:// or https:// URL of "
                         "an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318")
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"


class Tracing:
    def __init__(self, endpoint: str, service_name: str = "finseg") -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
        self.tracer = self.provider.get_tracer("finseg")

    def start_call(self, method: str, metadata: Any) -> Any:
        service, _, name = method.lstrip("/").partition("/")
        parent = _propagator.extract({key: value for key, value in metadata or ()
                                      if key in ("traceparent", "tracestate")})
        return self.tracer.start_span(
            method.lstrip("/"), context=parent, kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name})

    def activate(self, span: Any) -> Any:
        return otel_context.attach(trace.set_span_in_context(span))

    def deactivate(self, token: Any) -> None:
        otel_context.detach(token)

    def end_call(self, span: Any, code: grpc.StatusCode, tenant: str, job_id: str) -> None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if tenant:
            span.set_attribute("finseg.tenant", tenant)
        if job_id:
            span.set_attribute("finseg.segment_id", job_id)
        if code in SERVER_ERRORS:
            span.set_status(trace.Status(trace.StatusCode.ERROR, code.name))
        span.end()

    def origin(self) -> Any:
        """The current span's context (the CreateSegment call's), for the
        job it creates."""
        context = trace.get_current_span().get_span_context()
        return context if context.is_valid else None

    def job(self, tenant: str, record: dict[str, Any], origin: Any, queued: float,
            ran: float) -> None:
        end = time.time_ns()
        parent = trace.set_span_in_context(trace.NonRecordingSpan(origin)) \
            if origin is not None else None
        span = self.tracer.start_span(
            f"segment job {record['type']}", context=parent, kind=trace.SpanKind.INTERNAL,
            start_time=end - int((queued + ran) * 1e9), attributes={
                "finseg.tenant": tenant, "finseg.segment_id": record["id"],
                "finseg.segment_type": record["type"], "finseg.job.state": record["state"],
                "finseg.job.queued_seconds": queued, "finseg.job.run_seconds": ran,
                "finseg.job.rows_scanned": record["rows_scanned"],
                "finseg.job.members": record["total_elements"]})
        if record["state"] == "FAILED":
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=end)

    def shutdown(self) -> None:
        """Exports what is still buffered."""
        self.provider.shutdown()
