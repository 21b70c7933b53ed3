"""Ingestion: validating accounts and transaction batches and writing them.

Both arrive as Arrow record batches whatever their wire form (row by row or
Arrow IPC), so there is one validation path, vectorised with Arrow compute:
a 100,000-row batch is checked without a Python loop per row. Every rule
that fails names the row index and field (SPEC §2, §8); a batch with any bad
row is rejected whole before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import (
    InvalidArgument,
    NotFound,
    Reason,
    ResourceExhausted,
    Violation,
    brief,
    invalid,
    quoted,
)
from ..kernels import hashing, parsing
from ..kernels.calendar import NEVER_CLOSED, OPEN_SINCE_EVER, day_number
from ..storage.store import Store
from ..storage.transactions import LOG_COLUMNS, MAX_BATCH_ROWS
from . import text
from .model import (
    ACCOUNT_TYPE_CODES,
    CURRENCY_EXPONENTS,
    FIELD_LIMITS,
    MAX_ABS_AMOUNT,
    MAX_DATE,
    MAX_ID_LENGTH,
    MIN_DATE,
)

log = logging.getLogger(__name__)

TX_REQUIRED = ("transaction_id", "account_id", "booking_date", "amount")
TX_OPTIONAL = ("label", "counterparty_name", "counterparty_iban", "purpose", "mcc", "currency")
ACCOUNT_REQUIRED = ("account_id", "user_id", "type", "currency", "balance", "balance_date")
ACCOUNT_OPTIONAL = ("opened_on", "closed_on")
MAX_ACCOUNTS_PER_REQUEST = 100_000
#: Text fields that are names: checked like ids for unprintable characters.
#: The others are kept as sent: purpose and counterparty_name are the bank's
#: free text (a provider key folds a name's white space, tabs and line
#: breaks included), counterparty_iban and mcc are codes.
NAMES = ("label",)
MIN_DAY, MAX_DAY = day_number(MIN_DATE), day_number(MAX_DATE)
MISSING_DAY = np.iinfo(np.int64).min


#: Rows one rule names at most; the others are counted. An error lists far
#: fewer (a gRPC trailer carries a few KiB), the first rows of all rules.
LISTED_ROWS_PER_RULE = 1000


class _Checker:
    """Collects violations for one request; `rows(mask, field, why)` adds
    one violation per row where mask is true."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.violations: list[Violation] = []
        self.unlisted = 0

    def rows(self, mask: np.ndarray, field: str,
             why: str | Callable[[np.ndarray], list[str]]) -> None:
        """`why` is the description, or gives one per row for the rows named."""
        hits = np.nonzero(mask)[0]
        self.unlisted += max(hits.size - LISTED_ROWS_PER_RULE, 0)
        hits = hits[:LISTED_ROWS_PER_RULE]
        whys = why(hits) if callable(why) else [why] * hits.size
        for row, description in zip(hits, whys, strict=True):
            self.violations.append(Violation(f"{self.what}[{row}].{field}", description))

    def field(self, field: str, why: str) -> None:
        self.violations.append(Violation(field, why))

    def raise_if_any(self, summary: str, reason: Reason = Reason.INVALID_ROWS) -> None:
        if self.violations:
            self.violations.sort(key=lambda v: _row_of(v.field))
            raise invalid(self.violations, summary, self.unlisted, reason=reason)


def _row_of(field: str) -> int:
    try:
        return int(field.split("[", 1)[1].split("]", 1)[0])
    except (IndexError, ValueError):
        return -1


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _columns(batch: pa.RecordBatch, required: tuple[str, ...], optional: tuple[str, ...],
             check: _Checker) -> None:
    for name in sorted({n for n in batch.schema.names if batch.schema.names.count(n) > 1}):
        check.field(brief(name), f"column {quoted(name)} appears more than once")
    names = set(batch.schema.names)
    for name in required:
        if name not in names:
            check.field(name, f"column {name!r} is required")
    for name in sorted(names - set(required) - set(optional)):
        check.field(brief(name), f"unknown column {quoted(name)}; allowed: "
                                 f"{', '.join(required + optional)}")
    check.raise_if_any(f"{check.what}: bad columns", Reason.INVALID_COLUMNS)


