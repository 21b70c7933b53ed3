"""Live segments on the benchmark bank: `make bench-live` (not in CI).

On the 50,000,000-transaction bank (`--size 5M` for a quick look), loaded
into a real `finseg serve` process, each of --runs rounds:

- streams 100 batches of 10,000 new transactions with no live segment, then
  creates 10 live segments and streams 100 more: the ingest throughput with
  and without them (rows per second, CreateSegment to the last ack);
- with the 10 live segments and one watcher each, loads transactions at
  100,000 per second for 10 s: the event latency, from the acknowledgement
  of the batch that caused an event to the event's arrival at its watcher;
- replays the largest segment's events from sequence 0 to a watcher
  (events per second as the Python client receives them);
- deletes the live segments.

Then, on the same store in this process with a clock it moves
(`create_server(clock=...)`), the day change of the 10 live segments, while
a client keeps sending batches: its duration and the slowest batch
acknowledgement during it.

The new transactions are spread over every account (random accounts,
amounts and labels, dated in the 30 days up to today), as a live stream is,
not in the bank file's account order. The 10 segments are HIGH_BALANCE,
LOW_BALANCE N = 3, the benchmark's three-metric RULE, a 7-day spend RULE
and RFM over 365 days keeping Champions and Loyal, twice each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from finseg.client import api
from finseg.server.app import create_server
from finseg.server.settings import Settings

from .peers import RULE_3_METRICS
from .run import (
    CACHE,
    MAP_SIZE,
    SECRET_FILE,
    SIZES,
    TENANT,
    ensure_bank,
    load_once,
    token,
    wait_compacted,
)

BATCH_ROWS = 10_000
STREAM_BATCHES = 100
LOAD_RATE = 100_000  # transactions per second while latency is measured
LOAD_SECONDS = 10


def live_specs() -> list[Any]:
    one = [api.high_balance("EUR", "1000.00"), api.low_balance("EUR", 0, 3),
           api.rule(RULE_3_METRICS), api.rule("spend(days=7) > 200"),
           api.rfm(365, segment_names=["Champions", "Loyal"])]
    return [api.live(spec) for spec in one * 2]


class Rows:
    """New transactions over random accounts of the bank, dated in the 30
    days up to today, with amounts and labels drawn from the bank's own
    transactions, numbered so that each batch is new."""

    def __init__(self, bank: Path, seed: int = 7) -> None:
        accounts = pq.read_table(bank / "accounts.parquet", columns=["account_id"])
        self.accounts = accounts.column("account_id").combine_chunks()
        sample = pq.ParquetFile(bank / "transactions.parquet").read_row_groups(
            [0, 1], columns=["amount", "label"])
        self.amounts = sample.column("amount").combine_chunks()
        self.labels = sample.column("label").combine_chunks()
        self.rng = np.random.default_rng(seed)
        self.today = dt.date.today()

    def batch(self, name: str) -> pa.Table:
        n = BATCH_ROWS
        days = self.rng.integers(0, 30, n)
        return pa.table({
            "transaction_id": [f"{name}-{k}" for k in range(n)],
            "account_id": self.accounts.take(pa.array(self.rng.integers(0, len(self.accounts),
                                                                         n))),
            "booking_date": pa.array([self.today - dt.timedelta(days=int(d)) for d in days],
                                     pa.date32()),
            **{name: column.take(pa.array(picks)) for name, column in
               (("amount", self.amounts), ("label", self.labels))
               for picks in (self.rng.integers(0, len(self.amounts), n),)},
        })

    def batches(self, name: str, count: int) -> list[pa.Table]:
        return [self.batch(f"{name}-{b}") for b in range(count)]


def stream_rate(client: api.FinsegClient, batches: list[pa.Table]) -> float:
    started = time.perf_counter()
    rows = sum(ack.appended_count for ack in client.append_transactions(batches))
    return rows / (time.perf_counter() - started)


def latencies(target: str, segment_ids: list[str], batches: list[pa.Table]) -> list[float]:
    """Seconds from each batch's ack to each event it caused arriving at a
    watcher, loading at LOAD_RATE."""
    acked: dict[str, float] = {}
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def watch(segment_id: str) -> None:
        with api.FinsegClient(target, token(TENANT), timeout=None) as client:
            after = client.get_segment(segment_id).segment.last_sequence
            for event in client.watch_segment(segment_id, after,
                                              timeout=LOAD_SECONDS + 20):
                with lock:
                    arrivals.append((time.perf_counter(), event.batch_id))
                if stop.is_set():
                    return

    watchers = [threading.Thread(target=watch, args=(s,)) for s in segment_ids]
    for w in watchers:
        w.start()
    time.sleep(1)  # the watchers are connected

    def paced() -> Iterator[pa.Table]:
        start = time.perf_counter()
        for k, batch in enumerate(batches):
            time.sleep(max(0.0, start + k * BATCH_ROWS / LOAD_RATE - time.perf_counter()))
            yield batch

    with api.FinsegClient(target, token(TENANT), timeout=None) as client:
        for ack in client.append_transactions(paced()):
            acked[ack.batch_id] = time.perf_counter()
    time.sleep(2)
    stop.set()
    for w in watchers:
        w.join(30)
    return [at - acked[batch] for at, batch in arrivals if batch in acked]


def replay_rate(client: api.FinsegClient, segment_id: str) -> tuple[int, float]:
    last = client.get_segment(segment_id).segment.last_sequence
    started = time.perf_counter()
    for event in client.watch_segment(segment_id, 0, timeout=600):
        if event.sequence == last:
            break
    return last, last / (time.perf_counter() - started)


def day_change(data_dir: Path, rows: Rows) -> dict[str, float]:
    """In this process, with a clock the bench moves a day ahead."""
    now = [time.time()]
    service = create_server(Settings(data_dir=data_dir, host="127.0.0.1", port=0,
                                     map_size=MAP_SIZE, jwt_key_file=SECRET_FILE,
                                     plaintext=True), clock=lambda: now[0])
    target = f"127.0.0.1:{service.port}"
    try:
        with api.FinsegClient(target, token(TENANT), timeout=None) as client:
            ids = [client.wait(client.create_segment(s).segment_id, timeout=600).segment_id
                   for s in live_specs()]
            # A fresh start builds the transaction-id index on a thread, and
            # a batch before it is built waits for it: that is not the day change.
            service.jobs.live.store.wait_warm()
            acks: list[float] = []
            stop = threading.Event()

            def ingest() -> None:
                with api.FinsegClient(target, token(TENANT), timeout=None) as loader:
                    k = 0
                    while not stop.is_set():
                        started = time.perf_counter()
                        list(loader.append_transactions([rows.batch(f"day-{k}")]))
                        acks.append(time.perf_counter() - started)
                        k += 1
            loader = threading.Thread(target=ingest)
            loader.start()
            time.sleep(1)
            before = len(acks)
            service.jobs.live.stop()  # its clock thread would race this one to the new day
            time.sleep(1.5)
            now[0] += 86400
            started = time.perf_counter()
            moved = service.jobs.live.tick()
            seconds = time.perf_counter() - started
            during = acks[before:]
            stop.set()
            loader.join(60)
            for segment_id in ids:
                client.delete_segment(segment_id)
        return {"seconds": seconds, "moved": moved, "batches_during": len(during),
                "slowest_ack": max(during) if during else float("nan")}
    finally:
        service.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="50M", choices=sorted(SIZES))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    accounts, transactions = SIZES[args.size]
    bank = ensure_bank(accounts, transactions)
    data_dir = CACHE / f"live-{transactions}"
    _, server = load_once(bank, data_dir)
    print("store:", wait_compacted(data_dir), flush=True)
    rows = Rows(bank)
    results: dict[str, list[float]] = {"without": [], "with": [], "p50": [], "p99": [],
                                       "replay": [], "create": []}
    replayed = 0
    for run in range(args.runs):
        with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
            results["without"].append(stream_rate(client, rows.batches(f"r{run}a",
                                                                        STREAM_BATCHES)))
            started = time.perf_counter()
            ids = [client.wait(client.create_segment(s).segment_id, timeout=600).segment_id
                   for s in live_specs()]
            results["create"].append(time.perf_counter() - started)
            results["with"].append(stream_rate(client, rows.batches(f"r{run}b",
                                                                     STREAM_BATCHES)))
        waits = latencies(server.target, ids, rows.batches(
            f"r{run}c", LOAD_RATE * LOAD_SECONDS // BATCH_ROWS))
        results["p50"].append(float(np.percentile(waits, 50)) if waits else float("nan"))
        results["p99"].append(float(np.percentile(waits, 99)) if waits else float("nan"))
        with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
            sizes = {s: client.get_segment(s).segment.last_sequence for s in ids}
            replayed, rate = replay_rate(client, max(sizes, key=sizes.__getitem__))
            results["replay"].append(rate)
            for segment_id in ids:
                client.delete_segment(segment_id)
        print(f"round {run + 1}: " + ", ".join(f"{k} {v[-1]:,.3f}" for k, v in results.items()),
              f"({len(waits)} events timed)", flush=True)
    server.stop()
    day = day_change(data_dir, rows)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nlive segments at {transactions:,} transactions, medians of {args.runs} rounds:")
    print(f"  ingest, 10,000-row batches: {med['without']:,.0f} tx/s without live segments, "
          f"{med['with']:,.0f} tx/s with 10 ({med['with'] / med['without']:.0%})")
    print(f"  creating the 10 live segments: {med['create']:.1f} s")
    print(f"  event latency at {LOAD_RATE:,} tx/s, 10 watchers: p50 {med['p50'] * 1e3:.1f} ms, "
          f"p99 {med['p99'] * 1e3:.1f} ms")
    print(f"  replay of {replayed:,} events: {med['replay']:,.0f} events/s")
    print(f"  day change of 10 live segments over {accounts:,} accounts: {day['seconds']:.2f} s; "
          f"{day['batches_during']} batches acknowledged meanwhile, the slowest in "
          f"{day['slowest_ack']:.2f} s")


if __name__ == "__main__":
    main()
