"""`make run`: the service on the embedded LMDB store with a generated demo
bank loaded, and grpcurl commands that work against it.

The demo bank is generated once (deterministic, seed 7) into --demo-dir and
loaded through the gRPC API like any client would. The health service says
NOT_SERVING until the bank is loaded. A data directory remembers which bank
it holds (LOADED_MARK), so a restart skips the load: ingestion is
idempotent, but sending the bank again took 30 to 50 s here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import signal
import sys
from pathlib import Path

from finseg.client import api
from finseg.server import logs
from finseg.server.app import StopSignal, create_server, stop_within
from finseg.server.settings import Settings

from .generate import BankParams, generate_bank
from .main import load_accounts, load_transactions
from .tokens import DEFAULT_SECRET_FILE, ensure_secret

DEMO_USERS = 2000
DEMO_TENANT = "demo"
#: In the data directory: the fingerprint of the demo bank loaded into it.
LOADED_MARK = "demo-bank-loaded"
BANK_FILES = ("accounts.parquet", "transactions.parquet")


def grpcurl_binary() -> str:
    beside = Path(sys.executable).parent / "grpcurl"
    return str(beside) if beside.exists() else (shutil.which("grpcurl") or "grpcurl")


def fingerprint(demo_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in BANK_FILES:
        digest.update((demo_dir / name).read_bytes())
    return digest.hexdigest()


def load_demo_bank(target: str, demo_dir: Path, data_dir: Path) -> None:
    """Loads the bank unless the data directory says it holds this one."""
    mark = data_dir / LOADED_MARK
    bank = fingerprint(demo_dir)
    if mark.exists() and mark.read_text().strip() == bank:
        print(f"the demo bank is loaded already ({mark})")
        return
    with api.FinsegClient(target, timeout=None) as client:
        load_accounts(client, demo_dir / BANK_FILES[0], 100_000, False, False)
        load_transactions(client, demo_dir / BANK_FILES[1], 200_000, False, False)
    # Written only once every batch is acknowledged (durable): a load cut
    # short leaves no mark and is sent again, harmlessly, next time.
    partial = mark.with_suffix(".tmp")
    partial.write_text(bank + "\n")
    partial.replace(mark)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("--data-dir", type=Path, default=Path("./data"))
    parser.add_argument("--demo-dir", type=Path, default=Path("./demo-bank"))
    args = parser.parse_args()
    logs.configure("text")

    today = dt.date.today()
    if not (args.demo_dir / "transactions.parquet").exists():
        print(f"generating a demo bank of {DEMO_USERS} users into {args.demo_dir} ...")
        generate_bank(args.demo_dir, BankParams(users=DEMO_USERS, end=today, seed=7),
                      fmt="parquet")
    # Development mode, loudly: calls without a token act as tenant "demo";
    # tokens from `finseg token` (same secret file) name other tenants.
    ensure_secret(DEFAULT_SECRET_FILE)
    # Until the bank is loaded, Ctrl-C or SIGTERM interrupts the load; a
    # load cut short is sent again, harmlessly, next time.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    service = None
    try:
        service = create_server(Settings(data_dir=args.data_dir, port=args.port,
                                         dev_tenant=DEMO_TENANT, plaintext=True,
                                         jwt_key_file=DEFAULT_SECRET_FILE), serving=False)
        target = f"127.0.0.1:{service.port}"
        load_demo_bank(target, args.demo_dir, args.data_dir)
    except KeyboardInterrupt:
        print("interrupted: the demo bank is not loaded", file=sys.stderr)
        if service is not None:
            stop_within(service, 5)
        sys.exit(130)
    stop = StopSignal()  # before the banner: a user may act on it at once
    service.set_serving()
    grpcurl = grpcurl_binary()
    spec = '{"spec":{"low_balance":{"threshold":{"currency":"EUR","amount":"0"},"months":3}}}'
    print(f"""
finseg is serving the demo bank on {target} (data in {args.data_dir}). Try:

  {grpcurl} -plaintext {target} list
  {grpcurl} -plaintext -d '{spec}' {target} finseg.v1.SegmentService/CreateSegment
  {grpcurl} -plaintext -d '{{"segment_id":"<segment_id from above>","page_size":5}}' \\
      {target} finseg.v1.SegmentService/GetSegment

or: .venv/bin/finseg segment low-balance --threshold 0 --months 3 --target {target}

DEVELOPMENT MODE: calls without a token act as tenant "{DEMO_TENANT}" with every scope.
Tokens for other tenants: .venv/bin/finseg token --tenant NAME (secret in ./{DEFAULT_SECRET_FILE}).
Press Ctrl-C to stop.
""", flush=True)
    stop.wait()
    stop_within(service, 5)


if __name__ == "__main__":
    main()
