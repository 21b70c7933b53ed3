"""TLS and mutual TLS against real servers on loopback ports (README
"Security"): the right CA gets real calls through, anything else is refused
at the handshake, misconfiguration is refused at start, and the container's
health check speaks TLS."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from certs import Certs, generate
from conftest import connect, start_server
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.client.api import FinsegClient, high_balance
from finseg.server.app import Service

CODE = grpc.StatusCode
#: Every call gets a deadline: a refused handshake must fail, never hang.
TIMEOUT = 10.0


# ---- fixtures and helpers --------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return generate(tmp_path_factory.mktemp("certs"))


def _serve(data_dir: Path, certs: Certs, client_ca: Path | None = None) -> Iterator[Service]:
    service = start_server(data_dir, plaintext=False, tls_cert_file=certs.server_cert,
                           tls_key_file=certs.server_key, tls_client_ca_file=client_ca)
    try:
        yield service
    finally:
        service.stop(0)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[Service]:
    yield from _serve(tmp_path_factory.mktemp("tls") / "data", certs)


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[Service]:
    yield from _serve(tmp_path_factory.mktemp("mtls") / "data", certs, client_ca=certs.ca)


def tls(ca: Path, cert: Path | None = None, key: Path | None = None
        ) -> grpc.ChannelCredentials:
    """Client credentials trusting `ca`, presenting `cert` when given."""
    return grpc.ssl_channel_credentials(
        ca.read_bytes(), key.read_bytes() if key else None, cert.read_bytes() if cert else None)


def tls_client(service: Service, credentials: grpc.ChannelCredentials | None,
               tenant: str = "acme") -> FinsegClient:
    """A client dialing the server by a name its certificate carries."""
    return connect(f"localhost:{service.port}", tenant, credentials=credentials,
                   timeout=TIMEOUT)


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def list_segments(client: FinsegClient) -> list[Any]:
    with client:
        return list(client.list_segments())


def assert_mutual_tls_serves(service: Service, certs: Certs) -> None:
    """Control for a refusal: the same server takes a right client certificate
    (the client sees a refused certificate only as a closed socket)."""
    credentials = tls(certs.ca, certs.client_cert, certs.client_key)
    assert list_segments(tls_client(service, credentials, tenant="control")) == []


def healthcheck(service: Service, ca: Path, server_name: str = "finseg", *more: str
                ) -> subprocess.CompletedProcess[str]:
    """The container's HEALTHCHECK command (Dockerfile), by IP as there."""
    return subprocess.run(
        [sys.executable, "-m", "finseg.cli.healthcheck", f"127.0.0.1:{service.port}",
         "--tls-ca", str(ca), "--server-name", server_name, *more],
        capture_output=True, text=True, timeout=30)


# ---- TLS -------------------------------------------------------------------

def test_client_trusting_the_ca_ingests_and_creates_segments(tls_server: Service,
                                                              certs: Certs) -> None:
    with tls_client(tls_server, tls(certs.ca), tenant="tls-roundtrip") as client:
        assert client.upsert_accounts([{
            "account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
            "balance": 10000, "balance_date": "2026-03-10"}]) == 1
        job = client.create_segment(high_balance("EUR", 5000))
        assert job.segment_id
        assert [s.segment_id for s in client.list_segments()] == [job.segment_id]


def test_client_trusting_another_ca_fails_the_handshake(tls_server: Service,
                                                        certs: Certs) -> None:
    # By address: "localhost" also resolves to ::1, where nothing listens, and
    # gRPC then reported that refusal as the last error, not the handshake.
    error = rpc_error(lambda: list_segments(connect(
        f"127.0.0.1:{tls_server.port}", "acme", credentials=tls(certs.wrong_ca),
        timeout=TIMEOUT)))
    assert error.code() == CODE.UNAVAILABLE
    # Refused for the certificate, not because nothing listens there.
    assert "handshake" in (error.details() or "").lower(), error.details()
    assert list_segments(tls_client(tls_server, tls(certs.ca), tenant="control")) == []


@pytest.mark.parametrize(("address", "name", "refusal"), [
    ("localhost", None, None), ("127.0.0.1", None, None), ("127.0.0.1", "finseg", None),
    ("127.0.0.1", "elsewhere", "hostname verification")])
def test_certificate_must_name_the_dialed_host(tls_server: Service, certs: Certs, address: str,
                                              name: str | None, refusal: str | None) -> None:
    """The SANs ("localhost", "finseg", 127.0.0.1) pass; any other name fails."""
    options = [("grpc.ssl_target_name_override", name)] if name else []
    with grpc.secure_channel(f"{address}:{tls_server.port}", tls(certs.ca),
                             options) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        if refusal is None:
            response = check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        else:
            error = rpc_error(lambda: check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT))
            assert error.code() == CODE.UNAVAILABLE
            assert refusal in (error.details() or "").lower(), error.details()


def test_plaintext_client_is_refused_on_the_tls_port(tls_server: Service,
                                                     certs: Certs) -> None:
    error = rpc_error(lambda: list_segments(tls_client(tls_server, None)))
    assert error.code() == CODE.UNAVAILABLE
    # Control: the port is up and serving TLS.
    assert list_segments(tls_client(tls_server, tls(certs.ca), tenant="control")) == []


