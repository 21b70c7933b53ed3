"""Reading SPEC §2's account and transaction files (CSV or Parquet) as Arrow
batches for the bulk API, and naming file, line and column in errors."""

from __future__ import annotations

import codecs
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ACCOUNT_COLUMNS = ("account_id", "user_id", "type", "currency", "balance", "balance_date",
                   "opened_on", "closed_on")
TRANSACTION_COLUMNS = ("transaction_id", "account_id", "booking_date", "amount", "label",
                       "counterparty_name", "counterparty_iban", "purpose", "mcc")
REQUIRED = {
    "accounts": ("account_id", "user_id", "type", "currency", "balance", "balance_date"),
    "transactions": ("transaction_id", "account_id", "booking_date", "amount"),
}


#: Text columns that repeat values (ids of accounts, labels, counterparties):
#: they travel dictionary-encoded, which makes a bulk batch about half the
#: size and lets the service check and hash each distinct value once.
DICTIONARY_COLUMNS = ("account_id", "user_id", "type", "currency", "label",
                      "counterparty_name", "counterparty_iban", "purpose", "mcc")


class FileError(Exception):
    """A problem with an input file, naming where it is."""


@dataclass
class Chunk:
    """Rows first_row.. of a file (0-based, header not counted)."""

    batch: pa.RecordBatch
    first_row: int


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise FileError(f"{path}: unknown file type {suffix!r}; use .csv or .parquet")


def _columns(path: Path, names: list[str], table: str, ignore_extra: bool) -> list[str]:
    allowed = ACCOUNT_COLUMNS if table == "accounts" else TRANSACTION_COLUMNS
    missing = [c for c in REQUIRED[table] if c not in names]
    if missing:
        raise FileError(f"{path}: line 1: missing column(s) {', '.join(missing)}; {table} "
                        f"files have the columns {', '.join(allowed)}")
    extra = [c for c in names if c not in allowed]
    if extra and not ignore_extra:
        raise FileError(f"{path}: line 1: unknown column(s) {', '.join(extra)}; allowed: "
                        f"{', '.join(allowed)} (or pass --ignore-extra-columns)")
    return [c for c in names if c in allowed]


def check(path: Path, table: str) -> None:
    """Refuses, before anything is sent, a file that cannot be a table of
    `table`: missing, not a file, unreadable, empty, of an unknown type."""
    file_format(path)
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileError(f"{path}: is a directory, not a {table} file") from None
    except OSError as error:
        raise FileError(f"{path}: cannot be read ({error.strerror})") from None
    if not path.is_file():
        raise FileError(f"{path}: is not a regular file")
    if size == 0:
        allowed = ACCOUNT_COLUMNS if table == "accounts" else TRANSACTION_COLUMNS
        article = "an" if table[0] in "aeiou" else "a"
        raise FileError(f"{path}: the file is empty; {article} {table} file starts with a "
                        f"header line ({','.join(allowed)})")


def count_rows(path: Path) -> int:
    """Rows in the file, for the progress bar (CSV: lines after the header;
    a quoted field spanning lines makes this an overestimate)."""
    if file_format(path) == "parquet":
        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except (pa.ArrowException, OSError) as error:
            raise FileError(f"{path}: not a readable Parquet file ({error})") from None
    lines = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def read_chunks(path: Path, table: str, rows_per_chunk: int, ignore_extra: bool = False
                ) -> Iterator[Chunk]:
    """The file's rows in chunks, with the file's own column types for
    Parquet and every CSV column as text: amounts stay decimal strings
    ("-150.00") that the service parses exactly with the account's currency."""
    check(path, table)
    if file_format(path) == "parquet":
        try:
            yield from _parquet_chunks(path, table, rows_per_chunk, ignore_extra)
        except (pa.ArrowException, OSError) as error:
            raise FileError(f"{path}: not a readable Parquet file ({error})") from None
        return
    first = 0
    header_names = _header(path)
    keep = _columns(path, header_names, table, ignore_extra)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=max(1 << 20, rows_per_chunk * 64)),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.dictionary(pa.int32(), pa.string())
                              if name in DICTIONARY_COLUMNS else pa.string()
                              for name in header_names},
                include_columns=keep, strings_can_be_null=True, quoted_strings_can_be_null=False),
        )
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            while size >= rows_per_chunk:
                table_ = pa.Table.from_batches(pending).combine_chunks()
                head, rest = table_.slice(0, rows_per_chunk), table_.slice(rows_per_chunk)
                yield Chunk(_single(head), first)
                first += head.num_rows
                pending, size = rest.to_batches(), rest.num_rows
        if size:
            yield Chunk(_single(pa.Table.from_batches(pending).combine_chunks()), first)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc, len(header_names)) from None