def _text(batch: pa.RecordBatch, name: str, check: _Checker) -> pa.Array | None:
    """A text column without nulls (proto3 cannot tell null from "", so
    neither does the store), kept dictionary-encoded when it arrives so:
    checks and hashes then run once per distinct value, and the log stores
    the compact form."""
    column = batch.column(name)
    if pa.types.is_dictionary(column.type):
        values = column.dictionary
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            check.field(name, f"column {name!r} must hold strings, got "
                              f"{quoted(str(column.type))}")
            return None
        values = pc.fill_null(values.cast(pa.string()), "")
        indices = column.indices.cast(pa.int32())
        if indices.null_count:
            values = pa.concat_arrays([values, pa.array([""])])
            indices = pc.fill_null(indices, len(values) - 1)
        return pa.DictionaryArray.from_arrays(indices, values)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        check.field(name, f"column {name!r} must be a string column, got "
                          f"{quoted(str(column.type))}")
        return None
    return pc.fill_null(column.cast(pa.string()), "")


def _per_row(values: pa.Array, compute: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    """compute() over the distinct values of a dictionary column, spread to
    its rows; over the rows themselves for a plain column."""
    if isinstance(values, pa.DictionaryArray):
        return compute(values.dictionary)[values.indices.to_numpy(zero_copy_only=False)]
    return compute(values)


def _lengths(values: pa.Array) -> np.ndarray:
    return _per_row(values, lambda v: pc.utf8_length(v).to_numpy(zero_copy_only=False))


def _check_id(values: pa.Array, field: str, check: _Checker) -> None:
    length = _lengths(values)
    check.rows(length == 0, field, "is required (1 to 128 printable characters)")
    check.rows(length > MAX_ID_LENGTH, field, f"is longer than {MAX_ID_LENGTH} characters")
    _check_printable(values, field, check)


def _check_printable(values: pa.Array, field: str, check: _Checker) -> None:
    check.rows(_per_row(values, text.unprintable), field,
               lambda rows: text.why_unprintable(values.take(pa.array(rows))))


def _check_length(values: pa.Array, field: str, limit: int, check: _Checker) -> None:
    check.rows(_lengths(values) > limit, field, f"is longer than {limit} characters")


def parse_dates(column: pa.Array, field: str, check: _Checker, required: bool
                ) -> np.ndarray:
    """Day numbers of a date32 or "YYYY-MM-DD" string column; missing or
    invalid values are MISSING_DAY (callers substitute their own meaning)."""
    n = len(column)
    days = np.full(n, MISSING_DAY, dtype=np.int64)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_date32(column.type):
        present = ~_mask(pc.is_null(column))
        days[present] = column.cast(pa.int32()).to_numpy(zero_copy_only=False)[present]
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Exactly YYYY-MM-DD naming a real day (2026-02-30 is none), in one
        # pass over the bytes.
        parsed, status = parsing.days(pc.fill_null(column, ""))
        present = status != parsing.DAY_EMPTY
        ok = status == parsing.DAY_OK
        check.rows(status == parsing.DAY_BAD, field,
                   "is not a date (expected YYYY-MM-DD, e.g. 2026-03-25)")
        days[ok] = parsed[ok]
    else:
        check.field(field.split(".")[-1], f"must be date32 or a YYYY-MM-DD string, "
                                          f"got {quoted(str(column.type))}")
        return days
    if required:
        check.rows(~present, field, "is required (YYYY-MM-DD)")
    missing = days == MISSING_DAY
    out_of_range = ~missing & ((days < MIN_DAY) | (days > MAX_DAY))
    check.rows(out_of_range, field, f"must be between {MIN_DATE} and {MAX_DATE}")
    return days


TOO_LARGE = f"is larger in magnitude than {MAX_ABS_AMOUNT} minor units"
#: Digits of the largest magnitude allowed: a value with more significant
#: digits is out of range however it continues, so it is never parsed.
MAX_ABS_DIGITS = len(str(MAX_ABS_AMOUNT))


def parse_minor_units(column: pa.Array, exponents: np.ndarray, field: str, check: _Checker,
                      currencies: np.ndarray | None = None) -> np.ndarray:
    """Exact minor units from an integer column (already minor units) or a
    decimal-string column in major units ("-150.00", "12" for JPY), each
    value within ±MAX_ABS_AMOUNT. `currencies` (row i's code) lets a
    violation name the currency whose decimals a value exceeds.

    Strings are checked against the currency's decimals first, so "1.234"
    for EUR, "+5", "1e3" and "1,000" are errors; the digits are then joined
    and parsed as one integer: no float ever holds the value.
    """
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    nulls = _mask(pc.is_null(column))
    check.rows(nulls, field, "is required")
    if pa.types.is_integer(column.type):
        out, too_large = _integer_units(column)
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        out, too_large = _decimal_units(pc.fill_null(column, "0"), exponents, nulls, field,
                                        check, currencies)
    else:
        check.field(field.split(".")[-1],
                    f"must be an integer (minor units) or a decimal string, got "
                    f"{quoted(str(column.type))}")
        return np.zeros(len(column), dtype=np.int64)
    check.rows(too_large, field, TOO_LARGE)
    return out


def _integer_units(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values, out of range) of an integer column. Both bounds are compared
    in the column's own type before any cast: a uint64 beyond int64 would
    fail the cast, and -2**63 has no positive counterpart (np.abs returns it
    unchanged), so an upper bound on the magnitude alone lets it through."""
    filled = pc.fill_null(column, 0)
    if pa.types.is_unsigned_integer(column.type):
        wide = pc.greater(filled, pa.scalar(MAX_ABS_AMOUNT, pa.uint64()))
    else:
        wide = pc.or_(pc.greater(filled, pa.scalar(MAX_ABS_AMOUNT, pa.int64())),
                      pc.less(filled, pa.scalar(-MAX_ABS_AMOUNT, pa.int64())))
    safe = pc.if_else(wide, pa.scalar(0, column.type), filled)
    return safe.cast(pa.int64()).to_numpy(zero_copy_only=False).copy(), _mask(wide)


def _decimal_units(values: pa.Array, exponents: np.ndarray, nulls: np.ndarray, field: str,
                   check: _Checker, currencies: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(values, out of range) of decimal strings, row i in major units of a
    currency with exponents[i] decimals; malformed rows are named here.
    The digits are joined and read as one integer: no float ever holds the
    value, and one with more significant digits than MAX_ABS_DIGITS is out
    of range however it continues."""
    out, status = parsing.decimals(values, exponents, MAX_ABS_DIGITS)
    malformed = (status == parsing.DECIMAL_MALFORMED) & ~nulls
    too_precise = (status == parsing.DECIMAL_TOO_PRECISE) & ~nulls
    # Per currency exponent, as each wording names its decimals.
    for exponent in np.unique(exponents[malformed | too_precise]):
        of_exponent = exponents == exponent
        allowed = ("a whole number" if exponent <= 0 else
                   f"a decimal with at most {exponent} decimals")
        check.rows(malformed & of_exponent, field,
                   f"is not {allowed} in major units (e.g. -150.00); no sign other "
                   "than a leading minus, no exponent, no thousands separator")
        has = "no decimals" if exponent <= 0 else f"{exponent} decimal" + \
            ("s" if exponent > 1 else "")

        def named(rows: np.ndarray, has: str = has) -> list[str]:
            # A well-formed decimal with too many decimals is the usual case
            # (a JPY amount written "1200.50"): say which currency allows how many.
            codes = [str(currencies[r]) if currencies is not None else "" for r in rows]
            return [f"has more decimals than {code or 'its currency'} has ({has})"
                    for code in codes]

        check.rows(too_precise & of_exponent, field, named)
    # Values have at most MAX_ABS_DIGITS digits here, so np.abs cannot wrap.
    return out, (status == parsing.DECIMAL_TOO_LONG) | (np.abs(out) > MAX_ABS_AMOUNT)


def _hash_plain(values: pa.Array, seed: int) -> np.ndarray:
    values = values.cast(pa.large_string())
    _, offsets, data = values.buffers()
    start = values.offset
    offs = np.frombuffer(offsets, dtype=np.int64)[start:start + len(values) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    out = np.empty(len(values), dtype=np.uint64)
    hashing.hash_strings(offs, raw, out, np.uint64(seed))
    return out


def _dictionary_ids(values: pa.Array, assign: Callable[[list[str]], np.ndarray]
                    ) -> np.ndarray:
    """Per row, the id of its text in a tenant dictionary (labels,
    counterparty names): each distinct text of the batch is looked up once."""
    encoded = values if isinstance(values, pa.DictionaryArray) else pc.dictionary_encode(values)
    return assign(encoded.dictionary.to_pylist())[encoded.indices.to_numpy(zero_copy_only=False)]


def _hash_text(values: pa.Array, seed: int) -> np.ndarray:
    """64-bit hash of each row's text; equal text, equal hash, whether the
    column came dictionary-encoded or not."""
    return _per_row(values, lambda v: _hash_plain(v, seed))


@dataclass
class PreparedBatch:
    """A transaction batch after the checks that need no stored state."""

    n: int
    check: _Checker
    tx_ids: pa.Array
    account_ids: pa.Array
    distinct: list[str]
    codes: np.ndarray
    days: np.ndarray
    amount: pa.Array
    currency: pa.Array | None
    optional: dict[str, pa.Array]
    id_hash: np.ndarray
    content: np.ndarray


@dataclass
class IngestResult:
    appended: int
    duplicates: int


class Ingestor:
    """Validates and writes one tenant's accounts and transactions."""

    def __init__(self, store: Store, on_append: Callable[[str], None] = lambda tenant: None,
                 live: Any = None) -> None:
        self.store = store
        self.on_append = on_append
        # Runs again the jobs an erasure withdrew, once the erasure is
        # committed: JobManager.rerun, set when the service is put together
        # (the jobs are made after the ingestor).
        self.on_withdrawn: Callable[[str, list[str]], None] = lambda tenant, ids: None
        # The live segments (domain/live.py) that each write brings up to date.
        self.live = live

    # ---- accounts ----------------------------------------------------

    def upsert_accounts(self, tenant: str, batch: pa.RecordBatch) -> int:
        check = _Checker("accounts")
        if batch.num_rows > MAX_ACCOUNTS_PER_REQUEST:
            raise InvalidArgument(f"accounts: at most {MAX_ACCOUNTS_PER_REQUEST} accounts per "
                                  f"request, got {batch.num_rows}", reason=Reason.BATCH_TOO_LARGE,
                                  metadata={"max_rows": str(MAX_ACCOUNTS_PER_REQUEST)})
        _columns(batch, ACCOUNT_REQUIRED, ACCOUNT_OPTIONAL, check)
        texts = {name: _text(batch, name, check) for name in
                 ("account_id", "user_id", "type", "currency")}
        check.raise_if_any("accounts: bad columns")
        account_ids, user_ids = texts["account_id"], texts["user_id"]
        assert account_ids is not None and user_ids is not None
        _check_id(account_ids, "account_id", check)
        _check_id(user_ids, "user_id", check)
        ids = account_ids.to_pylist()
        seen: dict[str, int] = {}
        for row, account_id in enumerate(ids):
            if account_id in seen:
                check.rows(np.arange(len(ids)) == row, "account_id",
                           f"repeats accounts[{seen[account_id]}]; an account may appear once "
                           "per request")
            seen.setdefault(account_id, row)
        type_names = texts["type"].to_pylist()  # type: ignore[union-attr]
        types = np.array([ACCOUNT_TYPE_CODES.get(t, 0) for t in type_names], dtype=np.int8)
        check.rows(types == 0, "type", f"must be one of {', '.join(ACCOUNT_TYPE_CODES)}")
        currencies = texts["currency"].to_pylist()  # type: ignore[union-attr]
        exponents = np.array([CURRENCY_EXPONENTS.get(c, -1) for c in currencies])
        check.rows(exponents < 0, "currency", "must be an ISO 4217 currency code, e.g. EUR")
        balance = parse_minor_units(batch.column("balance"), np.maximum(exponents, 0),
                                    "balance", check, np.array(currencies, dtype=object))
        balance_date = parse_dates(batch.column("balance_date"), "balance_date", check, True)
        n = batch.num_rows
        opened = (parse_dates(batch.column("opened_on"), "opened_on", check, False)
                  if "opened_on" in batch.schema.names else np.full(n, MISSING_DAY))
        closed = (parse_dates(batch.column("closed_on"), "closed_on", check, False)
                  if "closed_on" in batch.schema.names else np.full(n, MISSING_DAY))
        opened = np.where(opened == MISSING_DAY, OPEN_SINCE_EVER, opened)
        closed = np.where(closed == MISSING_DAY, NEVER_CLOSED, closed)
        check.rows(closed <= opened, "closed_on", "must be after opened_on")
        check.raise_if_any("UpsertAccounts rejected, nothing was written")
        self.store.env.ensure_room(batch.nbytes)
        with self.store.writer(tenant) as writer:
            # An account may move to another user: both are evaluated again.
            known = writer.account_indexes(ids)
            before = writer.account_column("user", known[known >= 0])
            writer.upsert_accounts(ids, user_ids.to_pylist(), {
                "type": types,
                "currency": np.array([c.encode() for c in currencies], dtype="S3"),
                "balance": balance,
                "balance_date": balance_date.astype(np.int32),
                "opened_on": opened.astype(np.int32),
                "closed_on": closed.astype(np.int32),
            })
            if self.live is not None:
                after = writer.account_column("user", writer.account_indexes(ids))
                self.live.on_write(tenant, writer, np.concatenate([before, after]),
                                   {"kind": "ACCOUNTS"})
        return n

    # ---- transactions ------------------------------------------------

    def append_transactions(self, tenant: str, batch: pa.RecordBatch) -> IngestResult:
        return self.commit_transactions(tenant, self.prepare_transactions(batch))

    def prepare_transactions(self, batch: pa.RecordBatch) -> PreparedBatch:
        """Every check and hash that needs no stored state. It runs outside
        the write lock, so the service prepares the next batch of a stream
        while the previous one commits."""
        check = _Checker("transactions")
        n = batch.num_rows
        if n > MAX_BATCH_ROWS:
            raise InvalidArgument(f"transactions: at most {MAX_BATCH_ROWS} rows per batch, "
                                  f"got {n}", reason=Reason.BATCH_TOO_LARGE,
                                  metadata={"max_rows": str(MAX_BATCH_ROWS)})
        _columns(batch, TX_REQUIRED, TX_OPTIONAL, check)
        texts = {name: _text(batch, name, check)
                 for name in ("transaction_id", "account_id", *TX_OPTIONAL)
                 if name in batch.schema.names}
        check.raise_if_any("transactions: bad columns")
        tx_ids, account_ids = texts.pop("transaction_id"), texts.pop("account_id")
        assert tx_ids is not None and account_ids is not None
        _check_id(tx_ids, "transaction_id", check)
        _check_id(account_ids, "account_id", check)
        for name, values in texts.items():
            _check_length(values, name, FIELD_LIMITS[name], check)  # type: ignore[arg-type]
            if name in NAMES:
                _check_printable(values, name, check)  # type: ignore[arg-type]
        days = parse_dates(batch.column("booking_date"), "booking_date", check, True)
        optional = {name: texts[name] if texts.get(name) is not None
                    else pa.nulls(n, pa.string()).fill_null("")
                    for name in ("label", "counterparty_name", "counterparty_iban", "purpose",
                                 "mcc")}
        # Bulk batches usually hold a few accounts' rows each, so accounts are
        # looked up once per distinct id, not once per row.
        encoded = (account_ids if isinstance(account_ids, pa.DictionaryArray)
                   else pc.dictionary_encode(account_ids))
        id_hash = _hash_text(tx_ids, 0)
        content = _hash_text(tx_ids, 1)
        for seed, values in enumerate(optional.values(), start=2):
            hashing.combine(content, _hash_text(values, seed))
        return PreparedBatch(
            n=n, check=check, tx_ids=tx_ids, account_ids=account_ids,
            distinct=encoded.dictionary.to_pylist(),
            codes=encoded.indices.to_numpy(zero_copy_only=False), days=days,
            amount=batch.column("amount"), currency=texts.get("currency"),
            optional=optional, id_hash=id_hash, content=content)

    def commit_transactions(self, tenant: str, prepared: PreparedBatch, batch_id: str = ""
                            ) -> IngestResult:
        """The checks that need the tenant's accounts, then one durable write.
        Row violations of both phases are raised together, so one error
        names every bad row."""
        p, check = prepared, prepared.check
        if p.n == 0:
            check.raise_if_any("AppendTransactions batch rejected, nothing was written")
            return IngestResult(0, 0)
        # About the log value; ensure_room doubles it for the base rows to come.
        self.store.env.ensure_room(p.tx_ids.nbytes + 24 * p.n)
        with self.store.writer(tenant) as writer:
            distinct_accounts = writer.account_indexes(p.distinct)
            accounts = distinct_accounts[p.codes]
            unknown = accounts < 0
            named = _lengths(p.account_ids) > 0
            check.rows(unknown & named, "account_id",
                       "names no account of this tenant; upsert the account first")
            distinct_currency = writer.account_column("currency",
                                                      np.maximum(distinct_accounts, 0))
            stored_currency = distinct_currency[p.codes]
            seen, where = np.unique(distinct_currency, return_inverse=True)
            exponents = np.array([CURRENCY_EXPONENTS.get(c.decode(), 2) for c in seen.tolist()],
                                 dtype=np.int64)[where.reshape(-1)][p.codes]
            if p.currency is not None:
                given = np.array(p.currency.to_pylist(), dtype=object)
                wrong = (given != "") & (given != stored_currency.astype(str)) & ~unknown
                check.rows(wrong, "currency", "differs from the account's currency")
            amounts = parse_minor_units(p.amount, exponents, "amount", check,
                                        stored_currency.astype(str))
            check.raise_if_any("AppendTransactions batch rejected, nothing was written")

            label_ids = _dictionary_ids(p.optional["label"], writer.label_ids)
            counterparty_ids = _dictionary_ids(p.optional["counterparty_name"],
                                               writer.counterparty_ids)
            content = p.content.copy()
            hashing.combine(content, accounts.astype(np.uint64))
            hashing.combine(content, p.days.astype(np.uint64))
            hashing.combine(content, amounts.astype(np.uint64))
            log_batch = pa.RecordBatch.from_arrays([
                p.tx_ids, pa.array(accounts.astype(np.int32)), pa.array(p.days.astype(np.int32)),
                pa.array(amounts), *p.optional.values(), pa.array(p.id_hash), pa.array(content),
                pa.array(label_ids, pa.int32()), pa.array(counterparty_ids, pa.int32()),
            ], names=LOG_COLUMNS)
            appended, duplicates = writer.append_transactions(log_batch)
            if appended and self.live is not None:
                self.live.on_write(tenant, writer, writer.account_column(
                    "user", np.unique(accounts)), {"kind": "BATCH", "batch_id": batch_id})
        if appended:
            self.on_append(tenant)
        return IngestResult(appended, duplicates)

    def delete_user(self, tenant: str, user_id: str) -> tuple[int, int]:
        if not user_id:
            raise invalid([Violation("user_id", "is required")], "DeleteUser",
                          reason=Reason.INVALID_USER_ID)
        if len(user_id) > MAX_ID_LENGTH:
            raise invalid([Violation("user_id", f"is longer than {MAX_ID_LENGTH} characters")],
                          "DeleteUser", reason=Reason.INVALID_USER_ID)
        unprintable = text.unprintable_names([user_id])
        try:
            with self.store.writer(tenant) as writer:
                user = self.store.accounts.user_ids.lookup(writer.txn, writer.tenant_no,
                                                           [user_id])[0]
                deleted = writer.delete_user(user_id)
                if self.live is not None:
                    self.live.on_write(tenant, writer, np.array([user]), {"kind": "ERASURE"},
                                       erased=user_id)
            self.on_withdrawn(tenant, writer.withdrawn)
            return deleted
        except NotFound:
            # Ids stored before unprintable characters were refused must stay
            # erasable, so such an id is refused only when no user has it.
            if unprintable:
                raise invalid([Violation("user_id", unprintable[0])], "DeleteUser",
                              reason=Reason.INVALID_USER_ID) from None
            raise


class Compactor:
    """Folds each tenant's tail of recent batches into the sorted base in
    the background, so jobs merge only a small tail.

    It runs once ingestion of the tenant has been idle for `idle_seconds`,
    or, during a long load, when the tail reaches max(min_rows, base) rows:
    the base then doubles between merges, so a load rewrites each row about
    twice in all and compaction does not compete with ingestion for the
    machine, while jobs never merge a tail larger than the base.
    """

    def __init__(self, store: Store, min_rows: int, idle_seconds: float) -> None:
        self.store, self.min_rows, self.idle_seconds = store, min_rows, idle_seconds
        self._last_append: dict[str, float] = {}
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="finseg-compactor", daemon=True)

    def start(self) -> None:
        for tenant in self.store.tenants():
            self._last_append[tenant] = 0.0
        self._thread.start()

    def notify(self, tenant: str) -> None:
        with self._wake:
            self._last_append[tenant] = time.monotonic()
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _due(self, tenant: str, now: float) -> bool:
        tail, base = self.store.tail_rows(tenant)
        if tail <= 0:
            return False
        idle = now - self._last_append.get(tenant, 0.0) >= self.idle_seconds
        return idle or tail >= max(self.min_rows, base)

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                self._wake.wait(timeout=self.idle_seconds / 2)
                if self._stopped:
                    return
                tenants = list(self._last_append)
            for tenant in tenants:
                try:
                    if self._due(tenant, time.monotonic()):
                        self.store.compact(tenant)
                except ResourceExhausted:
                    # A full map: readers merge the tail instead; a restart
                    # with a larger map lets the next round succeed.
                    log.warning("compaction of tenant %r postponed: the database is full",
                                tenant)
                    time.sleep(10 * self.idle_seconds)
                except Exception:  # the next round retries; ingestion is unaffected
                    log.exception("compaction of tenant %r failed", tenant)

    def run_once(self) -> None:
        """Compacts every tenant with a tail now (tests and benchmarks)."""
        for tenant in self.store.tenants():
            while self.store.compact(tenant):
                pass


def today(timezone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(timezone)).date()


def today_at(timezone: str, now: float) -> dt.date:
    """The date in `timezone` at `now` (seconds since the epoch)."""
    return dt.datetime.fromtimestamp(now, ZoneInfo(timezone)).date()
