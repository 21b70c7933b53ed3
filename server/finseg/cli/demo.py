"""`make run`: the service on the embedded LMDB store with a generated demo
bank loaded, and grpcurl commands that work against it.

The demo bank is generated once (deterministic, seed 7) into --demo-dir and
loaded through the gRPC API like any client would; loading again is a no-op
because ingestion is idempotent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import signal
import sys
import threading
from pathlib import Path

from finseg.client import api
from finseg.server import logs
from finseg.server.app import create_server
from finseg.server.settings import Settings

from .generate import BankParams, generate_bank
from .main import load_accounts, load_transactions
from .tokens import DEFAULT_SECRET_FILE, ensure_secret

DEMO_USERS = 2000
DEMO_TENANT = "demo"


def grpcurl_binary() -> str:
    beside = Path(sys.executable).parent / "grpcurl"
    return str(beside) if beside.exists() else (shutil.which("grpcurl") or "grpcurl")


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
    service = create_server(Settings(data_dir=args.data_dir, port=args.port,
                                     dev_tenant=DEMO_TENANT, plaintext=True,
                                     jwt_key_file=DEFAULT_SECRET_FILE))
    target = f"127.0.0.1:{service.port}"
    with api.FinsegClient(target, timeout=None) as client:
        load_accounts(client, args.demo_dir / "accounts.parquet", 100_000, False, False)
        load_transactions(client, args.demo_dir / "transactions.parquet", 200_000, False, False)

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
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stopping.wait()
    service.stop(5)


if __name__ == "__main__":
    main()
