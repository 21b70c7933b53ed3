"""OpenTelemetry traces over OTLP/HTTP (issue 13, point 9): `finseg serve
--otlp-endpoint` sends a span per call and one per job, under the
CreateSegment call that made it, to a real OTLP/HTTP receiver on loopback;
without the flag nothing is sent and the SDK is not even loaded."""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import connect
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from process import ServerProcess

from finseg.client.api import high_balance

AS_OF = dt.date(2026, 3, 1)
#: A client's trace context (W3C traceparent) the service's spans continue.
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"


class Receiver(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP traces receiver: POST /v1/traces, protobuf bodies."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def spans(self) -> list[tuple[Any, dict[str, Any], Any]]:
        """(span, its attributes, its resource) of everything received."""
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                for scope in resource_spans.scope_spans:
                    out.extend((span, _attributes(span.attributes), resource_spans.resource)
                               for span in scope.spans)
        return out


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.paths.append(self.path)
        self.server.requests.append(ExportTraceServiceRequest.FromString(body))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _attributes(pairs: Any) -> dict[str, Any]:
    values = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()
    server.server_close()


def calls_and_a_job(target: str) -> str:
    with connect(target, "acme") as client:
        client.upsert_accounts([{"account_id": "a1", "user_id": "u1", "type": "CHECKING",
                                 "currency": "EUR", "balance": 100,
                                 "balance_date": "2026-02-01"}])
        client.metadata = (*client.metadata, ("traceparent", TRACEPARENT))
        job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF)).segment_id
        client.metadata = client.metadata[:-1]
        client.members(job)
        with pytest.raises(grpc.RpcError):
            client.get_segment("0" * 32)
    return job


def test_calls_and_jobs_arrive_as_spans(tmp_path: Path, receiver: Receiver) -> None:
    server = ServerProcess(tmp_path / "data", "--otlp-endpoint", receiver.endpoint)
    try:
        job = calls_and_a_job(server.target)
    finally:
        assert server.stop() == 0  # a stop exports what is still buffered
    assert set(receiver.paths) == {"/v1/traces"}
    spans = receiver.spans()
    by_name = {span.name: (span, attributes) for span, attributes, _ in spans}
    assert {"finseg.v1.IngestionService/UpsertAccounts", "finseg.v1.SegmentService/CreateSegment",
            "finseg.v1.SegmentService/StreamSegment", "finseg.v1.SegmentService/GetSegment",
            "segment job HIGH_BALANCE"} <= set(by_name)

    create, created = by_name["finseg.v1.SegmentService/CreateSegment"]
    assert created == {"rpc.system": "grpc", "rpc.service": "finseg.v1.SegmentService",
                       "rpc.method": "CreateSegment", "rpc.grpc.status_code": 0,
                       "finseg.tenant": "acme", "finseg.segment_id": job}
    assert create.kind == create.SPAN_KIND_SERVER
    assert create.trace_id.hex() == CLIENT_TRACE  # it continues the client's trace

    run, ran = by_name["segment job HIGH_BALANCE"]
    assert (run.trace_id, run.parent_span_id) == (create.trace_id, create.span_id)
    assert (ran["finseg.segment_id"], ran["finseg.tenant"], ran["finseg.job.state"]) == (
        job, "acme", "SUCCEEDED")
    assert ran["finseg.job.members"] == 1
    assert run.end_time_unix_nano > run.start_time_unix_nano >= create.start_time_unix_nano

    _, missing = by_name["finseg.v1.SegmentService/GetSegment"]
    assert missing["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert missing["finseg.segment_id"] == "0" * 32  # the one asked for
    resources = {_attributes(resource.attributes)["service.name"] for _, _, resource in spans}
    assert resources == {"finseg"}


def test_without_an_endpoint_nothing_is_exported(tmp_path: Path, receiver: Receiver) -> None:
    # The SDK's own variables alone turn nothing on.
    server = ServerProcess(tmp_path / "data", env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_TRACES_EXPORTER": "otlp"})
    try:
        calls_and_a_job(server.target)
        time.sleep(1)
    finally:
        server.stop()
    assert receiver.requests == []


def test_without_an_endpoint_the_sdk_is_not_loaded(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from finseg.client.api import FinsegClient
        from finseg.server.app import create_server
        from finseg.server.settings import Settings
        service = create_server(Settings(data_dir=Path({str(tmp_path / 'data')!r}), port=0,
                                         dev_tenant="demo", plaintext=True))
        with FinsegClient(f"127.0.0.1:{{service.port}}") as client:
            client.get_taxonomy()
        service.stop(0)
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_an_endpoint_that_is_not_a_url_is_refused_at_start(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--otlp-endpoint", "127.0.0.1:4318", wait=False)
    code, output = server.exit()
    assert code == 2
    assert "must be the http:// or https:// URL of an OTLP/HTTP receiver" in output
    assert not (tmp_path / "data").exists()
