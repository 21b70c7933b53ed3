"""SIGKILL at random moments: acknowledged batches survive exactly once,
unacknowledged ones can be resent, and jobs never stay RUNNING. The server
is a separate `finseg serve` process; a few rounds here, many in
`python -m bench.crash`."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import struct
import threading
import time
from pathlib import Path

import grpc
import lmdb
import pytest
from conftest import connect
from process import ServerProcess, backup

from finseg.client.api import (
    FinsegClient,
    financial_breakdown,
    high_balance,
    income_spending_summary,
    live,
)
from finseg.server.storage.env import DB, U32, U64, state_key
from finseg.server.storage.faults import VARIABLE as KILL_AT
from finseg.v1 import segments_pb2

N_ACCOUNTS = 50
EVERYTHING = income_spending_summary(dt.date(2020, 1, 1), dt.date(2030, 12, 31))


def batches(n_batches: int, rows: int) -> list[list[dict]]:
    rng = random.Random(7)
    return [[{"transaction_id": f"b{b}-{k}", "account_id": f"a{rng.randrange(N_ACCOUNTS)}",
              "booking_date": f"2026-0{1 + rng.randrange(9)}-1{rng.randrange(10)}",
              "amount": rng.randrange(1, 9999) * rng.choice((-1, 1)),
              "label": "GROCERIES"}
             for k in range(rows)] for b in range(n_batches)]


def ledger(sent: list[list[dict]]) -> dict[str, tuple[int, int]]:
    """Per user: (count, sum) of the transactions, as the service must see
    them (no amount is 0, so incoming and outgoing counts add up to all)."""
    out: dict[str, tuple[int, int]] = {}
    for batch in sent:
        for t in batch:
            user = f"u{int(t['account_id'][1:]) % 10}"
            count, total = out.get(user, (0, 0))
            out[user] = (count + 1, total + t["amount"])
    return out


def stored(client: FinsegClient) -> dict[str, tuple[int, int]]:
    job = client.create_segment(EVERYTHING)
    out = {}
    for member in client.members(job.segment_id):
        (c,) = member.currencies
        out[member.user_id] = (c.incoming_count + c.outgoing_count,
                               c.incoming_sum + c.outgoing_sum)
    return out


def crash_round(data_dir: Path, all_batches: list[list[dict]], kill_at_ack: int,
                delay: float, server: ServerProcess | None = None) -> tuple[int, int]:
    """Streams every batch, SIGKILLs the server `delay` seconds after the
    `kill_at_ack`-th acknowledgement, restarts it and resends everything.
    Returns (acknowledged before the kill, acknowledged batches found
    missing or duplicated, plus one if the totals differ from the ledger)."""
    server = server or ServerProcess(data_dir)
    acked: list[int] = []
    reached = threading.Event()

    def stream() -> None:
        with connect(server.target, "bank", timeout=None) as client:
            try:
                for ack in client.append_transactions(all_batches):
                    acked.append(int(ack.batch_id))
                    if len(acked) == kill_at_ack:
                        reached.set()
            except grpc.RpcError:
                pass  # the kill ends the stream
            reached.set()

    sender = threading.Thread(target=stream)
    sender.start()
    reached.wait(60)
    time.sleep(delay)
    server.kill()
    sender.join(30)
    server = ServerProcess(data_dir)
    bad = 0
    try:
        with connect(server.target, "bank", timeout=None) as client:
            # Resending everything: an acknowledged batch must be all duplicates.
            for ack in client.append_transactions(all_batches):
                size = len(all_batches[int(ack.batch_id)])
                assert ack.appended_count + ack.duplicate_count == size
                if int(ack.batch_id) in acked and ack.appended_count != 0:
                    bad += 1
            # Every batch exactly once: the totals equal the ledger's.
            if stored(client) != ledger(all_batches):
                bad += 1
    finally:
        server.stop()
    return len(acked), bad


def setup_accounts(data_dir: Path) -> None:
    server = ServerProcess(data_dir)
    with connect(server.target, "bank") as client:
        client.upsert_accounts([
            {"account_id": f"a{i}", "user_id": f"u{i % 10}", "type": "CHECKING",
             "currency": "EUR", "balance": 0, "balance_date": "2026-01-01"}
            for i in range(N_ACCOUNTS)])
    server.stop()


@pytest.mark.parametrize("seed", range(3))
def test_sigkill_during_ingestion_loses_and_doubles_nothing(tmp_path: Path, seed) -> None:
    setup_accounts(tmp_path / "data")
    all_batches = batches(300, 100)
    rng = random.Random(seed)
    acked, bad = crash_round(tmp_path / "data", all_batches, rng.randrange(1, 60),
                             rng.random() * 0.01)
    assert bad == 0
    assert 0 < acked < len(all_batches)  # the kill landed mid-stream


def test_a_job_killed_while_running_is_finished_after_the_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup_accounts(data_dir)
    server = ServerProcess(data_dir)
    with connect(server.target, "bank") as client:
        list(client.append_transactions(batches(20, 1000)))
        job = client.create_segment(financial_breakdown(["GROCERIES"], 12,
                                                        as_of=dt.date(2026, 12, 1)))
    server.kill()
    server = ServerProcess(data_dir)
    try:
        with connect(server.target, "bank") as client:
            members = client.members(job.segment_id)  # waits for the re-run
            assert client.get_segment(job.segment_id).segment.state == \
                segments_pb2.JOB_STATE_SUCCEEDED
            assert sum(g.count for m in members for g in m.groups) == 20_000
    finally:
        server.stop()


def test_sigterm_drains_and_the_interrupted_job_runs_after_the_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup_accounts(data_dir)
    server = ServerProcess(data_dir)
    with connect(server.target, "bank") as client:
        acks = list(client.append_transactions(batches(20, 1000)))
        job = client.create_segment(financial_breakdown(["GROCERIES"], 12,
                                                        as_of=dt.date(2026, 12, 1)))
    started = time.perf_counter()
    assert server.stop() == 0  # a clean exit, well within the grace period
    assert time.perf_counter() - started < 15
    server = ServerProcess(data_dir)
    try:
        with connect(server.target, "bank") as client:
            members = client.members(job.segment_id)
            assert sum(g.count for m in members for g in m.groups) == \
                sum(a.appended_count for a in acks) == 20_000
    finally:
        server.stop()


#: Only the erased user's data holds these ids and amounts.
ERASED_USER, ERASED_ACCOUNT = "zq-erased-user-7f3a", "zq-erased-acct-7f3a"
ERASED_AMOUNTS = [734_512_398_761 + 7919 * k for k in range(400)]


def erased_and_kept_rows() -> list[dict]:
    rows = [{"transaction_id": f"zq-erased-tx-{k}", "account_id": ERASED_ACCOUNT,
             "booking_date": f"2026-0{1 + k % 9}-11", "amount": amount, "label": "SALARY"}
            for k, amount in enumerate(ERASED_AMOUNTS)]
    return rows + [{"transaction_id": f"kept-{k}", "account_id": f"a{k % N_ACCOUNTS}",
                    "booking_date": f"2026-0{1 + k % 9}-12", "amount": 1 + k,
                    "label": "GROCERIES"} for k in range(400)]


def read_store(data_dir: Path) -> tuple[bytes, set[tuple[int, int]], set[tuple[int, int]]]:
    """Every key and value of a stopped store joined, the (tenant, uid) of
    every base key, and those of the chunks the tenant states list. Pending
    chunks count as not listed: a store at rest has none."""
    env = lmdb.open(str(data_dir), readonly=True, lock=False, max_dbs=len(DB) + 4)
    try:
        with env.begin() as txn:
            dbs = {db: env.open_db(db.value, txn=txn, create=False) for db in DB}
            stored = b"".join(k + v for db in dbs.values() for k, v in txn.cursor(db=db))
            chunks = {(U32.unpack(k[:4])[0], U64.unpack(k[4:12])[0])
                      for k in txn.cursor(db=dbs[DB.BASE]).iternext(values=False)}
            listed = set()
            for _, number in txn.cursor(db=dbs[DB.TENANTS]):
                tenant_no = U32.unpack(number)[0]
                base = json.loads(txn.get(state_key(tenant_no), db=dbs[DB.META]))["base"]
                listed |= {(tenant_no, chunk[0]) for chunk in base["chunks"]}
    finally:
        env.close()
    return stored, chunks, listed


def erased_bytes_in(stored: bytes) -> list[bytes]:
    patterns = [text.encode() for text in (ERASED_USER, ERASED_ACCOUNT, "zq-erased-tx")]
    patterns += [struct.pack("<q", amount) for amount in ERASED_AMOUNTS]
    return [pattern for pattern in patterns if pattern in stored]


def test_a_kill_between_a_chunk_write_and_its_swap_keeps_no_erased_byte(tmp_path: Path
                                                                          ) -> None:
    data_dir = tmp_path / "data"
    setup_accounts(data_dir)
    server = ServerProcess(data_dir, env={KILL_AT: "chunk-written"})
    with connect(server.target, "bank") as client:
        client.upsert_accounts([{"account_id": ERASED_ACCOUNT, "user_id": ERASED_USER,
                                 "type": "CHECKING", "currency": "EUR", "balance": 0,
                                 "balance_date": "2026-01-01"}])
        list(client.append_transactions([erased_and_kept_rows()]))
    # The compactor runs once ingestion is idle and dies after its first chunk.
    assert server.process.wait(60) == -signal.SIGKILL
    everything, chunks, listed = read_store(data_dir)
    assert chunks - listed, "a chunk is written and not swapped in"
    assert len(erased_bytes_in(everything)) == len(ERASED_AMOUNTS) + 3  # the scan sees them
    crashed_copy = tmp_path / "crashed-copy"
    assert backup(data_dir, crashed_copy).returncode == 0
    assert read_store(crashed_copy)[1] <= read_store(crashed_copy)[2]

    server = ServerProcess(data_dir)
    copy = tmp_path / "copy"
    try:
        with connect(server.target, "bank") as client:
            client.delete_user(ERASED_USER)
            theirs = {t["transaction_id"] for t in erased_and_kept_rows()[:len(ERASED_AMOUNTS)]}
            assert stored(client) == ledger([[t for t in erased_and_kept_rows()
                                              if t["transaction_id"] not in theirs]])
        out = backup(data_dir, copy)
        assert out.returncode == 0, out.stderr
    finally:
        assert server.stop() == 0
    for where in (data_dir, copy):
        everything, chunks, listed = read_store(where)
        assert erased_bytes_in(everything) == [], where
        assert chunks <= listed, f"{where}: chunks no state lists: {chunks - listed}"


def replay(client: FinsegClient, segment_id: str) -> list[segments_pb2.SegmentEvent]:
    last = client.get_segment(segment_id).segment.last_sequence
    events = []
    for event in client.watch_segment(segment_id, 0, timeout=30):
        events.append(event)
        if event.sequence == last:
            break
    return events


def members_of(events: list[segments_pb2.SegmentEvent]) -> set[str]:
    members: set[str] = set()
    for event in events:
        (members.add if event.type == segments_pb2.SEGMENT_EVENT_TYPE_ENTER
         else members.remove)(event.user_id)
    return members


def live_crash_round(data_dir: Path, all_batches: list[list[dict]], kill_at_ack: int,
                     delay: float) -> tuple[int, list[str]]:
    """crash_round with a live HIGH_BALANCE segment and a watcher. Returns
    (acknowledged before the kill, what went wrong): events after the
    restart must be exactly those of the committed batches, sequences
    without a gap, what the watcher saw before the kill their prefix, and
    replaying them must give the members a batch job computes."""
    setup_accounts(data_dir)
    server = ServerProcess(data_dir)
    with connect(server.target, "bank") as client:
        segment_id = client.wait(client.create_segment(
            live(high_balance("EUR", 0))).segment_id).segment_id
    seen: list[segments_pb2.SegmentEvent] = []

    def watch() -> None:
        with connect(server.target, "bank", timeout=None) as client:
            try:
                seen.extend(client.watch_segment(segment_id, 0, timeout=60))
            except grpc.RpcError:
                pass  # the kill ends the watch once the client's retries give up
    watcher = threading.Thread(target=watch)
    watcher.start()
    acked, bad = crash_round(data_dir, all_batches, kill_at_ack, delay, server=server)
    watcher.join(90)
    problems = [f"{bad} batches lost or doubled"] if bad else []
    server = ServerProcess(data_dir)
    try:
        with connect(server.target, "bank", timeout=None) as client:
            events = replay(client, segment_id)
            if [e.sequence for e in events] != list(range(1, len(events) + 1)):
                problems.append("the sequences have a gap")
            # A watcher sees only committed events: what it saw survived.
            if [e.SerializeToString() for e in seen] != \
                    [e.SerializeToString() for e in events[:len(seen)]]:
                problems.append("the watcher saw events that are not in the log")
            now = [m.user_id for m in client.members(segment_id)]
            if set(now) != members_of(events):
                problems.append("replaying the events does not give the members")
            job = client.create_segment(high_balance("EUR", 0))
            if now != [m.user_id for m in client.members(job.segment_id)]:
                problems.append("the live members differ from a batch job's")
            if not seen or not any(e.cause == segments_pb2.EVENT_CAUSE_BATCH for e in events):
                problems.append("no batch moved a member while watched: nothing was tested")
    finally:
        server.stop()
    return acked, problems


def test_sigkill_with_a_live_segment_and_a_watcher_keeps_events_exact(tmp_path: Path) -> None:
    acked, problems = live_crash_round(tmp_path / "data", batches(300, 100), 40, 0.002)
    assert problems == []
    assert 40 <= acked < 300  # the kill landed mid-stream
