"""The Python client as its users meet it: typed errors with their details,
lazy paging, money in major units, retries and deadlines by default."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from conftest import connect, start_server
from grpc_status import rpc_status

from finseg.client import errors
from finseg.client.api import (
    FinsegClient,
    high_balance,
    low_balance,
    minor_units,
)
from finseg.client.retries import Retry
from finseg.v1 import segments_pb2

AS_OF = dt.date(2026, 3, 10)


def bank(client: FinsegClient, users: int) -> None:
    client.upsert_accounts([
        {"account_id": f"a{i:05}", "user_id": f"u{i:05}", "type": "CHECKING",
         "currency": "EUR", "balance": f"{i}.50", "balance_date": "2026-03-01"}
        for i in range(users)])


def test_a_bad_request_raises_invalid_argument_with_its_violations(client: FinsegClient
                                                                   ) -> None:
    with pytest.raises(errors.InvalidArgument) as failure:
        client.create_segment(low_balance("EUR", 0, months=0, as_of=AS_OF))
    error = failure.value
    assert [v.field for v in error.violations] == ["spec.low_balance.months"]
    assert error.violations[0].description
    assert error.retry_delay is None
    # Still what code written against grpc expects.
    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_status.from_call(error).message == error.details()  # type: ignore[arg-type]


def test_money_in_major_units(client: FinsegClient) -> None:
    bank(client, 3)  # balances "0.50", "1.50", "2.50" EUR
    assert minor_units(Decimal("2.50"), "EUR") == 250
    assert high_balance("EUR", "1.50") == high_balance("EUR", Decimal("1.5")) == \
        high_balance("EUR", 150)
    job = client.create_segment(high_balance("EUR", Decimal("1.00"), as_of=AS_OF))
    members = list(client.iter_members(job.segment_id))
    assert [(m.user_id, [a.amount for a in m.accounts]) for m in members] == \
        [("u00001", [150]), ("u00002", [250])]
    with pytest.raises(ValueError, match="more than 0 decimals"):
        high_balance("JPY", "10.5")
    with pytest.raises(TypeError):
        high_balance("EUR", 1.5)  # type: ignore[arg-type]


def test_members_are_paged_lazily_and_paging_outlives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = start_server(data)
    port = service.port
    retry = Retry(attempts=40, initial_backoff=0.05, max_backoff=0.5)
    with connect(f"127.0.0.1:{port}", "acme", retry=retry) as client:
        bank(client, 2500)
        job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
        members = client.iter_members(job.segment_id, page_size=1000)
        first = next(members)
        # One page has been fetched, not the segment.
        assert client.usage_by_type()["HIGH_BALANCE"].result_rows_returned == 1000
        service.stop(0)
        restarted: list = []
        threading.Timer(1.0, lambda: restarted.append(start_server(data, port=port))).start()
        try:
            ids = [first.user_id] + [m.user_id for m in members]
        finally:
            for s in restarted:
                s.stop(0)
    assert ids == [f"u{i:05}" for i in range(2500)]


def test_a_full_queue_is_retried_after_the_retry_delay_it_gives(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1, max_queued_jobs_per_tenant=1)
    gate = threading.Event()
    try:
        target = f"127.0.0.1:{service.port}"
        with connect(target, "acme") as client, connect(target, "acme", retry=None) as once:
            bank(client, 10)
            service.jobs._pool.submit(gate.wait)  # the one worker stays busy
            spec = high_balance("EUR", 0, as_of=AS_OF)
            queued = client.create_segment(spec)  # takes the tenant's one place
            with pytest.raises(errors.ResourceExhausted) as refusal:
                once.create_segment(spec)
            assert refusal.value.retry_delay == 5.0
            threading.Timer(1.0, gate.set).start()
            started = time.monotonic()
            second = client.create_segment(spec)
            assert time.monotonic() - started >= 5.0
            for job in (queued, second):
                assert client.wait(job.segment_id).state == segments_pb2.JOB_STATE_SUCCEEDED
    finally:
        gate.set()
        service.stop(0)


def test_every_call_has_a_deadline_by_default(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}", "acme", stream_timeout=0.5) as client:
            bank(client, 10)
            service.jobs._pool.submit(gate.wait)  # the job cannot start
            job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
            with pytest.raises(errors.DeadlineExceeded):
                list(client.stream_segment(job.segment_id))
            with pytest.raises(errors.DeadlineExceeded):
                client.wait(job.segment_id)
    finally:
        gate.set()
        service.stop(0)
