"""Reading SPEC §2's account and transaction files (CSV or Parquet) as Arrow
batches for the bulk API, and naming file, line and column in errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
        raise FileError(f"{path}: line 1: missing column(s) {', '.join(missing)}; a {table} "
                        f"file has the columns {', '.join(allowed)}")
    extra = [c for c in names if c not in allowed]
    if extra and not ignore_extra:
        raise FileError(f"{path}: line 1: unknown column(s) {', '.join(extra)}; allowed: "
                        f"{', '.join(allowed)} (or pass --ignore-extra-columns)")
    return [c for c in names if c in allowed]


def count_rows(path: Path) -> int:
    """Rows in the file, for the progress bar (CSV: lines after the header;
    a quoted field spanning lines makes this an overestimate)."""
    if file_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
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
    if not path.exists():
        raise FileError(f"{path}: no such file")
    first = 0
    if file_format(path) == "parquet":
        names = pq.ParquetFile(path).schema_arrow.names
        keep = _columns(path, names, table, ignore_extra)
        parquet = pq.ParquetFile(path, read_dictionary=[c for c in keep
                                                        if c in DICTIONARY_COLUMNS])
        for batch in parquet.iter_batches(batch_size=rows_per_chunk, columns=keep):
            yield Chunk(_decimals_as_text(batch), first)
            first += batch.num_rows
        return
    with path.open("rb") as f:
        header = f.readline().decode("utf-8-sig").rstrip("\r\n")
    names = next(iter(pacsv.read_csv(pa.py_buffer(header.encode() + b"\n"),
                                     read_options=pacsv.ReadOptions(autogenerate_column_names=True)
                                     ).to_pylist()), {})
    header_names = [str(v) for v in names.values()]
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
        raise FileError(f"{path}: {exc}") from exc


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
    """Where row (0-based, header not counted) is, for a person."""
    if file_format(path) == "csv":
        return f"{path}: line {row + 2}"
    return f"{path}: row {row + 1}"
