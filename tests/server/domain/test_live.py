"""Live segments against batch jobs: after every step of a random sequence
of batches (back-dated, future-dated, repeated), account upserts (balances
that move, accounts that close or change owner), erasures and day changes,
each live segment's members are exactly a batch job's on the same data and
day, and replaying its events from the start gives the same members."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_balance_segments import NO_PROGRESS, TENANT, load
from test_rule import bank, random_tree

from finseg.server.domain import live, rules
from finseg.server.domain.ingest import Ingestor
from finseg.server.domain.jobs import JobManager
from finseg.server.domain.segment_types import TYPES, rfm
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage.store import Snapshot, Store
from finseg.server.storage.subset import UserSubset
from finseg.server.transport import events as events_codec
from finseg.server.transport.wire import encode_members
from finseg.v1 import segments_pb2


class Clock:
    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def live_specs(rnd: random.Random) -> list[tuple[str, dict]]:
    threshold = {"currency": "EUR", "amount": rnd.choice([-5000, 0, 10_000])}
    scored = ("RFM", {"window_days": rnd.choice([7, 30, 400]),
                      "segment_names": rnd.sample(rfm.NAMES, 4)})
    return [("HIGH_BALANCE", {"threshold": threshold}),
            # The same definition twice: the two share each write's evaluation.
            ("HIGH_BALANCE", {"threshold": threshold}),
            ("LOW_BALANCE", {"threshold": threshold, "months": rnd.randint(1, 3)}),
            ("RULE", {"expression": "frequency(days=7) >= 1 OR balance > 100"}),
            ("RULE", {"expression": rules.to_text(random_tree(rnd), 2)}),
            # Relative scores: a write moves members it does not name. Twice:
            # a day change evaluates the two once, and each keeps its figures.
            scored, scored,
            ("RFM", {"window_days": 30})]


def batch_members(store: Store, record: dict, day: dt.date) -> dict[str, bytes]:
    module = TYPES[record["type"]]
    with store.snapshot(TENANT) as snap:
        table = module.run(snap, module.parse(record["params"]),
                           Common(tuple(record["account_types"]), day), NO_PROGRESS)
    encoded = encode_members(record["type"], table)
    return dict(zip(encoded.column("user_id").to_pylist(),
                    encoded.column("member").to_pylist(), strict=True))


def kept(store: Store, jobs: JobManager, record: dict) -> list[str]:
    """The members the segment keeps (not GetSegment's figures, which are a
    batch job's by construction); the in-memory mirror must agree."""
    with store.env.read() as txn:
        tenant_no = store.env.tenant_no(txn, TENANT, create=False)
        ids = [u for u, _ in store.live.members(txn, tenant_no, record["id"])]
        mirror = jobs.live.memberships.of(txn, tenant_no, record["id"]).all()
        assert sorted(store.accounts.user_ids.names(txn, tenant_no, mirror).to_pylist()) == \
            sorted(ids)
    return ids


def replayed(jobs: JobManager, record: dict) -> set[str]:
    members: set[str] = set()
    stored, count, first = jobs.live.events(TENANT, record["id"], 0, 1 << 30)
    assert first == 1
    events = segments_pb2.WatchSegmentResponse.FromString(stored).events
    assert len(events) == count
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    for event in events:
        if event.erased:
            continue  # the erased user left; its id is in no event
        if event.type == segments_pb2.SEGMENT_EVENT_TYPE_ENTER:
            assert event.user_id not in members
            members.add(event.user_id)
        else:
            members.remove(event.user_id)
    return members


def random_step(rnd: random.Random, accounts: list[dict], day: dt.date, k: int) -> dict:
    pick = rnd.random()
    if pick < 0.55:
        rows = []
        for j in range(rnd.randint(1, 12)):
            account = rnd.choice(accounts)
            rows.append({"transaction_id": f"live{k}-{j}", "account_id": account["account_id"],
                         "booking_date": day + dt.timedelta(days=rnd.choice(
                             [0, 0, -1, -3, -40, -400, 1, 5])),
                         "amount": rnd.choice([-20_000, -3000, -1, 1, 500, 20_000]),
                         "label": rnd.choice(["", "GROCERIES", "INCOME.SALARY"])})
        if rnd.random() < 0.2:
            rows.append(dict(rows[0]))  # a repeat in the same batch: one row
        return {"kind": "batch", "rows": rows}
    if pick < 0.8:
        account = dict(rnd.choice(accounts))
        account["balance"] = rnd.choice([-30_000, 0, 50_000, account["balance"]])
        account["balance_date"] = day + dt.timedelta(days=rnd.choice([0, -10, 3]))
        if rnd.random() < 0.2:
            account["closed_on"] = day + dt.timedelta(days=rnd.choice([-1, 1, 2]))
            if account["opened_on"] and account["closed_on"] <= account["opened_on"]:
                account["closed_on"] = None
        if rnd.random() < 0.15:
            account["user_id"] = rnd.choice(accounts)["user_id"]
        return {"kind": "account", "account": account}
    if pick < 0.9:
        return {"kind": "erase", "user": rnd.choice(accounts)["user_id"]}
    return {"kind": "day", "days": rnd.choice([1, 1, 2, 31])}


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), day=st.sampled_from([
    dt.date(2026, 3, 1), dt.date(2024, 2, 28), dt.date(2026, 1, 30), dt.date(2025, 12, 31)]))
