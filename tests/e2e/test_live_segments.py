"""Live segments over gRPC: created live, kept current by batches, upserts,
erasures and the day, watched with WatchSegment (Python client and
grpcurl), resumed after any sequence without a gap or a repeat, and still
live after a restart."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading

import pytest
from conftest import GRPCURL, SECRET_FILE, connect, token_for

from finseg.client import api, errors
from finseg.server.app import create_server
from finseg.server.settings import Settings
from finseg.v1 import segments_pb2

DAY = dt.date(2026, 5, 20)
ENTER, EXIT = segments_pb2.SEGMENT_EVENT_TYPE_ENTER, segments_pb2.SEGMENT_EVENT_TYPE_EXIT


class Clock:
    """The service's time, which a test moves."""

    def __init__(self) -> None:
        self.now = dt.datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def start(data_dir, clock):
    return create_server(Settings(data_dir=data_dir, host="127.0.0.1", port=0,
                                  map_size=1 << 28, jwt_key_file=SECRET_FILE, plaintext=True,
                                  timezone="UTC"), clock=clock)


def account(user: str, balance: int) -> dict:
    return {"account_id": f"{user}-a", "user_id": user, "type": "CHECKING", "currency": "EUR",
            # As of the day before: today's rows move it.
            "balance": balance, "balance_date": (DAY - dt.timedelta(days=1)).isoformat()}


def members(client, segment_id: str) -> list[str]:
    return [m.user_id for m in client.members(segment_id)]


def watched(client, segment_id: str, after: int, count: int) -> list:
    events: list = []
    # Expecting nothing, the watch ends by its (short) timeout.
    for event in client.watch_segment(segment_id, after, timeout=20 if count else 0.5):
        events.append(event)
        if len(events) == count:
            break
    return events


@pytest.fixture
def live_server(tmp_path):
    clock = Clock()
    service = start(tmp_path / "data", clock)
    yield service, clock, tmp_path / "data"
    service.stop(0)


def test_a_live_segment_follows_batches_upserts_erasures_and_days(live_server):
    service, clock, _ = live_server
    with connect(f"127.0.0.1:{service.port}") as client:
        client.upsert_accounts([account("alice", 0), account("bob", 50_000)])
        segment = client.create_segment(api.live(api.high_balance("EUR", 10_000)))
        assert segment.live and not segment.spec.as_of
        segment = client.wait(segment.segment_id)
        assert segment.as_of == DAY.isoformat() and members(client, segment.segment_id) == ["bob"]

        seen: list = []
        watcher = threading.Thread(target=lambda: seen.extend(
            watched(client, segment.segment_id, 0, 4)))
        watcher.start()
        # A batch: alice's deposit today enters her; a future-dated payment waits.
        list(client.append_transactions([[
            {"transaction_id": "t1", "account_id": "alice-a", "booking_date": DAY.isoformat(),
             "amount": 20_000},
            {"transaction_id": "t2", "account_id": "alice-a",
             "booking_date": (DAY + dt.timedelta(days=1)).isoformat(), "amount": -15_000}]]))
        assert members(client, segment.segment_id) == ["alice", "bob"]
        # An upsert: bob's balance drops, he leaves.
        client.upsert_accounts([account("bob", 100)])
        assert members(client, segment.segment_id) == ["alice"]
        # The day: the payment dated tomorrow becomes due, alice leaves.
        clock.now += 86400
        assert service.jobs.live.tick() == 1
        assert members(client, segment.segment_id) == []
        watcher.join(20)
        assert [(e.sequence, e.type, e.user_id, e.cause) for e in seen] == [
            (1, ENTER, "bob", segments_pb2.EVENT_CAUSE_CREATED),
            (2, ENTER, "alice", segments_pb2.EVENT_CAUSE_BATCH),
            (3, EXIT, "bob", segments_pb2.EVENT_CAUSE_ACCOUNTS),
            (4, EXIT, "alice", segments_pb2.EVENT_CAUSE_DAY)]
        assert seen[1].batch_id == "0"  # the client numbers a stream's batches
        assert client.get_segment(segment.segment_id).segment.as_of == \
            (DAY + dt.timedelta(days=1)).isoformat()

        # Resuming after any sequence gives the rest, once each.
        for after in range(5):
            assert [e.sequence for e in watched(client, segment.segment_id, after, 4 - after)] \
                == list(range(after + 1, 5))

        # An erasure: bob's id leaves every event; the sequence stays.
        client.delete_user("bob")
        events = watched(client, segment.segment_id, 0, 4)
        assert [(e.sequence, e.user_id, e.erased) for e in events] == [
            (1, "", True), (2, "alice", False), (3, "", True), (4, "alice", False)]
        # Each write that moved members is in the audit log, with its events.
        changes = [(e.target, e.count, e.detail) for e in client.audit_events()
                   if e.action == "SegmentMembership"]
        assert changes == [
            (segment.segment_id, 1, "events 1-1: 1 ENTER, 0 EXIT; cause CREATED"),
            (segment.segment_id, 1, "events 2-2: 1 ENTER, 0 EXIT; cause BATCH batch_id '0'"),
            (segment.segment_id, 1, "events 3-3: 0 ENTER, 1 EXIT; cause ACCOUNTS"),
            (segment.segment_id, 1, "events 4-4: 0 ENTER, 1 EXIT; cause DAY")]


