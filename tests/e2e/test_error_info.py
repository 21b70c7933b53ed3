"""Every error carries a google.rpc.ErrorInfo with a stable reason (issue 13,
point 3): each reason is in docs/errors.md, and calls over gRPC that fail for
each reason carry it in grpc-status-details-bin."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from conftest import connect, hold_worker, start_server, token_for
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.cli.tokens import mint
from finseg.client.api import (
    FinsegClient,
    financial_breakdown,
    high_balance,
    insurance_spending,
    live,
    low_balance,
    rfm,
    rule,
)
from finseg.server.errors import Reason
from finseg.v1 import audit_pb2, ingest_pb2, segments_pb2, taxonomy_pb2

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 1, 31)
ACCOUNT = {"account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
           "balance": 0, "balance_date": "2026-01-01"}

#: Reasons no call can provoke: they are raised by `finseg serve` and
#: `finseg backup` before or outside gRPC, inside a job (its error text), or
#: only when the store is damaged, a method lacks a scope entry or the code
#: has a bug.
NOT_PROVOKED = {Reason.STORE_FORMAT_MISMATCH, Reason.DATA_DIR_IN_USE,
                Reason.BACKUP_DIR_NOT_EMPTY, Reason.TOO_MANY_PROVIDERS,
                Reason.STORE_INCONSISTENT, Reason.INTERNAL_ERROR}


def documented() -> dict[str, str]:
    """reason -> status code, from the table in docs/errors.md."""
    text = (ROOT / "docs" / "errors.md").read_text()
    return dict(re.findall(r"^\| `([A-Z_]+)` \| ([A-Z_]+) \|", text, flags=re.M))


def test_every_reason_is_documented_with_its_status() -> None:
    table = documented()
    assert set(table) == {r.value for r in Reason}
    assert "docs/errors.md" in (ROOT / "README.md").read_text()


def error_info(error: grpc.RpcError) -> tuple[grpc.StatusCode, error_details_pb2.ErrorInfo]:
    """The call's code and the ErrorInfo read straight from the trailer."""
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(raw)
    infos = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
    assert len(infos) == 1, status
    assert status.code == error.code().value[0]  # type: ignore[attr-defined]
    return error.code(), infos[0]  # type: ignore[attr-defined]


class Seen:
    """Calls that must fail, each with the reason it must carry."""

    def __init__(self) -> None:
        self.reasons: set[str] = set()

    def expect(self, reason: Reason, call: Callable[[], Any]) -> error_details_pb2.ErrorInfo:
        with pytest.raises(grpc.RpcError) as failure:
            result = call()
            if isinstance(result, Iterator):
                list(result)
        code, info = error_info(failure.value)
        assert (info.reason, info.domain) == (reason.value, "finseg.v1"), failure.value
        assert code.name == documented()[reason.value], reason  # type: ignore[attr-defined]
        self.reasons.add(reason.value)
        return info


@pytest.fixture(scope="module")
def seen() -> Seen:
    return SEEN


SEEN = Seen()


def accounts_table(n: int, **columns: list[Any]) -> pa.Table:
    base = {"account_id": [f"a{i}" for i in range(n)], "user_id": ["u"] * n,
            "type": ["CHECKING"] * n, "currency": ["EUR"] * n, "balance": ["1.00"] * n,
            "balance_date": ["2026-01-01"] * n}
    return pa.table({**base, **columns})


def finished(client: FinsegClient) -> str:
    job = client.create_segment(high_balance("EUR", -1, as_of=AS_OF))
    client.members(job.segment_id)
    return job.segment_id


