"""`finseg load` of CSV against Parquet: `make bench-csv` (not part of the tests).

Generates the same bank (`finseg generate`, seed 42) as CSV and as Parquet
once into bench/.cache, then loads each into a fresh `finseg serve` process
through the API, the way `finseg load` does (batches of 500,000 rows), and
prints the transactions per second of each run and their median. Only the
transactions are timed: the accounts are loaded first, untimed.

A CSV load sends every column as text, so the service reads the dates and
the decimal amounts itself; the gap between the two formats is that reading
plus the client's CSV parsing.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import time
from pathlib import Path

from finseg.cli import generate
from finseg.cli.generate import BankParams, generate_bank
from finseg.cli.load import load_accounts, load_transactions
from finseg.client import api

from .run import BATCH_ROWS, CACHE, TENANT, Server, token


def ensure_bank(transactions: int, fmt: str) -> Path:
    """The bank's folder in `fmt`, generated the first time (named after the
    generator's source, as bench.run's banks are)."""
    version = hashlib.sha256(Path(generate.__file__).read_bytes()).hexdigest()[:12]
    accounts = max(transactions // 50, 1)
    folder = CACHE / f"bank-{fmt}-{accounts}-{transactions}-{version}"
    if not (folder / f"transactions.{fmt}").exists():
        print(f"generating {transactions} transactions as {fmt} into {folder}")
        partial = folder.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        generate_bank(partial, BankParams(accounts=accounts, transactions=transactions, seed=42),
                      fmt=fmt)
        partial.rename(folder)
    return folder


def load_rate(bank: Path, fmt: str) -> float:
    """Transactions per second of one load into a new store."""
    data_dir = CACHE / f"data-csv-load-{fmt}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = Server(data_dir)
    try:
        server.wait_ready()
        with api.FinsegClient(server.target, token(TENANT), timeout=None) as client:
            load_accounts(client, bank / f"accounts.{fmt}", 100_000, False, True)
            started = time.perf_counter()
            appended, _ = load_transactions(client, bank / f"transactions.{fmt}", BATCH_ROWS,
                                            False, True)
            return appended / (time.perf_counter() - started)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3, help="loads per format (median)")
    args = parser.parse_args()
    for fmt in ("csv", "parquet"):
        bank = ensure_bank(args.transactions, fmt)
        rates = [load_rate(bank, fmt) for _ in range(args.runs)]
        size = (bank / f"transactions.{fmt}").stat().st_size
        print(f"{fmt:8s} {size / 1e6:7.0f} MB  median {statistics.median(rates):11,.0f} tx/s"
              f"  (runs: {', '.join(f'{r:,.0f}' for r in rates)})", flush=True)


if __name__ == "__main__":
    main()