def test_live_members_equal_batch_jobs_after_every_step(seed, day):
    with tempfile.TemporaryDirectory() as tmp:
        check_live_against_batch_jobs(Path(tmp), seed, day)


def check_live_against_batch_jobs(tmp_path: Path, seed: int, day: dt.date) -> None:
    rng, accounts, txs = bank(seed, day)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    clock = Clock(day)
    jobs = JobManager(store, 1, "UTC", 14, clock=clock, encode=encode_members,
                      events=events_codec.Codec)
    ingest = Ingestor(store, live=jobs.live)
    rnd = random.Random(seed)
    schema = pa.RecordBatch.from_pylist(accounts).schema
    records = [jobs.create(TENANT, name, raw, [], None, live=True)
               for name, raw in live_specs(rnd)]
    for record in records:
        assert jobs.wait(TENANT, record["id"], 30)["state"] == "SUCCEEDED"
    erased: set[str] = set()
    events = 0
    for k in range(25):
        step = random_step(rnd, accounts, day, k)
        if step["kind"] == "batch":
            ingest.append_transactions(TENANT, pa.RecordBatch.from_pylist(step["rows"]))
        elif step["kind"] == "account" and step["account"]["user_id"] not in erased:
            ingest.upsert_accounts(
                TENANT, pa.RecordBatch.from_pylist([step["account"]], schema=schema))
            # Its owner may have changed: an erasure of the new one deletes it.
            accounts = [step["account"] if a["account_id"] == step["account"]["account_id"]
                        else a for a in accounts]
        elif step["kind"] == "erase" and step["user"] not in erased:
            ingest.delete_user(TENANT, step["user"])
            erased.add(step["user"])
            accounts = [a for a in accounts if a["user_id"] != step["user"]]
        elif step["kind"] == "day":
            day += dt.timedelta(days=step["days"])
            clock.now += step["days"] * 86400
            assert jobs.live.tick() == len(records)
        if k % 8 == 3:
            store.compact(TENANT)
        if k in (6, 18):
            # The twins share their figures: one goes, and later a third
            # comes; the others stay exact.
            twins = [r for r in records if r["type"] == "RFM" and r["params"] == records[5][
                "params"]]
            if k == 6:
                jobs.delete(TENANT, twins[0]["id"])
                records.remove(twins[0])
            else:
                raw = live_specs(random.Random(seed))[5][1]
                record = jobs.create(TENANT, "RFM", raw, [], None, live=True)
                assert jobs.wait(TENANT, record["id"], 30)["state"] == "SUCCEEDED"
                assert record["params"] == twins[0]["params"]
                records.append(record)
        if k == 12:  # a restart: memberships reload, RFM figures are rebuilt at the next write
            jobs.stop()
            jobs = JobManager(store, 1, "UTC", 14, clock=clock, encode=encode_members,
                              events=events_codec.Codec)
            jobs.recover()
            ingest = Ingestor(store, live=jobs.live)
        for record in records:
            current = jobs.get(TENANT, record["id"])
            assert current["as_of"] == day.isoformat()
            want = batch_members(store, record, day)
            assert kept(store, jobs, current) == list(want), (k, step)
            assert current["total_elements"] == len(want)
            assert replayed(jobs, current) == set(want)
            got = jobs.members(TENANT, current, 0, 1 << 30)
            assert got.column("member").to_pylist() == list(want.values())
            events = max(events, current["live"]["sequence"])
    assert events, "the steps moved someone in or out"
    jobs.stop()
    store.close()


