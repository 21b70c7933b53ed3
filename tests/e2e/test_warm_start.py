"""After the warm-up step that the Dockerfile runs at build time, a service
on the same numba cache answers its first job of every segment type, its
first ingest and its first compaction without compiling anything: every
kernel signature those use was compiled by the warm-up."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from conftest import connect
from numba.core.dispatcher import Dispatcher
from process import ServerProcess

import finseg.server.kernels
from finseg.cli.generate import BankParams, generate_bank
from finseg.client import api

AS_OF = dt.date(2026, 4, 15)


def cache_files(cache: Path) -> dict[str, tuple[int, int]]:
    """Every file numba keeps in the cache, with its size and mtime: a new
    signature adds a data file and rewrites its kernel's index."""
    return {str(p.relative_to(cache)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in cache.rglob("*") if p.is_file()}


def kernel_names() -> list[str]:
    """module.function of every numba kernel of finseg.server.kernels."""
    package = finseg.server.kernels
    names = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        names += [f"{info.name}.{value.py_func.__qualname__}" for value in vars(module).values()
                  if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__]
    return names


def every_type(client: api.FinsegClient, empty: bool = False) -> dict[str, float]:
    """One job of each segment type, its members streamed; seconds each.
    With `empty`, specs that match nobody (an empty result is encoded too)."""
    threshold = 10**15 if empty else 0
    specs = {
        "HIGH_BALANCE": api.high_balance("EUR", threshold, as_of=AS_OF),
        "LOW_BALANCE": api.low_balance("EUR", -threshold, 2, as_of=AS_OF),
        "INCOME_SPENDING_SUMMARY": api.income_spending_summary(
            dt.date(2026, 1, 1) if not empty else dt.date(1900, 1, 1),
            dt.date(2026, 3, 31) if not empty else dt.date(1900, 1, 2)),
        "FINANCIAL_BREAKDOWN": api.financial_breakdown(["INCOME", "RENTANDLIVING"], 3,
                                                       as_of=AS_OF if not empty
                                                       else dt.date(1900, 6, 1)),
        "INSURANCE_SPENDING": api.insurance_spending(6, ["NONE"] if empty else [], as_of=AS_OF),
        "RFM": api.rfm(90, ["SHOPPING"], as_of=AS_OF if not empty else dt.date(1900, 6, 1)),
        "MERCHANT_AFFINITY": api.merchant_affinity(3, as_of=AS_OF if not empty
                                                   else dt.date(1900, 6, 1)),
        # The drill-down: its own kernel and page.
        "MERCHANT_CUSTOMERS": api.merchant_affinity(3, counterparty="amazon eu s.a.r.l.",
                                                    as_of=AS_OF if not empty
                                                    else dt.date(1900, 6, 1)),
        # Every kernel of RULE's metrics: windows, balances, monthly minimums.
        "RULE": api.rule(f"frequency(days=30, group=INCOME) {'<' if empty else '>='} 0 AND "
                         "balance(type=CHECKING) > -10000000000000 OR "
                         "low_balance_months(threshold=0, months=2) > 2", as_of=AS_OF),
    }
    seconds = {}
    for name, spec in specs.items():
        start = time.monotonic()
        members = client.members(client.create_segment(spec).segment_id)
        seconds[name] = time.monotonic() - start
        assert bool(members) != empty, name
    return seconds


def test_no_kernel_compiles_after_the_warm_up(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    env = {"NUMBA_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-m", "finseg.server.kernels.warmup"], check=True,
                   env={**os.environ, **env}, timeout=600)
    warmed = cache_files(cache)
    indexes = [name.rsplit("/", 1)[-1] for name in warmed if name.endswith(".nbi")]
    # A kernel numba could not cache would compile in every process unseen.
    assert [k for k in kernel_names() if not any(i.startswith(k + "-") for i in indexes)] == []

    generate_bank(tmp_path / "bank", BankParams(users=40, end=AS_OF, seed=3), fmt="parquet")
    accounts = pq.read_table(tmp_path / "bank" / "accounts.parquet")
    transactions = pq.read_table(tmp_path / "bank" / "transactions.parquet")
    data = tmp_path / "data"
    server = ServerProcess(data, env=env)
    with connect(server.target) as client:
        client.upsert_accounts(accounts)
        half = transactions.num_rows // 2
        list(client.append_transactions([transactions.slice(0, half)]))  # Arrow bulk
        every_type(client)  # over base and tail: nothing compacted yet
        list(client.append_transactions([transactions.slice(half), [  # and protobuf rows
            {"transaction_id": "pet-1", "account_id": "a0000000", "booking_date": "2026-03-02",
             "amount": -1200, "label": "INSURANCE.PET", "counterparty_name": "Petplan"}]]))
        time.sleep(3)  # the compactor merges the tail after 1 s without ingestion
        every_type(client)  # over the base alone
        every_type(client, empty=True)
        # An account newer than the base: its block's offsets are padded.
        client.upsert_accounts([{"account_id": "late", "user_id": "late", "type": "CHECKING",
                                 "currency": "EUR", "balance": 100,
                                 "balance_date": "2026-04-01"}])
        every_type(client)
        client.delete_user("u0000001")
        every_type(client)
    server.stop()
    server = ServerProcess(data, env=env)  # the id index is rebuilt from the log
    with connect(server.target) as client:
        list(client.append_transactions([[
            {"transaction_id": "pet-2", "account_id": "late", "booking_date": "2026-04-02",
             "amount": -1200, "label": "INSURANCE.PET", "counterparty_name": "Petplan"}],
            transactions.slice(0, 10)]))  # all stored before: duplicates
        every_type(client)
    assert server.stop() == 0

    after = cache_files(cache)
    changed = [name for name in after if after[name] != warmed.get(name)]
    compiled = sorted({name.rsplit("/", 1)[-1].split("-")[0] for name in changed})
    assert compiled == [], "compiled after the warm-up"
