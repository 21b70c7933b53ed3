"""Hostile values on every input path (issue 12), against one real server.
The generated requests of test_hostile.py try such values at random; these
try each one on each path and check what the user relies on:

- money beyond its bounds, in each wire form, is a named INVALID_ARGUMENT
  row, and money at a bound is stored exactly (the CLI's CSV and Parquet
  paths are in tests/client/test_cli.py);
- ids and names with control, format, separator or surrogate characters
  are named rows, in every wire form and every RPC that takes them, and
  text that is not UTF-8 is INVALID_ARGUMENT;
- an error reaches a client with default channel options whatever the
  input: a huge value is never echoed whole, and a batch of thousands of
  bad rows still fits the trailers (grpcurl's view is in test_grpcurl.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pytest
from conftest import connect
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import (
    FinsegClient,
    arrow_ipc,
    financial_breakdown,
    high_balance,
    insurance_spending,
    major_units,
)
from finseg.server.app import Service
from finseg.server.kernels.calendar import NEVER_CLOSED, OPEN_SINCE_EVER
from finseg.v1 import ingest_pb2, taxonomy_pb2

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BOUND = 10**15
#: Magnitudes beyond the bound of |x| <= 10^15 minor units, the int64
#: extremes among them (-2^63 has no positive counterpart in int64).
OUT_OF_RANGE = [INT64_MIN, INT64_MIN + 1, INT64_MAX, BOUND + 1, -(BOUND + 1)]
AT_THE_BOUNDS = [BOUND, -BOUND]
AS_OF = dt.date(2026, 3, 31)
#: Transactions are booked after it: EOD(BEFORE) is the balance minus them.
BEFORE = dt.date(2026, 2, 28)
#: Decimal text is parsed with the account's currency: one per exponent.
CURRENCIES = {"JPY": 0, "EUR": 2, "BHD": 3, "CLF": 4}
#: The wire forms of a money column: protobuf rows, Arrow int64 minor units,
#: Arrow decimal text in major units of each currency.
PATHS = ["rows", "arrow_int64", *[f"arrow_text_{c}" for c in CURRENCIES]]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


TENANT = "hostile-values"


@pytest.fixture(scope="module")
def service(module_server: Service) -> Service:
    return module_server


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[FinsegClient]:
    with connect(f"127.0.0.1:{service.port}", TENANT) as c:
        c.upsert_accounts([_account(f"held-{code}", 0, code) for code in CURRENCIES])
        yield c


def _account(account_id: str, balance: int | str, currency: str) -> dict[str, Any]:
    return {"account_id": account_id, "user_id": "u-" + account_id, "type": "CHECKING",
            "currency": currency, "balance": balance, "balance_date": AS_OF.isoformat()}


def _transaction(account_id: str, amount: int | str) -> dict[str, Any]:
    return {"transaction_id": new_id("t"), "account_id": account_id,
            "booking_date": "2026-03-01", "amount": amount}


def _currency(path: str) -> str:
    return path.removeprefix("arrow_text_") if path.startswith("arrow_text_") else "EUR"


def _in_form(path: str, rows: list[dict[str, Any]], money: str) -> Any:
    """rows (money in minor units) as `path` sends them."""
    if path == "rows":
        return rows
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    if path == "arrow_int64":
        return pa.table({**columns, money: pa.array(columns[money], pa.int64())})
    currency = _currency(path)
    return pa.table({**columns, money: [major_units(v, currency) for v in columns[money]]})


def _error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _violations(error: grpc.RpcError) -> dict[str, str]:
    """field -> its descriptions (joined by " | ") in the BadRequest."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    out: dict[str, str] = {}
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            for v in bad.field_violations:
                out[v.field] = f"{out[v.field]} | {v.description}" if v.field in out \
                    else v.description
    return out


def _assert_out_of_range(error: grpc.RpcError, what: str, money: str) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    got = _violations(error)
    for row in range(1, len(OUT_OF_RANGE) + 1):
        assert "larger in magnitude" in got.get(f"{what}[{row}].{money}", ""), (row, got)
    assert not [f for f in got if f.startswith(f"{what}[0].")], got


def _eod(client: FinsegClient, currency: str, as_of: dt.date = AS_OF) -> dict[str, int]:
    """EOD(as_of) of every open account in currency."""
    job = client.create_segment(high_balance(currency, -BOUND - 1, as_of=as_of))
    return {a.account_id: a.amount for m in client.members(job.segment_id) for a in m.accounts}