def test_only_some_types_can_be_live(tmp_path):
    store = Store(tmp_path / "db", 1 << 26)
    jobs = JobManager(store, 1, "UTC", 14, encode=encode_members,
                      events=events_codec.Codec)
    with pytest.raises(InvalidArgument) as error:
        jobs.create(TENANT, "INCOME_SPENDING_SUMMARY",
                    {"from_date": "2026-01-01", "to_date": "2026-01-31"}, [], None, live=True)
    assert "HIGH_BALANCE, LOW_BALANCE, RULE, RFM" in str(error.value)
    with pytest.raises(InvalidArgument, match="as_of must be empty"):
        jobs.create(TENANT, "HIGH_BALANCE", {"threshold": {"currency": "EUR", "amount": 0}}, [],
                    dt.date(2026, 1, 1), live=True)
    jobs.stop()
    store.close()


def test_writes_during_a_whole_tenant_evaluation_are_caught_up(tmp_path, monkeypatch):
    """The first membership and a day change are computed over a snapshot
    while ingestion goes on, and caught up over newer snapshots (every round
    here, writing again meanwhile): batches, upserts and an erasure
    committed in that time end up in the members exactly as a batch job
    sees them."""
    monkeypatch.setattr(live, "LOCKED_CATCH_UP_USERS", 0)
    day = dt.date(2026, 3, 1)
    rng, accounts, txs = bank(1, day)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    clock = Clock(day)
    jobs = JobManager(store, 1, "UTC", 14, clock=clock, encode=encode_members,
                      events=events_codec.Codec)
    ingest = Ingestor(store, live=jobs.live)
    schema = pa.RecordBatch.from_pylist(accounts).schema
    rnd = random.Random(5)
    writes = iter(range(100))

    armed = True  # off while the test computes its own batch jobs

    def write_meanwhile():
        k = next(writes)
        ingest.append_transactions(TENANT, pa.RecordBatch.from_pylist([
            {"transaction_id": f"meanwhile{k}-{j}", "account_id": a["account_id"],
             "booking_date": day + dt.timedelta(days=rnd.choice([0, -2, 1])),
             "amount": rnd.choice([-40_000, 40_000])}
            for j, a in enumerate(rnd.sample(accounts, 8))]))
        moved = dict(rnd.choice(accounts), balance=rnd.choice([-30_000, 60_000]))
        ingest.upsert_accounts(TENANT, pa.RecordBatch.from_pylist([moved], schema=schema))
        if k == 0:
            erased = accounts[0]["user_id"]
            ingest.delete_user(TENANT, erased)
            accounts[:] = [a for a in accounts if a["user_id"] != erased]

    for module in {TYPES[name] for name, _ in live_specs(random.Random(0))}:
        # RFM's live segments evaluate a whole tenant with `figures`.
        name = "figures" if module is rfm else "run"
        original = getattr(module, name)

        def run(snapshot, *args, _run=original):
            table = _run(snapshot, *args)
            # Right after a whole-tenant evaluation or a catch-up round,
            # which hold no lock.
            if armed and isinstance(snapshot, Snapshot | UserSubset) and \
                    not store.env.write_lock._is_owned():  # type: ignore[attr-defined]
                write_meanwhile()
            return table
        monkeypatch.setattr(module, name, run)

    records = [jobs.create(TENANT, name, raw, [], None, live=True)
               for name, raw in live_specs(rnd)]
    for record in records:
        done = jobs.wait(TENANT, record["id"], 30)
        assert done["state"] == "SUCCEEDED", done.get("error")
    for moves in range(2):
        armed = False
        for record in records:
            current = jobs.get(TENANT, record["id"])
            want = batch_members(store, current, day)
            assert kept(store, jobs, current) == list(want)
            assert replayed(jobs, current) == set(want)
        if moves == 0:
            day += dt.timedelta(days=1)
            clock.now += 86400
            armed = True
            assert jobs.live.tick() == len(records)
    # The writes did happen in between, in the catch-up rounds too.
    assert next(writes) > 3 * len(records)
    jobs.stop()
    store.close()
