"""The `finseg` command: serve, generate, load, segment."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tqdm import tqdm

from finseg.client import api
from finseg.v1 import segments_pb2

from . import files

DEFAULT_TARGET = os.environ.get("FINSEG_TARGET", "127.0.0.1:50051")


def _size(text: str) -> int:
    """"64GiB", "512MiB", "1073741824" -> bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    if cleaned and cleaned[-1] in units:
        return int(float(cleaned[:-1]) * units[cleaned[-1]])
    return int(cleaned)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


# ---- serve ---------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    from finseg.server.app import serve
    from finseg.server.errors import FinsegError
    from finseg.server.settings import OPEN_SERVICES, Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
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
        refusal_window_seconds=args.refusal_window_seconds)
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


# ---- load ----------------------------------------------------------------

def _violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    out: list[tuple[str, str]] = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.extend((v.field, v.description) for v in bad.field_violations)
    return out


def _explain(error: grpc.RpcError, path: Path, first_row: int) -> str:
    """The server's violations turned into file, line and column."""
    lines = [f"{path}: {error.code().name}: {error.details()}"]
    for field, why in _violations(error):
        try:
            row = int(field.split("[", 1)[1].split("]", 1)[0])
            column = field.rsplit(".", 1)[1]
            lines.append(f"{files.locate(path, first_row + row)}, column {column}: {why}")
        except (IndexError, ValueError):
            lines.append(f"{path}: {field}: {why}")
    return "\n".join(lines)


class LoadError(Exception):
    pass


def ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Yields items while a thread reads up to `depth` more: reading and
    decoding the next chunk of the file overlaps sending this one. The
    thread ends when the consumer stops early (a failed stream)."""
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                box.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except Exception as exc:  # noqa: BLE001 - re-raised in the reader's order
            put((None, exc))
            return
        put((end, None))

    threading.Thread(target=read, name="finseg-read-ahead", daemon=True).start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()


def load_accounts(client: api.FinsegClient, path: Path, rows: int, ignore_extra: bool,
                  quiet: bool) -> int:
    total = files.count_rows(path)
    done = 0
    with tqdm(total=total, unit="acc", unit_scale=True, desc=f"accounts {path.name}",
              disable=quiet) as bar:
        for chunk in files.read_chunks(path, "accounts", min(rows, 100_000), ignore_extra):
            try:
                done += client.upsert_accounts(chunk.batch)
            except grpc.RpcError as error:
                raise LoadError(_explain(error, path, chunk.first_row)) from None
            bar.update(chunk.batch.num_rows)
    return done


def load_transactions(client: api.FinsegClient, path: Path, rows: int, ignore_extra: bool,
                      quiet: bool) -> tuple[int, int]:
    total = files.count_rows(path)
    # First file row of each batch sent, to name the rows of a failing one.
    # Only the numbers: keeping the batches would hold the whole file.
    sent: list[int] = []

    file_errors: list[files.FileError] = []

    def batches() -> Iterator[Any]:
        # A bad file ends the stream cleanly here and is reported below: raised
        # inside gRPC's request iterator it would become an opaque UNKNOWN.
        try:
            for chunk in ahead(files.read_chunks(path, "transactions", rows, ignore_extra)):
                sent.append(chunk.first_row)
                yield chunk.batch
        except files.FileError as error:
            file_errors.append(error)

    appended = duplicates = 0
    with tqdm(total=total, unit="tx", unit_scale=True, desc=f"transactions {path.name}",
              disable=quiet) as bar:
        try:
            for ack in client.append_transactions(batches()):
                appended += ack.appended_count
                duplicates += ack.duplicate_count
                bar.update(ack.appended_count + ack.duplicate_count)
        except grpc.RpcError as error:
            acked = appended + duplicates
            first = next((row for row in sent if row >= acked), sent[-1] if sent else 0)
            raise LoadError(_explain(error, path, first) +
                            f"\n{acked} rows before it were stored; rerunning the same load "
                            "skips them") from None
    if file_errors:
        raise LoadError(f"{file_errors[0]}\n{appended + duplicates} rows before it were "
                        "stored; rerunning the same load skips them")
    return appended, duplicates


def connect(args: argparse.Namespace) -> api.FinsegClient:
    credentials = grpc.ssl_channel_credentials(args.tls_ca.read_bytes()) if args.tls_ca \
        else None
    return api.FinsegClient(args.target, args.token, credentials=credentials, timeout=None)


def cmd_token(args: argparse.Namespace) -> int:
    from .failures import CliError
    from .tokens import ALL_SCOPES, mint, secret

    try:
        key = secret(args.secret_file, create=args.create_secret)
    except CliError as error:
        print(f"finseg token: {error}", file=sys.stderr)
        return error.code
    print(mint(key, args.tenant, args.scope or ALL_SCOPES, subject=args.subject,
               ttl_seconds=args.ttl_seconds))
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    if not args.accounts and not args.transactions:
        print("finseg load: give --accounts FILE and/or --transactions FILE", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with connect(args) as client:
        try:
            if args.accounts:
                n = load_accounts(client, args.accounts, args.batch_rows,
                                  args.ignore_extra_columns, args.quiet)
                print(f"upserted {n} accounts", file=sys.stderr)
            if args.transactions:
                appended, dup = load_transactions(client, args.transactions, args.batch_rows,
                                                  args.ignore_extra_columns, args.quiet)
                seconds = time.perf_counter() - started
                print(f"appended {appended} transactions ({dup} already stored) in "
                      f"{seconds:.1f} s", file=sys.stderr)
        except (LoadError, files.FileError) as error:
            print(f"finseg load: {error}", file=sys.stderr)
            return 1
    return 0


# ---- segment -------------------------------------------------------------

def _spec(args: argparse.Namespace) -> Any:
    types = args.account_type or ()
    if args.kind == "income-spending-summary":
        return api.income_spending_summary(args.from_date, args.to_date, account_types=types)
    if args.kind == "financial-breakdown":
        return api.financial_breakdown(args.group, args.months, as_of=args.as_of,
                                       account_types=types)
    if args.kind == "insurance-spending":
        return api.insurance_spending(args.months, args.insurance_type or (), as_of=args.as_of,
                                      account_types=types)
    threshold = api.minor_units(args.threshold, args.currency)
    common = {"as_of": args.as_of, "account_types": types}
    if args.kind == "high-balance":
        return api.high_balance(args.currency, threshold, **common)
    return api.low_balance(args.currency, threshold, args.months, **common)


def _flat_rows(member: Any) -> Iterator[dict[str, Any]]:
    """One table row per account (balance types) or per currency (money
    flows), amounts in major units."""
    for account in getattr(member, "accounts", ()):
        row = {"user_id": member.user_id, "account_id": account.account_id,
               "currency": account.currency,
               "amount": api.major_units(account.amount, account.currency)}
        if hasattr(account, "monthly_minimums"):
            row["monthly_minimums"] = " ".join(
                api.major_units(v, account.currency) for v in account.monthly_minimums)
        yield row
    for group in getattr(member, "groups", ()):
        currency = group.currency
        scale = 10 ** _exponent(currency)
        yield {"user_id": member.user_id, "label_group": group.label_group,
               "currency": currency, "count": group.count,
               "total": api.major_units(group.total, currency),
               # The statistics are doubles (SPEC 1): shown rounded to cents.
               "average": f"{group.average / scale:.2f}",
               "min": api.major_units(group.min, currency),
               "max": api.major_units(group.max, currency),
               "median": f"{group.median / scale:.2f}",
               "std_dev": f"{group.std_dev / scale:.2f}",
               "monthly_sums": " ".join(api.major_units(v, currency)
                                        for v in group.monthly_sums)}
    for contract in getattr(member, "contracts", ()):
        scale = 10 ** _exponent(contract.currency)
        yield {"user_id": member.user_id, "provider_key": contract.provider_key,
               "provider_name": contract.provider_name,
               "insurance_type": contract.insurance_type, "currency": contract.currency,
               "payment_count": contract.payment_count,
               "first_payment": contract.first_payment, "last_payment": contract.last_payment,
               "typical_amount": f"{contract.typical_amount / scale:.2f}",
               "frequency": segments_pb2.Frequency.Name(contract.frequency)
               .removeprefix("FREQUENCY_"),
               "annual_cost": f"{contract.annual_cost / scale:.2f}"}
    for summary in getattr(member, "currencies", ()):
        yield {"user_id": member.user_id, "currency": summary.currency,
               "incoming_count": summary.incoming_count,
               "incoming_sum": api.major_units(summary.incoming_sum, summary.currency),
               "outgoing_count": summary.outgoing_count,
               "outgoing_sum": api.major_units(summary.outgoing_sum, summary.currency)}


def _exponent(currency: str) -> int:
    return len(api.major_units(0, currency).partition(".")[2])


def _wait(client: api.FinsegClient, segment_id: str, quiet: bool) -> Any:
    with tqdm(total=100, unit="%", desc="computing", disable=quiet,
              bar_format="{l_bar}{bar}| {elapsed}") as bar:
        while True:
            segment = client.get_segment(segment_id, page_size=1).segment
            bar.update(round(segment.progress * 100) - bar.n)
            if segment.state >= 3:  # SUCCEEDED, FAILED or CANCELLED
                return segment
            time.sleep(0.1)


def cmd_segment(args: argparse.Namespace) -> int:
    try:
        spec = _spec(args)
    except ValueError as error:
        print(f"finseg segment: {error}", file=sys.stderr)
        return 2
    with connect(args) as client:
        try:
            segment = client.create_segment(spec)
            segment = _wait(client, segment.segment_id, args.quiet)
            if segment.error:
                print(f"finseg segment: {segment.segment_id} failed: {segment.error}",
                      file=sys.stderr)
                return 1
            members = client.members(segment.segment_id, page_size=args.page_size)
        except grpc.RpcError as error:
            print(f"finseg segment: {error.code().name}: {error.details()}", file=sys.stderr)
            return 1
    print(f"segment {segment.segment_id}: {len(members)} members (as_of {segment.as_of})",
          file=sys.stderr)
    out = sys.stdout
    if args.output == "jsonl":
        for member in members:
            out.write(json.dumps(json_format.MessageToDict(
                member, preserving_proto_field_name=True)) + "\n")
        return 0
    rows = [row for member in members for row in _flat_rows(member)]
    names = list(rows[0]) if rows else ["user_id", "account_id", "currency", "amount"]
    if args.output == "csv":
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    widths = {n: max([len(n), *(len(str(r[n])) for r in rows)]) for n in names}
    out.write("  ".join(n.ljust(widths[n]) for n in names).rstrip() + "\n")
    for row in rows:
        out.write("  ".join(str(row[n]).ljust(widths[n]) for n in names).rstrip() + "\n")
    return 0


# ---- wiring --------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="finseg", description="Customer segments from balances "
                                  "and transactions, over gRPC.")
    sub = top.add_subparsers(dest="command", required=True)

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
    serve.add_argument("--audit-retention-days", type=float, default=90.0,
                       help="days the audit log keeps an event (default 90)")
    serve.add_argument("--refusal-window-seconds", type=float, default=60.0,
                       help="refused calls alike are counted this long, then recorded as one "
                            "audit event (default 60)")
    security = serve.add_argument_group("security (SPEC §7; README 'Security')")
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
    gen.add_argument("--end", type=_date, default=dt.date(2026, 10, 31),
                     help="last booking day and balance date")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--below-zero-share", type=float, default=0.05,
                     help="share of users below zero every month")
    gen.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    gen.add_argument("--quiet", action="store_true")
    gen.set_defaults(func=cmd_generate)

    conn = argparse.ArgumentParser(add_help=False)
    conn.add_argument("--target", default=DEFAULT_TARGET, help="host:port of the service")
    conn.add_argument("--token", default=os.environ.get("FINSEG_TOKEN"),
                      help="bearer token (JWT; default: $FINSEG_TOKEN; none: the service's "
                           "development tenant); `finseg token` mints one for development")
    conn.add_argument("--tls-ca", type=Path,
                      help="CA certificate (PEM) the service's certificate is checked "
                           "against; without it the connection is plaintext")
    conn.add_argument("--quiet", action="store_true", help="no progress bar")

    load = sub.add_parser("load", parents=[conn],
                          help="load account and transaction files through the API")
    load.add_argument("--accounts", type=Path, help="accounts file (.csv or .parquet)")
    load.add_argument("--transactions", type=Path, help="transactions file (.csv or .parquet)")
    load.add_argument("--batch-rows", type=int, default=500_000,
                      help="transactions per batch (default 500,000: about 26 MB on the wire)")
    load.add_argument("--ignore-extra-columns", action="store_true")
    load.set_defaults(func=cmd_load)

    seg = sub.add_parser("segment", help="create a segment, wait, print its members")
    kinds = seg.add_subparsers(dest="kind", required=True)
    for kind in ("high-balance", "low-balance", "income-spending-summary",
                 "financial-breakdown", "insurance-spending"):
        k = kinds.add_parser(kind, parents=[conn])
        if kind == "financial-breakdown":
            k.add_argument("--group", action="append", required=True,
                           help="label group (repeatable), e.g. INCOME or INSURANCE.CAR")
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-12")
            k.add_argument("--as-of", type=_date, help="reference date (default: today)")
        elif kind == "insurance-spending":
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-24")
            k.add_argument("--insurance-type", action="append",
                           help="keep only this type (repeatable), e.g. CAR; default: all")
            k.add_argument("--as-of", type=_date, help="reference date (default: today)")
        elif kind == "income-spending-summary":
            k.add_argument("--from", dest="from_date", type=_date, required=True,
                           help="first booking day, YYYY-MM-DD")
            k.add_argument("--to", dest="to_date", type=_date, required=True,
                           help="last booking day, YYYY-MM-DD (included)")
        else:
            k.add_argument("--threshold", required=True, help="in major units, e.g. 1000.00")
            k.add_argument("--currency", default="EUR")
            k.add_argument("--as-of", type=_date, help="reference date (default: today)")
        if kind == "low-balance":
            k.add_argument("--months", type=int, required=True, help="N complete months, 1-24")
        k.add_argument("--account-type", action="append",
                       help="keep only this type (repeatable), e.g. CHECKING")
        k.add_argument("--output", choices=("table", "jsonl", "csv"), default="table")
        k.add_argument("--page-size", type=int, default=1000)
    seg.set_defaults(func=cmd_segment)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    finally:
        # Readers left in a failed load's frames must go while Arrow is still
        # alive: freed during interpreter teardown, one of Arrow's pool
        # threads now and then aborts the process (apache/arrow#34314).
        gc.collect()


if __name__ == "__main__":
    raise SystemExit(main())
