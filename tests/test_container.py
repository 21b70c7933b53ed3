"""The Dockerfile's commands, run here as its containers would run them
(there is no Docker engine in CI): each target's CMD starts a service that
its HEALTHCHECK finds healthy, the production one with the secrets at the
paths the Dockerfile documents; and the image installs no extra."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from certs import generate
from conftest import SECRET_FILE, token_for

from finseg.v1 import segments_pb2, segments_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and the
    comments inside them dropped, as Docker reads them."""
    out, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            out.append(current.strip())
            current = ""
    return out


def stages() -> dict[str, dict[str, list[str]]]:
    """Per build target: its CMD and its HEALTHCHECK's command."""
    found: dict[str, dict[str, list[str]]] = {}
    stage: dict[str, list[str]] = {}
    for instruction in instructions():
        if instruction.startswith("FROM "):
            stage = found.setdefault(instruction.split()[-1], {})
        elif instruction.startswith("CMD "):
            stage["cmd"] = json.loads(instruction[4:])
        elif instruction.startswith("HEALTHCHECK "):
            stage["healthcheck"] = json.loads(instruction.split(" CMD ", 1)[1])
    return found


def test_the_image_installs_the_service_and_its_dependencies_only() -> None:
    installs = [i for i in instructions() if "pip install" in i]
    assert "['project']['dependencies']" in installs[0]
    commands = [re.findall(r"pip install ([^&]*)", i) for i in installs]
    assert [c.strip() for found in commands for c in found] == [
        "-r /tmp/requirements.txt", "--no-deps ./client ."]


@pytest.mark.parametrize("target", ["production", "dev"])
def test_each_target_starts_a_healthy_service(target: str, tmp_path: Path) -> None:
    targets = stages()
    assert list(targets)[-1] == "production"  # what a plain `docker build` gives
    secrets = tmp_path / "secrets"
    certs = generate(tmp_path / "certs")
    secrets.mkdir()
    for source, name in ((certs.server_cert, "finseg-tls.crt"), (certs.server_key,
                         "finseg-tls.key"), (certs.ca, "finseg-ca.crt"),
                         (SECRET_FILE, "finseg-jwt-key")):
        shutil.copy(source, secrets / name)
    port = free_port()

    def here(argv: list[str]) -> list[str]:
        """The container's command on this machine: loopback, a free port,
        the secrets and data in tmp_path, this Python (`finseg` is the
        console script of finseg.cli.main)."""
        programs = {"finseg": [sys.executable, "-m", "finseg.cli.main"],
                    "python": [sys.executable]}
        return [*programs.get(argv[0], argv[:1]), *(
            arg.replace("/run/secrets", str(secrets)).replace("0.0.0.0", "127.0.0.1")
            .replace("50051", str(port)).replace("/data", str(tmp_path / "data"))
            for arg in argv[1:])]

    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(here(targets[target]["cmd"]), stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(here(targets[target]["healthcheck"]),
                             capture_output=True).returncode != 0:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "never healthy"
            time.sleep(0.2)
        if target == "production":
            channel = grpc.secure_channel(
                f"127.0.0.1:{port}", grpc.ssl_channel_credentials(certs.ca.read_bytes()),
                [("grpc.ssl_target_name_override", "finseg")])
            metadata = [("authorization", f"Bearer {token_for('acme')}")]
        else:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            metadata = []  # development mode: no token
        with channel:
            segments = segments_pb2_grpc.SegmentServiceStub(channel)
            segments.ListSegments(segments_pb2.ListSegmentsRequest(), metadata=metadata,
                                  timeout=10)
            if target == "production":
                with pytest.raises(grpc.RpcError) as refused:
                    segments.ListSegments(segments_pb2.ListSegmentsRequest(), timeout=10)
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.terminate()
        server.wait(60)
