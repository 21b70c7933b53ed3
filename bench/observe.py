"""What call logs and tracing add per call (issue 13):
`python -m bench.observe` (`make bench-observe`).

Starts `finseg serve` as a separate process per mode, loads 100 accounts,
makes one HIGH_BALANCE job and then, against each server in turn for
`--rounds` rounds, `--calls` GetSegment calls of a 10-member page one
after another; the report gives each mode's median latency (the median of
the rounds' medians) and the difference to the first mode. Modes are
extra `finseg serve` flags; `{otlp}` in one stands for a local OTLP/HTTP
receiver that accepts and discards what it is sent. The servers' output
goes to /dev/null. Running it with an older checkout's sources first on
PYTHONPATH (and `--mode plain=`) gives the figure before a change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import tempfile
import threading
import time
from pathlib import Path

from finseg.cli.tokens import ensure_secret, mint
from finseg.client import api

from .auth import ModeServer, median_seconds, print_medians

#: The first is the reference: metrics only (they cannot be turned off).
DEFAULT_MODES = ("no call log=--log-level WARNING", "text log=", "json log=--log-format json",
                 "tracing=--log-level WARNING --otlp-endpoint {otlp}")


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def receiver() -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def prepare(client: api.FinsegClient) -> str:
    """A finished job with 100 members; its id."""
    client.upsert_accounts([{"account_id": f"a{i}", "user_id": f"u{i}", "type": "CHECKING",
                             "currency": "EUR", "balance": 100 + i,
                             "balance_date": "2026-02-01"} for i in range(100)])
    job = client.create_segment(api.high_balance("EUR", 0, as_of=dt.date(2026, 3, 1)))
    while client.get_segment(job.segment_id).segment.state != 3:  # SUCCEEDED
        time.sleep(0.05)
    return job.segment_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mode", action="append", metavar="NAME=FLAGS",
                        help=f"a server to compare (repeatable; default: {DEFAULT_MODES})")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="finseg-bench-observe-"))
    secret = ensure_secret(work / "secret")
    token = mint(secret, "bench", ["ingest:write", "segments:read",
                                   "segments:create:high_balance"], ttl_seconds=7200)
    sink = receiver()
    otlp = f"http://127.0.0.1:{sink.server_port}"
    modes = dict(mode.split("=", 1) for mode in args.mode or DEFAULT_MODES)
    servers = {name: ModeServer(work / f"data-{n}", ["--jwt-key-file", str(work / "secret"),
                                                     *flags.format(otlp=otlp).split()])
               for n, (name, flags) in enumerate(modes.items())}
    try:
        for server in servers.values():
            server.wait_ready()
        clients = {name: api.FinsegClient(server.target, token, timeout=10)
                   for name, server in servers.items()}
        jobs = {name: prepare(client) for name, client in clients.items()}
        medians: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.rounds):
            for name, client in clients.items():
                medians[name].append(median_seconds(
                    lambda c=client, j=jobs[name]: c.get_segment(j, page_size=10), args.calls))
    finally:
        for server in servers.values():
            server.stop()
        sink.shutdown()
    print_medians(f"GetSegment (10 members), {args.calls} sequential calls x {args.rounds} "
                  "rounds", medians, next(iter(medians)))


if __name__ == "__main__":
    main()