@pytest.mark.parametrize("path", PATHS)
def test_balances_beyond_the_bounds_are_named_rows(client: FinsegClient, path: str) -> None:
    currency = _currency(path)
    rows = [_account(new_id("a"), 1, currency)]
    rows += [_account(new_id("a"), value, currency) for value in OUT_OF_RANGE]
    error = _error(lambda: client.upsert_accounts(_in_form(path, rows, "balance")))
    _assert_out_of_range(error, "accounts", "balance")
    assert rows[0]["account_id"] not in _eod(client, currency), "nothing was written"


@pytest.mark.parametrize("path", PATHS)
def test_balances_at_the_bounds_are_stored_exactly(client: FinsegClient, path: str) -> None:
    currency = _currency(path)
    rows = [_account(new_id("a"), value, currency) for value in AT_THE_BOUNDS]
    assert client.upsert_accounts(_in_form(path, rows, "balance")) == len(rows)
    stored = _eod(client, currency)
    assert {r["account_id"]: stored.get(r["account_id"]) for r in rows} == \
        {r["account_id"]: r["balance"] for r in rows}


@pytest.mark.parametrize("path", PATHS)
def test_amounts_beyond_the_bounds_are_named_rows(client: FinsegClient, path: str) -> None:
    held = f"held-{_currency(path)}"
    rows = [_transaction(held, 1)] + [_transaction(held, value) for value in OUT_OF_RANGE]
    error = _error(lambda: list(client.append_transactions(
        [_in_form(path, rows, "amount")])))
    _assert_out_of_range(error, "transactions", "amount")
    assert _eod(client, _currency(path), BEFORE)[held] == 0, "nothing was written"


@pytest.mark.parametrize("path", PATHS)
def test_amounts_at_the_bounds_are_stored_exactly(client: FinsegClient, path: str) -> None:
    currency = _currency(path)
    up, down = new_id("a"), new_id("a")
    client.upsert_accounts([_account(up, 0, currency), _account(down, 0, currency)])
    rows = [_transaction(up, BOUND), _transaction(down, -BOUND)]
    acks = list(client.append_transactions([_in_form(path, rows, "amount")]))
    assert acks[0].appended_count == 2
    eod = _eod(client, currency, BEFORE)
    assert (eod[up], eod[down]) == (-BOUND, BOUND)


# ---- ids and names are printable ----------------------------------------------

#: One character of each forbidden category, and the invisible ones a copy
#: and paste brings in (zero-width space, byte order mark, soft hyphen,
#: right-to-left override).
UNPRINTABLE = {"\x00": "a control character", "\x85": "a control character",
               "\u200b": "a format character", "\ufeff": "a format character",
               "\u00ad": "a format character", "\u202e": "a format character",
               "\u2028": "a line separator", "\u2029": "a paragraph separator"}
#: How a text column travels: protobuf rows, Arrow strings, Arrow
#: dictionary-encoded strings (what `finseg load` sends).
FORMS = ["rows", "arrow", "arrow_dictionary"]


def _unprintable_why(char: str) -> str:
    return (f"contains U+{ord(char):04X} ({UNPRINTABLE[char]}); ids and names may not "
            "contain control, format, separator or surrogate characters")


def _text_form(form: str, rows: list[dict[str, Any]]) -> Any:
    if form == "rows":
        return rows
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    table = pa.table(columns)
    if form == "arrow_dictionary":
        table = pa.table({name: pa.array(v).dictionary_encode() if isinstance(v[0], str)
                          else pa.array(v) for name, v in columns.items()})
    return table


def _assert_named(error: grpc.RpcError, expected: dict[str, str], what: str) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    got = _violations(error)
    for field, why in expected.items():
        assert why in got.get(field, ""), (field, got)
    assert not [f for f in got if f.startswith(f"{what}[0].")], got


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("char", list(UNPRINTABLE))
def test_unprintable_transaction_ids_and_names_are_named_rows(
        client: FinsegClient, form: str, char: str) -> None:
    fields = ["transaction_id", "account_id", "label"]
    good = {**_transaction("held-EUR", 1), "label": "SALARY", "counterparty_name": "ACME"}
    rows = [good] + [{**good, "transaction_id": new_id("t"), field: f"x{char}y"}
                     for field in fields]
    error = _error(lambda: list(client.append_transactions([_text_form(form, rows)])))
    _assert_named(error, {f"transactions[{i}].{field}": _unprintable_why(char)
                          for i, field in enumerate(fields, start=1)}, "transactions")
    # The bank's free text is kept as sent: the same character in purpose or
    # a counterparty name is fine.
    acks = list(client.append_transactions([_text_form(form, [
        {**good, "purpose": char, "counterparty_name": f"ACME{char}GmbH"}])]))
    assert acks[0].appended_count == 1, "the good row of the rejected batch was not written"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("char", list(UNPRINTABLE))
