"""A full database over gRPC: RESOURCE_EXHAUSTED, nothing damaged, reads and
jobs keep working, and a larger map on restart lets ingestion continue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from conftest import connect, start_server

from finseg.client.api import FinsegClient, high_balance

SMALL_MAP = 4 << 20


def batch(start: int, n: int) -> pa.RecordBatch:
    return pa.record_batch({
        "transaction_id": [f"t{i:09d}" for i in range(start, start + n)],
        "account_id": ["a1"] * n,
        "booking_date": ["2026-01-15"] * n,
        "amount": pa.array([1] * n, pa.int64()),
        # Incompressible text so that the map fills after a few batches.
        "purpose": [f"payment {i} " + "x" * 100 for i in range(start, start + n)],
    })


def members(client: FinsegClient) -> list:
    job = client.create_segment(high_balance("EUR", 0, as_of=dt.date(2026, 1, 31)))
    return [(m.user_id, m.accounts[0].amount) for m in client.members(job.segment_id)]


def test_full_map_is_resource_exhausted_and_recoverable(data_dir: Path) -> None:
    service = start_server(data_dir, map_size=SMALL_MAP)
    target = f"127.0.0.1:{service.port}"
    with connect(target, "acme") as client:
        client.upsert_accounts([{"account_id": "a1", "user_id": "u1", "type": "CHECKING",
                                 "currency": "EUR", "balance": 0,
                                 "balance_date": "2026-01-01"}])
        stored = 0
        with pytest.raises(grpc.RpcError) as failure:
            for k in range(100):
                for ack in client.append_transactions([batch(k * 2000, 2000)]):
                    stored += ack.appended_count
        assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "map_size" in failure.value.details()
        assert stored > 0
        # Everything acknowledged is intact and readable; jobs still run.
        assert members(client) == [("u1", stored)]
    service.stop(0)

    service = start_server(data_dir, map_size=64 << 20)
    with connect(f"127.0.0.1:{service.port}", "acme") as client:
        assert members(client) == [("u1", stored)]
        acks = list(client.append_transactions([batch(10**8, 2000)]))
        assert acks[0].appended_count == 2000
        assert members(client) == [("u1", stored + 2000)]
    service.stop(0)
