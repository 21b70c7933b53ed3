"""Ingestion through a real server and the Python client (SPEC §2, §8).

Every rule is checked from the outside: what a batch writes is read back
through HIGH_BALANCE segments (EOD(as_of) is the balance plus the sum of the
transactions), and "nothing was written" is checked by re-sending the good
rows of a rejected batch and seeing them appended as new.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from conftest import connect, start_server
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import FinsegClient, high_balance, minor_units
from finseg.v1 import common_pb2, ingest_pb2

AS_OF = dt.date(2026, 3, 31)
LOWEST = -(10**15)  # a threshold every open account is above
CODE = grpc.StatusCode


# ---- helpers ---------------------------------------------------------------

def acct(account_id: str, user_id: str, balance: int = 0, *, currency: str = "EUR",
         type: str = "CHECKING", balance_date: str = "2026-01-01", **extra: Any
         ) -> dict[str, Any]:
    return {"account_id": account_id, "user_id": user_id, "type": type, "currency": currency,
            "balance": balance, "balance_date": balance_date, **extra}


def tx(transaction_id: str, account_id: str, amount: int, booking_date: str = "2026-02-01",
       **extra: Any) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "account_id": account_id,
            "booking_date": booking_date, "amount": amount, **extra}


def append(client: FinsegClient, *batches: Any) -> list[ingest_pb2.AppendTransactionsResponse]:
    return list(client.append_transactions(list(batches)))


def counts(acks: list[ingest_pb2.AppendTransactionsResponse]) -> list[tuple[int, int]]:
    return [(a.appended_count, a.duplicate_count) for a in acks]


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    """(field, description) of the google.rpc.BadRequest details of an error."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.extend((v.field, v.description) for v in bad.field_violations)
    return found


def violations(error: grpc.RpcError) -> list[str]:
    """Field paths of the google.rpc.BadRequest details of an error."""
    return [name for name, _ in field_violations(error)]


def assert_invalid(error: grpc.RpcError, *fields: str) -> list[str]:
    assert error.code() == CODE.INVALID_ARGUMENT, (error.code(), error.details())
    got = violations(error)
    missing = [f for f in fields if f not in got]
    assert not missing, f"violations {got} do not name {missing}; message: {error.details()}"
    return got


def balances(client: FinsegClient, currency: str = "EUR", as_of: dt.date = AS_OF,
             **filters: Any) -> dict[str, tuple[str, int]]:
    """account_id -> (user_id, EOD(as_of)) of every open account in currency."""
    job = client.create_segment(high_balance(currency, LOWEST, as_of=as_of, **filters))
    return {a.account_id: (m.user_id, a.amount)
            for m in client.members(job.segment_id) for a in m.accounts}


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[FinsegClient]:
    """A server on data_dir and a client of tenant acme; stop(0) at the end."""
    service = start_server(data_dir)
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as c:
            yield c
    finally:
        service.stop(0)


def new_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def table(columns: dict[str, Any]) -> pa.Table:
    return pa.table(columns)


# ---- a shared server for the many validation cases -------------------------

@pytest.fixture(scope="module")
def vclient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FinsegClient]:
    service = start_server(tmp_path_factory.mktemp("validation") / "data")
    try:
        with connect(f"127.0.0.1:{service.port}", "validation") as c:
            c.upsert_accounts([acct("v-eur", "v-user"), acct("v-jpy", "v-user", currency="JPY"),
                               acct("v-bhd", "v-user", currency="BHD")])
            yield c
    finally:
        service.stop(0)


# ---- UpsertAccounts ----------------------------------------------------------

def test_upsert_accounts_rows_and_last_write_wins(client: FinsegClient) -> None:
    assert client.upsert_accounts([acct("a1", "u1", 10_000), acct("a2", "u2", -500)]) == 2
    assert balances(client) == {"a1": ("u1", 10_000), "a2": ("u2", -500)}

    assert client.upsert_accounts([acct("a1", "u1", 25_000)]) == 1
    job = client.create_segment(high_balance("EUR", 20_000, as_of=AS_OF))
    members = client.members(job.segment_id)
    assert [(m.user_id, [(a.account_id, a.amount) for a in m.accounts]) for m in members] \
        == [("u1", [("a1", 25_000)])]


