"""What refused calls cost the store (issue 12, point 2): they are counted
per window, not written one by one; the counts are kept to a budget and
out of the map's last tenth; the audit log has a retention; and its time
range takes any timestamp (point 5)."""

from __future__ import annotations

import datetime as dt
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from conftest import connect, start_server, token_for
from google.protobuf import timestamp_pb2

from finseg.client.api import FinsegClient
from finseg.server.app import Service
from finseg.server.storage.env import DB
from finseg.v1 import audit_pb2, taxonomy_pb2, taxonomy_pb2_grpc

SMALL_MAP = 4 << 20
DENIED = grpc.StatusCode.PERMISSION_DENIED
ACCOUNT = {"account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
           "balance": 0, "balance_date": "2026-01-01"}


def entries(service: Service, db: DB) -> int:
    with service.store.env.read() as txn:
        return int(txn.stat(service.store.env.db(db))["entries"])


def refusal_events(service: Service) -> int:
    return entries(service, DB.REFUSALS)


def flood(service: Service, calls: int, authorization: str | None = None,
          refused: grpc.StatusCode = grpc.StatusCode.UNAUTHENTICATED) -> None:
    """`calls` GetTaxonomy calls that are refused, 8 at a time."""
    metadata = (("authorization", authorization),) if authorization else ()
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        stub = taxonomy_pb2_grpc.TaxonomyServiceStub(channel)

        def one(_: int) -> grpc.StatusCode:
            try:
                stub.GetTaxonomy(taxonomy_pb2.GetTaxonomyRequest(), metadata=metadata,
                                 timeout=10)
                return grpc.StatusCode.OK
            except grpc.RpcError as error:
                return error.code()

        with futures.ThreadPoolExecutor(8) as pool:
            codes = set(pool.map(one, range(calls)))
    assert codes == {refused}


def test_a_flood_of_calls_without_a_token_cannot_fill_the_store(data_dir: Path) -> None:
    service = start_server(data_dir, map_size=SMALL_MAP)
    try:
        flood(service, 6_000)
        flood(service, 6_000, "Bearer not-a-token")
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            assert client.upsert_accounts([ACCOUNT]) == 1
        service.auditor.flush()
        # Two kinds of refusal (no token, a bad one) from one peer, in one
        # or two windows: a handful of events, not 12,000.
        assert 2 <= refusal_events(service) <= 4
        assert entries(service, DB.AUDIT) == 1  # the upsert's
    finally:
        service.stop(0)


def test_refusals_are_counted_with_their_peer(data_dir: Path) -> None:
    service = start_server(data_dir)
    try:
        flood(service, 50, f"Bearer {token_for('acme', ['ingest:write'])}", DENIED)
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            (event,) = client.audit_events()
        assert (event.action, event.outcome, event.count, event.target) == (
            "finseg.v1.TaxonomyService/GetTaxonomy", "PERMISSION_DENIED", 50, "peer 127.0.0.1")
        assert event.detail.startswith("50 call(s) refused: ")
    finally:
        service.stop(0)


def test_stored_refusals_are_kept_to_their_budget(data_dir: Path) -> None:
    service = start_server(data_dir, max_refusal_events=5)
    try:
        tenants = [f"t{i}" for i in range(12)]
        for tenant in tenants:  # one event each: the token's tenant differs
            flood(service, 1, f"Bearer {token_for(tenant, ['ingest:write'])}", DENIED)
            service.auditor.flush()
        assert refusal_events(service) == 5
        for tenant in tenants:  # the newest are kept, the oldest went first
            with connect(f"127.0.0.1:{service.port}", tenant) as client:
                assert len(list(client.audit_events())) == (tenant in tenants[-5:])
    finally:
        service.stop(0)


def fill(client: FinsegClient) -> None:
    """Ingests until the map's headroom refuses more."""
    client.upsert_accounts([ACCOUNT, {**ACCOUNT, "account_id": "a2", "user_id": "u2"}])
    with pytest.raises(grpc.RpcError) as full:
        for k in range(1000):
            list(client.append_transactions([[
                {"transaction_id": f"t{k}-{i}", "account_id": "a1", "booking_date": "2026-01-15",
                 "amount": 1, "purpose": f"payment {k} {i} " + "x" * 100}
                for i in range(2000)]]))
    assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_refused_and_failed_calls_stay_out_of_the_reserve(data_dir: Path) -> None:
    service = start_server(data_dir, map_size=SMALL_MAP)
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            fill(client)
            before = entries(service, DB.AUDIT)
            flood(service, 500)
            service.auditor.flush()
            for _ in range(300):  # failed data changes, audited one by one
                with pytest.raises(grpc.RpcError):
                    client.upsert_accounts([{**ACCOUNT, "currency": "XXXX"}])
            assert (entries(service, DB.AUDIT), refusal_events(service)) == (before, 0)
            # An erasure is the tenants' own work: it and its record fit.
            client.delete_user("u2")
            outcomes = [(e.action.rsplit("/")[-1], e.outcome) for e in client.audit_events()]
        assert ("DeleteUser", "OK") in outcomes
        assert ("UpsertAccounts", "INVALID_ARGUMENT") not in outcomes
    finally:
        service.stop(0)


def test_the_audit_log_keeps_events_for_its_retention(data_dir: Path) -> None:
    service = start_server(data_dir, audit_retention_days=3 / 86400, sweep_seconds=0.2)
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            client.upsert_accounts([ACCOUNT])
            flood(service, 3, f"Bearer {token_for('acme', ['ingest:write'])}", DENIED)
            assert len(list(client.audit_events())) == 2
            time.sleep(2)
            client.upsert_accounts([{**ACCOUNT, "balance": 5}])
            time.sleep(1.5)  # the first two are now older than 3 s
            events = list(client.audit_events())
        assert [(e.action.rsplit("/")[-1], e.outcome) for e in events] == [
            ("UpsertAccounts", "OK")]
    finally:
        service.stop(0)


def stamp(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


YEAR_1, YEAR_9999 = -62_135_596_800, 253_402_300_799
YEAR_5000 = int(dt.datetime(5000, 1, 1, tzinfo=dt.UTC).timestamp())


@pytest.mark.parametrize(("from_time", "to_time", "events"), [
    (stamp(YEAR_5000), None, 0),
    (stamp(YEAR_1), None, 1),
    (stamp(YEAR_1), stamp(YEAR_9999, 999_999_999), 1),
    (None, stamp(YEAR_1), 0),
    (stamp(-1), stamp(YEAR_5000), 1),
])
def test_any_timestamp_selects_a_time_range(server: Service, from_time, to_time,
                                            events) -> None:
    with connect(f"127.0.0.1:{server.port}", "acme") as client:
        client.upsert_accounts([ACCOUNT])
        response = client.audit.ListAuditEvents(
            audit_pb2.ListAuditEventsRequest(from_time=from_time, to_time=to_time),
            metadata=client.metadata, timeout=10)
    assert len(response.events) == events


@pytest.mark.parametrize(("field", "value"), [
    ("from_time", stamp(YEAR_9999 + 1)), ("from_time", stamp(YEAR_1 - 1)),
    ("to_time", stamp(0, -1)), ("to_time", stamp(0, 10**9)), ("from_time", stamp(2**62)),
])
def test_timestamps_outside_their_range_are_invalid(server: Service, field, value) -> None:
    with connect(f"127.0.0.1:{server.port}", "acme") as client, \
            pytest.raises(grpc.RpcError) as refused:
        client.audit.ListAuditEvents(audit_pb2.ListAuditEventsRequest(**{field: value}),
                                     metadata=client.metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in refused.value.details()
