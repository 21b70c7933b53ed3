"""`make run`'s entry point: it serves a generated demo bank and prints grpcurl
commands that work as printed."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


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
