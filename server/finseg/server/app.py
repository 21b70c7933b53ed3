"""Assembles the service: store, domain, servicers, health and reflection."""

from __future__ import annotations

import errno
import faulthandler
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from finseg.v1 import (
    audit_pb2,
    ingest_pb2,
    segments_pb2,
    taxonomy_pb2,
    usage_pb2,
)

from . import logs, memory
from .domain.ingest import Compactor, Ingestor
from .domain.jobs import JobManager
from .domain.live import LiveSegments
from .domain.taxonomy import Taxonomies
from .domain.usage import Meter
from .kernels import warmup
from .settings import Settings
from .storage.store import Store
from .transport import events, metrics, reflection, wire
from .transport.audit import AuditInterceptor, Auditor, AuditServicer
from .transport.auth import SEGMENT_TYPES, AuthInterceptor, TokenConfig, Verifier
from .transport.convert import PageTokens
from .transport.instruments import QueueCollector, ServiceMetrics, StoreCollector
from .transport.observe import CallInterceptor, JobWatch
from .transport.registry import add_service
from .transport.servicers import (
    IngestionServicer,
    SegmentServicer,
    TaxonomyServicer,
    UsageServicer,
)
from .transport.webhooks import Webhooks

log = logging.getLogger("finseg")
#: Beyond the drain grace, how long stopping may take before the process
#: gives up on a clean stop (jobs stop at their next block, well within it).
STOP_MARGIN_SECONDS = 30.0
#: How often the live segments look whether the day changed.
LIVE_CLOCK_SECONDS = 1.0

SERVICE_NAMES = (
    ingest_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name,
    segments_pb2.DESCRIPTOR.services_by_name["SegmentService"].full_name,
    taxonomy_pb2.DESCRIPTOR.services_by_name["TaxonomyService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    usage_pb2.DESCRIPTOR.services_by_name["UsageService"].full_name,
)


@dataclass
class Service:
    """A running finseg: the gRPC server and the parts behind it."""

    server: grpc.Server
    port: int
    store: Store
    jobs: JobManager
    compactor: Compactor
    health: health.HealthServicer
    meter: Meter
    auditor: Auditor
    instruments: ServiceMetrics
    #: The /metrics HTTP server, when settings.metrics_port is set.
    metrics: Any = None
    #: transport.tracing.Tracing, when settings.otlp_endpoint is set.
    tracing: Any = None
    #: transport.webhooks.Webhooks, which delivers events and callbacks.
    webhooks: Any = None

    def set_serving(self, serving: bool = True) -> None:
        """What the health service reports, for the whole server and each
        of its services."""
        status = health_pb2.HealthCheckResponse.SERVING if serving \
            else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, status)

    def stop(self, grace: float | None = None) -> None:
        self.set_serving(False)
        self.server.stop(grace).wait()
        if self.metrics is not None:
            self.metrics.shutdown()
            self.metrics.server_close()
        if self.webhooks is not None:
            self.webhooks.stop()
        self.jobs.stop()
        if self.tracing is not None:
            self.tracing.shutdown()  # after the jobs: their spans end as they stop
        self.compactor.stop()
        self.meter.stop()
        self.auditor.stop()
        self.store.close()


