"""HIGH_BALANCE and LOW_BALANCE through the whole domain path (validation,
log, compaction, base/tail merge, kernels, members table) against the plain
references, on seeded random banks."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from finseg.server.domain.ingest import Ingestor
from finseg.server.domain.segment_types import high_balance, low_balance
from finseg.server.domain.segment_types.common import Common, Progress, Threshold
from finseg.server.storage.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
import naive  # noqa: E402

TENANT = "t"
TYPES = ["CHECKING", "SAVINGS", "CREDIT_CARD"]
NO_PROGRESS = Progress(lambda share: None, lambda: False)


def random_bank(rng: np.random.Generator, n_accounts: int, n_tx: int, as_of: dt.date):
    accounts = []
    for i in range(n_accounts):
        opened = (as_of - dt.timedelta(days=int(rng.integers(0, 900)))
                  if rng.random() < 0.4 else None)
        closed = (as_of - dt.timedelta(days=int(rng.integers(-30, 400)))
                  if rng.random() < 0.15 else None)
        if opened and closed and closed <= opened:
            closed = opened + dt.timedelta(days=int(rng.integers(1, 60)))
        accounts.append({
            # Users get ids whose byte order differs from their number order.
            "account_id": f"acc {i:03d}", "user_id": ["USER7", "user1", "user10", "user2",
                                                      "üser", "u,\"q\""][i % 6] + str(i // 6),
            "type": TYPES[i % 3], "currency": "EUR" if rng.random() < 0.85 else "USD",
            "balance": int(rng.integers(-50_000, 50_000)),
            "balance_date": as_of + dt.timedelta(days=int(rng.integers(-400, 60))),
            "opened_on": opened, "closed_on": closed})
    txs = [{"transaction_id": f"t{k}", "account_id": f"acc {int(rng.integers(n_accounts)):03d}",
            "booking_date": as_of + dt.timedelta(days=int(rng.integers(-800, 90))),
            "amount": int(rng.integers(-20_000, 20_000))} for k in range(n_tx)]
    return accounts, txs


def load(store: Store, accounts, txs, rng) -> None:
    ingest = Ingestor(store)
    ingest.upsert_accounts(TENANT, pa.RecordBatch.from_pylist(accounts))
    cuts = sorted(rng.choice(np.arange(1, len(txs)), size=min(4, max(len(txs) - 1, 0)),
                             replace=False).tolist())
    for k, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, len(txs)], strict=True)):
        ingest.append_transactions(TENANT, pa.RecordBatch.from_pylist(txs[lo:hi]))
        if k == 2:
            store.compact(TENANT)  # part of the rows in the base, the rest in the tail


def reference_inputs(accounts, txs, currency: str, types: tuple[str, ...]):
    index = {a["account_id"]: i for i, a in enumerate(accounts)}
    refs = [naive.Account(a["balance"], a["balance_date"], a["opened_on"], a["closed_on"],
                          a["currency"] == currency and (not types or a["type"] in types))
            for a in accounts]
    rows = [naive.Transaction(index[t["account_id"]], t["booking_date"], t["amount"])
            for t in txs]
    return refs, rows


def expected_members(accounts, per_account: dict[int, dict]) -> list[dict]:
    by_user: dict[str, list] = {}
    for i, fields in per_account.items():
        a = accounts[i]
        by_user.setdefault(a["user_id"], []).append(
            {"account_id": a["account_id"], "currency": a["currency"], **fields})
    return [{"user_id": u, "accounts": sorted(by_user[u], key=lambda r: r["account_id"])}
            for u in sorted(by_user, key=lambda u: u.encode())]


@pytest.mark.parametrize("seed", range(6))
def test_low_balance_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(seed)
    as_of = dt.date(2026, 3, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
    accounts, txs = random_bank(rng, 60, 1500, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    months = int(rng.integers(1, 25))
    threshold = int(rng.integers(-10_000, 30_000))
    types = (("CHECKING", "SAVINGS"), ())[seed % 2]
    with store.snapshot(TENANT) as snap:
        table = low_balance.run(snap, low_balance.Params(Threshold("EUR", threshold), months),
                                Common(types, as_of), NO_PROGRESS)
    refs, rows = reference_inputs(accounts, txs, "EUR", types)
    result = naive.low_balance_ref(refs, rows, as_of, months, threshold)
    want = {i: {"amount": r.period_min, "monthly_minimums": r.monthly_min}
            for i, r in enumerate(result) if r.qualifies}
    assert table.to_pylist() == expected_members(accounts, want)
    store.close()


@pytest.mark.parametrize("seed", range(6))
def test_high_balance_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(100 + seed)
    as_of = dt.date(2025, 12, 31) + dt.timedelta(days=int(rng.integers(0, 400)))
    accounts, txs = random_bank(rng, 60, 1500, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    threshold = int(rng.integers(-20_000, 20_000))
    types = ((), ("CREDIT_CARD",))[seed % 2]
    with store.snapshot(TENANT) as snap:
        table = high_balance.run(snap, high_balance.Params(Threshold("EUR", threshold)),
                                 Common(types, as_of), NO_PROGRESS)
    refs, rows = reference_inputs(accounts, txs, "EUR", types)
    result = naive.high_balance_ref(refs, rows, as_of, threshold)
    want = {i: {"amount": r.eod} for i, r in enumerate(result) if r.qualifies}
    assert table.to_pylist() == expected_members(accounts, want)
    store.close()
