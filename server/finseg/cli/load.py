"""`finseg load`: account and transaction files through the bulk API, with
a progress bar, and every failure as one line naming file, line and column."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from tqdm import tqdm

from finseg.client import api
from finseg.server.transport.pipeline import prefetch

from . import failures, files
from .connection import StreamStalled, connect, timeout_of, watched
from .failures import CliError

#: "transactions[17].amount": row 17 of the batch, column amount.
_ROW_FIELD = re.compile(r"^(?:accounts|transactions)\[(\d+)\]\.(\w+)$")
_ROW_IN_TEXT = re.compile(r"(?:accounts|transactions)\[(\d+)\](?:\.(\w+))?")
#: Further lines a message names besides the first bad one.
MORE_LINES = 5


class LoadError(CliError):
    pass


def explain(error: grpc.RpcError, path: Path, first_row: int, target: str,
            timeout: float | None) -> str:
    """The service's refusal of the batch starting at file row `first_row`,
    as one line: the first bad line and column, and how many more."""
    failure = failures.read(error)
    if failure.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "UNAUTHENTICATED",
                        "PERMISSION_DENIED"):
        return failures.describe(error, target, timeout)  # about the call, not the file
    rows = [(int(m.group(1)), m.group(2), why) for name, why in failure.violations
            if (m := _ROW_FIELD.match(name))]
    if rows:
        where = files.position(path, [first_row + row for row, _, _ in rows])
        row, column, why = rows[0]
        text = f"{path}: {where[first_row + row]}, column {column}: {why}"
        more = max(failure.total(), len(failure.violations)) - 1
        if more > 0:
            others = list(dict.fromkeys(where[first_row + r] for r, _, _ in rows[1:]))
            others = [w for w in others if w != where[first_row + row]]
            also = ", ".join(w.removeprefix("line ").removeprefix("row ")
                             for w in others[:MORE_LINES])
            kind = "lines" if files.file_format(path) == "csv" else "rows"
            text += f"; and {more:,} more problem{'s' if more > 1 else ''}" + \
                (f" (also {kind} {also}{', …' if len(others) > MORE_LINES else ''})"
                 if also else "")
        return text
    columns = [(name, why) for name, why in failure.violations if "[" not in name]
    if columns:
        name, why = columns[0]
        return f"{path}: column {name}: {why}"

    def rename(message: str) -> str:
        # Details lost (another proxy, an older service): the message's row
        # paths still say where, in the batch's terms.
        found = [int(m.group(1)) for m in _ROW_IN_TEXT.finditer(message)]
        where = files.position(path, [first_row + r for r in found])
        return _ROW_IN_TEXT.sub(lambda m: where[first_row + int(m.group(1))] +
                                (f", column {m.group(2)}" if m.group(2) else ""), message)

    return f"{path}: {failures.describe(error, target, timeout, rename)}"


def ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Yields items while a thread reads up to `depth` more: reading and
    decoding the next chunk of the file overlaps sending this one. The
    thread ends when the consumer stops early (a failed stream)."""
    return (item for item, _ in prefetch(items, lambda _: None, depth))


def _resume(path: Path, stored: int) -> str:
    """What a rerun does, for a load that stopped after `stored` rows."""
    if stored == 0:
        return "nothing of the file was stored"
    where = files.position(path, [stored])[stored]
    return (f"the {stored:,} rows before {where} are stored, and rerunning the same load "
            "skips them")


def load_accounts(client: api.FinsegClient, path: Path, rows: int, ignore_extra: bool,
                  quiet: bool, target: str = "", timeout: float | None = None) -> int:
    files.check(path, "accounts")
    total = files.count_rows(path)
    done = 0
    with tqdm(total=total, unit="acc", unit_scale=True, desc=f"accounts {path.name}",
              disable=quiet, leave=False) as bar:
        try:
            for chunk in files.read_chunks(path, "accounts", min(rows, 100_000), ignore_extra):
                try:
                    done += client.upsert_accounts(chunk.batch)
                except grpc.RpcError as error:
                    raise LoadError(explain(error, path, chunk.first_row, target, timeout) +
                                    f"; {_resume(path, chunk.first_row)}") from None
                bar.update(chunk.batch.num_rows)
        except files.FileError as error:
            raise LoadError(f"{error}; {_resume(path, done)}") from None
    return done


def load_transactions(client: api.FinsegClient, path: Path, rows: int, ignore_extra: bool,
                      quiet: bool, target: str = "", timeout: float | None = None
                      ) -> tuple[int, int]:
    files.check(path, "transactions")
    total = files.count_rows(path)
    # First file row of each batch sent, to name the rows of a failing one.
    # Only the numbers: keeping the batches would hold the whole file.
    sent: list[int] = []
    file_errors: list[Exception] = []

    def batches() -> Iterator[Any]:
        # A bad file ends the stream cleanly here and is reported below: raised
        # inside gRPC's request iterator it would become an opaque UNKNOWN.
        try:
            for chunk in ahead(files.read_chunks(path, "transactions", rows, ignore_extra)):
                sent.append(chunk.first_row)
                yield chunk.batch
        except Exception as error:  # noqa: BLE001 - reported after the stream
            file_errors.append(error)

    appended = duplicates = 0
    with tqdm(total=total, unit="tx", unit_scale=True, desc=f"transactions {path.name}",
              disable=quiet, leave=False) as bar:
        try:
            for ack in watched(client.append_transactions(batches()), timeout):
                appended += ack.appended_count
                duplicates += ack.duplicate_count
                bar.update(ack.appended_count + ack.duplicate_count)
        except StreamStalled as stalled:
            acked = appended + duplicates
            raise LoadError(f"{path}: no answer from {target} within --timeout "
                            f"{stalled.timeout:g} s; {_resume(path, acked)}") from None
        except grpc.RpcError as error:
            acked = appended + duplicates
            first = next((row for row in sent if row >= acked), sent[-1] if sent else 0)
            raise LoadError(explain(error, path, first, target, timeout) +
                            f"; {_resume(path, acked)}") from None
    if file_errors:
        problem = file_errors[0]
        text = str(problem) if isinstance(problem, files.FileError) else \
            f"{path}: {type(problem).__name__}: {problem}"
        raise LoadError(f"{text}; {_resume(path, appended + duplicates)}")
    return appended, duplicates


def cmd_load(args: argparse.Namespace) -> int:
    if not args.accounts and not args.transactions:
        raise CliError("give --accounts FILE and/or --transactions FILE", 2)
    # Both files are looked at before anything is sent: a typo in the second
    # name should not leave the first loaded alone.
    for path, table in ((args.accounts, "accounts"), (args.transactions, "transactions")):
        if path:
            files.check(path, table)
    started = time.perf_counter()
    timeout = timeout_of(args)
    with connect(args) as client:
        if args.accounts:
            n = load_accounts(client, args.accounts, args.batch_rows,
                              args.ignore_extra_columns, args.quiet, args.target, timeout)
            print(f"upserted {n} accounts", file=sys.stderr)
        if args.transactions:
            appended, dup = load_transactions(client, args.transactions, args.batch_rows,
                                              args.ignore_extra_columns, args.quiet,
                                              args.target, timeout)
            seconds = time.perf_counter() - started
            print(f"appended {appended} transactions ({dup} already stored) in "
                  f"{seconds:.1f} s", file=sys.stderr)
    return 0