def _parquet_chunks(path: Path, table: str, rows_per_chunk: int, ignore_extra: bool
                    ) -> Iterator[Chunk]:
    first = 0
    names = pq.ParquetFile(path).schema_arrow.names
    keep = _columns(path, names, table, ignore_extra)
    parquet = pq.ParquetFile(path, read_dictionary=[c for c in keep if c in DICTIONARY_COLUMNS])
    for batch in parquet.iter_batches(batch_size=rows_per_chunk, columns=keep):
        yield Chunk(_decimals_as_text(batch), first)
        first += batch.num_rows


def _header(path: Path) -> list[str]:
    """The column names of a CSV file's header line."""
    with path.open("rb") as f:
        raw = f.readline()
    try:
        header = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    try:
        rows = pacsv.read_csv(pa.py_buffer(header.encode() + b"\n"),
                              read_options=pacsv.ReadOptions(autogenerate_column_names=True)
                              ).to_pylist()
    except pa.ArrowInvalid:
        rows = []
    if not rows:
        raise FileError(f"{path}: line 1: no header; the first line names the columns")
    return [str(v) for v in rows[0].values()]


def _csv_error(path: Path, error: pa.ArrowInvalid, columns: int) -> FileError:
    """Arrow's parse and conversion errors name no line: find it."""
    text = str(error)
    if "UTF8" in text or "UTF-8" in text:
        return not_utf8(path)
    if "columns, got" in text:
        found = first_misshapen(path, columns)
        if found is not None:
            line, count = found
            return FileError(f"{path}: line {line}: {count} fields where the header has "
                             f"{columns} (a comma or quote out of place?)")
    return FileError(f"{path}: {text}")


# ---- where records are ---------------------------------------------------

_QUOTE, _COMMA, _LF, _CR = ord('"'), ord(","), ord("\n"), ord("\r")


@functools.cache
def _walker() -> Any:
    """_walk compiled; numba is imported only when a load fails: it would
    add a quarter of a second to every command's start."""
    import numba

    return numba.njit(cache=True)(_walk)


def _walk(data: np.ndarray, targets: np.ndarray, columns: int) -> tuple[np.ndarray, int, int, int]:
    """Arrow's CSV rules (quotes open a field only at its start, "" inside
    quotes is a quote, \\n, \\r and \\r\\n end a line, empty lines are no
    record) over the file's bytes: the physical line (1-based) on which
    each target record (0 = the header) starts, and the first record whose
    field count differs from `columns` (0: look for none) with its line and
    count; the walk stops once it has what it looks for."""
    lines = np.full(targets.size, -1, np.int64)
    want = 0
    record = -1
    record_line = 0
    line = 1
    bad_line = -1
    bad_fields = 0
    fields = 0
    in_quotes = False
    field_start = True
    at_line_start = True
    n = data.size
    i = 0
    while i < n:
        byte = data[i]
        if byte == _LF or byte == _CR:
            if byte == _CR and i + 1 < n and data[i + 1] == _LF:
                i += 1
            if not in_quotes and not at_line_start:
                if columns and fields + 1 != columns and bad_line < 0:
                    bad_line = record_line
                    bad_fields = fields + 1
                    if want >= targets.size:
                        return lines, record, bad_line, bad_fields
                at_line_start = True
            line += 1
            i += 1
            continue
        if at_line_start and not in_quotes:
            at_line_start = False
            record += 1
            record_line = line
            fields = 0
            field_start = True
            while want < targets.size and targets[want] == record:
                lines[want] = line
                want += 1
            if want >= targets.size and (not columns or bad_line >= 0):
                return lines, record, bad_line, bad_fields
        if in_quotes:
            if byte == _QUOTE:
                if i + 1 < n and data[i + 1] == _QUOTE:
                    i += 1
                else:
                    in_quotes = False
        elif byte == _QUOTE and field_start:
            in_quotes = True
            field_start = False
        elif byte == _COMMA:
            fields += 1
            field_start = True
        else:
            field_start = False
        i += 1
    if not at_line_start and columns and fields + 1 != columns and bad_line < 0:
        bad_line = record_line
        bad_fields = fields + 1
    return lines, record, bad_line, bad_fields