def test_upsert_replaces_every_field_of_the_account(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100, type="CHECKING", balance_date="2026-01-01")])
    client.upsert_accounts([acct("a1", "u2", 700, type="SAVINGS", balance_date="2026-03-01",
                                 opened_on="2026-02-01")])
    assert balances(client) == {"a1": ("u2", 700)}
    assert balances(client, account_types=["CHECKING"]) == {}
    assert balances(client, account_types=["SAVINGS"]) == {"a1": ("u2", 700)}
    # Open since 2026-02-01 now: not open on 2026-01-15.
    assert balances(client, as_of=dt.date(2026, 1, 15)) == {}


def test_upsert_accounts_arrow_with_int_minor_units_and_date32(client: FinsegClient) -> None:
    batch = table({
        "account_id": ["ar-1", "ar-2"],
        "user_id": ["arrow-user", "arrow-user"],
        "type": ["CHECKING", "SAVINGS"],
        "currency": ["EUR", "EUR"],
        "balance": pa.array([-15_000, 142_684], pa.int64()),
        "balance_date": pa.array([dt.date(2026, 3, 31)] * 2, pa.date32()),
        "opened_on": pa.array([None, dt.date(2020, 1, 1)], pa.date32()),
        "closed_on": pa.array([None, None], pa.date32()),
    })
    assert client.upsert_accounts(batch) == 2
    assert balances(client) == {"ar-1": ("arrow-user", -15_000),
                                "ar-2": ("arrow-user", 142_684)}


def test_upsert_accounts_arrow_with_decimal_strings(client: FinsegClient) -> None:
    rows = [("s-eur-neg", "EUR", "-150.00"), ("s-eur", "EUR", "1426.84"),
            ("s-eur-short", "EUR", "-1.5"), ("s-eur-whole", "EUR", "12"),
            ("s-jpy", "JPY", "12"), ("s-jpy-neg", "JPY", "-3000"),
            ("s-bhd", "BHD", "1.234"), ("s-bhd-short", "BHD", "0.5")]
    batch = table({
        "account_id": [r[0] for r in rows],
        "user_id": ["str-user"] * len(rows),
        "type": ["CHECKING"] * len(rows),
        "currency": [r[1] for r in rows],
        "balance": pa.array([r[2] for r in rows], pa.string()),
        "balance_date": ["2026-03-31"] * len(rows),
    })
    assert client.upsert_accounts(batch) == len(rows)
    expected = {r[0]: minor_units(r[2], r[1]) for r in rows}
    assert expected["s-eur-neg"] == -15_000 and expected["s-bhd"] == 1234
    assert expected["s-jpy"] == 12 and expected["s-bhd-short"] == 500
    got: dict[str, int] = {}
    for currency in ("EUR", "JPY", "BHD"):
        got.update({k: v for k, (_, v) in balances(client, currency).items()})
    assert got == expected


@pytest.mark.parametrize(("currency", "text"), [
    ("EUR", "1.234"), ("JPY", "1.5"), ("BHD", "1.2345"), ("EUR", "+5"), ("EUR", "1e3"),
    ("EUR", "1,000"), ("EUR", "1.2.3"), ("EUR", " 5"), ("EUR", "abc"),
])
def test_upsert_accounts_arrow_bad_decimal_balance(vclient: FinsegClient, currency: str,
                                                   text: str) -> None:
    good, bad = new_id("acc-good"), new_id("acc-bad")
    batch = table({
        "account_id": [good, bad], "user_id": ["bal-user"] * 2, "type": ["CHECKING"] * 2,
        "currency": ["EUR", currency], "balance": pa.array(["1.00", text], pa.string()),
        "balance_date": ["2026-01-01"] * 2,
    })
    error = rpc_error(lambda: vclient.upsert_accounts(batch))
    got = assert_invalid(error, "accounts[1].balance")
    assert not [f for f in got if f.startswith("accounts[0]")], got
    _assert_account_absent(vclient, good)


