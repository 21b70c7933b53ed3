"""The LMDB store: base/tail layout, compaction, zero-copy reads, the format
version, a full map and restarts."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from finseg.server.domain.ingest import Compactor, Ingestor
from finseg.server.errors import FailedPrecondition, ResourceExhausted
from finseg.server.storage import env as env_module
from finseg.server.storage import transactions as tx_module
from finseg.server.storage.store import Store

TENANT = "bank"


def accounts_batch(n: int, start: int = 0) -> pa.RecordBatch:
    ids = [f"a{i:05d}" for i in range(start, start + n)]
    return pa.record_batch({
        "account_id": ids, "user_id": [f"u{i // 2:05d}" for i in range(start, start + n)],
        "type": ["CHECKING"] * n, "currency": ["EUR"] * n, "balance": pa.array([0] * n),
        "balance_date": [dt.date(2026, 1, 31)] * n})


def tx_batch(rng: np.random.Generator, first_id: int, n: int, n_accounts: int
             ) -> pa.RecordBatch:
    return pa.record_batch({
        "transaction_id": [f"t{i}" for i in range(first_id, first_id + n)],
        "account_id": [f"a{a:05d}" for a in rng.integers(0, n_accounts, n)],
        "booking_date": pa.array(rng.integers(19000, 20500, n).astype(np.int32)).cast(
            pa.date32()),
        "amount": pa.array(rng.integers(-10**6, 10**6, n), pa.int64()),
        "label": pa.array(rng.choice(["", "SALARY", "INSURANCE.CAR", "GROCERIES"], n))})


def per_account_rows(store: Store) -> dict[int, list[tuple[int, int]]]:
    """Every account's (date, amount, label) rows as the kernels see them."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    with store.snapshot(TENANT) as snap:
        labels = snap.labels().to_pylist()
        for block in snap.blocks():
            for i in range(block.count):
                lo, hi = block.offsets[i], block.offsets[i + 1]
                dates = block.dates[lo:hi]
                assert np.all(np.diff(dates) >= 0), "dates must ascend within an account"
                out[block.first + i] = sorted(zip(
                    dates.tolist(), block.amounts[lo:hi].tolist(),
                    [labels[k] for k in block.labels[lo:hi]], strict=True))
    return out


def test_labels_reach_the_kernels_by_id(store):
    rng = np.random.default_rng(9)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(5))
    batch = tx_batch(rng, 0, 400, 5)
    ingest.append_transactions(TENANT, batch)
    expected = sorted(zip(batch.column("account_id").to_pylist(),
                          batch.column("label").to_pylist(), strict=True))
    for _ in ("in the tail", "after compaction"):
        rows = per_account_rows(store)
        got = sorted((f"a{a:05d}", label) for a, r in rows.items() for _, _, label in r)
        assert got == expected
        with store.snapshot(TENANT) as snap:
            assert sorted(snap.labels().to_pylist()) == ["", "GROCERIES", "INSURANCE.CAR",
                                                         "SALARY"]
        store.compact(TENANT)


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "db", 1 << 30)
    yield s
    s.close()


def test_compaction_keeps_every_row_and_sorts_by_account_and_date(store, monkeypatch):
    # Small chunks so that compaction also splits chunks at account bounds.
    monkeypatch.setattr(tx_module, "CHUNK_ROWS", 500)
    rng = np.random.default_rng(1)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(300))
    next_id = 0
    for _ in range(4):
        ingest.append_transactions(TENANT, tx_batch(rng, next_id, 700, 300))
        next_id += 700
    before = per_account_rows(store)
    assert store.compact(TENANT)
    after = per_account_rows(store)
    assert before == after
    with store.snapshot(TENANT) as snap:
        assert len(snap.state["base"]["chunks"]) > 1
        assert snap.state["base"]["rows"] == 2800

    # New accounts and more rows land in the tail; reads merge them in.
    ingest.upsert_accounts(TENANT, accounts_batch(50, start=300))
    ingest.append_transactions(TENANT, tx_batch(rng, next_id, 900, 350))
    merged = per_account_rows(store)
    assert sum(len(v) for v in merged.values()) == 3700
    assert store.compact(TENANT)
    assert per_account_rows(store) == merged
    assert not store.compact(TENANT), "nothing left to compact"


