"""SIGTERM stops the service cleanly (exit code 0) whenever it comes: while
the store opens, as soon as it is up, or when the kernel hands the signal to
one of gRPC's threads rather than the main one."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from process import ServerProcess

from finseg.server.app import StopSignal


def test_sigterm_during_start_up_stops_cleanly(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--dev-tenant", "dev", wait=False)
    try:
        deadline = time.monotonic() + 60
        # Its first words come as it checks its settings, before it opens
        # the store or listens; a signal while importing Python kills it
        # before it could write anything.
        while "DEVELOPMENT MODE" not in server.log.read_text():
            assert time.monotonic() < deadline and server.process.poll() is None
            time.sleep(0.01)
        assert server.stop() == 0, server.log.read_text()
    finally:
        server.process.kill()


def test_sigterm_once_up_stops_cleanly_and_at_once(tmp_path: Path) -> None:
    codes = []
    for _ in range(3):
        server = ServerProcess(tmp_path / "data")
        try:
            started = time.monotonic()
            codes.append(server.stop())
            assert time.monotonic() - started < 15, server.log.read_text()
        finally:
            server.process.kill()
    assert codes == [0, 0, 0]


def test_a_signal_delivered_to_another_thread_still_stops() -> None:
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        stop = StopSignal()

        def deliver() -> None:  # this thread, not the main one, receives it
            time.sleep(0.2)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

        threading.Thread(target=deliver).start()
        started = time.monotonic()
        assert stop.wait() == signal.SIGTERM
        assert time.monotonic() - started < 5
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
