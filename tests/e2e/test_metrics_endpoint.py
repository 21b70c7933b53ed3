"""Who may read /metrics: loopback by default, and beyond it only over the
service's TLS with a token carrying metrics:read (issue 12, point 6)."""

from __future__ import annotations

import datetime as dt
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from certs import Certs, generate
from conftest import start_server, token_for

from finseg.client.api import FinsegClient, high_balance
from finseg.server.app import Service

AS_OF = dt.date(2026, 3, 1)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return generate(tmp_path_factory.mktemp("certs"))


def mtls_service(data_dir: Path, certs: Certs, **settings: object) -> Service:
    return start_server(data_dir, plaintext=False, tls_cert_file=certs.server_cert,
                        tls_key_file=certs.server_key, tls_client_ca_file=certs.ca,
                        metrics_port=0, **settings)


def client_tls(certs: Certs, with_certificate: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs.ca))
    if with_certificate:
        context.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return context


def scrape(service: Service, context: ssl.SSLContext, token: str | None = None) -> str:
    request = urllib.request.Request(f"https://127.0.0.1:{service.metrics.server_port}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return response.read().decode()


def status(service: Service, context: ssl.SSLContext, token: str | None) -> int:
    try:
        scrape(service, context, token)
        return 200
    except urllib.error.HTTPError as error:
        return error.code


def use(service: Service, certs: Certs) -> None:
    """One job of tenant acme, so the counters have something to show."""
    credentials = grpc.ssl_channel_credentials(
        certs.ca.read_bytes(), certs.client_key.read_bytes(), certs.client_cert.read_bytes())
    with FinsegClient(f"localhost:{service.port}", token_for("acme"),
                      credentials=credentials) as client:
        client.upsert_accounts([{"account_id": "a1", "user_id": "u1", "type": "CHECKING",
                                 "currency": "EUR", "balance": 100,
                                 "balance_date": "2026-02-01"}])
        client.members(client.create_segment(high_balance("EUR", 0, as_of=AS_OF)).segment_id)


def test_metrics_listen_on_loopback_by_default_beside_mutual_tls(tmp_path: Path,
                                                                  certs: Certs) -> None:
    service = mtls_service(tmp_path / "data", certs)
    try:
        assert service.metrics.server_address[0] == "127.0.0.1"
        use(service, certs)
        text = scrape(service, client_tls(certs))
        assert 'finseg_jobs_created_total{type="HIGH_BALANCE"} 1.0' in text
        assert "acme" not in text
    finally:
        service.stop(0)


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[Service]:
    # All addresses, but the test only ever connects over loopback.
    service = mtls_service(tmp_path_factory.mktemp("exposed") / "data", certs,
                           metrics_host="0.0.0.0")
    try:
        use(service, certs)
        yield service
    finally:
        service.stop(0)


@pytest.mark.parametrize(("token", "expected"), [
    (None, 401),
    ("not-a-token", 401),
    (lambda: token_for("acme", ["segments:read", "usage:read", "audit:read"]), 403),
    (lambda: token_for("acme", ["metrics:read"]), 200),
])
def test_exposed_metrics_need_a_token_with_metrics_read(exposed: Service, certs: Certs,
                                                       token, expected) -> None:
    value = token() if callable(token) else token
    assert status(exposed, client_tls(certs), value) == expected


def test_exposed_metrics_keep_the_services_mutual_tls(exposed: Service, certs: Certs) -> None:
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        scrape(exposed, client_tls(certs, with_certificate=False),
               token_for("acme", ["metrics:read"]))


def test_exposed_metrics_without_tls_or_tokens_are_refused_at_start(tmp_path: Path,
                                                                     certs: Certs) -> None:
    with pytest.raises(ValueError, match="needs TLS"):
        start_server(tmp_path / "a", metrics_port=0, metrics_host="0.0.0.0")
    with pytest.raises(ValueError, match="needs token verification"):
        start_server(tmp_path / "b", plaintext=False, tls_cert_file=certs.server_cert,
                     tls_key_file=certs.server_key, metrics_port=0, metrics_host="0.0.0.0",
                     jwt_key_file=None, dev_tenant="demo")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
