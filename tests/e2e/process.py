"""`finseg serve` as a separate process, for tests that kill it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
from conftest import SECRET_FILE
from grpc_health.v1 import health_pb2, health_pb2_grpc


def backup(data_dir: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    """`finseg backup` of data_dir into dest, as a separate process."""
    return subprocess.run([sys.executable, "-m", "finseg.cli.main", "backup", "--data-dir",
                           str(data_dir), "--map-size", str(1 << 30), str(dest)],
                          capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`finseg serve` on a free port (or `port`); waits until it is healthy
    unless `wait` is False (a process expected to exit)."""

    def __init__(self, data_dir: Path, *extra: str, env: dict[str, str] | None = None,
                 port: int | None = None, wait: bool = True) -> None:
        self.port = port or free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"server-{data_dir.name}-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "finseg.cli.main", "serve", "--port", str(self.port),
                 "--data-dir", str(data_dir), "--map-size", str(1 << 30), "--plaintext",
                 "--jwt-key-file", str(SECRET_FILE), *extra],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        if wait:
            with grpc.insecure_channel(self.target) as channel:
                health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60)

    def exit(self, timeout: float = 60) -> tuple[int | None, str]:
        """(exit code, output) once the process ends by itself; a process
        still running after `timeout` is killed and gives None."""
        try:
            code: int | None = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        return code, self.log.read_text()

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)
