"""Inputs that once reached INTERNAL: each is now accepted or a named
INVALID_ARGUMENT, never INTERNAL."""

from __future__ import annotations

import datetime as dt

import grpc
import pyarrow as pa
import pytest

from finseg.client.api import FinsegClient, arrow_ipc, high_balance
from finseg.v1 import ingest_pb2

LONG_ID = "😀" * 128  # 128 characters, 512 bytes of UTF-8: longer than an LMDB key


def account(account_id: str, user_id: str) -> dict:
    return {"account_id": account_id, "user_id": user_id, "type": "CHECKING",
            "currency": "EUR", "balance": 500, "balance_date": "2026-01-31"}


def test_ids_of_128_multibyte_characters_work_everywhere(client: FinsegClient) -> None:
    other = "😀" * 127 + "😁"  # shares a long prefix: keys must not collide
    client.upsert_accounts([account(LONG_ID, LONG_ID), account(other, other)])
    acks = list(client.append_transactions([[{
        "transaction_id": LONG_ID, "account_id": LONG_ID, "booking_date": "2026-01-10",
        "amount": 100}]]))
    assert acks[0].appended_count == 1
    job = client.create_segment(high_balance("EUR", 0, as_of=dt.date(2026, 1, 31)))
    members = client.members(job.segment_id)
    assert sorted(m.user_id for m in members) == sorted([LONG_ID, other])
    assert client.delete_user(LONG_ID).deleted_accounts == 1
    job = client.create_segment(high_balance("EUR", 0, as_of=dt.date(2026, 1, 31)))
    assert [m.user_id for m in client.members(job.segment_id)] == [other]


def _append_ipc(client: FinsegClient, data: bytes) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        list(client.ingest.AppendTransactions(
            iter([ingest_pb2.AppendTransactionsRequest(arrow_ipc=data)]),
            metadata=client.metadata))
    return failure.value


def test_unsigned_amount_beyond_int64_is_a_named_row(client: FinsegClient) -> None:
    client.upsert_accounts([account("a1", "u1")])
    batch = pa.record_batch({"transaction_id": ["t1", "t2"], "account_id": ["a1", "a1"],
                             "booking_date": ["2026-01-10", "2026-01-11"],
                             "amount": pa.array([5, 2**63], pa.uint64())})
    error = _append_ipc(client, arrow_ipc(batch))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "transactions[1].amount" in error.details()


def test_repeated_column_names_are_invalid(client: FinsegClient) -> None:
    batch = pa.RecordBatch.from_arrays(
        [pa.array(["t1"]), pa.array(["a1"]), pa.array(["2026-01-10"]), pa.array([1]),
         pa.array(["x"])],
        names=["transaction_id", "account_id", "booking_date", "amount", "amount"])
    error = _append_ipc(client, arrow_ipc(batch))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'amount' appears more than once" in error.details()


def test_invalid_utf8_is_invalid_argument(client: FinsegClient) -> None:
    client.upsert_accounts([account("a1", "u1")])
    good = pa.record_batch({"transaction_id": ["tX"], "account_id": ["a1"],
                            "booking_date": ["2026-01-10"], "amount": pa.array([1])})
    # Replace the id's bytes with invalid UTF-8 inside the IPC payload.
    data = arrow_ipc(good).replace(b"tX", b"\xff\xfe")
    error = _append_ipc(client, data)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "arrow_ipc" in error.details()
    # The rejected bytes were not stored: a clean batch appends normally.
    assert list(client.append_transactions([good]))[0].appended_count == 1
