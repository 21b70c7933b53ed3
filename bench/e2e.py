"""End to end at half a million members: `make bench-e2e` (not part of the tests).

For each segment type, a request whose result has about 500,000 members,
timed from CreateSegment until a Python client has received and parsed the
last page of StreamSegment (`bench.run.run_segment`), on a bank of about
580,000 users generated once into bench/.cache and loaded into a real
`finseg serve` process (the loaded store is kept for the next run; --reload
loads it again). Each type runs once untimed, then --runs times; the table
shows medians:

- kernel: the job's compute time as the service reports it (the type's
  `run`, which builds the members table);
- end to end: CreateSegment until the last page is received and parsed;
- client parse: of that, the time the client spends parsing the pages
  (StreamSegmentResponse.FromString over the same pages, received raw);
- server memory: the service's largest resident memory beyond the mapped
  store during the untimed run (RssAnon; `finseg serve` keeps what it
  frees for the next job, so this is its size, not a job's increment).
  Only that run samples it: reading /proc every 2 ms slows the service.

The bank has 3 months of history and about 30 transactions per user, so
that it generates and loads in a few minutes here and still has half a
million users paying insurance. `--bank 50M` runs the same requests on the
bank of `make bench` instead (1,000,000 accounts, 50,000,000 transactions,
about 500,000 users): the size the end-to-end target is stated at.
HIGH_BALANCE's threshold is below every balance and LOW_BALANCE's above
every one, so each has every user with an open EUR account. Each job is
deleted after its run: results this large would otherwise grow the store
by a quarter of a gigabyte a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from finseg.cli.generate import BankParams
from finseg.client import api
from finseg.v1 import segments_pb2

from .run import (
    AS_OF,
    CACHE,
    TENANT,
    Server,
    ensure_bank,
    load_once,
    run_segment,
    token,
    wait_compacted,
)

#: The banks, as (accounts, transactions, months of history): by default
#: ~580,000 users (about two accounts each) over 3 months; `make bench`'s.
BANKS = {"e2e": (1_160_000, 17_500_000, 3), "50M": (1_000_000, 50_000_000, BankParams.months)}
ACCOUNTS, TRANSACTIONS, MONTHS = BANKS["e2e"]
#: The whole history: MONTHS complete months before the last day's month, and that month.
HISTORY_END = AS_OF - dt.timedelta(days=1)
HISTORY_START = dt.date(HISTORY_END.year + (HISTORY_END.month - 1 - MONTHS) // 12,
                        (HISTORY_END.month - 1 - MONTHS) % 12 + 1, 1)
GROUPS = ("INCOME", "RENTANDLIVING", "INSURANCE", "GROCERIES", "SHOPPING")

#: One line per segment type: its name and a request with ~500,000 members.
CASES: dict[str, Callable[[], segments_pb2.SegmentSpec]] = {
    "HIGH_BALANCE": lambda: api.high_balance("EUR", -10**15, as_of=AS_OF),
    "LOW_BALANCE": lambda: api.low_balance("EUR", 10**15, 3, as_of=AS_OF),
    "INCOME_SPENDING_SUMMARY": lambda: api.income_spending_summary(HISTORY_START, HISTORY_END),
    "FINANCIAL_BREAKDOWN": lambda: api.financial_breakdown(GROUPS, 12, as_of=AS_OF),
    "INSURANCE_SPENDING": lambda: api.insurance_spending(12, as_of=AS_OF),
    # Every spender of the history, every candidate of the rule.
    "RFM": lambda: api.rfm(3660, as_of=AS_OF),
    "RULE": lambda: api.rule("frequency(days=3660) >= 0 AND avg_spend(days=3660) >= 0 OR "
                             "balance() > 0", as_of=AS_OF),
}

#: What StreamSegment is asked for per page, as bench/run.py asks.
PAGE_SIZE = 10_000


def loaded_store(bank: Path, reload: bool) -> Server:
    """A service on the bank's store, loaded unless a previous run did."""
    data_dir = CACHE / f"data-e2e-{bank.name}"
    marker = data_dir / "loaded"
    if reload or not marker.exists():
        print(f"loading {bank.name}")
        _, server = load_once(bank, data_dir)
        print(f"  store: {wait_compacted(data_dir)}")
        marker.write_text(bank.name)
        return server
    server = Server(data_dir)
    server.wait_ready(timeout=300)
    return server


def parse_seconds(server: Server, segment_id: str) -> float:
    """Seconds the client spends parsing the pages of a finished segment:
    received as bytes, then parsed as the stub would."""
    with grpc.insecure_channel(server.target, api.DEFAULT_OPTIONS) as channel:
        call = channel.unary_stream("/finseg.v1.SegmentService/StreamSegment",
                                    request_serializer=lambda m: m.SerializeToString())
        request = segments_pb2.StreamSegmentRequest(segment_id=segment_id, page_size=PAGE_SIZE)
        pages = list(call(request, metadata=(("authorization", f"Bearer {token(TENANT)}"),)))
    started = time.perf_counter()
    for page in pages:
        segments_pb2.StreamSegmentResponse.FromString(page)
    return time.perf_counter() - started


def measure(server: Server, name: str, runs: int) -> dict[str, float]:
    spec = CASES[name]()
    # Untimed: columns paged in, code warm; the only run that samples the
    # server's memory, which slows a job (bench.run.run_segment).
    warm = run_segment(server, spec)
    delete(server, warm["id"])
    results = []
    for _ in range(runs):
        result = run_segment(server, spec, sample=False)
        result["parse"] = parse_seconds(server, result["id"])
        delete(server, result["id"])
        results.append(result)
    members = {r["members"] for r in results}
    assert len(members) == 1, f"{name}: member counts differ between runs: {members}"
    row = {key: statistics.median(r[key] for r in results) for key in ("compute", "e2e", "parse")}
    row["members"] = members.pop()
    row["memory"] = warm["peak"]
    return row


def delete(server: Server, segment_id: str) -> None:
    """Results of half a million members are large: none is kept."""
    with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
        client.delete_segment(segment_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default=",".join(CASES),
                        help=f"segment types to run, of {', '.join(CASES)}")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per type (median)")
    parser.add_argument("--bank", choices=sorted(BANKS), default="e2e",
                        help="e2e: 580,000 users over 3 months; 50M: make bench's bank")
    parser.add_argument("--reload", action="store_true",
                        help="load the bank into a new store even if one is kept")
    args = parser.parse_args()
    names = [n for n in args.types.split(",") if n]
    unknown = set(names) - set(CASES)
    if unknown:
        parser.error(f"unknown types {sorted(unknown)}; known: {', '.join(CASES)}")

    accounts, transactions, months = BANKS[args.bank]
    bank = ensure_bank(accounts, transactions, months)
    server = loaded_store(bank, args.reload)
    try:
        rows = {}
        for name in names:
            rows[name] = measure(server, name, args.runs)
            print(f"  {name}: {rows[name]['members']:,} members, "
                  f"end to end {rows[name]['e2e']:.3f} s")
    finally:
        server.stop()
    print(f"\nmedians of {args.runs} runs after one untimed run, pages of {PAGE_SIZE:,}\n")
    print("| type | members | kernel s | end to end s | client parse s | server memory |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        print(f"| {name} | {row['members']:,} | {row['compute']:.3f} | {row['e2e']:.3f} | "
              f"{row['parse']:.3f} | {row['memory'] / 2**20:,.0f} MiB |")


if __name__ == "__main__":
    main()
