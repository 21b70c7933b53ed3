"""The `finseg` command: serve, generate, load, segment, and the rest."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from tqdm import tqdm

# gRPC's core logs a failed TLS handshake at INFO on stderr, a second line
# beside the command's own; it reads this once, when grpc is first imported.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from . import files  # noqa: E402
from .connection import add_arguments as connection_arguments  # noqa: E402
from .failures import CliError  # noqa: E402
from .load import cmd_load, load_accounts, load_transactions  # noqa: E402
from .segments import add_parsers as segment_parsers  # noqa: E402
from .segments import date_argument  # noqa: E402
from .watch import add_parser as watch_parser  # noqa: E402

__all__ = ["load_accounts", "load_transactions", "main", "parser"]


def _size(text: str) -> int:
    """"64GiB", "512MiB", "1073741824" -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    if cleaned and cleaned[-1] in units:
        return int(float(cleaned[:-1]) * units[cleaned[-1]])
    return int(cleaned)


# ---- serve ---------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from finseg.server.app import serve
    from finseg.server.errors import FinsegError
    from finseg.server.settings import OPEN_SERVICES, Settings

    open_services = OPEN_SERVICES if args.open_service is None \
        else tuple(name for name in args.open_service if name)
    settings = Settings(
        data_dir=args.data_dir, map_size=args.map_size, host=args.host, port=args.port,
        workers=args.workers, timezone=args.timezone, result_ttl_days=args.result_ttl_days,
        max_queued_jobs=args.max_queued_jobs,
        max_queued_jobs_per_tenant=args.max_queued_jobs_per_tenant,
        rpc_threads=args.rpc_threads, jwt_algorithm=args.jwt_algorithm,
        jwt_key_file=args.jwt_key_file, jwt_jwks_file=args.jwt_jwks_file,
        jwt_audience=args.jwt_audience, jwt_issuer=args.jwt_issuer,
        tenant_claim=args.tenant_claim, dev_tenant=args.dev_tenant, open_services=open_services,
        tls_cert_file=args.tls_cert, tls_key_file=args.tls_key,
        tls_client_ca_file=args.tls_client_ca, plaintext=args.plaintext,
        metrics_port=args.metrics_port, metrics_host=args.metrics_host,
        metrics_tenant_labels=args.metrics_tenant_labels,
        audit_retention_days=args.audit_retention_days,
        event_retention_days=args.event_retention_days,
        refusal_window_seconds=args.refusal_window_seconds, log_format=args.log_format,
        log_level=args.log_level, otlp_endpoint=args.otlp_endpoint)
    try:
        serve(settings)
    except ValueError as exc:  # a configuration the service refuses to start with
        print(f"finseg serve: {exc}", file=sys.stderr)
        return 2
    except (FinsegError, OSError) as exc:  # e.g. the data directory or the port is taken
        print(f"finseg serve: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    import lmdb

    from finseg.server.errors import FinsegError
    from finseg.server.storage.store import backup

    started = time.perf_counter()
    try:
        backup(args.data_dir, args.dest, args.map_size)
    except (FinsegError, OSError, lmdb.Error) as error:
        print(f"finseg backup: {error}", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in args.dest.iterdir())
    print(f"backed up {args.data_dir} to {args.dest} ({size / 2**20:.1f} MiB) in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


# ---- generate ------------------------------------------------------------

def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import BankParams, generate_bank

    params = BankParams(users=args.users, accounts=args.accounts,
                        transactions=args.transactions, months=args.months, end=args.end,
                        seed=args.seed, below_zero_share=args.below_zero_share)
    with tqdm(unit="tx", unit_scale=True, desc="generating", total=args.transactions,
              disable=args.quiet) as bar:
        counts = generate_bank(args.out, params, fmt=args.format, progress=bar.update)
    print(f"wrote {counts['users']} users, {counts['accounts']} accounts, "
          f"{counts['transactions']} transactions to {args.out}", file=sys.stderr)
    return 0


# ---- token ---------------------------------------------------------------

def cmd_token(args: argparse.Namespace) -> int:
    from .tokens import ALL_SCOPES, mint, secret

    key = secret(args.secret_file, create=args.create_secret)
    print(mint(key, args.tenant, args.scope or ALL_SCOPES, subject=args.subject,
               ttl_seconds=args.ttl_seconds))
    return 0


# ---- wiring --------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    top = Parser(prog="finseg", description="Customer segments from balances and "
                 "transactions, over gRPC.")
    top.add_argument("--version", action="version", version=f"finseg {version()}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=50051)
    serve.add_argument("--data-dir", type=Path, default=Path("./data"))
    serve.add_argument("--map-size", type=_size, default=64 << 30,
                       help="largest size of the database, e.g. 64GiB (default)")
    serve.add_argument("--workers", type=int, default=2, help="threads computing segments")
    serve.add_argument("--rpc-threads", type=int, default=128,
                       help="threads serving calls, and the most calls at once (more: "
                            "RESOURCE_EXHAUSTED); a stream waiting for its job holds one")
    serve.add_argument("--timezone", default="UTC", help="whose 'today' is the default as_of")
    serve.add_argument("--result-ttl-days", type=int, default=14,
                       help="days after creation when a segment and its results are deleted")
    serve.add_argument("--max-queued-jobs", type=int, default=64,
                       help="jobs waiting for a worker, all tenants (more: RESOURCE_EXHAUSTED)")
    serve.add_argument("--max-queued-jobs-per-tenant", type=int, default=16,
                       help="jobs waiting for a worker, one tenant")
    serve.set_defaults(func=cmd_serve)

    serve.add_argument("--metrics-port", type=int,
                       help="serve Prometheus metrics on this port (HTTPS with the TLS files); "
                            "default: none")
    serve.add_argument("--metrics-host", default="127.0.0.1",
                       help="address of /metrics (default loopback; any other needs the TLS "
                            "files and a token with metrics:read on each scrape)")
    serve.add_argument("--metrics-tenant-labels", action="store_true",
                       help="label usage counters by tenant name (default: summed over tenants)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="service log lines on stderr: text (default) or one JSON object "
                            "a line; each call and each job's end is a line at INFO")
    serve.add_argument("--log-level", default="INFO",
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                       help="least level logged (default INFO; WARNING drops the call lines)")
    serve.add_argument("--otlp-endpoint", metavar="URL",
                       help="export OpenTelemetry spans of calls and jobs over OTLP/HTTP to "
                            "this receiver, e.g. http://127.0.0.1:4318 (default: no tracing)")
    serve.add_argument("--audit-retention-days", type=float, default=90.0,
                       help="days the audit log keeps an event (default 90)")
    serve.add_argument("--event-retention-days", type=float, default=14.0,
                       help="days a live segment's events are kept for WatchSegment to "
                            "replay (default 14)")
    serve.add_argument("--refusal-window-seconds", type=float, default=60.0,
                       help="refused calls alike are counted this long, then recorded as one "
                            "audit event (default 60)")
    security = serve.add_argument_group("security (README 'Security')")
    security.add_argument("--jwt-algorithm", default="HS256",
                          help="the one JWT algorithm accepted (HS256, RS256, ES256, ...)")
    security.add_argument("--jwt-key-file", type=Path,
                          help="HS*: file holding the shared secret; RS*/ES*: PEM public key")
    security.add_argument("--jwt-jwks-file", type=Path,
                          help="JWKS file instead of a key file; the token's kid picks the key")
    security.add_argument("--jwt-audience", default="finseg", help="required aud claim")
    security.add_argument("--jwt-issuer", default="finseg", help="required iss claim")
    security.add_argument("--tenant-claim", default="tenant",
                          help="claim naming the caller's tenant")
    security.add_argument("--dev-tenant", metavar="NAME",
                          help="DEVELOPMENT ONLY: calls without a token act as this tenant "
                               "with every scope")
    security.add_argument("--open-service", action="append", metavar="SERVICE",
                          help="service callable without a token (repeatable; default: health "
                               "and reflection; give '' for none)")
    security.add_argument("--tls-cert", type=Path, help="server certificate chain (PEM)")
    security.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    security.add_argument("--tls-client-ca", type=Path,
                          help="require client certificates signed by this CA (mutual TLS)")
    security.add_argument("--plaintext", action="store_true",
                          help="listen without TLS (local use only)")

    token = sub.add_parser("token", help="mint a development token (HS256, local secret)")
    token.add_argument("--tenant", required=True)
    token.add_argument("--scope", action="append",
                       help="scope to grant (repeatable; default: every scope)")
    token.add_argument("--secret-file", type=Path, default=Path("finseg-dev-secret"),
                       help="the secret the service verifies tokens with (its --jwt-key-file; "
                            "default ./finseg-dev-secret, which `make run` makes)")
    token.add_argument("--create-secret", action="store_true",
                       help="make a new random secret in --secret-file when it does not exist")
    token.add_argument("--subject", default="developer", help="the token's sub claim")
    token.add_argument("--ttl-seconds", type=int, default=3600)
    token.set_defaults(func=cmd_token)

    backup = sub.add_parser("backup", help="copy the store, consistent and compacted, while "
                                           "the service runs")
    backup.add_argument("dest", type=Path, help="new or empty directory for the copy")
    backup.add_argument("--data-dir", type=Path, default=Path("./data"))
    backup.add_argument("--map-size", type=_size, default=64 << 30,
                        help="the service's --map-size (default 64GiB)")
    backup.set_defaults(func=cmd_backup)

    gen = sub.add_parser("generate", help="write a synthetic bank as CSV or Parquet")
    gen.add_argument("out", type=Path, help="folder for accounts.* and transactions.*")
    gen.add_argument("--users", type=int, default=1000)
    gen.add_argument("--accounts", type=int, help="exact number of accounts")
    gen.add_argument("--transactions", type=int, help="approximate number of transactions")
    gen.add_argument("--months", type=int, default=24, help="months of history")
    gen.add_argument("--end", type=date_argument, default=dt.date(2026, 10, 31),
                     help="last booking day and balance date")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--below-zero-share", type=float, default=0.05,
                     help="share of users below zero every month")
    gen.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    gen.add_argument("--quiet", action="store_true")
    gen.set_defaults(func=cmd_generate)

    conn = Parser(add_help=False)
    connection_arguments(conn)

    load = sub.add_parser("load", parents=[conn],
                          help="load account and transaction files through the API")
    load.add_argument("--accounts", type=Path, help="accounts file (.csv or .parquet)")
    load.add_argument("--transactions", type=Path, help="transactions file (.csv or .parquet)")
    load.add_argument("--batch-rows", type=int, default=500_000,
                      help="transactions per batch (default 500,000: about 26 MB on the wire)")
    load.add_argument("--ignore-extra-columns", action="store_true")
    load.set_defaults(func=cmd_load)

    segment_parsers(sub, conn)
    watch_parser(sub, conn)
    return top


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("finseg")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


class Parser(argparse.ArgumentParser):
    """Usage errors as one line naming the command, like every other
    failure, instead of argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _command(args: argparse.Namespace) -> str:
    words = ["finseg", args.command, getattr(args, "kind", None), getattr(args, "action", None)]
    return " ".join(w for w in words if w)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as error:
        print(f"{_command(args)}: {error}", file=sys.stderr)
        return error.code
    except files.FileError as error:
        print(f"{_command(args)}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_command(args)}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("FINSEG_DEBUG"):
            raise
        print(f"{_command(args)}: unexpected {type(error).__name__}: {error} (FINSEG_DEBUG=1 "
              "shows the traceback)", file=sys.stderr)
        return 1
    finally:
        # Readers left in a failed load's frames must go while Arrow is still
        # alive: freed during interpreter teardown, one of Arrow's pool
        # threads now and then aborts the process (apache/arrow#34314).
        gc.collect()


if __name__ == "__main__":
    raise SystemExit(main())