def test_base_columns_are_zero_copy_views_of_the_map(store):
    rng = np.random.default_rng(2)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(100))
    ingest.append_transactions(TENANT, tx_batch(rng, 0, 50_000, 100))
    Compactor(store, 1, 0).run_once()
    with store.snapshot(TENANT) as snap:
        block = next(iter(snap.blocks()))
        # Large columns sit on page-aligned overflow pages and are views; a
        # small value stored inline may be copied for alignment (offsets of
        # 100 accounts here), which the kernels' read-only contract allows.
        for array in (block.offsets, block.dates, block.amounts):
            assert not array.flags.writeable
        for array in (block.dates, block.amounts):
            assert not array.flags.owndata  # a view over LMDB's memory, not a copy


def test_format_version_is_checked_at_open(tmp_path, monkeypatch):
    Store(tmp_path / "db", 1 << 20).close()
    monkeypatch.setattr(env_module, "FORMAT_VERSION", env_module.FORMAT_VERSION + 1)
    with pytest.raises(FailedPrecondition, match="format version"):
        Store(tmp_path / "db", 1 << 20)


def test_one_store_writes_a_directory_at_a_time(tmp_path):
    first = Store(tmp_path / "db", 1 << 20)
    with pytest.raises(FailedPrecondition, match=f"in use by another finseg process "
                                                 f"\\(pid {os.getpid()}\\)"):
        Store(tmp_path / "db", 1 << 20)
    first.close()
    Store(tmp_path / "db", 1 << 20).close()  # closing gave the directory back


def test_full_map_is_resource_exhausted_and_keeps_stored_data(tmp_path):
    rng = np.random.default_rng(3)
    store = Store(tmp_path / "db", 8 << 20)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(10))
    ingest.append_transactions(TENANT, tx_batch(rng, 0, 1000, 10))
    stored = per_account_rows(store)
    with pytest.raises(ResourceExhausted, match="map_size"):
        for k in range(1, 200):
            ingest.append_transactions(TENANT, tx_batch(rng, k * 10_000, 10_000, 10))
            stored = per_account_rows(store)
    assert per_account_rows(store) == stored
    store.close()
    # A larger map on restart lets ingestion continue where it stopped.
    store = Store(tmp_path / "db", 64 << 20)
    assert per_account_rows(store) == stored
    result = Ingestor(store).append_transactions(TENANT, tx_batch(rng, 10**7, 10_000, 10))
    assert result.appended == 10_000
    store.close()


def test_idempotency_survives_a_restart(tmp_path):
    rng = np.random.default_rng(4)
    batch = tx_batch(rng, 0, 2000, 20)
    store = Store(tmp_path / "db", 1 << 28)
    Ingestor(store).upsert_accounts(TENANT, accounts_batch(20))
    assert Ingestor(store).append_transactions(TENANT, batch).appended == 2000
    store.close()
    store = Store(tmp_path / "db", 1 << 28)
    result = Ingestor(store).append_transactions(TENANT, batch)
    assert (result.appended, result.duplicates) == (0, 2000)
    store.close()


def test_the_id_index_is_built_off_the_lock_and_caught_up(tmp_path):
    """After a restart the id index is built over a snapshot without the
    write lock and then given the batches appended meanwhile; one built
    before an erasure is dropped. Either way repeats are still known."""
    rng = np.random.default_rng(3)
    store = Store(tmp_path / "db", 1 << 26)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(20))
    first = tx_batch(rng, 0, 300, 20)
    assert ingest.append_transactions(TENANT, first).appended == 300
    store.close()

    store = Store(tmp_path / "db", 1 << 26)
    ingest = Ingestor(store)
    with store.env.read() as txn:
        tenant_no = store.env.tenant_no(txn, TENANT, create=False)
    built = store.transactions.snapshot_index(tenant_no)
    assert tenant_no not in store.transactions._indexes  # nothing held under the lock yet
    meanwhile = tx_batch(rng, 300, 200, 20)
    assert ingest.append_transactions(TENANT, meanwhile).appended == 200
    store.transactions.forget_index(tenant_no)  # as if that write had found none either
    assert store.transactions.adopt_index(tenant_no, built)
    again = ingest.append_transactions(TENANT, pa.concat_batches([first, meanwhile]))
    assert (again.appended, again.duplicates) == (0, 500)

    built = store.transactions.snapshot_index(tenant_no)
    store.transactions.forget_index(tenant_no)
    ingest.delete_user(TENANT, "u00000")
    assert not store.transactions.adopt_index(tenant_no, built)  # rows moved: dropped
    store.close()

    store = Store(tmp_path / "db", 1 << 26)
    store.warm_indexes()
    assert store.wait_warm(30)
    assert tenant_no in store.transactions._indexes
    ingest = Ingestor(store)
    kept = meanwhile.filter(pa.compute.not_equal(meanwhile.column("account_id"), "a00000"))
    kept = kept.filter(pa.compute.not_equal(kept.column("account_id"), "a00001"))
    assert ingest.append_transactions(TENANT, kept).duplicates == kept.num_rows
    store.close()


