"""The Prometheus /metrics endpoint (the service's other metrics are in
transport/instruments.py).

Usage counters are read from the meter at each scrape, so they equal what
GetUsage answers and survive restarts (they count from the tenant's first
call, not the process's). They are summed over tenants unless tenant labels
are asked for: whoever may scrape would otherwise learn which institutions
the service holds and how much each uses it.

The endpoint listens on loopback by default, where the scraping agent runs
beside the service. On any other address it needs the service's TLS files
(and its client CA, when the service has one) and a bearer token with the
scope metrics:read on every scrape, verified like a gRPC call's.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer

from ..domain.usage import Meter
from ..errors import FinsegError, PermissionDenied
from ..settings import Settings
from .auth import METRICS_READ, Verifier

_HELP = {
    "jobs_created": "Segment jobs created",
    "rows_scanned": "Transactions read by finished segment jobs",
    "result_rows_returned": "Result members sent by GetSegment and StreamSegment",
}


class UsageCollector:
    def __init__(self, meter: Meter, tenant_labels: bool) -> None:
        self.meter = meter
        self.tenant_labels = tenant_labels

    def collect(self) -> Iterator[CounterMetricFamily]:
        labels = ["tenant", "type"] if self.tenant_labels else ["type"]
        families = {name: CounterMetricFamily(f"finseg_{name}", help_text, labels=labels)
                    for name, help_text in _HELP.items()}
        totals: dict[tuple[str, ...], dict[str, int]] = {}
        for (tenant, type_name), counters in self.meter.everything().items():
            key: tuple[str, ...] = (tenant, type_name) if self.tenant_labels else (type_name,)
            sums = totals.setdefault(key, dict.fromkeys(_HELP, 0))
            for name in _HELP:
                sums[name] += counters[name]
        for key, sums in sorted(totals.items()):
            for name, family in families.items():
                family.add_metric(list(key), sums[name])
        yield from families.values()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_settings(settings: Settings, verifier: Verifier | None) -> None:
    """Refuses, before anything starts, to expose /metrics unprotected."""
    if settings.metrics_port is None or is_loopback(settings.metrics_host):
        return
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        raise ValueError(f"/metrics on {settings.metrics_host} (not loopback) needs TLS: give "
                         "--tls-cert and --tls-key, or keep --metrics-host on 127.0.0.1")
    if verifier is None:
        raise ValueError(f"/metrics on {settings.metrics_host} (not loopback) needs token "
                         "verification (--jwt-key-file or --jwt-jwks-file)")


App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _guarded(app: App, verifier: Verifier) -> App:
    """The app behind a bearer token with the scope metrics:read."""
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            verifier.identify(environ.get("HTTP_AUTHORIZATION", "")).require(METRICS_READ)
        except FinsegError as error:
            status = "403 Forbidden" if isinstance(error, PermissionDenied) \
                else "401 Unauthorized"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                    ("WWW-Authenticate", "Bearer")])
            return [error.message.encode()]
        return app(environ, start_response)
    return guarded


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # scrapes every few seconds would drown the service's log


def _tls(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    if settings.tls_client_ca_file is not None:
        context.load_verify_locations(str(settings.tls_client_ca_file))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def serve_metrics(registry: CollectorRegistry, settings: Settings,
                  verifier: Verifier | None) -> Any:
    """Starts the /metrics endpoint for the service's registry; returns the
    HTTP server, whose server_port is the port and whose shutdown() stops it."""
    assert settings.metrics_port is not None
    app: App = make_wsgi_app(registry)
    exposed = not is_loopback(settings.metrics_host)
    if exposed:
        assert verifier is not None  # check_settings ran
        app = _guarded(app, verifier)

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in settings.metrics_host else socket.AF_INET

    httpd = make_server(settings.metrics_host.strip("[]"), settings.metrics_port, app,
                        Server, handler_class=_Quiet)
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        httpd.socket = _tls(settings).wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, name="finseg-metrics", daemon=True).start()
    return httpd