def test_unprintable_account_and_user_ids_are_named_rows(
        client: FinsegClient, form: str, char: str) -> None:
    good = _account(new_id("a"), 1, "EUR")
    rows = [good, {**good, "account_id": f"a{char}"},
            {**_account(new_id("a"), 1, "EUR"), "user_id": f"u{char}"}]
    error = _error(lambda: client.upsert_accounts(_text_form(form, rows)))
    _assert_named(error, {"accounts[1].account_id": _unprintable_why(char),
                          "accounts[2].user_id": _unprintable_why(char)}, "accounts")
    assert good["account_id"] not in _eod(client, "EUR"), "nothing was written"


@pytest.mark.parametrize("char", list(UNPRINTABLE))
def test_delete_user_refuses_an_unprintable_id(client: FinsegClient, char: str) -> None:
    error = _error(lambda: client.delete_user(f"u{char}"))
    _assert_named(error, {"user_id": _unprintable_why(char)}, "-")


def test_a_user_stored_before_the_rule_can_still_be_erased(client: FinsegClient,
                                                           service: Service) -> None:
    """Earlier versions refused only control characters in ids; what they
    stored must stay erasable (SPEC: erasure on request)."""
    legacy = "user\u200bwith-a-zero-width-space"
    with service.store.writer(TENANT) as writer:  # as an earlier version wrote it
        writer.upsert_accounts(["legacy-account"], [legacy], {
            "type": np.array([1], np.int8), "currency": np.array([b"EUR"], "S3"),
            "balance": np.array([5], np.int64), "balance_date": np.array([20_000], np.int32),
            "opened_on": np.array([OPEN_SINCE_EVER], np.int32),
            "closed_on": np.array([NEVER_CLOSED], np.int32)})
    assert client.delete_user(legacy).deleted_accounts == 1
    assert _error(lambda: client.delete_user(legacy)).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("char", list(UNPRINTABLE))
def test_unprintable_taxonomy_names_are_named(client: FinsegClient, char: str) -> None:
    taxonomy = taxonomy_pb2.LabelTaxonomy(groups=["A", f"A.x{char}", f"B{char}"],
                                          aliases={f"C{char}": "A", "D": "A"})
    error = _error(lambda: client.replace_taxonomy(taxonomy))
    why = _unprintable_why(char)
    _assert_named(error, {"taxonomy.groups[1]": why, "taxonomy.groups[2]": why,
                          f"taxonomy.aliases[{f'C{char}'!r}]": why}, "taxonomy.groups[0]")
    assert client.get_taxonomy().is_default, "nothing was stored"


def _invalid_utf8(table: pa.Table, placeholder: bytes) -> bytes:
    """The table's IPC stream with `placeholder` replaced by bytes that are
    not UTF-8 (Arrow's writer would refuse them)."""
    data = arrow_ipc(table)
    assert placeholder in data
    return data.replace(placeholder, b"\xff" * len(placeholder))


INVALID_UTF8 = {
    "string": lambda: _invalid_utf8(pa.table({"transaction_id": ["QQ"], "account_id": ["a"],
                                              "booking_date": ["2026-01-01"],
                                              "amount": [1]}), b"QQ"),
    "dictionary": lambda: _invalid_utf8(pa.table({
        "transaction_id": ["t"], "account_id": pa.array(["QQ"]).dictionary_encode(),
        "booking_date": ["2026-01-01"], "amount": [1]}), b"QQ"),
    "large_string": lambda: _invalid_utf8(pa.table({
        "transaction_id": ["t"], "account_id": ["a"], "booking_date": ["2026-01-01"],
        "amount": [1], "label": pa.array(["QQ"], pa.large_string())}), b"QQ"),
    "column_name": lambda: _invalid_utf8(pa.table({
        "transaction_id": ["t"], "account_id": ["a"], "booking_date": ["2026-01-01"],
        "amount": [1], "QQQQ": ["x"]}), b"QQQQ"),
}