def _assert_account_absent(client: FinsegClient, account_id: str) -> None:
    """Nothing of a rejected request was written: the account is unknown."""
    error = rpc_error(lambda: append(client, [tx(new_id(), account_id, 1)]))
    assert_invalid(error, "transactions[0].account_id")


ACCOUNT_CASES = {
    "type_unspecified": ({"type": common_pb2.ACCOUNT_TYPE_UNSPECIFIED}, "type"),
    "currency_EURO": ({"currency": "EURO"}, "currency"),
    "currency_lower_case": ({"currency": "eur"}, "currency"),
    "currency_empty": ({"currency": ""}, "currency"),
    "balance_date_missing": ({"balance_date": ""}, "balance_date"),
    "balance_date_feb_30": ({"balance_date": "2026-02-30"}, "balance_date"),
    "opened_on_bad": ({"opened_on": "2026-13-01"}, "opened_on"),
    "closed_on_equal_opened_on": ({"opened_on": "2026-01-10", "closed_on": "2026-01-10"},
                                  "closed_on"),
    "closed_on_before_opened_on": ({"opened_on": "2026-01-10", "closed_on": "2026-01-09"},
                                   "closed_on"),
    "user_id_empty": ({"user_id": ""}, "user_id"),
    "user_id_129_chars": ({"user_id": "u" * 129}, "user_id"),
    "user_id_control_char": ({"user_id": "bad\x07user"}, "user_id"),
    "account_id_empty": ({"account_id": ""}, "account_id"),
    "account_id_control_char": ({"account_id": "acc\nx"}, "account_id"),
}


@pytest.mark.parametrize("case", list(ACCOUNT_CASES))
def test_upsert_accounts_bad_row_rejects_request(vclient: FinsegClient, case: str) -> None:
    overrides, field = ACCOUNT_CASES[case]
    good = new_id("acc-good")
    bad = {**acct(new_id("acc-bad"), "bad-user"), **overrides}
    error = rpc_error(lambda: vclient.upsert_accounts([acct(good, "good-user"), bad]))
    got = assert_invalid(error, f"accounts[1].{field}")
    assert not [f for f in got if f.startswith("accounts[0]")], got
    assert error.details(), "the message must say what is wrong"
    _assert_account_absent(vclient, good)


def test_upsert_accounts_duplicate_id_in_one_request(vclient: FinsegClient) -> None:
    dup = new_id("acc-dup")
    error = rpc_error(lambda: vclient.upsert_accounts(
        [acct(dup, "dup-user", 1), acct(new_id("acc-other"), "dup-user"),
         acct(dup, "dup-user", 2)]))
    assert_invalid(error, "accounts[2].account_id")
    _assert_account_absent(vclient, dup)


def test_upsert_accounts_names_every_bad_row(vclient: FinsegClient) -> None:
    cases = list(ACCOUNT_CASES.values())
    rows = [acct(new_id("acc-good"), "good-user")]
    rows += [{**acct(new_id("acc-bad"), "bad-user"), **overrides} for overrides, _ in cases]
    error = rpc_error(lambda: vclient.upsert_accounts(rows))
    assert_invalid(error, *[f"accounts[{i}].{field}" for i, (_, field) in
                            enumerate(cases, start=1)])
    _assert_account_absent(vclient, rows[0]["account_id"])


# ---- AppendTransactions: acknowledgements ------------------------------------

def _request(batch_id: str, rows: list[dict[str, Any]]) -> ingest_pb2.AppendTransactionsRequest:
    return ingest_pb2.AppendTransactionsRequest(
        batch_id=batch_id,
        rows=ingest_pb2.TransactionRows(transactions=[ingest_pb2.Transaction(**r) for r in rows]))


