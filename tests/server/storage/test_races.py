"""Interleavings the review found: an erasure while the compactor writes
chunks, and an erasure while a job computes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from finseg.server.domain import jobs as jobs_module
from finseg.server.domain.ingest import Ingestor
from finseg.server.domain.jobs import JobManager
from finseg.server.domain.segment_types import high_balance
from finseg.server.storage import transactions as tx_module
from finseg.server.storage.env import DB, U64
from finseg.server.storage.store import Store

TENANT = "bank"


def seed(store: Store, n_accounts: int = 40, n_tx: int = 4000) -> Ingestor:
    rng = np.random.default_rng(7)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, pa.record_batch({
        "account_id": [f"a{i:03d}" for i in range(n_accounts)],
        "user_id": [f"u{i % 10}" for i in range(n_accounts)],
        "type": ["CHECKING"] * n_accounts, "currency": ["EUR"] * n_accounts,
        "balance": pa.array([1000] * n_accounts), "balance_date": ["2026-01-01"] * n_accounts}))
    ingest.append_transactions(TENANT, pa.record_batch({
        "transaction_id": [f"t{i}" for i in range(n_tx)],
        "account_id": [f"a{a:03d}" for a in rng.integers(0, n_accounts, n_tx)],
        "booking_date": ["2025-12-15"] * n_tx,
        "amount": pa.array(rng.integers(1, 100, n_tx), pa.int64())}))
    return ingest


def rows_by_account(store: Store) -> dict[int, int]:
    with store.snapshot(TENANT) as snap:
        return {block.first + i: int(block.offsets[i + 1] - block.offsets[i])
                for block in snap.blocks() for i in range(block.count)}


def test_erasure_while_the_compactor_writes_chunks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tx_module, "CHUNK_ROWS", 500)
    store = Store(tmp_path / "db", 1 << 28)
    ingest = seed(store)
    assert store.compact(TENANT)  # a base of several chunks the erasure rewrites
    ingest.append_transactions(TENANT, pa.record_batch({
        "transaction_id": [f"late{i}" for i in range(4000)],
        "account_id": [f"a{i % 40:03d}" for i in range(4000)],
        "booking_date": ["2025-12-20"] * 4000, "amount": pa.array([1] * 4000, pa.int64())}))
    before = rows_by_account(store)
    real_split = tx_module._split

    erased_once = []

    def split_then_erase(block):
        for k, part in enumerate(real_split(block)):
            if k == 1 and not erased_once:  # the compactor has written a new chunk
                ingest.delete_user(TENANT, "u3")
                erased_once.append(True)
            yield part

    monkeypatch.setattr(tx_module, "_split", split_then_erase)
    assert not store.compact(TENANT), "the erasure changed the base: compaction gives way"
    monkeypatch.setattr(tx_module, "_split", real_split)
    erased = {a for a in before if a % 10 == 3}
    after = rows_by_account(store)
    assert all(after[a] == 0 for a in erased)
    assert {a: n for a, n in after.items() if a not in erased} == \
        {a: n for a, n in before.items() if a not in erased}
    assert store.compact(TENANT)  # the next round succeeds on the new base
    assert rows_by_account(store) == after
    store.close()


def unlisted_chunks(store: Store) -> set[int]:
    """Uids of the base chunks in the store that the tenant's state does not list."""
    with store.env.read() as txn:
        tenant_no = store.env.tenant_no(txn, TENANT, create=False)
        assert tenant_no is not None
        listed = {c[0] for c in store.env.load_state(txn, tenant_no)["base"]["chunks"]}
        keys = [bytes(k) for k in txn.cursor(db=store.env.db(DB.BASE)).iternext(values=False)]
    return {U64.unpack(key[4:12])[0] for key in keys} - listed


def test_an_erasure_removes_the_chunks_a_running_compaction_wrote(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """Chunks written but not yet swapped in hold rows from before the
    erasure; they must be gone when DeleteUser commits, not only when (or
    if) the compaction reaches its swap, or a backup taken meanwhile keeps
    the erased user's rows."""
    monkeypatch.setattr(tx_module, "CHUNK_ROWS", 500)
    store = Store(tmp_path / "db", 1 << 28)
    ingest = seed(store)
    real_split = tx_module._split
    left: list[set[int]] = []

    def split_then_erase(block):
        for k, part in enumerate(real_split(block)):
            if k == 2:  # two new chunks are written, not swapped in
                ingest.delete_user(TENANT, "u3")
                left.append(unlisted_chunks(store))
            yield part

    monkeypatch.setattr(tx_module, "_split", split_then_erase)
    assert not store.compact(TENANT)
    assert left == [set()]
    assert unlisted_chunks(store) == set()
    store.close()


def test_erasure_while_a_job_computes(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path / "db", 1 << 28)
    ingest = seed(store)
    real_run = high_balance.run

    def run_then_erase(snapshot, params, common, progress):
        table = real_run(snapshot, params, common, progress)
        assert "u3" in table.column("user_id").to_pylist()
        ingest.delete_user(TENANT, "u3")  # after the job's snapshot, before it stores
        return table

    monkeypatch.setattr(high_balance, "run", run_then_erase)
    manager = JobManager(store, workers=1, timezone="UTC", ttl_days=14)
    record = manager.create(TENANT, "HIGH_BALANCE", {"threshold": {"currency": "EUR"}}, [],
                            dt.date(2026, 1, 31))
    record = manager.wait(TENANT, record["id"], 30)
    assert record["state"] == jobs_module.SUCCEEDED
    users = manager.members(TENANT, record, 0, 100).column("user_id").to_pylist()
    assert "u3" not in users and len(users) == 9 == record["total_elements"]
    manager.stop()
    store.close()


def test_shutdown_leaves_running_jobs_pending_and_a_restart_runs_them(tmp_path: Path,
                                                                       monkeypatch) -> None:
    store = Store(tmp_path / "db", 1 << 28)
    seed(store)
    real_run = high_balance.run
    started = jobs_module.threading.Event()

    def long_run(snapshot, params, common, progress):
        started.set()
        while not progress.cancelled():  # a kernel checks between blocks
            jobs_module.time.sleep(0.01)
        raise jobs_module.Cancelled("stopped", reason=jobs_module.Reason.SEGMENT_CANCELLED)

    monkeypatch.setattr(high_balance, "run", long_run)
    manager = JobManager(store, workers=1, timezone="UTC", ttl_days=14)
    record = manager.create(TENANT, "HIGH_BALANCE", {"threshold": {"currency": "EUR"}}, [],
                            dt.date(2026, 1, 31))
    assert started.wait(10)
    manager.stop()
    assert store.jobs.get(TENANT, record["id"])["state"] == jobs_module.PENDING

    monkeypatch.setattr(high_balance, "run", real_run)
    restarted = JobManager(store, workers=1, timezone="UTC", ttl_days=14)
    restarted.recover()
    assert restarted.wait(TENANT, record["id"], 30)["state"] == jobs_module.SUCCEEDED
    restarted.stop()
    store.close()