@pytest.mark.parametrize("case", list(INVALID_UTF8))
def test_text_that_is_not_utf8_is_invalid_argument(client: FinsegClient, case: str) -> None:
    error = _error(lambda: list(client.ingest.AppendTransactions(
        iter([ingest_pb2.AppendTransactionsRequest(arrow_ipc=INVALID_UTF8[case]())]),
        metadata=client.metadata)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    assert "arrow_ipc" in _violations(error)
    column = {"string": "transaction_id", "dictionary": "account_id", "large_string": "label"}
    if case in column:
        assert f"column {column[case]!r} is not valid" in error.details(), error.details()


# ---- errors reach the client -------------------------------------------------

#: What a client accepts of metadata by default (Python, grpc-go, grpc-js);
#: the service stays well below it.
CLIENT_METADATA_LIMIT = 8192
HUGE = "G" * 20_000


def _trailer_bytes(error: grpc.RpcError) -> int:
    """The status's size in the trailers as sent: grpc-message
    percent-encoded, binary values in base64."""
    message = sum(1 if 0x20 <= b <= 0x7E and b != 0x25 else 3 for b in error.details().encode())
    values = sum(len(key) + (len(base64.b64encode(value)) if key.endswith("-bin")
                             else len(value))
                 for key, value in error.trailing_metadata() or ())
    return message + values


def _reaches_the_client(error: grpc.RpcError, code: grpc.StatusCode) -> None:
    assert error.code() == code, (error.code(), error.details()[:300])
    assert _trailer_bytes(error) < CLIENT_METADATA_LIMIT - 1024, _trailer_bytes(error)
    assert HUGE[:100] not in error.details()


def test_a_batch_of_only_bad_rows_gets_its_status_through(client: FinsegClient) -> None:
    n = 5_000
    batch = pa.table({"transaction_id": ["\x01" + "t" * 127] * n,
                      "account_id": ["x" * 128] * n, "booking_date": ["bad"] * n,
                      "amount": ["1.2.3"] * n})
    error = _error(lambda: list(client.append_transactions([batch])))
    _reaches_the_client(error, grpc.StatusCode.INVALID_ARGUMENT)
    listed = _violations(error)
    assert "transactions[0].transaction_id" in listed and "transactions[0].amount" in listed
    # Four bad fields a row; the message counts all and says how many the
    # details leave out.
    assert f"{4 * n:,} invalid field(s)" in error.details()
    unlisted = 4 * n - len(listed)
    assert error.details().endswith(f"… and {unlisted:,} more violations not listed")


HUGE_INPUTS: dict[str, tuple[Callable[[FinsegClient], Any], grpc.StatusCode]] = {
    "currency": (lambda c: c.create_segment(high_balance(HUGE, 0)),
                 grpc.StatusCode.INVALID_ARGUMENT),
    "label_group": (lambda c: c.create_segment(financial_breakdown([HUGE], 3)),
                    grpc.StatusCode.INVALID_ARGUMENT),
    "insurance_type": (lambda c: c.create_segment(insurance_spending(3, [HUGE])),
                       grpc.StatusCode.INVALID_ARGUMENT),
    "taxonomy_parent": (lambda c: c.replace_taxonomy(taxonomy_pb2.LabelTaxonomy(
        groups=["A", HUGE + ".B"])), grpc.StatusCode.INVALID_ARGUMENT),
    "alias_target": (lambda c: c.replace_taxonomy(taxonomy_pb2.LabelTaxonomy(
        groups=["A"], aliases={"B": HUGE})), grpc.StatusCode.INVALID_ARGUMENT),
    "column_name": (lambda c: list(c.ingest.AppendTransactions(iter([
        ingest_pb2.AppendTransactionsRequest(arrow_ipc=arrow_ipc(pa.table({HUGE: [1]})))]),
        metadata=c.metadata)), grpc.StatusCode.INVALID_ARGUMENT),
    # Thousands of violations, each long, with names whose every byte the
    # grpc-message trailer percent-encodes: the worst case of both caps.
    "many_columns": (lambda c: list(c.append_transactions([pa.table(
        {"é" * 60 + str(i): [1] for i in range(2_000)})])), grpc.StatusCode.INVALID_ARGUMENT),
    "segment_id": (lambda c: c.get_segment(HUGE), grpc.StatusCode.NOT_FOUND),
    "user_id": (lambda c: c.delete_user(HUGE), grpc.StatusCode.INVALID_ARGUMENT),
    "alias": (lambda c: c.replace_taxonomy(taxonomy_pb2.LabelTaxonomy(
        groups=["A"], aliases={HUGE: "A"})), grpc.StatusCode.INVALID_ARGUMENT),
}


@pytest.mark.parametrize("case", list(HUGE_INPUTS))
def test_a_huge_input_is_never_echoed_whole(client: FinsegClient, case: str) -> None:
    call, code = HUGE_INPUTS[case]
    _reaches_the_client(_error(lambda: call(client)), code)