def test_tenants_do_not_see_each_other(store):
    rng = np.random.default_rng(5)
    ingest = Ingestor(store)
    ingest.upsert_accounts("a", accounts_batch(5))
    ingest.append_transactions("a", tx_batch(rng, 0, 100, 5))
    with store.snapshot("b") as snap:
        assert snap.n_accounts == 0 and list(snap.blocks()) == []
    ingest.upsert_accounts("b", accounts_batch(5))
    # The same transaction ids are new for another tenant.
    assert ingest.append_transactions("b", tx_batch(rng, 0, 100, 5)).appended == 100


def test_ids_across_chunks_come_back_in_the_order_asked(tmp_path, monkeypatch):
    from finseg.server.storage import accounts as accounts_module

    monkeypatch.setattr(accounts_module, "CHUNK", 4)
    store = Store(tmp_path / "db", 1 << 28)
    ingest = Ingestor(store)
    for start in (0, 3, 9):  # batches that end inside chunks
        ingest.upsert_accounts(TENANT, accounts_batch(3 if start < 9 else 5, start=start))
    order = np.array([10, 0, 7, 4, 4, 9, 1], dtype=np.int64)
    with store.snapshot(TENANT) as snap:
        ids = snap.account_ids(order).to_pylist()
    # accounts_batch names accounts by position: 3 + 3 + 5 accounts upserted.
    expected_names = [f"a{i:05d}" for i in (*range(0, 3), *range(3, 6), *range(9, 14))]
    assert ids == [expected_names[i] for i in order]
    store.close()


def test_id_catalogs_follow_new_ids_and_erasures(tmp_path, monkeypatch):
    from finseg.server.storage import accounts as accounts_module

    monkeypatch.setattr(accounts_module, "CHUNK", 4)
    store = Store(tmp_path / "db", 1 << 28)
    ingest = Ingestor(store)

    def users_by_rank(snap) -> list[str]:
        rank = snap.user_rank()
        return snap.user_ids(np.argsort(rank)).to_pylist()

    def batch(user_ids: list[str], first: int) -> pa.RecordBatch:
        b = accounts_batch(len(user_ids), start=first)
        return b.set_column(1, "user_id", pa.array(user_ids))

    ingest.upsert_accounts(TENANT, batch(["zoë", "b", "é", "a", "zz"], 0))
    with store.snapshot(TENANT) as before:
        assert users_by_rank(before) == ["a", "b", "zoë", "zz", "é"]  # UTF-8 byte order
        ingest.upsert_accounts(TENANT, batch(["ab", "0"], 5))
        with store.snapshot(TENANT) as snap:
            assert users_by_rank(snap) == ["0", "a", "ab", "b", "zoë", "zz", "é"]
        # The newer version is cached now; the older snapshot still sees its own.
        assert users_by_rank(before) == ["a", "b", "zoë", "zz", "é"]
    with store.snapshot(TENANT) as snap:
        accounts = snap.account_rank()
        assert snap.account_ids(np.argsort(accounts)).to_pylist() == sorted(
            f"a{i:05d}" for i in range(7))
    ingest.delete_user(TENANT, "ab")
    with store.snapshot(TENANT) as snap:
        # The erased id is blank: first in order, and never named again.
        assert users_by_rank(snap) == ["", "0", "a", "b", "zoë", "zz", "é"]
    store.close()


def cached_catalog_names(store: Store) -> list[list[str]]:
    """What the user id map keeps in memory, for every tenant."""
    ids = store.accounts.user_ids
    return [catalog.names.to_pylist() for _, catalog in ids._catalogs.values()]


def test_a_snapshot_from_before_an_erasure_does_not_keep_the_erased_id(store):
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(4))  # users u00000, u00001
    with store.snapshot(TENANT) as before:
        ingest.delete_user(TENANT, "u00001")
        # The old snapshot still names the user it saw...
        assert before.user_ids(np.array([1])).to_pylist() == ["u00001"]
        assert int(before.user_rank()[1]) == 1
    # ...but nothing keeps the id once it is gone.
    assert not any("u00001" in names for names in cached_catalog_names(store))
    with store.snapshot(TENANT) as after:
        assert after.user_ids(np.array([0, 1])).to_pylist() == ["u00000", ""]
    assert cached_catalog_names(store) == [["u00000", ""]]


