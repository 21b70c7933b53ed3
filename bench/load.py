"""The load test (issue 4): `python -m bench.load` (`make bench-load`).

Starts `finseg serve` as a separate process on a fresh store holding a
generated bank (20,000 accounts, 1,000,000 transactions by default), then
runs 32 concurrent clients (threads in 4 processes) for 60 s against it,
each looping over a mix of calls: GetSegment for one page of a finished
job (40 %), AppendTransactions of a batch of new rows (25 %),
CreateSegment of a random type (20 %) and StreamSegment of a finished job
(15 %), under four tenants. It reports the calls made per kind, every
error by status (RESOURCE_EXHAUSTED from the bounded job queue is
documented behaviour and counted apart), p50 and p99 latency per kind,
and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import multiprocessing
import random
import shutil
import threading
import time
from pathlib import Path

import grpc

from finseg.cli.main import load_accounts, load_transactions
from finseg.client import api

from .run import AS_OF, BATCH_ROWS, CACHE, TENANT, Server, ensure_bank, token

TENANTS = [TENANT, "second", "third", "fourth"]
SPECS = [api.low_balance("EUR", 0, 3, as_of=AS_OF),
         api.high_balance("EUR", 100_000, as_of=AS_OF),
         api.income_spending_summary(dt.date(2026, 8, 1), dt.date(2026, 10, 31)),
         api.financial_breakdown(["INCOME", "GROCERIES"], 3, as_of=AS_OF),
         api.insurance_spending(6, as_of=AS_OF)]
MIX = ["get"] * 8 + ["ingest"] * 5 + ["create"] * 4 + ["stream"] * 3


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: collections.Counter[tuple[str, str]] = collections.Counter()

    def record(self, kind: str, seconds: float, error: grpc.RpcError | None) -> None:
        with self.lock:
            if error is None:
                self.latency[kind].append(seconds)
            else:
                self.errors[(kind, error.code().name)] += 1


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def client_loop(number: int, target: str, accounts: list[str], finished: dict[str, list[str]],
                stop: threading.Event, stats: Stats, mix: list[str]) -> None:
    rng = random.Random(number)
    tenant = TENANTS[number % len(TENANTS)]
    sent = 0
    # No retries: the bench counts the service's refusals and times its
    # answers, not the client's patience.
    with api.FinsegClient(target, token(tenant), timeout=30, retry=None) as client:
        while not stop.is_set():
            kind = rng.choice(mix)
            jobs = finished[tenant]
            if kind in ("get", "stream") and not jobs:
                kind = "create"
            started = time.perf_counter()
            error = None
            try:
                if kind == "get":
                    client.get_segment(rng.choice(jobs), page_size=100)
                elif kind == "stream":
                    for _ in client.stream_segment(rng.choice(jobs), page_size=1000,
                                                   timeout=60):
                        pass
                elif kind == "create":
                    job = client.create_segment(rng.choice(SPECS))
                    stats.record("create", time.perf_counter() - started, None)
                    client.members(job.segment_id)
                    jobs.append(job.segment_id)
                    continue
                else:
                    rows = [{"transaction_id": f"load-{number}-{sent + k}",
                             "account_id": rng.choice(accounts),
                             "booking_date": str(AS_OF - dt.timedelta(days=rng.randrange(90))),
                             "amount": rng.randrange(-50_000, 50_000), "label": "GROCERIES"}
                            for k in range(500)]
                    sent += 500
                    list(client.append_transactions([rows]))
            except grpc.RpcError as exc:
                error = exc
            stats.record(kind, time.perf_counter() - started, error)


def client_process(index: int, numbers: range, target: str, accounts: list[str],
                   seconds: float, mix: list[str]
                   ) -> tuple[dict[str, list[float]], collections.Counter[tuple[str, str]]]:
    """One client process: a thread per client, for `seconds`."""
    finished: dict[str, list[str]] = {tenant: [] for tenant in TENANTS}
    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop,
                                args=(n, target, accounts, finished, stop, stats, mix))
               for n in numbers]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(120)
    return dict(stats.latency), stats.errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=4,
                        help="client processes the clients are spread over")
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--mix", type=lambda text: text.split(","),
                        help="the kinds of call to use instead of the default mix, e.g. "
                             "get,ingest (to find what costs)")
    args = parser.parse_args()

    bank = ensure_bank(args.accounts, args.transactions)
    data_dir: Path = CACHE / "load-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = Server(data_dir)
    server.wait_ready()
    try:
        accounts: list[str] = []
        for tenant in TENANTS:
            with api.FinsegClient(server.target, token(tenant), timeout=None) as client:
                load_accounts(client, bank / "accounts.parquet", 100_000, False, True)
                load_transactions(client, bank / "transactions.parquet", BATCH_ROWS, False, True)
        with api.FinsegClient(server.target, token(TENANT)) as client:
            job = client.create_segment(api.high_balance("EUR", -10**12, as_of=AS_OF))
            accounts = sorted({a.account_id for m in client.members(job.segment_id)
                               for a in m.accounts})
        print(f"loaded the bank into {len(TENANTS)} tenants; {args.clients} clients for "
              f"{args.seconds:.0f} s")
        # Clients in several processes, so the client side's GIL does not
        # queue the calls whose latency is measured.
        mix = args.mix or MIX
        per_process = -(-args.clients // args.processes)
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            parts = pool.starmap(client_process, [
                (p, range(p * per_process, min(args.clients, (p + 1) * per_process)),
                 server.target, accounts, args.seconds, mix) for p in range(args.processes)])
        stats = Stats()
        for latency, errors in parts:
            for kind, values in latency.items():
                stats.latency[kind].extend(values)
            stats.errors.update(errors)
        peak = peak_memory(server)
    finally:
        server.stop()
    for kind in ("get", "ingest", "create", "stream"):
        values = stats.latency[kind]
        print(f"{kind:>7}: {len(values):6d} calls, p50 {1000 * percentile(values, 0.5):7.1f} ms, "
              f"p99 {1000 * percentile(values, 0.99):7.1f} ms")
    documented = {k: v for k, v in stats.errors.items() if k[1] == "RESOURCE_EXHAUSTED"}
    other = {k: v for k, v in stats.errors.items() if k[1] != "RESOURCE_EXHAUSTED"}
    print(f"RESOURCE_EXHAUSTED (documented): {sum(documented.values())} {dict(documented)}")
    print(f"other errors: {sum(other.values())} {dict(other)}")
    print(f"server peak resident memory: {peak / 2**20:.0f} MiB")


def peak_memory(server: Server) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    main()