def create_server(settings: Settings, *, serving: bool = True,
                  clock: Callable[[], float] = time.time) -> Service:
    """Builds and starts the service; binds settings.port (0 picks a free
    port, which tests use) and returns it in Service.port. With `serving`
    False, health reports NOT_SERVING until the caller's set_serving(): for
    one that must load data before anyone relies on the service. `clock`
    is the service's time (tests move it to change the day)."""
    # Configuration is checked before anything is opened or written.
    verifier = _verifier(settings)
    credentials = _credentials(settings)
    metrics.check_settings(settings, verifier)
    tracing = _tracing(settings)
    if settings.dev_tenant is not None:
        log.warning("DEVELOPMENT MODE: calls without a token act as tenant %r with every "
                    "scope. Never run this where anyone else can reach the port.",
                    settings.dev_tenant)
    store = Store(settings.data_dir, settings.map_size)
    store.audit.max_refusal_events = settings.max_refusal_events
    auditor = Auditor(store.audit, settings.refusal_window_seconds,
                      retention_days=settings.audit_retention_days,
                      sweep_seconds=settings.sweep_seconds)
    instruments = ServiceMetrics(settings.metrics_tenant_labels)
    # First, outside auth: refused calls are measured and logged too.
    interceptors = [CallInterceptor(instruments, tracing),
                    AuthInterceptor(verifier, settings.dev_tenant, settings.open_services,
                                    on_denied=auditor.denied),
                    AuditInterceptor(auditor)]  # after auth: it sees the caller
    meter = Meter(store)
    compactor = Compactor(store, settings.compact_min_rows, settings.compact_idle_seconds)
    live = LiveSegments(store, wire.encode_members, settings.timezone, clock, events.Codec)
    ingestor = Ingestor(store, on_append=compactor.notify, live=live)
    taxonomies = Taxonomies(store)
    jobs = JobManager(store, settings.workers, settings.timezone, settings.result_ttl_days,
                      clock=clock, taxonomies=taxonomies, max_queued=settings.max_queued_jobs,
                      max_queued_per_tenant=settings.max_queued_jobs_per_tenant,
                      encode=wire.encode_members, observer=JobWatch(instruments, tracing),
                      live=live)
    ingestor.on_withdrawn = jobs.rerun
    for collector in (metrics.UsageCollector(meter, settings.metrics_tenant_labels),
                      StoreCollector(store.env.space), QueueCollector(jobs.depth, SEGMENT_TYPES)):
        instruments.add(collector)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.rpc_threads,
                                   thread_name_prefix="finseg-rpc"),
        maximum_concurrent_rpcs=settings.rpc_threads,
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", settings.max_message_bytes),
                 ("grpc.max_send_message_length", settings.max_message_bytes),
                 # Else a second process could listen on the port too and
                 # take part of the calls, with its own in-memory state.
                 ("grpc.so_reuseport", 0)])
    add_service(server, IngestionServicer(ingestor, instruments),
                ingest_pb2.DESCRIPTOR.services_by_name["IngestionService"])
    tokens = PageTokens(store.env.secret("page-tokens"))
    add_service(server, SegmentServicer(jobs, tokens, meter),
                segments_pb2.DESCRIPTOR.services_by_name["SegmentService"])
    add_service(server, TaxonomyServicer(taxonomies),
                taxonomy_pb2.DESCRIPTOR.services_by_name["TaxonomyService"])
    add_service(server, AuditServicer(auditor, tokens),
                audit_pb2.DESCRIPTOR.services_by_name["AuditService"])
    add_service(server, UsageServicer(meter),
                usage_pb2.DESCRIPTOR.services_by_name["UsageService"])
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    # The library starts the server-wide status at SERVING: it is not,
    # until the end of this function or the caller's set_serving().
    health_servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable(server, (*SERVICE_NAMES, health.SERVICE_NAME))
    try:
        port = _listen(server, settings.host, settings.port, credentials)
    except OSError:
        store.close()  # and with it the data directory, for whoever comes next
        if tracing is not None:
            tracing.shutdown()
        raise
    # Before the server takes calls: a job created now must not be found
    # PENDING by recovery and run twice.
    jobs.recover()
    server.start()
    # Loading the cached kernels takes a moment; do it now, off the request
    # path, so the first job does not pay for it.
    threading.Thread(target=warmup.warm, name="finseg-warmup", daemon=True).start()
    store.warm_indexes()
    compactor.start()
    jobs.start_sweeper(settings.sweep_seconds)
    live.run_clock(LIVE_CLOCK_SECONDS, settings.event_retention_days)
    webhooks = Webhooks(jobs)
    jobs.ended_hooks.append(webhooks.job_ended)
    webhooks.start()
    meter.start()
    auditor.start()
    endpoint = None
    if settings.metrics_port is not None:
        endpoint = metrics.serve_metrics(instruments.registry, settings, verifier)
    service = Service(server, port, store, jobs, compactor, health_servicer, meter, auditor,
                      instruments, endpoint, tracing, webhooks)
    service.set_serving(serving)
    return service


def _tracing(settings: Settings) -> Any:
    """Tracing when an endpoint is given; the SDK is imported only then."""
    if settings.otlp_endpoint is None:
        return None
    from .transport.tracing import Tracing

    return Tracing(settings.otlp_endpoint)