def test_append_rows_one_ack_per_batch_in_order(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    requests = [
        _request("alpha", [tx("t1", "a1", 100), tx("t2", "a1", 200)]),
        _request("", [tx("t3", "a1", 300)]),
        _request("gamma", [tx("t1", "a1", 100), tx("t4", "a1", 400)]),
        _request("delta", []),
    ]
    acks = list(client.ingest.AppendTransactions(iter(requests), metadata=client.metadata,
                                                 timeout=30))
    assert [(a.batch_id, a.batch_index, a.appended_count, a.duplicate_count) for a in acks] == [
        ("alpha", 0, 2, 0), ("", 1, 1, 0), ("gamma", 2, 1, 1), ("delta", 3, 0, 0)]
    assert balances(client) == {"a1": ("u1", 1000)}


def test_append_acks_each_batch_while_the_stream_stays_open(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    outbox: queue.Queue[ingest_pb2.AppendTransactionsRequest | None] = queue.Queue()

    def requests() -> Iterator[ingest_pb2.AppendTransactionsRequest]:
        while (item := outbox.get()) is not None:
            yield item

    responses = client.ingest.AppendTransactions(requests(), metadata=client.metadata,
                                                 timeout=20)
    try:
        outbox.put(_request("b-0", [tx("s1", "a1", 5)]))
        first = next(responses)
        assert (first.batch_id, first.batch_index, first.appended_count) == ("b-0", 0, 1)
        # Acknowledged means durable: a job started now already sees it.
        assert balances(client) == {"a1": ("u1", 5)}
        outbox.put(_request("b-1", [tx("s1", "a1", 5), tx("s2", "a1", 7)]))
        second = next(responses)
        assert (second.batch_id, second.batch_index, second.appended_count,
                second.duplicate_count) == ("b-1", 1, 1, 1)
    finally:
        outbox.put(None)
    assert list(responses) == []


def test_append_arrow_forms(client: FinsegClient) -> None:
    client.upsert_accounts([acct("e1", "arrow-user", 0), acct("j1", "arrow-user", 0,
                                                                currency="JPY")])
    typed = table({
        "transaction_id": ["x1", "x2"],
        "account_id": pa.array(["e1", "e1"]).dictionary_encode(),
        "booking_date": pa.array([dt.date(2026, 1, 5), dt.date(2026, 1, 6)], pa.date32()),
        "amount": pa.array([1050, -50], pa.int64()),
        "label": ["SALARY", None],
    })
    textual = table({
        "transaction_id": ["x3", "x4", "x5", "x6"],
        "account_id": ["e1", "e1", "j1", "e1"],
        "booking_date": ["2026-01-07", "2026-01-08", "2026-01-08", "2026-01-09"],
        "amount": pa.array(["-150.00", "1426.84", "12", "-1.5"], pa.string()),
        "currency": ["EUR", "EUR", "JPY", ""],
    })
    assert counts(append(client, typed, textual)) == [(2, 0), (4, 0)]
    assert balances(client) == {"e1": ("arrow-user", 1050 - 50 - 15_000 + 142_684 - 150)}
    assert balances(client, "JPY") == {"j1": ("arrow-user", 12)}
    # The decimal string "-150.00" is exactly -15000 minor units: the same
    # transaction sent row by row is a duplicate, not a conflict.
    assert counts(append(client, textual, [tx("x3", "e1", -15_000, "2026-01-07")])) \
        == [(0, 4), (0, 1)]


# ---- idempotency -------------------------------------------------------------

def test_resending_a_batch_is_a_noop(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    batch = [tx("t1", "a1", 100), tx("t2", "a1", 200, label="SALARY"), tx("t3", "a1", -50)]
    assert counts(append(client, batch)) == [(3, 0)]
    assert counts(append(client, batch, batch)) == [(0, 3), (0, 3)]
    assert balances(client) == {"a1": ("u1", 250)}


def test_same_id_with_different_content_already_exists_and_writes_nothing(
        client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    assert counts(append(client, [tx("t1", "a1", 100)])) == [(1, 0)]
    for changed in ({"amount": 101}, {"booking_date": "2026-02-02"}, {"label": "SALARY"},
                    {"purpose": "other"}):
        rows = [tx("fresh", "a1", 1_000), {**tx("t1", "a1", 100), **changed}]
        error = rpc_error(functools.partial(append, client, rows))
        assert error.code() == CODE.ALREADY_EXISTS, (changed, error.code(), error.details())
    # The other row of the failing batch was not stored.
    assert counts(append(client, [tx("fresh", "a1", 1_000)])) == [(1, 0)]
    assert balances(client) == {"a1": ("u1", 1_100)}


def test_batches_before_a_conflict_stay_stored(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    append(client, [tx("t1", "a1", 100)])
    responses = client.append_transactions([[tx("ok", "a1", 10)],
                                            [tx("t1", "a1", 999), tx("lost", "a1", 1)]])
    acks = []
    with pytest.raises(grpc.RpcError) as info:
        for ack in responses:
            acks.append(ack)
    assert info.value.code() == CODE.ALREADY_EXISTS
    assert counts(acks) == [(1, 0)]
    assert counts(append(client, [tx("ok", "a1", 10), tx("lost", "a1", 1)])) == [(1, 1)]


def test_duplicate_id_inside_one_batch(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 0)])
    assert counts(append(client, [tx("d1", "a1", 100), tx("d2", "a1", 5),
                                  tx("d1", "a1", 100)])) == [(2, 1)]
    assert balances(client) == {"a1": ("u1", 105)}

    error = rpc_error(lambda: append(client, [tx("n0", "a1", 7), tx("n1", "a1", 100),
                                              tx("n1", "a1", 200)]))
    assert error.code() == CODE.ALREADY_EXISTS, (error.code(), error.details())
    assert counts(append(client, [tx("n0", "a1", 7), tx("n1", "a1", 200)])) == [(2, 0)]
    assert balances(client) == {"a1": ("u1", 312)}


# ---- validation of transaction rows ------------------------------------------

TX_CASES = {
    "unknown_account": ({"account_id": "no-such-account"}, "account_id"),
    "empty_account_id": ({"account_id": ""}, "account_id"),
    "date_feb_30": ({"booking_date": "2026-02-30"}, "booking_date"),
    "date_month_13": ({"booking_date": "2026-13-01"}, "booking_date"),
    "date_two_digit_year": ({"booking_date": "26-01-01"}, "booking_date"),
    "date_missing": ({"booking_date": ""}, "booking_date"),
    "date_with_time": ({"booking_date": "2026-01-01T00:00:00"}, "booking_date"),
    "empty_transaction_id": ({"transaction_id": ""}, "transaction_id"),
    "transaction_id_129_chars": ({"transaction_id": "x" * 129}, "transaction_id"),
    "transaction_id_control_char": ({"transaction_id": "tx\x01id"}, "transaction_id"),
    "transaction_id_newline": ({"transaction_id": "tx\nid"}, "transaction_id"),
    "transaction_id_del": ({"transaction_id": "tx\x7fid"}, "transaction_id"),
    "currency_other_than_account": ({"currency": "USD"}, "currency"),
    "label_129_chars": ({"label": "L" * 129}, "label"),
    "purpose_1025_chars": ({"purpose": "p" * 1025}, "purpose"),
    "counterparty_name_257_chars": ({"counterparty_name": "n" * 257}, "counterparty_name"),
    # The print format of the longest IBAN (34 characters) is 42.
    "counterparty_iban_43_chars": ({"counterparty_iban": "D" * 43}, "counterparty_iban"),
    "mcc_9_chars": ({"mcc": "1" * 9}, "mcc"),
}


def _bad_tx(overrides: dict[str, Any]) -> dict[str, Any]:
    row = {**tx(new_id(), "v-eur", 100), **overrides}
    return row


@pytest.mark.parametrize("case", list(TX_CASES))
def test_append_bad_row_rejects_the_batch(vclient: FinsegClient, case: str) -> None:
    overrides, field = TX_CASES[case]
    good = tx(new_id(), "v-eur", 100)
    error = rpc_error(lambda: append(vclient, [good, _bad_tx(overrides)]))
    got = assert_invalid(error, f"transactions[1].{field}")
    assert not [f for f in got if f.startswith("transactions[0]")], got
    assert error.details(), "the message must say what is wrong"
    assert counts(append(vclient, [good])) == [(1, 0)], "the good row must not have been stored"


def test_append_names_every_bad_row_and_field(vclient: FinsegClient) -> None:
    cases = list(TX_CASES.values())
    good = [tx(new_id(), "v-eur", 100), tx(new_id(), "v-eur", 200)]
    rows = [good[0]] + [_bad_tx(overrides) for overrides, _ in cases] + [good[1]]
    error = rpc_error(lambda: append(vclient, rows))
    got = assert_invalid(error, *[f"transactions[{i}].{field}"
                                  for i, (_, field) in enumerate(cases, start=1)])
    good_rows = ("transactions[0]", f"transactions[{len(rows) - 1}]")
    assert not [f for f in got if f.startswith(good_rows)], got
    assert counts(append(vclient, good)) == [(2, 0)]


def test_append_accepts_fields_at_their_limits(vclient: FinsegClient) -> None:
    row = tx("y" * 128, "v-eur", 1, label="L" * 128, purpose="p" * 1024,
             counterparty_name="n" * 256, counterparty_iban="DE89370400440532013000",
             mcc="12345678", currency="EUR")
    odd = tx('id with spaces, "quotes" and ü', "v-eur", 2)
    # Print format as bank exports have it: lower case, spaced, 42 at most.
    printed = tx(new_id(), "v-eur", 3, counterparty_iban="de89 3704 0044 0532 0130 00")
    longest = tx(new_id(), "v-eur", 4, counterparty_iban=" ".join(["MT84"] + ["ABCD"] * 7) + " AB")
    assert len(longest["counterparty_iban"]) == 42
    assert counts(append(vclient, [row, odd, printed, longest])) == [(4, 0)]
    assert counts(append(vclient, [row, odd])) == [(0, 2)]


AMOUNT_CASES = [("v-eur", "1.234"), ("v-jpy", "1.5"), ("v-bhd", "1.2345"), ("v-eur", "+5"),
                ("v-eur", "1e3"), ("v-eur", "1,000"), ("v-eur", "--5"), ("v-eur", "")]


@pytest.mark.parametrize(("account", "text"), AMOUNT_CASES)
def test_append_arrow_bad_decimal_amount(vclient: FinsegClient, account: str, text: str
                                         ) -> None:
    good_id = new_id()
    batch = table({
        "transaction_id": [good_id, new_id()], "account_id": ["v-eur", account],
        "booking_date": ["2026-02-01"] * 2, "amount": pa.array(["1.00", text], pa.string()),
    })
    error = rpc_error(lambda: append(vclient, batch))
    got = assert_invalid(error, "transactions[1].amount")
    assert not [f for f in got if f.startswith("transactions[0]")], got
    assert counts(append(vclient, [tx(good_id, "v-eur", 100)])) == [(1, 0)]


def test_too_many_decimals_name_the_currency_and_its_decimals(vclient: FinsegClient) -> None:
    """A JPY amount with decimals says JPY has none (issue 13, point 2),
    for balances and amounts alike; a malformed number keeps the rules."""
    batch = table({
        "transaction_id": [new_id() for _ in range(4)],
        "account_id": ["v-jpy", "v-bhd", "v-eur", "v-eur"], "booking_date": ["2026-02-01"] * 4,
        "amount": pa.array(["1200.50", "1.2345", "1.234", "1,000"], pa.string())})
    got = dict(field_violations(rpc_error(lambda: append(vclient, batch))))
    assert got["transactions[0].amount"] == "has more decimals than JPY has (no decimals)"
    assert got["transactions[1].amount"] == "has more decimals than BHD has (3 decimals)"
    assert got["transactions[2].amount"] == "has more decimals than EUR has (2 decimals)"
    assert "no thousands separator" in got["transactions[3].amount"]
    accounts = table({"account_id": [new_id("acc")], "user_id": ["u"], "type": ["CHECKING"],
                      "currency": ["JPY"], "balance": pa.array(["10.5"], pa.string()),
                      "balance_date": ["2026-01-01"]})
    got = dict(field_violations(rpc_error(lambda: vclient.upsert_accounts(accounts))))
    assert got["accounts[0].balance"] == "has more decimals than JPY has (no decimals)"


def test_append_arrow_names_every_bad_amount(vclient: FinsegClient) -> None:
    batch = table({
        "transaction_id": [new_id() for _ in range(len(AMOUNT_CASES) + 1)],
        "account_id": ["v-eur"] + [a for a, _ in AMOUNT_CASES],
        "booking_date": ["2026-02-01"] * (len(AMOUNT_CASES) + 1),
        "amount": pa.array(["-1.5"] + [t for _, t in AMOUNT_CASES], pa.string()),
    })
    error = rpc_error(lambda: append(vclient, batch))
    assert_invalid(error, *[f"transactions[{i}].amount"
                            for i in range(1, len(AMOUNT_CASES) + 1)])


def test_arrow_garbage_and_unknown_columns(vclient: FinsegClient) -> None:
    garbage = b"this is not an Arrow IPC stream"
    error = rpc_error(lambda: list(vclient.ingest.AppendTransactions(
        iter([ingest_pb2.AppendTransactionsRequest(batch_id="g", arrow_ipc=garbage)]),
        metadata=vclient.metadata, timeout=20)))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert "arrow_ipc" in violations(error) or "arrow_ipc" in error.details()

    error = rpc_error(lambda: vclient.ingest.UpsertAccounts(
        ingest_pb2.UpsertAccountsRequest(arrow_ipc=garbage), metadata=vclient.metadata))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert "arrow_ipc" in violations(error) or "arrow_ipc" in error.details()

    good_id = new_id()
    extra = table({"transaction_id": [good_id], "account_id": ["v-eur"],
                   "booking_date": ["2026-02-01"], "amount": pa.array([1], pa.int64()),
                   "colour": ["blue"]})
    error = rpc_error(lambda: append(vclient, extra))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert "colour" in error.details() or any("colour" in f for f in violations(error))
    assert counts(append(vclient, [tx(good_id, "v-eur", 1)])) == [(1, 0)]

    accounts = table({"account_id": ["zz"], "user_id": ["zz"], "type": ["CHECKING"],
                      "currency": ["EUR"], "balance": pa.array([1], pa.int64()),
                      "balance_date": ["2026-01-01"], "colour": ["blue"]})
    error = rpc_error(lambda: vclient.upsert_accounts(accounts))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert "colour" in error.details() or any("colour" in f for f in violations(error))

    missing = table({"transaction_id": [new_id()], "account_id": ["v-eur"],
                     "amount": pa.array([1], pa.int64())})
    error = rpc_error(lambda: append(vclient, missing))
    assert error.code() == CODE.INVALID_ARGUMENT
    assert "booking_date" in error.details()


def test_unknown_account_type_name_in_arrow(vclient: FinsegClient) -> None:
    batch = table({"account_id": [new_id("acc")], "user_id": ["x"], "type": ["GIRO"],
                   "currency": ["EUR"], "balance": pa.array([1], pa.int64()),
                   "balance_date": ["2026-01-01"]})
    error = rpc_error(lambda: vclient.upsert_accounts(batch))
    assert_invalid(error, "accounts[0].type")


# ---- tenants -----------------------------------------------------------------

def test_tenants_are_isolated(client: FinsegClient, target: str) -> None:
    client.upsert_accounts([acct("acme-only", "u1", 100), acct("shared-id", "u1", 1)])
    append(client, [tx("t1", "acme-only", 50)])
    job = client.create_segment(high_balance("EUR", LOWEST, as_of=AS_OF))
    client.members(job.segment_id)

    with connect(target, "beta") as beta:
        error = rpc_error(lambda: append(beta, [tx("b1", "acme-only", 5)]))
        assert_invalid(error, "transactions[0].account_id")
        assert balances(beta) == {}

        # Ids are per tenant: the same account and transaction ids are beta's own.
        beta.upsert_accounts([acct("shared-id", "beta-user", 7)])
        assert counts(append(beta, [tx("t1", "shared-id", 3)])) == [(1, 0)]
        assert balances(beta) == {"shared-id": ("beta-user", 10)}

        for call in (lambda: beta.get_segment(job.segment_id),
                     lambda: list(beta.stream_segment(job.segment_id, timeout=20))):
            assert rpc_error(call).code() == CODE.NOT_FOUND
        assert rpc_error(lambda: beta.delete_user("u1")).code() == CODE.NOT_FOUND

    assert balances(client) == {"acme-only": ("u1", 150), "shared-id": ("u1", 1)}


# ---- erasure -----------------------------------------------------------------

def test_delete_user_removes_accounts_and_transactions(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100), acct("a2", "u1", 200),
                            acct("b1", "u2", 300)])
    append(client, [tx("t1", "a1", 1), tx("t2", "a2", 2), tx("t3", "a2", 3),
                    tx("t4", "b1", 4)])
    assert set(balances(client)) == {"a1", "a2", "b1"}

    deleted = client.delete_user("u1")
    assert (deleted.deleted_accounts, deleted.deleted_transactions) == (2, 3)
    assert balances(client) == {"b1": ("u2", 304)}
    error = rpc_error(lambda: append(client, [tx("t9", "a1", 1)]))
    assert_invalid(error, "transactions[0].account_id")

    assert rpc_error(lambda: client.delete_user("u1")).code() == CODE.NOT_FOUND
    assert rpc_error(lambda: client.delete_user("nobody")).code() == CODE.NOT_FOUND
    assert rpc_error(lambda: client.delete_user("")).code() == CODE.INVALID_ARGUMENT


def test_delete_user_scrubs_stored_segment_results(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100), acct("b1", "u2", 300)])
    job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
    assert [m.user_id for m in client.members(job.segment_id)] == ["u1", "u2"]

    client.delete_user("u1")
    # SPEC §2: erasure scrubs the user from stored segment results.
    assert [m.user_id for m in client.members(job.segment_id)] == ["u2"]
    page = client.get_segment(job.segment_id).page.high_balance
    assert [m.user_id for m in page.members] == ["u2"]