def test_request_errors(client: FinsegClient, seen: Seen) -> None:
    client.upsert_accounts([ACCOUNT])
    info = seen.expect(Reason.INVALID_ROWS, lambda: client.upsert_accounts(
        accounts_table(3, type=["CHECKING", "CHEQUING", "SAVING"])))
    assert info.metadata["violations"] == "2"
    seen.expect(Reason.INVALID_COLUMNS, lambda: client.upsert_accounts(
        pa.table({"account_id": ["a1"]})))
    info = seen.expect(Reason.BATCH_TOO_LARGE,
                       lambda: client.upsert_accounts(accounts_table(100_001)))
    assert info.metadata["max_rows"] == "100000"
    seen.expect(Reason.INVALID_ARROW_IPC, lambda: client.ingest.UpsertAccounts(
        ingest_pb2.UpsertAccountsRequest(arrow_ipc=b"not arrow"), metadata=client.metadata))
    raw = client.channel.unary_unary("/finseg.v1.SegmentService/GetSegment")
    seen.expect(Reason.MALFORMED_REQUEST, lambda: raw(b"\xff\xff\xff", metadata=client.metadata))
    seen.expect(Reason.INVALID_USER_ID, lambda: client.delete_user(""))
    seen.expect(Reason.USER_NOT_FOUND, lambda: client.delete_user("nobody"))
    list(client.append_transactions([[{"transaction_id": "t1", "account_id": "a1",
                                       "booking_date": "2026-01-02", "amount": 1}]]))
    seen.expect(Reason.TRANSACTION_ID_CONFLICT, lambda: client.append_transactions(
        [[{"transaction_id": "t1", "account_id": "a1", "booking_date": "2026-01-02",
           "amount": 2}]]))
    seen.expect(Reason.INVALID_TAXONOMY, lambda: client.replace_taxonomy(
        taxonomy_pb2.LabelTaxonomy(groups=["A.B"])))
    stamp = audit_pb2.ListAuditEventsRequest()
    stamp.from_time.seconds = 10**12
    seen.expect(Reason.INVALID_TIME_RANGE, lambda: client.audit.ListAuditEvents(
        stamp, metadata=client.metadata))


def test_segment_errors(client: FinsegClient, seen: Seen) -> None:
    client.upsert_accounts([ACCOUNT])
    seen.expect(Reason.INVALID_SPEC, lambda: client.create_segment(low_balance("EUR", 0, 30)))
    info = seen.expect(Reason.UNKNOWN_LABEL_GROUP, lambda: client.create_segment(
        financial_breakdown(["NO_SUCH_GROUP"], 3)))
    assert info.metadata["field"] == "spec.financial_breakdown.label_groups[0]"
    seen.expect(Reason.UNKNOWN_INSURANCE_TYPE, lambda: client.create_segment(
        insurance_spending(3, ["PET.DOG"])))
    info = seen.expect(Reason.INVALID_RULE, lambda: client.create_segment(
        rule("frequency(days=30) > ")))
    assert info.metadata["position"] == "21"
    info = seen.expect(Reason.UNKNOWN_SEGMENT_NAME, lambda: client.create_segment(
        rfm(30, segment_names=["VIP"])))
    assert info.metadata["field"] == "spec.rfm.segment_names[0]"
    info = seen.expect(Reason.SEGMENT_NOT_FOUND, lambda: client.get_segment("nope"))
    assert info.metadata["segment_id"] == "nope"
    seen.expect(Reason.SEGMENT_NOT_FOUND, lambda: client.get_segment("n" * 20_000))
    done = finished(client)
    seen.expect(Reason.INVALID_PAGE_SIZE, lambda: client.get_segment(done, page_size=10**6))
    seen.expect(Reason.INVALID_PAGE_TOKEN, lambda: client.get_segment(done, page_token="x"))
    info = seen.expect(Reason.SEGMENT_FINISHED, lambda: client.cancel_segment(done))
    assert info.metadata["state"] == "SUCCEEDED"
    seen.expect(Reason.INVALID_FILTER, lambda: client.segments.ListSegments(
        segments_pb2.ListSegmentsRequest(states=[99]), metadata=client.metadata))


def test_job_queue_and_cancellation(tmp_path: Path, seen: Seen) -> None:
    service = start_server(tmp_path / "data", workers=1, max_queued_jobs_per_tenant=1)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}") as client:
            client.upsert_accounts([ACCOUNT])
            gate = hold_worker(service)
            queued = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
            info = seen.expect(Reason.QUEUE_FULL, lambda: client.create_segment(
                high_balance("EUR", 0, as_of=AS_OF)))
            assert info.metadata["queue"] == "tenant"
            client.cancel_segment(queued.segment_id)
            info = seen.expect(Reason.SEGMENT_CANCELLED,
                               lambda: client.stream_segment(queued.segment_id))
            assert info.metadata["segment_id"] == queued.segment_id
    finally:
        gate.set()
        service.stop(0)


