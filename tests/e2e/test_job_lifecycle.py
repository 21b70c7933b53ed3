"""ListSegments, CancelSegment, DeleteSegment and expiry over gRPC against a
real server; expiry with the service's injectable clock, not by sleeping."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from conftest import connect, hold_worker, start_server

from finseg.client.api import FinsegClient, financial_breakdown, high_balance, low_balance
from finseg.v1 import segments_pb2

AS_OF = dt.date(2026, 3, 1)


def small_bank(client: FinsegClient, n_accounts: int = 200, n_tx: int = 20_000) -> None:
    rng = np.random.default_rng(1)
    client.upsert_accounts([
        {"account_id": f"a{i}", "user_id": f"u{i // 2}", "type": "CHECKING", "currency": "EUR",
         "balance": 0, "balance_date": "2026-02-28"} for i in range(n_accounts)])
    days = [str(AS_OF - dt.timedelta(days=int(d))) for d in rng.integers(1, 400, n_tx)]
    list(client.append_transactions([[
        {"transaction_id": f"t{k}", "account_id": f"a{int(rng.integers(n_accounts))}",
         "booking_date": days[k], "amount": int(rng.integers(-5000, 5000)),
         "label": "GROCERIES"} for k in range(n_tx)]]))


def test_list_filters_and_pages_newest_first(client: FinsegClient, target: str) -> None:
    small_bank(client, 10, 100)
    made = [client.create_segment(high_balance("EUR", 0, as_of=AS_OF)) for _ in range(3)]
    made.append(client.create_segment(low_balance("EUR", 0, 2, as_of=AS_OF)))
    for job in made:
        client.members(job.segment_id)  # wait for each to end
    listed = list(client.list_segments())
    assert [s.segment_id for s in listed] == [j.segment_id for j in reversed(made)]
    assert [s.segment_id for s in client.list_segments(types=["LOW_BALANCE"])] == \
        [made[3].segment_id]
    assert list(client.list_segments(states=["RUNNING", "PENDING"])) == []
    # Pages of 3 follow one another; a token is bound to its filters.
    first = client.segments.ListSegments(segments_pb2.ListSegmentsRequest(page_size=3),
                                         metadata=client.metadata)
    assert len(first.segments) == 3 and first.next_page_token
    second = client.segments.ListSegments(segments_pb2.ListSegmentsRequest(
        page_size=3, page_token=first.next_page_token), metadata=client.metadata)
    assert [s.segment_id for s in second.segments] == [made[0].segment_id]
    with pytest.raises(grpc.RpcError) as failure:
        client.segments.ListSegments(segments_pb2.ListSegmentsRequest(
            page_token=first.next_page_token, types=[segments_pb2.SEGMENT_TYPE_LOW_BALANCE]),
            metadata=client.metadata)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with connect(target, "other") as other:
        assert list(other.list_segments()) == []  # another tenant's jobs are not listed


def test_cancel_a_queued_job_and_a_finished_one(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            small_bank(client)
            spec = financial_breakdown(["GROCERIES"], 12, as_of=AS_OF)
            gate = hold_worker(service)
            queued = [client.create_segment(spec) for _ in range(5)]
            cancelled = client.cancel_segment(queued[-1].segment_id)
            assert cancelled.state == segments_pb2.JOB_STATE_CANCELLED
            assert client.cancel_segment(queued[-1].segment_id).state == \
                segments_pb2.JOB_STATE_CANCELLED  # again: the same answer
            with pytest.raises(grpc.RpcError) as failure:
                list(client.stream_segment(queued[-1].segment_id))
            assert failure.value.code() == grpc.StatusCode.CANCELLED
            gate.set()
            client.members(queued[0].segment_id)
            with pytest.raises(grpc.RpcError) as failure:
                client.cancel_segment(queued[0].segment_id)
            assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            for job in queued[1:-1]:  # the others still run to the end
                client.members(job.segment_id)
            assert client.get_segment(queued[-2].segment_id).segment.state == \
                segments_pb2.JOB_STATE_SUCCEEDED
            assert client.get_segment(queued[-1].segment_id).segment.state == \
                segments_pb2.JOB_STATE_CANCELLED
    finally:
        gate.set()
        service.stop(0)


def test_delete_removes_the_job_and_its_pages(client: FinsegClient, server) -> None:
    small_bank(client, 20, 200)
    job = client.create_segment(high_balance("EUR", -10**9, as_of=AS_OF))
    assert client.members(job.segment_id)
    client.delete_segment(job.segment_id)
    for call in (lambda: client.get_segment(job.segment_id),
                 lambda: client.delete_segment(job.segment_id),
                 lambda: client.cancel_segment(job.segment_id)):
        with pytest.raises(grpc.RpcError) as failure:
            call()
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    with server.store.env.read() as txn:
        from finseg.server.storage.env import DB
        assert txn.stat(server.store.env.db(DB.RESULTS))["entries"] == 0
        assert txn.stat(server.store.env.db(DB.JOBS))["entries"] == 0


def test_expired_jobs_are_not_found_and_the_sweeper_reclaims_them(client: FinsegClient,
                                                                   server) -> None:
    small_bank(client, 20, 200)
    old = client.create_segment(high_balance("EUR", -10**9, as_of=AS_OF))
    client.members(old.segment_id)
    clock = server.jobs.clock
    later = clock() + 14 * 86400 + 1
    server.jobs.clock = lambda: later  # 14 days and a second on
    try:
        fresh = client.create_segment(high_balance("EUR", -10**9, as_of=AS_OF))
        client.members(fresh.segment_id)
        with pytest.raises(grpc.RpcError) as failure:
            client.get_segment(old.segment_id)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        assert [s.segment_id for s in client.list_segments()] == [fresh.segment_id]
        assert server.jobs.sweep() == 1
        from finseg.server.storage.env import DB
        with server.store.env.read() as txn:
            assert txn.stat(server.store.env.db(DB.JOBS))["entries"] == 1
            pages = txn.stat(server.store.env.db(DB.RESULTS))["entries"]
        assert pages == 1  # the fresh job's one page; the old one's are gone
        assert client.get_segment(fresh.segment_id).segment.state == \
            segments_pb2.JOB_STATE_SUCCEEDED
    finally:
        server.jobs.clock = clock


def test_a_full_queue_is_resource_exhausted_with_a_retry_hint_per_tenant(tmp_path: Path
                                                                          ) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    service = start_server(tmp_path / "data", workers=1, max_queued_jobs=6,
                           max_queued_jobs_per_tenant=3)
    target = f"127.0.0.1:{service.port}"
    try:
        # No retries: this is about the refusal itself (the client would
        # wait out its RetryInfo and try again).
        with connect(target, "busy", retry=None) as busy, \
                connect(target, "quiet") as quiet:
            small_bank(busy)
            small_bank(quiet, 10, 100)
            spec = financial_breakdown(["GROCERIES"], 12, as_of=AS_OF)
            made, refusal = [], None
            for _ in range(200):  # one worker cannot keep up with this loop
                try:
                    made.append(busy.create_segment(spec))
                except grpc.RpcError as error:
                    refusal = error
                    break
            assert refusal is not None and refusal.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "this tenant's job queue is full" in refusal.details()
            retry = error_details_pb2.RetryInfo()
            assert rpc_status.from_call(refusal).details[0].Unpack(retry)
            assert retry.retry_delay.seconds == 5
            # The busy tenant's burst leaves room for another tenant.
            quiet_job = quiet.create_segment(high_balance("EUR", 0, as_of=AS_OF))
            for job in made:
                busy.members(job.segment_id)
            quiet.members(quiet_job.segment_id)
            busy.members(busy.create_segment(spec).segment_id)  # room again once drained
    finally:
        service.stop(0)


def test_a_client_deadline_ends_a_waiting_stream(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as client:
            small_bank(client)
            gate = hold_worker(service)
            job = client.create_segment(financial_breakdown(["GROCERIES"], 12, as_of=AS_OF))
            with pytest.raises(grpc.RpcError) as failure:  # the job cannot start yet
                list(client.stream_segment(job.segment_id, timeout=0.2))
            assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            gate.set()
            # The server let go of the call: the job itself is unharmed.
            assert client.members(job.segment_id) is not None
            assert client.get_segment(job.segment_id).segment.state == \
                segments_pb2.JOB_STATE_SUCCEEDED
    finally:
        gate.set()
        service.stop(0)


def _park_streams(service, client: FinsegClient, count: int
                  ) -> tuple[threading.Event, list[threading.Thread], list[object]]:
    """`count` StreamSegment calls waiting on jobs that cannot start: the one
    worker is held by `gate` until the test sets it."""
    gate = hold_worker(service)
    jobs = [client.create_segment(high_balance("EUR", 0, as_of=AS_OF)) for _ in range(count)]
    outcomes: list[object] = []

    def stream(segment_id: str) -> None:
        try:
            outcomes.append(len(client.members(segment_id)))
        except grpc.RpcError as error:
            outcomes.append(error.code())

    threads = [threading.Thread(target=stream, args=(job.segment_id,)) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every stream reaches the server and waits there
    return gate, threads, outcomes


def test_streams_waiting_for_jobs_leave_room_for_other_calls(tmp_path: Path) -> None:
    """The load test's case: 32 clients stream jobs still queued; a page of a
    finished job is served meanwhile (it used to wait for a free thread)."""
    service = start_server(tmp_path / "data", workers=1, max_queued_jobs=100,
                           max_queued_jobs_per_tenant=100)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}", "acme", timeout=30) as client:
            small_bank(client, 20, 200)
            finished = client.create_segment(high_balance("EUR", -10**9, as_of=AS_OF))
            expected = len(client.members(finished.segment_id))
            gate, threads, outcomes = _park_streams(service, client, 32)
            started = time.perf_counter()
            page = client.get_segment(finished.segment_id, page_size=5)
            assert time.perf_counter() - started < 2.0
            assert page.segment.total_elements == expected and not outcomes
            gate.set()
            for thread in threads:
                thread.join(30)
            assert outcomes == [outcomes[0]] * 32 and isinstance(outcomes[0], int)
    finally:
        gate.set()
        service.stop(0)


def test_calls_beyond_the_thread_count_are_refused_not_queued(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1, rpc_threads=4)
    gate = threading.Event()
    try:
        with connect(f"127.0.0.1:{service.port}", "acme", timeout=30) as client:
            small_bank(client, 20, 200)
            gate, threads, outcomes = _park_streams(service, client, 4)
            started = time.perf_counter()
            with pytest.raises(grpc.RpcError) as refusal:
                list(client.list_segments())
            assert refusal.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.perf_counter() - started < 2.0
            gate.set()
            for thread in threads:
                thread.join(30)
            assert len(outcomes) == 4 and all(isinstance(o, int) for o in outcomes)
            assert len(list(client.list_segments())) == 4  # room again
    finally:
        gate.set()
        service.stop(0)


def test_results_stored_before_members_were_encoded_are_still_served(
        client: FinsegClient, server) -> None:
    small_bank(client, 40, 2_000)
    spec = low_balance("EUR", 0, 3, as_of=AS_OF)
    encode, server.jobs.encode = server.jobs.encode, None  # as an older finseg stored them
    try:
        old = client.create_segment(spec)
        old_members = client.members(old.segment_id)
    finally:
        server.jobs.encode = encode
    new = client.create_segment(spec)
    assert old_members == client.members(new.segment_id) and len(old_members) > 5
    page = client.get_segment(old.segment_id, page_size=3, page_token="")
    assert list(page.page.low_balance.members) == old_members[:3]
