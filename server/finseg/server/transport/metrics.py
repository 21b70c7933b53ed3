"""Prometheus counters of usage per tenant and segment type, read from the
meter at each scrape, so they equal what GetUsage answers and survive
restarts (they count from the tenant's first call, not the process's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily

from ..domain.usage import Meter

_HELP = {
    "jobs_created": "Segment jobs created",
    "rows_scanned": "Transactions read by finished segment jobs",
    "result_rows_returned": "Result members sent by GetSegment and StreamSegment",
}


class UsageCollector:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def collect(self) -> Iterator[CounterMetricFamily]:
        families = {name: CounterMetricFamily(f"finseg_{name}", help_text,
                                              labels=["tenant", "type"])
                    for name, help_text in _HELP.items()}
        for (tenant, type_name), counters in sorted(self.meter.everything().items()):
            for name, family in families.items():
                family.add_metric([tenant, type_name], counters[name])
        yield from families.values()


def serve_metrics(meter: Meter, host: str, port: int, certfile: str | None = None,
                  keyfile: str | None = None) -> Any:
    """Starts the /metrics endpoint (HTTPS with the service's certificate
    when it has one); returns the HTTP server, whose server_port is the
    port and whose shutdown() stops it."""
    registry = CollectorRegistry()  # per service: tests run several in one process
    registry.register(UsageCollector(meter))  # type: ignore[arg-type]
    server, _thread = start_http_server(port, addr=host, registry=registry,
                                        certfile=certfile, keyfile=keyfile)
    return server