def test_tls_does_not_replace_the_token(tls_server: Service, certs: Certs) -> None:
    """TLS authenticates the server, not the caller: a call still needs a token."""
    with FinsegClient(f"localhost:{tls_server.port}", None, credentials=tls(certs.ca),
                      timeout=TIMEOUT) as client:
        assert rpc_error(lambda: list(client.list_segments())).code() == CODE.UNAUTHENTICATED


# ---- mutual TLS ------------------------------------------------------------

def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_server: Service,
                                                           certs: Certs) -> None:
    error = rpc_error(lambda: list_segments(tls_client(mtls_server, tls(certs.ca))))
    assert error.code() == CODE.UNAVAILABLE
    assert_mutual_tls_serves(mtls_server, certs)


def test_mutual_tls_refuses_a_certificate_from_another_ca(mtls_server: Service,
                                                          certs: Certs) -> None:
    credentials = tls(certs.ca, certs.wrong_client_cert, certs.wrong_client_key)
    error = rpc_error(lambda: list_segments(tls_client(mtls_server, credentials)))
    assert error.code() == CODE.UNAVAILABLE
    assert_mutual_tls_serves(mtls_server, certs)


def test_mutual_tls_accepts_a_certificate_from_the_client_ca(mtls_server: Service,
                                                             certs: Certs) -> None:
    credentials = tls(certs.ca, certs.client_cert, certs.client_key)
    with tls_client(mtls_server, credentials, tenant="mtls") as client:
        assert client.upsert_accounts([{
            "account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
            "balance": 100, "balance_date": "2026-03-10"}]) == 1
        assert list(client.list_segments()) == []


def test_mutual_tls_still_needs_a_token(mtls_server: Service, certs: Certs) -> None:
    """A client certificate says who may connect, not which tenant is calling."""
    credentials = tls(certs.ca, certs.client_cert, certs.client_key)
    with FinsegClient(f"localhost:{mtls_server.port}", None, credentials=credentials,
                      timeout=TIMEOUT) as client:
        assert rpc_error(lambda: list(client.list_segments())).code() == CODE.UNAUTHENTICATED


# ---- configuration ---------------------------------------------------------

def test_no_tls_and_no_plaintext_is_refused_before_touching_data(tmp_path: Path) -> None:
    """Plaintext must be asked for; forgetting TLS must not open a clear port."""
    data_dir = tmp_path / "data"
    with pytest.raises(ValueError, match="--plaintext"):
        start_server(data_dir, plaintext=False)
    assert not data_dir.exists()


@pytest.mark.parametrize("files", [("server_cert",), ("server_key",), ("ca",),
                                   ("server_cert", "ca")])
def test_incomplete_tls_files_are_refused(tmp_path: Path, certs: Certs,
                                          files: tuple[str, ...]) -> None:
    names = {"server_cert": "tls_cert_file", "server_key": "tls_key_file",
             "ca": "tls_client_ca_file"}
    given = {names[f]: getattr(certs, f) for f in files}
    data_dir = tmp_path / "data"
    # Even with --plaintext: half a TLS setup is a mistake, not a request.
    for plaintext in (False, True):
        with pytest.raises(ValueError, match="certificate file and a key file"):
            start_server(data_dir, plaintext=plaintext, **given)
    assert not data_dir.exists()


@pytest.mark.parametrize("files", ["key of another certificate", "certificate and key swapped",
                                   "client CA not a certificate"])
def test_unusable_tls_files_are_refused_before_touching_data(tmp_path: Path, certs: Certs,
                                                             files: str) -> None:
    """gRPC itself would only say "Failed to bind to address", with the
    store already open."""
    given = {"key of another certificate": {"tls_cert_file": certs.server_cert,
                                            "tls_key_file": certs.client_key},
             "certificate and key swapped": {"tls_cert_file": certs.server_key,
                                             "tls_key_file": certs.server_cert},
             "client CA not a certificate": {"tls_cert_file": certs.server_cert,
                                             "tls_key_file": certs.server_key,
                                             "tls_client_ca_file": certs.client_key}}[files]
    data_dir = tmp_path / "data"
    with pytest.raises(ValueError, match="TLS"):
        start_server(data_dir, plaintext=False, **given)
    assert not data_dir.exists()


# ---- the container health check -------------------------------------------

def test_healthcheck_passes_over_tls(tls_server: Service, certs: Certs) -> None:
    out = healthcheck(tls_server, certs.ca)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("wrong", ["ca", "server_name"])
def test_healthcheck_fails_when_the_server_is_not_trusted(tls_server: Service, certs: Certs,
                                                          wrong: str) -> None:
    out = healthcheck(tls_server, certs.wrong_ca if wrong == "ca" else certs.ca,
                      server_name="elsewhere" if wrong == "server_name" else "finseg")
    assert out.returncode == 1
    assert "unhealthy: UNAVAILABLE" in out.stderr


def test_healthcheck_under_mutual_tls_presents_a_client_certificate(mtls_server: Service,
                                                                     certs: Certs) -> None:
    assert healthcheck(mtls_server, certs.ca).returncode == 1  # no certificate: refused
    out = healthcheck(mtls_server, certs.ca, "finseg", "--client-cert", str(certs.client_cert),
                      "--client-key", str(certs.client_key))
    assert out.returncode == 0, out.stderr
