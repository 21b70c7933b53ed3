"""finseg's benchmark: `make bench` (never part of the tests).

For each bank size (5,000,000 and 50,000,000 transactions, generated once
and cached in bench/.cache) it:

- loads the bank into a real `finseg serve` process through the gRPC API,
  several times, for the ingest throughput;
- loads the same Parquet files into DuckDB and Polars (bench/peers), in
  memory, 2 threads each;
- checks, before timing anything, that finseg, DuckDB and Polars give
  identical members and figures for every segment of `bench.peers.queries`
  (any difference ends the run), the MERCHANT_AFFINITY drill-down being
  that of the bank's largest merchant (`plan_for`);
- times each segment in interleaved rounds: finseg's kernel (the job's
  compute time), finseg end to end (CreateSegment until the last page is
  received), the server's memory beyond the mapped store, DuckDB's and
  Polars' query time with the data loaded;
- finds the HIGH_BALANCE threshold giving about 100,000 members and times
  that segment end to end;
- measures StreamSegment's rows per second for a finished segment, and the
  service's start (first answered request, first segment answered) with
  the JIT cache warm and empty.

It measures this machine's read bandwidth once (bench/bandwidth.py) and
writes BENCHMARKS.md and docs/benchmark-chart.png (bench/report.py).
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.cli import generate
from finseg.cli.generate import BankParams, generate_bank
from finseg.cli.main import load_accounts, load_transactions
from finseg.cli.tokens import ensure_secret, mint
from finseg.client import api
from finseg.server.storage.store import Store
from finseg.v1 import segments_pb2

from . import report
from .bandwidth import measure as measure_bandwidth
from .scan import median_scans

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
#: The HS256 secret the benchmark's servers verify tokens with.
SECRET_FILE = CACHE / "dev-secret"
MAP_SIZE = 256 << 30
TENANT = "bench"
#: Rows per AppendTransactions batch, as `finseg load --batch-rows`.
BATCH_ROWS = 500_000
AS_OF = dt.date(2026, 11, 1)  # the generated history ends 2026-10-31


def ensure_bank(accounts: int, transactions: int, months: int = BankParams.months) -> Path:
    """The bank's folder, generated the first time (`months` of history)."""
    # Named after the generator's source too: a bank cached by an older
    # generator is other data, and a fresh clone must get what was measured.
    version = hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:12]
    history = "" if months == BankParams.months else f"-{months}m"
    folder = CACHE / f"bank-{accounts}-{transactions}{history}-{version}"
    if not (folder / "transactions.parquet").exists():
        print(f"generating {accounts} accounts / {transactions} transactions into {folder}")
        started = time.perf_counter()
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate_bank(partial, BankParams(accounts=accounts, transactions=transactions,
                                          months=months, seed=42), fmt="parquet")
        partial.rename(folder)
        print(f"  generated in {time.perf_counter() - started:.0f} s")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token(tenant: str) -> str:
    """A token with every scope for `tenant` on the benchmark's servers."""
    return mint(ensure_secret(SECRET_FILE), tenant)


class Server:
    """`finseg serve` as a separate process, as in production."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        ensure_secret(SECRET_FILE)  # the server verifies tokens with it
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finseg.cli.main", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--map-size", str(MAP_SIZE), "--plaintext",
             "--jwt-key-file", str(SECRET_FILE)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        # A failed run must not leave a server holding the store and memory.
        atexit.register(self.process.kill)

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds from process start until the first answered request."""
        with grpc.insecure_channel(self.target) as channel:
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=timeout)
        return time.perf_counter() - self.started

    def rss_anon(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)


def wait_compacted(data_dir: Path, timeout: float = 900) -> dict:
    """Waits until the service merged every batch into the sorted base."""
    store = Store(data_dir, MAP_SIZE, readonly=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tail, base = store.tail_rows(TENANT)
            if tail == 0 and base > 0:
                with store.snapshot(TENANT) as snap:
                    return {"rows": base, "accounts": snap.n_accounts,
                            "chunks": len(snap.state["base"]["chunks"])}
            time.sleep(0.5)
        raise TimeoutError("compaction did not finish")
    finally:
        store.close()


def load_once(bank: Path, data_dir: Path) -> tuple[float, Server]:
    shutil.rmtree(data_dir, ignore_errors=True)
    server = Server(data_dir)
    server.wait_ready()
    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        load_accounts(client, bank / "accounts.parquet", 100_000, False, False)
        started = time.perf_counter()
        appended, _ = load_transactions(client, bank / "transactions.parquet", BATCH_ROWS, False,
                                        False)
        seconds = time.perf_counter() - started
    rate = appended / seconds
    print(f"  loaded {appended} transactions in {seconds:.1f} s: {rate:,.0f} tx/s")
    return rate, server


def run_segment(server: Server, spec, sample: bool = True) -> dict:
    """Creates the job, streams every page, samples the server's memory
    (unless not `sample`: reading /proc every 2 ms slowed a job of 500,000
    members by a fifth, bench-e2e)."""
    peak = [0]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_anon())
            time.sleep(0.002)

    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        base = server.rss_anon()
        sampler = threading.Thread(target=sample_memory if sample else done.wait)
        sampler.start()
        started = time.perf_counter()
        segment = client.create_segment(spec)
        members = 0
        for response in client.stream_segment(segment.segment_id, page_size=10_000):
            members += len(getattr(response.page, response.page.WhichOneof("rows")).members)
            final = response.segment
        e2e = time.perf_counter() - started
        done.set()
        sampler.join()
    return {"compute": final.compute_time.ToNanoseconds() / 1e9, "e2e": e2e,
            "memory": max(peak[0] - base, 0), "peak": peak[0], "members": members,
            "id": segment.segment_id}


