"""Service settings, with the defaults a new user gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Services anyone may call: load balancers probe health, and grpcurl needs
#: reflection to learn the API.
OPEN_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                 "grpc.reflection.v1.ServerReflection")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./data")
    #: LMDB's map size: the largest the database may grow. The file is sparse,
    #: so a large value costs no disk until used.
    map_size: int = 64 << 30
    host: str = "127.0.0.1"
    port: int = 50051
    #: Threads computing segment jobs (kernels release the GIL).
    workers: int = 2
    #: Threads serving RPCs, and the most calls in progress at once: one more
    #: is RESOURCE_EXHAUSTED at once instead of waiting unseen for a thread. A
    #: StreamSegment holds its thread while its job waits for a worker, so
    #: this must exceed the clients streaming at once (with 16, 32 clients
    #: left GetSegment queued behind parked streams: p99 846 ms).
    rpc_threads: int = 128
    #: Time zone whose "today" is the default as_of.
    timezone: str = "UTC"
    result_ttl_days: int = 14
    #: Jobs waiting for a worker, across tenants and per tenant; one more is
    #: RESOURCE_EXHAUSTED with a retry hint. The per-tenant bound keeps one
    #: tenant's burst from filling the queue for everyone else.
    max_queued_jobs: int = 64
    max_queued_jobs_per_tenant: int = 16
    #: Seconds between two sweeps deleting expired jobs and their results.
    sweep_seconds: float = 600.0
    #: Largest message the server accepts: one bulk batch of ~1M rows.
    max_message_bytes: int = 256 << 20
    #: The compactor merges the tail when it holds this many rows, or a
    #: quarter of the base, whichever is more; or when ingestion went idle.
    compact_min_rows: int = 1 << 20
    compact_idle_seconds: float = 1.0
    #: Bearer tokens (SPEC §7): the one JWT algorithm accepted, and either a
    #: key file (HS*: the shared secret; RS*/ES*/PS*: a PEM public key) or a
    #: JWKS file. `aud` and `iss` must equal these values.
    jwt_algorithm: str = "HS256"
    jwt_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    jwt_audience: str = "finseg"
    jwt_issuer: str = "finseg"
    #: The claim naming the caller's tenant.
    tenant_claim: str = "tenant"
    #: Development mode: a call without a token acts as this tenant, with
    #: every scope. Off unless set; the service warns at start and per method.
    dev_tenant: str | None = None
    open_services: tuple[str, ...] = OPEN_SERVICES
    #: TLS: the server's certificate chain and key (PEM). With a client CA,
    #: clients must present a certificate it signed (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    #: Listen without TLS; only when asked for (local use).
    plaintext: bool = False
    #: Port of the Prometheus /metrics endpoint; None: no endpoint.
    metrics_port: int | None = None
    #: Address /metrics listens on. Loopback by default: the usage counters
    #: are the service's business. Any other address needs the TLS files and
    #: a token with the scope metrics:read on every scrape.
    metrics_host: str = "127.0.0.1"
    #: Label usage counters with tenant names; off by default, since anyone
    #: who may scrape would learn which institutions the service has.
    metrics_tenant_labels: bool = False
    #: Service log lines: "text" or "json" (one JSON object a line). Each
    #: call and each job's end is one line at INFO.
    log_format: str = "text"
    log_level: str = "INFO"
    #: OTLP/HTTP receiver for traces (e.g. http://127.0.0.1:4318); None: no
    #: tracing, and the OpenTelemetry SDK is not even imported.
    otlp_endpoint: str | None = None
    #: Days the audit log keeps an event.
    audit_retention_days: float = 90.0
    #: Live segments' events are kept at least this long (SPEC §5: 14 days).
    event_retention_days: float = 14.0
    #: Refused calls alike are counted for this long and recorded as one
    #: event (a refusal costs its caller nothing; an event per refusal would
    #: let anyone fill the store).
    refusal_window_seconds: float = 60.0
    #: Refusal events kept at most (about 400 bytes each); the oldest go first.
    max_refusal_events: int = 10_000
    #: Seconds in-flight calls get to finish after SIGTERM.
    grace_seconds: float = 10.0