def test_a_full_store_and_a_failed_job(tmp_path: Path, seen: Seen) -> None:
    """A store filled up to its reserve: ingestion is refused, and a job
    whose result (30,000 members) is larger than the reserve fails storing it."""
    service = start_server(tmp_path / "data", map_size=8 << 20)
    n = 30_000
    try:
        with connect(f"127.0.0.1:{service.port}") as client:
            client.upsert_accounts(accounts_table(n, user_id=[f"user-{i:09d}" for i in range(n)]))

            def fill() -> None:
                for k in range(1000):
                    list(client.append_transactions([pa.table({
                        "transaction_id": [f"t{k}-{i}" for i in range(2000)],
                        "account_id": ["a0"] * 2000, "booking_date": ["2026-01-02"] * 2000,
                        "amount": pa.array([1] * 2000, pa.int64()),
                        "purpose": [f"{i} " + "x" * 100 for i in range(2000)]})]))

            seen.expect(Reason.DATABASE_FULL, fill)
            job = client.create_segment(high_balance("EUR", -1, as_of=AS_OF))
            info = seen.expect(Reason.SEGMENT_FAILED, lambda: client.stream_segment(
                job.segment_id))
            assert info.metadata["segment_id"] == job.segment_id
    finally:
        service.stop(0)


def test_live_segment_errors(tmp_path: Path, seen: Seen) -> None:
    # Events older than about a second are pruned by the service's clock thread.
    service = start_server(tmp_path / "data", event_retention_days=1e-5)
    try:
        with connect(f"127.0.0.1:{service.port}") as client:
            client.upsert_accounts([ACCOUNT])
            info = seen.expect(Reason.NOT_LIVE_TYPE, lambda: client.create_segment(
                live(insurance_spending(3))))
            assert info.metadata["live_types"] == "HIGH_BALANCE,LOW_BALANCE,RULE,RFM"
            seen.expect(Reason.SEGMENT_NOT_LIVE,
                        lambda: client.watch_segment(finished(client), timeout=5))
            segment = client.wait(client.create_segment(live(high_balance("EUR", -1))).segment_id)
            deadline = time.monotonic() + 30
            while service.jobs.live.events("acme", segment.segment_id, 0, 1)[0]:
                assert time.monotonic() < deadline, "the event was never pruned"
                time.sleep(0.2)
            info = seen.expect(Reason.EVENTS_PRUNED,
                               lambda: client.watch_segment(segment.segment_id, 0, timeout=5))
            assert info.metadata["oldest_sequence"] == "2"
    finally:
        service.stop(0)


def test_auth_errors(server: Any, target: str, tmp_path: Path, seen: Seen) -> None:
    bare = FinsegClient(target)

    def call(authorization: str | None) -> Callable[[], Any]:
        metadata = (("authorization", authorization),) if authorization is not None else ()
        return lambda: bare.segments.ListSegments(segments_pb2.ListSegmentsRequest(),
                                                  metadata=metadata, timeout=10)

    def bearer(token: str) -> str:
        return f"Bearer {token}"

    seen.expect(Reason.TOKEN_MISSING, call(None))
    seen.expect(Reason.TOKEN_MALFORMED, call("Basic abc"))
    seen.expect(Reason.TOKEN_MALFORMED, call("Bearer not.a.jwt"))
    seen.expect(Reason.TOKEN_SIGNATURE_INVALID,
                call(bearer(mint(b"another secret of at least 32 bytes!", "acme"))))
    seen.expect(Reason.TOKEN_INVALID, call(bearer(token_for("acme", audience="other"))))
    seen.expect(Reason.TOKEN_EXPIRED, call(bearer(token_for("acme", ttl_seconds=-10))))
    info = seen.expect(Reason.TOKEN_NOT_YET_VALID,
                       call(bearer(token_for("acme", now=time.time() + 3600))))
    assert info.metadata["claim"] == "nbf"
    info = seen.expect(Reason.TOKEN_CLAIM_INVALID, call(bearer(token_for(""))))
    assert info.metadata["claim"] == "tenant"
    info = seen.expect(Reason.MISSING_SCOPE, call(bearer(token_for("acme", ["ingest:write"]))))
    assert info.metadata["scope"] == "segments:read"

    closed = start_server(tmp_path / "closed", open_services=())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{closed.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            seen.expect(Reason.METHOD_NOT_GRANTED, lambda: health.Check(
                health_pb2.HealthCheckRequest(), timeout=10,
                metadata=(("authorization", bearer(token_for("acme"))),)))
    finally:
        closed.stop(0)
    bare.close()


def test_every_reason_a_call_can_provoke_was_provoked() -> None:
    """Runs last: the tests above recorded the reasons they met."""
    missing = {r.value for r in Reason} - {r.value for r in NOT_PROVOKED} - SEEN.reasons
    assert not missing, f"no test provoked {sorted(missing)}"
