"""`make run`'s entry point: it serves a generated demo bank and prints grpcurl
commands that work as printed."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pyarrow.compute as pc
import pyarrow.parquet as pq
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.client.api import FinsegClient, income_spending_summary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_prints_grpcurl_commands_that_work(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "finseg.cli.demo", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--demo-dir", str(tmp_path / "bank")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=tmp_path)  # it makes ./finseg-dev-secret: not in the checkout
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 240
        assert demo.stdout is not None
        while not any("Press Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = demo.stdout.readline()
            assert line, f"demo exited early: {''.join(lines)}"
            lines.append(line)
        text = "".join(lines)
        commands = [c.strip() for c in re.findall(r"^  (\S*grpcurl .*?)$", text, re.M)]
        listing = subprocess.run(commands[0], shell=True, capture_output=True, text=True,
                                 timeout=60)
        assert "finseg.v1.SegmentService" in listing.stdout, listing.stderr
        created = subprocess.run(commands[1], shell=True, capture_output=True, text=True,
                                 timeout=60)
        assert created.returncode == 0, created.stderr
        segment_id = json.loads(created.stdout)["segment"]["segment_id"]
        get_command = (commands[2].rstrip("\\").strip() + " " +
                       re.search(r"^\s+(127\.0\.0\.1:\d+ finseg\.v1\.SegmentService/GetSegment)$",
                                 text, re.M).group(1))
        get_command = get_command.replace("<segment_id from above>", segment_id)
        for _ in range(100):
            out = subprocess.run(get_command, shell=True, capture_output=True, text=True,
                                 timeout=60)
            assert out.returncode == 0, out.stderr
            body = json.loads(out.stdout)
            if body["segment"]["state"] == "JOB_STATE_SUCCEEDED":
                break
            time.sleep(0.1)
        # The demo bank has customers below zero every month: the segment is
        # not empty, and the page holds the 5 members asked for.
        assert int(body["segment"]["total_elements"]) > 5
        assert len(body["page"]["low_balance"]["members"]) == 5
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=60)
    assert demo.returncode == 0
    assert (tmp_path / "finseg-dev-secret").stat().st_mode & 0o077 == 0  # owner only


class Demo:
    """`make run`'s process on `port`, its banner awaited in a thread."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finseg.cli.demo", "--port", str(port),
             "--data-dir", str(tmp_path / "data"), "--demo-dir", str(tmp_path / "bank")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
        self.banner = threading.Event()
        self.banner_after = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "Press Ctrl-C" in line:
                self.banner_after = time.monotonic() - self.started
                self.banner.set()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def test_demo_serves_only_once_the_bank_is_loaded_and_restarts_within_10_s(
        tmp_path: Path) -> None:
    port = free_port()
    target = f"127.0.0.1:{port}"
    demo = Demo(tmp_path, port)
    statuses = []
    try:
        # Reconnecting at once, not after gRPC's backoff of a second or more,
        # so that the few seconds of loading are seen.
        fast = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.min_reconnect_backoff_ms", 50),
                ("grpc.max_reconnect_backoff_ms", 100)]
        with grpc.insecure_channel(target, options=fast) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 240
            while not statuses or statuses[-1] != health_pb2.HealthCheckResponse.SERVING:
                assert time.monotonic() < deadline and demo.process.poll() is None, statuses
                time.sleep(0.05)
                printed = demo.banner.is_set()
                try:
                    statuses.append(health.Check(health_pb2.HealthCheckRequest(),
                                                 timeout=5).status)
                except grpc.RpcError:  # not listening yet
                    continue
                # The banner tells the user it is ready: health must agree.
                assert not printed or statuses[-1] == health_pb2.HealthCheckResponse.SERVING
        assert health_pb2.HealthCheckResponse.NOT_SERVING in statuses
        # Once SERVING, every transaction of the bank is there.
        rows = pq.read_table(tmp_path / "bank" / "transactions.parquet", columns=["amount"])
        nonzero = int(pc.sum(pc.not_equal(rows.column("amount"), 0)).as_py())
        with FinsegClient(target) as client:
            job = client.create_segment(income_spending_summary(dt.date(1900, 1, 1),
                                                                dt.date(2199, 12, 31)))
            counted = sum(c.incoming_count + c.outgoing_count
                          for m in client.members(job.segment_id) for c in m.currencies)
        assert counted == nonzero
        assert demo.banner.wait(60)
    finally:
        code = demo.stop()
    assert code == 0

    # A warm start: data, demo bank and compiled kernels are there already.
    demo = Demo(tmp_path, port)
    try:
        assert demo.banner.wait(60)
        print(f"banner {demo.banner_after:.2f} s after a warm start")
        assert demo.banner_after < 10
    finally:
        code = demo.stop()
    assert code == 0