def _listen(server: grpc.Server, host: str, port: int,
            credentials: grpc.ServerCredentials | None) -> int:
    address = f"{host}:{port}"
    try:
        bound = server.add_secure_port(address, credentials) if credentials is not None \
            else server.add_insecure_port(address)
    except RuntimeError:  # grpc's "Failed to bind to address", without the reason
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen on {address}: {_bind_failure(host, port)}")
    return bound


def _bind_failure(host: str, port: int) -> str:
    """Why the port cannot be bound, found by binding it as gRPC would
    (SO_REUSEADDR, no SO_REUSEPORT)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host.strip("[]"), port), family=family):
            return "gRPC could not bind it"
    except OSError as exc:
        return "the port is in use" if exc.errno == errno.EADDRINUSE else str(exc)


def _verifier(settings: Settings) -> Verifier | None:
    if settings.jwt_key_file is None and settings.jwt_jwks_file is None:
        if settings.dev_tenant is None:
            raise ValueError("no token verification configured: give a JWT key file or a "
                             "JWKS file (--jwt-key-file, --jwt-jwks-file), or --dev-tenant "
                             "for local development")
        return None
    return Verifier(TokenConfig(
        algorithm=settings.jwt_algorithm, audience=settings.jwt_audience,
        issuer=settings.jwt_issuer, key_file=settings.jwt_key_file,
        jwks_file=settings.jwt_jwks_file, tenant_claim=settings.tenant_claim))


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS credentials; None for plaintext, which must be asked for."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        if settings.tls_cert_file or settings.tls_key_file or settings.tls_client_ca_file:
            raise ValueError("TLS needs both a certificate file and a key file")
        if not settings.plaintext:
            raise ValueError("no TLS certificate configured: give --tls-cert and --tls-key, "
                             "or --plaintext for local use")
        return None
    chain, key = settings.tls_cert_file.read_bytes(), settings.tls_key_file.read_bytes()
    client_ca = settings.tls_client_ca_file.read_bytes() if settings.tls_client_ca_file \
        else None
    _check_tls_files(chain, key, client_ca)
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca,
                                       require_client_auth=client_ca is not None)


def _check_tls_files(chain: bytes, key: bytes, client_ca: bytes | None) -> None:
    """gRPC reports unusable TLS files only when binding, as "Failed to bind
    to address", and by then the store is open; say what is wrong first."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificates(chain)[0]
        private_key = serialization.load_pem_private_key(key, password=None)
        if client_ca is not None:
            x509.load_pem_x509_certificates(client_ca)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the TLS files cannot be used: {exc}") from exc
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(serialization.Encoding.DER, public) != \
            private_key.public_key().public_bytes(serialization.Encoding.DER, public):
        raise ValueError("the TLS key does not belong to the first certificate of the chain")


def serve(settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT, then drains."""
    logs.configure(settings.log_format, settings.log_level)
    memory.keep_freed_memory()
    stop = StopSignal()  # a signal while starting up stops it cleanly once up
    service = create_server(settings)
    log.info("finseg listening on %s:%d, data in %s", settings.host, service.port,
             settings.data_dir)
    signum = stop.wait()
    log.info("signal %d: draining", signum)
    # In-flight calls get `grace_seconds` to finish (a bulk batch commits in
    # well under a second; a StreamSegment is cut after the grace and the
    # client resumes it); new calls are refused at once.
    stop_within(service, settings.grace_seconds)


class StopSignal:
    """SIGTERM and SIGINT, caught from construction on: one that arrives
    before wait() is kept, not lost to the default action (death)."""

    def __init__(self) -> None:
        self._received: list[int] = []
        self._event = threading.Event()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._received.append(signum)
        self._event.set()

    def wait(self) -> int:
        """Blocks until a signal came and returns which. The wait wakes every
        half second: a signal the kernel hands to one of gRPC's threads only
        flags the main thread, which an untimed wait would never notice."""
        while not self._event.wait(0.5):
            pass
        # A second signal while draining stops at once, as users expect of Ctrl-C.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        return self._received[0]


def stop_within(service: Service, grace: float) -> None:
    """Stops the service; if that hangs, the threads' stacks go to stderr
    for the operator and the process exits (code 1) rather than hold the
    store's lock until someone kills it."""
    faulthandler.dump_traceback_later(grace + STOP_MARGIN_SECONDS, exit=True)
    service.stop(grace)
    faulthandler.cancel_dump_traceback_later()