# ---- durability ----------------------------------------------------------------

def test_acknowledged_data_and_idempotency_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = [tx("t1", "a1", 100), tx("t2", "a1", 200)]
    second = [tx("t3", "a1", 400), tx("t4", "b1", -50)]
    with running(data_dir) as c:
        c.upsert_accounts([acct("a1", "u1", 1000), acct("b1", "u2", 0)])
        assert counts(append(c, first)) == [(2, 0)]
        time.sleep(0.6)  # the compactor (idle after 0.2 s) folds `first` into the base
        assert counts(append(c, second)) == [(2, 0)]  # stays in the tail
    # service.stop(0) ran: no grace, the next process opens the same data dir.
    with running(data_dir) as c:
        assert balances(c) == {"a1": ("u1", 1700), "b1": ("u2", -50)}
        assert counts(append(c, first, second)) == [(0, 2), (0, 2)]
        error = rpc_error(lambda: append(c, [tx("t5", "a1", 1), tx("t1", "a1", 101)]))
        assert error.code() == CODE.ALREADY_EXISTS
        error = rpc_error(lambda: append(c, [tx("t5", "a1", 1), tx("t4", "b1", -51)]))
        assert error.code() == CODE.ALREADY_EXISTS
        assert counts(append(c, [tx("t5", "a1", 1)])) == [(1, 0)]
        assert balances(c) == {"a1": ("u1", 1701), "b1": ("u2", -50)}


def test_rejected_requests_write_nothing_visible_in_segments(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100)])
    before = balances(client)
    rpc_error(lambda: client.upsert_accounts([acct("a1", "u1", 999), acct("a2", "", 5)]))
    rpc_error(lambda: append(client, [tx("t1", "a1", 5), tx("t2", "a1", 5, booking_date="x")]))
    assert balances(client) == before == {"a1": ("u1", 100)}
