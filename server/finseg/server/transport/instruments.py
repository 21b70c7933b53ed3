"""The service's Prometheus metrics: calls, jobs, ingestion, the store and
the process, in one registry per service (tests run several services in
one process; prometheus-client's global REGISTRY would mix them).

Calls are counted with the names and labels of go-grpc-prometheus
(`grpc_server_handled_total`, `grpc_server_handling_seconds`), which
existing gRPC dashboards read. No label holds a user id; a tenant name
only on ingestion counters, and only with `tenant_labels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily

#: GetSegment pages take well under a millisecond; AppendTransactions of a
#: large batch and a StreamSegment waiting for its job take seconds.
CALL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
               300.0, 600.0)
#: go-grpc-prometheus's grpc_type, by handler shape.
CALL_TYPES = {"unary_unary": "unary", "unary_stream": "server_stream",
              "stream_unary": "client_stream", "stream_stream": "bidi_stream"}


class ServiceMetrics:
    def __init__(self, tenant_labels: bool) -> None:
        self.tenant_labels = tenant_labels
        self.registry = registry = CollectorRegistry()
        # The library's own collectors of the process: a GCCollector of our
        # own would add a second hook to every garbage collection.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        call = ["grpc_service", "grpc_method", "grpc_type"]
        self.started = Counter("grpc_server_started", "Calls started", call, registry=registry)
        self.handled = Counter("grpc_server_handled", "Calls ended, by status code",
                               [*call, "grpc_code"], registry=registry)
        self.handling = Histogram("grpc_server_handling_seconds",
                                  "Time from a call's arrival to its end", call,
                                  buckets=CALL_BUCKETS, registry=registry)
        self.job_seconds = Histogram("finseg_job_duration_seconds",
                                     "Time a segment job ran on a worker (compute, encode, "
                                     "store), by final state", ["type", "state"],
                                     buckets=JOB_BUCKETS, registry=registry)
        self.job_queued = Histogram("finseg_job_queue_seconds",
                                    "Time a segment job waited for a worker", ["type"],
                                    buckets=JOB_BUCKETS, registry=registry)
        tenant = ["tenant"] if tenant_labels else []
        self.ingest_rows = Counter("finseg_ingest_rows", "Rows ingested, by outcome",
                                   [*tenant, "kind", "outcome"], registry=registry)
        self.ingest_bytes = Counter("finseg_ingest_bytes",
                                    "Bytes of ingestion requests received",
                                    [*tenant, "kind"], registry=registry)
        # A method's children, found once: labels() costs more than the
        # increment.
        self._calls: dict[tuple[str, str], _MethodChildren] = {}

    def add(self, collector: Any) -> None:
        self.registry.register(collector)

    def call_started(self, method: str, kind: str) -> _MethodChildren:
        """Counts the call; what `call_ended` takes."""
        children = self._calls.get((method, kind))
        if children is None:
            children = self._calls[(method, kind)] = _MethodChildren(self, method, kind)
        children.started.inc()
        return children

    def call_ended(self, children: _MethodChildren, code: grpc.StatusCode,
                   seconds: float) -> None:
        handled = children.handled.get(code)
        if handled is None:
            handled = children.handled[code] = self.handled.labels(*children.labels, code.name)
        handled.inc()
        children.handling.observe(seconds)

    def job_ended(self, type_name: str, state: str, queued: float, ran: float) -> None:
        self.job_queued.labels(type_name).observe(queued)
        self.job_seconds.labels(type_name, state).observe(ran)

    def ingested(self, tenant: str, kind: str, nbytes: int,
                 rows: dict[str, int] | None = None) -> None:
        """`nbytes` of a request received; `rows` stored, by outcome."""
        prefix = (tenant,) if self.tenant_labels else ()
        if nbytes:
            self.ingest_bytes.labels(*prefix, kind).inc(nbytes)
        for outcome, count in (rows or {}).items():
            self.ingest_rows.labels(*prefix, kind, outcome).inc(count)


class _MethodChildren:
    """One method's counters and histogram."""

    def __init__(self, metrics: ServiceMetrics, method: str, kind: str) -> None:
        service, _, name = method.lstrip("/").partition("/")
        self.labels = (service, name, CALL_TYPES.get(kind, kind))
        self.started = metrics.started.labels(*self.labels)
        self.handling = metrics.handling.labels(*self.labels)
        self.handled: dict[grpc.StatusCode, Any] = {}


class StoreCollector:
    """LMDB's own figures at each scrape: map size and use, file size,
    readers, and each named database's entries and bytes."""

    def __init__(self, space: Callable[[], dict[str, Any]]) -> None:
        self.space = space

    def collect(self) -> Iterator[GaugeMetricFamily]:
        space = self.space()
        for name, key, help_text in (
                ("map_size_bytes", "map_bytes", "LMDB map size: the largest the store may grow"),
                ("used_bytes", "used_bytes", "Bytes of the map in use (LMDB's high-water mark)"),
                ("file_bytes", "file_bytes", "Size of the data file"),
                ("readers", "readers", "LMDB reader slots in use"),
                ("max_readers", "max_readers", "LMDB reader slots")):
            yield GaugeMetricFamily(f"finseg_store_{name}", help_text, value=space[key])
        yield GaugeMetricFamily("finseg_store_map_used_ratio",
                                "Share of the map in use; ingestion stops at 0.9",
                                value=space["used_bytes"] / space["map_bytes"])
        entries = GaugeMetricFamily("finseg_store_db_entries", "Entries per named database",
                                    labels=["db"])
        size = GaugeMetricFamily("finseg_store_db_bytes", "Pages per named database, in bytes",
                                 labels=["db"])
        for db, (count, nbytes) in sorted(space["databases"].items()):
            entries.add_metric([db], count)
            size.add_metric([db], nbytes)
        yield entries
        yield size


class QueueCollector:
    """Segment jobs waiting for a worker and running, by type, at each scrape."""

    def __init__(self, depth: Callable[[], dict[str, tuple[int, int]]],
                 types: tuple[str, ...]) -> None:
        self.depth = depth
        self.types = types

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.depth()
        queued = GaugeMetricFamily("finseg_jobs_queued", "Segment jobs waiting for a worker",
                                   labels=["type"])
        running = GaugeMetricFamily("finseg_jobs_running", "Segment jobs running",
                                    labels=["type"])
        for type_name in self.types:
            waiting, busy = counts.get(type_name, (0, 0))
            queued.add_metric([type_name], waiting)
            running.add_metric([type_name], busy)
        yield queued
        yield running