def test_a_failed_erasure_leaves_catalogs_cacheable(store, monkeypatch):
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(4))

    def fail(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(store.jobs, "rewrite_results", fail)
    with pytest.raises(RuntimeError):
        ingest.delete_user(TENANT, "u00001")
    with store.snapshot(TENANT) as snap:
        assert snap.user_ids(np.array([0, 1])).to_pylist() == ["u00000", "u00001"]
    assert cached_catalog_names(store) == [["u00000", "u00001"]]


def test_ids_beyond_32_bit_offsets_are_held_as_large_strings(store, monkeypatch):
    from finseg.server.storage import accounts as accounts_module

    # 8 ids of 6 bytes take more than 40 bytes with their offsets; one does not.
    monkeypatch.setattr(accounts_module, "STRING_BYTES", 40)
    Ingestor(store).upsert_accounts(TENANT, accounts_batch(8))
    with store.snapshot(TENANT) as snap:
        assert snap.account_ids(np.array([7, 0, 3])).to_pylist() == ["a00007", "a00000", "a00003"]
        one = snap.account_ids(np.array([5]))
        assert one.type == pa.string() and one.to_pylist() == ["a00005"]
        assert snap.account_rank().tolist() == list(range(8))
    (_, catalog), = store.accounts.account_ids._catalogs.values()
    assert catalog.names.type == pa.large_string()


def test_an_erased_users_ids_are_gone_from_the_store(tmp_path):
    store = Store(tmp_path / "db", 1 << 28)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(6))  # users u00000..u00002
    ingest.delete_user(TENANT, "u00001")
    with store.env.read() as txn:
        stored = b"".join(bytes(v) for db in env_module.DB
                          for _, v in txn.cursor(db=store.env.db(db)))
        keys = b"".join(bytes(k) for db in env_module.DB
                        for k, _ in txn.cursor(db=store.env.db(db)))
    assert b"u00001" not in stored and b"u00001" not in keys
    assert b"a00002" not in stored and b"a00002" not in keys  # u00001's accounts
    assert b"u00002" in stored
    store.close()


def test_an_erased_users_counterparty_names_go_unless_others_use_them(tmp_path):
    store = Store(tmp_path / "db", 1 << 28)
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(6))  # a00002, a00003 are u00001's
    rows = [("1", "a00002", "Erika Mustermann"), ("2", "a00003", "REWE Markt"),
            ("3", "a00000", "REWE Markt"), ("4", "a00004", "")]
    ingest.append_transactions(TENANT, pa.RecordBatch.from_pylist([
        {"transaction_id": t, "account_id": a, "booking_date": "2026-01-02", "amount": -5,
         "counterparty_name": name} for t, a, name in rows]))
    store.compact(TENANT)
    ingest.delete_user(TENANT, "u00001")
    with store.env.read() as txn:
        stored = b"".join(bytes(k) + bytes(v) for db in env_module.DB
                          for k, v in txn.cursor(db=store.env.db(db)))
    assert b"Erika Mustermann" not in stored  # only the erased user paid her
    assert b"REWE Markt" in stored  # another user's transaction still names it
    store.close()


def test_a_failed_write_forgets_only_the_ids_it_added(store):
    from finseg.server.errors import AlreadyExists, InvalidArgument

    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, accounts_batch(2))
    first = pa.record_batch({"transaction_id": ["t1"], "account_id": ["a00000"],
                             "booking_date": ["2026-01-02"], "amount": pa.array([5])})
    ingest.append_transactions(TENANT, first)
    tenant_no = 1
    caches = store.accounts.account_ids._cache
    assert tenant_no in caches

    # Rejected before any id was added: the warm cache stays.
    with pytest.raises(InvalidArgument):
        ingest.append_transactions(TENANT, pa.record_batch({
            "transaction_id": ["t2"], "account_id": ["nope"], "booking_date": ["2026-01-02"],
            "amount": pa.array([1])}))
    assert tenant_no in caches

    # Rejected after a new label got an id in the aborted transaction: that
    # id must not survive in memory, and the label works afterwards.
    conflicting = pa.record_batch({"transaction_id": ["t1"], "account_id": ["a00000"],
                                   "booking_date": ["2026-01-02"], "amount": pa.array([6]),
                                   "label": ["BRAND.NEW"]})
    with pytest.raises(AlreadyExists):
        ingest.append_transactions(TENANT, conflicting)
    assert ingest.append_transactions(TENANT, pa.record_batch({
        "transaction_id": ["t3"], "account_id": ["a00001"], "booking_date": ["2026-01-03"],
        "amount": pa.array([7]), "label": ["BRAND.NEW"]})).appended == 1
    rows = per_account_rows(store)
    assert rows[1] == [(day_of("2026-01-03"), 7, "BRAND.NEW")]


def day_of(text: str) -> int:
    return (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days