def median(values: list[float]) -> float:
    return statistics.median(values)


#: Bank sizes `make bench` compares (accounts, transactions).
SIZES = {"5M": (100_000, 5_000_000), "50M": (1_000_000, 50_000_000)}
#: Members the end-to-end target is stated for (issue 6).
E2E_MEMBERS = 100_000


def measure_size(label: str, accounts: int, transactions: int, args: argparse.Namespace
                 ) -> dict[str, Any]:
    """Everything `make bench` measures on one bank size."""
    from .peers.duckdb_peer import make as duckdb
    from .peers.polars_peer import make as polars

    bank = ensure_bank(accounts, transactions)
    data_dir = CACHE / f"data-{transactions}"
    rates: list[float] = []
    server: Server | None = None
    for run in range(args.load_runs):
        print(f"[{label}] load run {run + 1}/{args.load_runs}")
        if server is not None:
            server.stop()
        rate, server = load_once(bank, data_dir)
        rates.append(rate)
    assert server is not None
    layout = wait_compacted(data_dir)
    print(f"[{label}] store: {layout}")

    peers, peer_loads = [], {}
    for make in (duckdb, polars):
        started = time.perf_counter()
        peer = make(bank / "accounts.parquet", bank / "transactions.parquet")
        peer_loads[peer.name] = time.perf_counter() - started
        peers.append(peer)
        print(f"[{label}] {peer.name} loaded the files in {peer_loads[peer.name]:.1f} s")

    plan = plan_for(peers[0])
    # The same members and figures three times, or no timing at all.
    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        for query in plan:
            count = check_identical(client, query, peers, label)
            print(f"[{label}] {query.name}: {count:,} members, identical in "
                  f"finseg, {', '.join(p.name for p in peers)}")

    threshold = threshold_for_members(server, E2E_MEMBERS)
    big = api.high_balance("EUR", threshold, as_of=AS_OF)
    finseg: dict[str, list[dict[str, Any]]] = {q.name: [] for q in plan}
    peer_times: dict[str, dict[str, list[float]]] = {p.name: {q.name: [] for q in plan}
                                                     for p in peers}
    big_runs: list[dict[str, Any]] = []
    for run in range(args.runs):
        print(f"[{label}] timing round {run + 1}/{args.runs}")
        for query in plan:  # interleaved: each engine meets the same machine state
            # An untimed job first: the peers' tables are process memory,
            # finseg's columns are file pages, which this VM's reclaim
            # (DAMON) pages out after 60 s unread, and a round takes longer.
            # Both then start with their data in memory. The untimed job
            # also measures the memory: sampling /proc every 2 ms takes a
            # share of the two cores the timed job would have.
            memory = run_segment(server, query.spec())["memory"]
            finseg[query.name].append({**run_segment(server, query.spec(), sample=False),
                                       "memory": memory})
            for peer in peers:
                started = time.perf_counter()
                peer.run(query)
                peer_times[peer.name][query.name].append(time.perf_counter() - started)
        big_runs.append(run_segment(server, big))
    del peers
    gc.collect()
    print(f"[{label}] timing the scans alone")
    scans = median_scans(data_dir, MAP_SIZE, TENANT, plan, args.runs)

    streamed = [stream_rate(server, finseg["HIGH_BALANCE"][-1]["id"])
                for _ in range(args.runs)]
    server.stop()
    starts = {"warm": [start_times(data_dir, cold=False) for _ in range(args.runs)],
              "cold": [start_times(data_dir, cold=True) for _ in range(max(1, args.runs // 2))]}
    return {"label": label, "accounts": accounts, "transactions": transactions,
            "layout": layout, "load_rates": rates, "peer_loads": peer_loads,
            "queries": plan, "finseg": finseg, "peers": peer_times,
            "big": {"threshold": threshold, "runs": big_runs},
            "stream_rates": streamed, "starts": starts, "scans": scans}


def plan_for(peer: Any) -> list[Any]:
    """`bench.peers.queries` with the drill-down of the bank's largest
    merchant, the first named one of the ranking as `peer` answers it (the
    check then compares that ranking with finseg's before the drill-down)."""
    from .peers import MERCHANT_RANKING, largest_merchant_of, queries

    ranking = next(q for q in queries(AS_OF) if q.name == MERCHANT_RANKING)
    merchant = largest_merchant_of(peer.members(peer.run(ranking)))
    if not merchant:
        print(f"  no named merchant in {ranking.name}: no drill-down")
    return queries(AS_OF, largest_merchant=merchant)


#: Members compared at a time (the largest page StreamSegment sends): half a
#: million members as Python objects three times over do not fit in memory
#: next to the loaded engines.
CHECK_PAGE = 10_000


def check_identical(client: api.FinsegClient, query: Any, peers: list[Any], label: str) -> int:
    """Compares finseg's members with each peer's, page by page; ends the run
    at the first difference. Returns the number of members."""
    from .peers import differences, plain

    job = client.create_segment(query.spec())
    results = {peer.name: peer.run(query) for peer in peers}
    offset = 0
    for response in client.stream_segment(job.segment_id, page_size=CHECK_PAGE):
        page = plain(getattr(response.page, response.page.WhichOneof("rows")).members)
        for peer in peers:
            found = differences(page, peer.members(results[peer.name].slice(offset, len(page))))
            if found:
                raise SystemExit(f"[{label}] {peer.name} differs from finseg on {query.name} "
                                 f"at member {offset:,}: {found}")
        offset += len(page)
    for peer in peers:
        if len(results[peer.name]) != offset:
            raise SystemExit(f"[{label}] {peer.name} has {len(results[peer.name]):,} members "
                             f"for {query.name}, finseg {offset:,}")
    return offset


DONE = (segments_pb2.JOB_STATE_SUCCEEDED, segments_pb2.JOB_STATE_FAILED,
        segments_pb2.JOB_STATE_CANCELLED)


def threshold_for_members(server: Server, members: int) -> int:
    """A HIGH_BALANCE threshold (EUR minor units) giving about `members`
    members, by bisection on finseg's answer."""
    low, high = 0, 10**10
    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        for _ in range(20):
            middle = (low + high) // 2
            job = client.create_segment(api.high_balance("EUR", middle, as_of=AS_OF))
            count = client.get_segment(job.segment_id, page_size=1)
            while count.segment.state not in DONE:
                time.sleep(0.05)
                count = client.get_segment(job.segment_id, page_size=1)
            total = count.segment.total_elements
            client.delete_segment(job.segment_id)
            if abs(total - members) <= members // 20:
                return middle
            low, high = (middle, high) if total > members else (low, middle)
    return (low + high) // 2


def stream_rate(server: Server, segment_id: str) -> float:
    """Members per second StreamSegment delivers of a finished job."""
    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        started = time.perf_counter()
        members = sum(len(getattr(r.page, r.page.WhichOneof("rows")).members)
                      for r in client.stream_segment(segment_id, page_size=10_000))
        return members / (time.perf_counter() - started)


def start_times(data_dir: Path, cold: bool) -> dict[str, float]:
    """Seconds from process start to the first answered request and to the
    first segment answered, with the JIT cache warm or empty (cold)."""
    env = None
    scratch = None
    if cold:
        scratch = Path(tempfile.mkdtemp(prefix="finseg-numba-"))
        env = {**os.environ, "NUMBA_CACHE_DIR": str(scratch)}
    server = Server(data_dir, env=env)
    try:
        ready = server.wait_ready(timeout=300)
        with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
            client.members(client.create_segment(
                api.high_balance("EUR", 10**9, as_of=AS_OF)).segment_id)
        first_segment = time.perf_counter() - server.started
    finally:
        server.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return {"ready": ready, "first_segment": first_segment}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(SIZES),
                        help=f"bank sizes to run, of {', '.join(SIZES)}")
    parser.add_argument("--load-runs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-report", action="store_true",
                        help="do not write BENCHMARKS.md and the chart")
    args = parser.parse_args()

    print("measuring this machine's read bandwidth")
    bandwidth = measure_bandwidth()
    sizes = [measure_size(label, *SIZES[label], args) for label in args.sizes.split(",")]
    if not args.no_report:
        report.write(ROOT, bandwidth, sizes, args)


if __name__ == "__main__":
    main()
