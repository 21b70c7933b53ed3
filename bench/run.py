"""finseg's benchmark: `make bench` (never part of the tests).

On a generated bank (default 1,000,000 accounts, 50,000,000 transactions,
cached in bench/.cache) it measures, against a real `finseg serve` process:

- bulk load from Parquet through the gRPC API, in transactions per second;
- each segment type (LOW_BALANCE N = 12, HIGH_BALANCE, INCOME_SPENDING_SUMMARY
  over a year, FINANCIAL_BREAKDOWN with 5 groups and N = 12, INSURANCE_SPENDING
  with N = 12): the job's compute time as the service reports it, end to end
  time (CreateSegment until the last page is received), and the server's
  peak anonymous memory during the job beyond what it held before
  (memory-mapped LMDB pages are file-backed and do not count), compared with
  the size of the columns the kernel reads;
- service start until the first answered request, with the JIT cache warm.

Every figure is the median of several runs; results go to stdout and to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.client import api
from finseg.client.cli import load_accounts, load_transactions
from finseg.client.generate import BankParams, generate_bank
from finseg.client.tokens import ensure_secret, mint
from finseg.server.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
#: The HS256 secret the benchmark's servers verify tokens with.
SECRET_FILE = CACHE / "dev-secret"
MAP_SIZE = 256 << 30
TENANT = "bench"
#: Rows per AppendTransactions batch, as `finseg load --batch-rows`.
BATCH_ROWS = 500_000
AS_OF = dt.date(2026, 11, 1)  # the generated history ends 2026-10-31


def ensure_bank(accounts: int, transactions: int) -> Path:
    folder = CACHE / f"bank-{accounts}-{transactions}"
    if not (folder / "transactions.parquet").exists():
        print(f"generating {accounts} accounts / {transactions} transactions into {folder}")
        started = time.perf_counter()
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate_bank(partial, BankParams(accounts=accounts, transactions=transactions,
                                          seed=42), fmt="parquet")
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

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "finseg.client.cli", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--map-size", str(MAP_SIZE), "--plaintext",
             "--jwt-key-file", str(SECRET_FILE)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

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


def run_segment(server: Server, spec) -> dict:
    """Creates the job, streams every page, samples the server's memory."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_anon())
            time.sleep(0.002)

    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        base = server.rss_anon()
        sampler = threading.Thread(target=sample)
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
            "memory": max(peak[0] - base, 0), "members": members}


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=50_000_000)
    parser.add_argument("--load-runs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-report", action="store_true", help="do not write docs/")
    parser.add_argument("--load-only", action="store_true", help="measure loading only")
    parser.add_argument("--reuse-data", action="store_true",
                        help="time segments on the store the last run loaded (no loading)")
    args = parser.parse_args()

    bank = ensure_bank(args.accounts, args.transactions)
    data_dir = CACHE / "data"
    rates: list[float] = []
    server = None
    if args.reuse_data:
        server = Server(data_dir)
        server.wait_ready()
    for run in range(0 if args.reuse_data else args.load_runs):
        print(f"load run {run + 1}/{args.load_runs}")
        if server is not None:
            server.stop()
        rate, server = load_once(bank, data_dir)
        rates.append(rate)
    assert server is not None
    if args.load_only:
        server.stop()
        print(f"load: median {median(rates):,.0f} tx/s over {len(rates)} runs")
        return
    layout = wait_compacted(data_dir)
    column_bytes = layout["rows"] * (4 + 8) + (layout["accounts"] + layout["chunks"]) * 8 \
        + layout["accounts"] * 29
    print(f"store: {layout}; columns the balance kernels read: {column_bytes / 2**20:.0f} MiB")

    specs = {"LOW_BALANCE N=12": api.low_balance("EUR", 0, 12, as_of=AS_OF),
             "HIGH_BALANCE": api.high_balance("EUR", 1_000_000, as_of=AS_OF),
             "INCOME_SPENDING_SUMMARY (a year)": api.income_spending_summary(
                 dt.date(2025, 11, 1), dt.date(2026, 10, 31)),
             "FINANCIAL_BREAKDOWN 5 groups N=12": api.financial_breakdown(
                 ["INCOME", "RENTANDLIVING", "INSURANCE", "GROCERIES", "SHOPPING"], 12,
                 as_of=AS_OF),
             "INSURANCE_SPENDING N=12": api.insurance_spending(12, as_of=AS_OF)}
    results: dict[str, list[dict]] = {name: [] for name in specs}
    for name, spec in specs.items():
        run_segment(server, spec)  # the first job of a process loads cached kernels
        for _ in range(args.runs):
            results[name].append(run_segment(server, spec))
        r = results[name]
        print(f"{name}: compute {median([x['compute'] for x in r]):.3f} s, end to end "
              f"{median([x['e2e'] for x in r]):.3f} s, memory "
              f"{median([x['memory'] for x in r]) / 2**20:.1f} MiB, {r[0]['members']} members")
    server.stop()

    starts = []
    for _ in range(args.runs):
        s = Server(data_dir)
        starts.append(s.wait_ready())
        s.stop()
    print(f"start to first answered request: {median(starts):.2f} s (median of {len(starts)})")

    if not args.no_report and rates:
        write_report(args, rates, results, starts, column_bytes, layout)


def write_report(args, rates, results, starts, column_bytes, layout) -> None:
    rows = [
        ("Bulk load from Parquet via gRPC", f"{median(rates):,.0f} tx/s", "≥ 1,000,000 tx/s",
         f"{len(rates)} loads"),
    ]
    for name, r in results.items():
        memory = median([x["memory"] for x in r])
        targets = {"LOW_BALANCE N=12": "< 1 s", "INCOME_SPENDING_SUMMARY (a year)": "< 0.5 s",
                   "FINANCIAL_BREAKDOWN 5 groups N=12": "< 1.5 s",
                   "INSURANCE_SPENDING N=12": "< 1 s"}
        rows.append((f"{name}: job compute time", f"{median([x['compute'] for x in r]):.3f} s",
                     targets.get(name, ""), f"{len(r)} runs"))
        rows.append((f"{name}: end to end ({r[0]['members']:,} members)",
                     f"{median([x['e2e'] for x in r]):.3f} s", "", f"{len(r)} runs"))
        rows.append((f"{name}: memory beyond mapped data",
                     f"{memory / 2**20:.1f} MiB ({100 * memory / column_bytes:.1f}% of "
                     f"{column_bytes / 2**20:.0f} MiB columns)",
                     "< 10%" if name.startswith("LOW") else "", f"{len(r)} runs"))
    rows.append(("Service start to first answered request (JIT cache warm)",
                 f"{median(starts):.2f} s", "< 3 s", f"{len(starts)} starts"))
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = f"""# Benchmarks

Measured by `make bench` (`python -m bench.run --accounts {args.accounts} --transactions
{args.transactions}`) on {dt.date.today()}: {platform.machine()}, {os.cpu_count()} cores,
Python {platform.python_version()}, numpy {np.__version__}. Medians; the machine is shared
and noisy. Store after load: {layout['rows']:,} transactions in {layout['chunks']} base
chunks, {layout['accounts']:,} accounts.

| figure | median | target | runs |
| --- | --- | --- | --- |
{table}

How each figure is taken: see the docstring of `bench/run.py`.
"""
    (ROOT / "docs" / "benchmarks.md").write_text(text)
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
