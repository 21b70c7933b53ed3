"""A running job stops at the next chunk of rows once it is cancelled: every
segment type walks the snapshot block by block and checks between blocks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from test_balance_segments import TENANT, load, random_bank

from finseg.server.domain import taxonomy
from finseg.server.domain.segment_types import TYPES
from finseg.server.domain.segment_types.common import Common, Progress
from finseg.server.errors import Cancelled
from finseg.server.storage import transactions
from finseg.server.storage.store import Store

RAW = {"HIGH_BALANCE": {"threshold": {"currency": "EUR", "amount": 0}},
       "LOW_BALANCE": {"threshold": {"currency": "EUR", "amount": 0}, "months": 3},
       "INCOME_SPENDING_SUMMARY": {"from_date": "2025-01-01", "to_date": "2025-12-31"},
       "FINANCIAL_BREAKDOWN": {"label_groups": ["INCOME"], "months": 3},
       "INSURANCE_SPENDING": {"months": 3},
       "RFM": {"window_days": 365},
       "MERCHANT_AFFINITY": {"months": 3},
       "RULE": {"expression": "frequency(days=365) > 0 OR low_balance_months(threshold=0, "
                              "months=3) > 0"}}


@pytest.mark.parametrize("name", sorted(TYPES))
def test_a_cancelled_job_stops_after_the_block_it_is_in(tmp_path, monkeypatch, name):
    monkeypatch.setattr(transactions, "CHUNK_ROWS", 100)  # many small base chunks
    rng = np.random.default_rng(9)
    as_of = dt.date(2026, 1, 10)
    accounts, txs = random_bank(rng, 60, 3000, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    store.compact(TENANT)
    reports: list[float] = []
    params = TYPES[name].parse(RAW[name], taxonomy.default())
    with store.snapshot(TENANT) as snap:
        assert len(list(snap.blocks())) > 3
        with pytest.raises(Cancelled):
            TYPES[name].run(snap, params, Common((), as_of),
                            Progress(reports.append, lambda: len(reports) >= 2))
    assert len(reports) == 2  # two blocks done, then it stopped
    store.close()
