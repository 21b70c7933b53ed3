"""Fixtures shared by the tests: a real finseg server on a loopback port and
a client talking to it over a real channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finseg.client.api import FinsegClient
from finseg.server.app import Service, create_server
from finseg.server.settings import Settings


def start_server(data_dir: Path, **overrides: object) -> Service:
    options: dict[str, object] = {"host": "127.0.0.1", "port": 0, "map_size": 1 << 30,
                                  "compact_idle_seconds": 0.2, **overrides}
    return create_server(Settings(data_dir=data_dir, **options))  # type: ignore[arg-type]


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
    with FinsegClient(target, tenant="acme") as c:
        yield c