def test_a_live_rfm_segment_moves_users_a_batch_does_not_name(live_server):
    """RFM scores rank users against each other: a newcomer's purchases
    push alice out of Champions, exactly as a batch job scores her."""
    service, clock, _ = live_server

    def purchases(user: str, count: int, days_ago: int) -> list[dict]:
        return [{"transaction_id": f"{user}{k}", "account_id": f"{user}-a", "amount": -1000,
                 "booking_date": (DAY - dt.timedelta(days=days_ago)).isoformat()}
                for k in range(count)]

    with connect(f"127.0.0.1:{service.port}") as client:
        users = ["alice", "bob", "carol", "dave", "erin", "frank"]
        client.upsert_accounts([account(user, 0) for user in users])
        list(client.append_transactions([purchases("alice", 5, 0) + [
            row for user in users[1:5] for row in purchases(user, 1, 20)]]))
        spec = api.rfm(30, segment_names=["Champions"])
        segment_id = client.wait(client.create_segment(api.live(spec)).segment_id).segment_id
        assert members(client, segment_id) == ["alice"]
        # Frank buys more, and more recently than the rest: alice's scores drop.
        list(client.append_transactions([purchases("frank", 6, 0)]))
        batch = api.rfm(30, segment_names=["Champions"], as_of=DAY)
        assert members(client, segment_id) == \
            members(client, client.wait(client.create_segment(batch).segment_id).segment_id) \
            == []
        assert [(e.type, e.user_id, e.cause) for e in watched(client, segment_id, 0, 2)] == [
            (ENTER, "alice", segments_pb2.EVENT_CAUSE_CREATED),
            (EXIT, "alice", segments_pb2.EVENT_CAUSE_BATCH)]


def test_members_and_events_survive_a_restart(tmp_path):
    clock = Clock()
    service = start(tmp_path / "data", clock)
    with connect(f"127.0.0.1:{service.port}") as client:
        client.upsert_accounts([account("alice", 0), account("bob", 50_000)])
        rule = api.live(api.rule("balance > 100"))
        segment_id = client.wait(client.create_segment(rule).segment_id).segment_id
    service.stop(0)
    service = start(tmp_path / "data", clock)
    try:
        with connect(f"127.0.0.1:{service.port}") as client:
            assert members(client, segment_id) == ["bob"]
            client.upsert_accounts([account("alice", 20_000)])
            assert members(client, segment_id) == ["alice", "bob"]
            assert [e.user_id for e in watched(client, segment_id, 0, 2)] == ["bob", "alice"]
            client.delete_segment(segment_id)
            with pytest.raises(errors.NotFound):
                client.get_segment(segment_id)
    finally:
        service.stop(0)


def test_refusals_say_what_can_be_live_and_what_is_kept(live_server):
    service, clock, _ = live_server
    with connect(f"127.0.0.1:{service.port}") as client:
        client.upsert_accounts([account("alice", 50_000)])
        with pytest.raises(errors.InvalidArgument, match="HIGH_BALANCE, LOW_BALANCE, RULE, RFM") \
                as refused:
            client.create_segment(api.live(api.insurance_spending(3)))
        assert refused.value.reason == "NOT_LIVE_TYPE"
        batch = client.wait(client.create_segment(
            api.high_balance("EUR", 0, as_of=DAY)).segment_id)
        with pytest.raises(errors.FailedPrecondition) as refused:
            list(client.watch_segment(batch.segment_id, timeout=5))
        assert refused.value.reason == "SEGMENT_NOT_LIVE"
        live = client.wait(client.create_segment(
            api.live(api.high_balance("EUR", 0))).segment_id)
        clock.now += 15 * 86400
        assert service.jobs.live.prune(14) == 1
        with pytest.raises(errors.OutOfRange, match="the oldest kept is 2") as refused:
            list(client.watch_segment(live.segment_id, 0, timeout=5))
        assert refused.value.reason == "EVENTS_PRUNED"
        assert list(client.watch_segment(live.segment_id, 1, timeout=1)) == []


def test_grpcurl_watches_a_live_segment(live_server):
    service, _, _ = live_server
    target = f"127.0.0.1:{service.port}"
    with connect(target) as client:
        client.upsert_accounts([account("alice", 50_000)])
        segment_id = client.wait(client.create_segment(
            api.live(api.high_balance("EUR", 100))).segment_id).segment_id
    done = subprocess.run(
        [str(GRPCURL), "-plaintext", "-max-time", "3", "-H",
         f"authorization: Bearer {token_for('acme')}", "-d",
         json.dumps({"segment_id": segment_id, "after_sequence": 0}), target,
         "finseg.v1.SegmentService/WatchSegment"], capture_output=True, text=True, timeout=60)
    # -max-time ends the stream, which would run on for new events.
    assert done.returncode != 0 and "DeadlineExceeded" in done.stderr, done.stderr
    event = json.loads(done.stdout)["events"][0]
    assert event["user_id"] == "alice" and event["type"] == "SEGMENT_EVENT_TYPE_ENTER"
    assert event["sequence"] == "1" and event["cause"] == "EVENT_CAUSE_CREATED"