def _bytes(path: Path) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.zeros(0, np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")


@functools.lru_cache(maxsize=8)
def _record_lines(path: Path, stamp: tuple[int, int], rows: tuple[int, ...]
                  ) -> dict[int, int]:
    targets = np.array(sorted({row + 1 for row in rows}), np.int64)
    lines, _, _, _ = _walker()(_bytes(path), targets, 0)
    return {int(t) - 1: int(line) for t, line in zip(targets, lines, strict=True) if line > 0}


def record_lines(path: Path, rows: Iterable[int]) -> dict[int, int]:
    """Physical line (1-based) on which each data row (0-based, header not
    counted) of a CSV file starts: quoted fields may span lines, so row r is
    not always on line r + 2."""
    stat = path.stat()
    return _record_lines(path, (stat.st_mtime_ns, stat.st_size), tuple(sorted(set(rows))))


def first_misshapen(path: Path, columns: int) -> tuple[int, int] | None:
    """(line, field count) of the first record whose field count is not
    `columns`, or None."""
    _, _, line, fields = _walker()(_bytes(path), np.zeros(0, np.int64), columns)
    return (int(line), int(fields)) if line > 0 else None


def not_utf8(path: Path) -> FileError:
    """Names the line and column of the first byte that is not UTF-8, and
    what the file likely is instead."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    lines = 1
    line_start = 0
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                where = offset + error.start
                head = block[:error.start]
                lines += head.count(b"\n")
                newline = head.rfind(b"\n")
                line_start = offset + newline + 1 if newline >= 0 else line_start
                f.seek(line_start)
                text = f.read(where - line_start + 200).split(b"\n", 1)[0]
                byte = block[error.start]
                column = len(text[:where - line_start].decode("utf-8", errors="replace")) + 1
                return FileError(f"{path}: line {lines}, character {column}: byte 0x{byte:02X} is "
                                 f"not UTF-8, which finseg reads; {_likely_encoding(text)}")
            lines += block.count(b"\n")
            newline = block.rfind(b"\n")
            if newline >= 0:
                line_start = offset + newline + 1
            offset += len(block)
    return FileError(f"{path}: is not UTF-8, which finseg reads")


def _likely_encoding(line: bytes) -> str:
    if line.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "the file is UTF-16: convert it with iconv -f UTF-16 -t UTF-8"
    try:
        sample = line.decode("cp1252").strip()[:60]
    except UnicodeDecodeError:
        return "convert it to UTF-8 (iconv -f <its encoding> -t UTF-8)"
    return (f"the line reads as Windows-1252 (Latin-1): {sample!r}; convert the file with "
            "iconv -f WINDOWS-1252 -t UTF-8")


def _single(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches(max_chunksize=max(table.num_rows, 1))
    return batches[0]


def _decimals_as_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Parquet decimals (major units) travel as exact decimal text; integer
    columns are already minor units and travel as they are."""
    columns = []
    for column in batch.columns:
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def locate(path: Path, row: int) -> str:
    """Where row (0-based, header not counted) is, for a person: the
    physical line it starts on in a CSV file."""
    return f"{path}: {position(path, [row])[row]}"


def position(path: Path, rows: Iterable[int]) -> dict[int, str]:
    """"line 27573" (CSV: where the record starts) or "row 12" (Parquet) of
    each row (0-based, header not counted)."""
    rows = list(rows)
    if file_format(path) != "csv":
        return {row: f"row {row + 1}" for row in rows}
    lines = record_lines(path, rows)
    # A row past the file's end (a count the service made up) keeps the
    # naive number rather than vanishing from the message.
    return {row: f"line {lines.get(row, row + 2)}" for row in rows}
