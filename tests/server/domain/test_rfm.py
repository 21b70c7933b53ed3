"""RFM through the whole domain path (validation, log, compaction, base/tail
merge, kernels, scores, members table) against the plain reference
(naive.rfm_ref) on seeded random banks with labels, currencies and account
types."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from test_balance_segments import NO_PROGRESS, TENANT, load, naive, random_bank

from finseg.server.domain import taxonomy
from finseg.server.domain.segment_types import rfm
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument, Reason
from finseg.server.storage.store import Store

TAXONOMY = taxonomy.default()
LABELS = ["", "SALARY", "INCOME.SALARY", "GROCERIES", "SHOPPING", "SHOPPING.ONLINE",
          "INSURANCE.CAR", "INSURANCE.PET", "RENTANDLIVING.RENT", "INCOMETAX"]
#: (label_groups, currency, account_types, segment_names) per seed.
CASES = [((), "EUR", (), ()),
         (("SHOPPING", "GROCERIES"), "EUR", ("CHECKING", "SAVINGS"), ()),
         (("INSURANCE", "SALARY"), "USD", (), ()),
         ((), "EUR", ("CREDIT_CARD",), ("Champions", "Lost", "At risk")),
         (("RENTANDLIVING",), "EUR", (), ("Loyal", "New", "Hibernating")),
         (("INCOME",), "USD", ("CHECKING", "SAVINGS"), ())]


def in_groups(groups):
    if not groups:
        return None
    return lambda label: any(TAXONOMY.contains(g, label) for g in groups)


@pytest.mark.parametrize("seed", range(len(CASES)))
def test_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(500 + seed)
    # as_of on a month end or a leap day, or anywhere.
    as_of = [dt.date(2024, 2, 29), dt.date(2025, 12, 31), dt.date(2026, 4, 30),
             dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 400)))][seed % 4]
    accounts, txs = random_bank(rng, 80, 1500, as_of)
    for t in txs:
        t["label"] = LABELS[int(rng.integers(len(LABELS)))]
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    groups, currency, types, names = CASES[seed]
    window = int(rng.choice([30, 90, 365, 366, 800]))
    raw = {"window_days": window, "label_groups": list(groups), "currency": currency,
           "segment_names": list(names)}
    params = rfm.parse(raw, TAXONOMY)
    with store.snapshot(TENANT) as snap:
        table = rfm.run(snap, params, Common(types, as_of), NO_PROGRESS)
    want = naive.rfm_ref(accounts, txs, as_of, window, currency=currency, account_types=types,
                         in_groups=in_groups(groups), segment_names=names)
    assert want, "the random bank has members"
    assert table.to_pylist() == want
    assert table.schema.field("recency").type == "int32"
    # Stored params carry the resolution; reading them back needs no taxonomy.
    assert rfm.parse(rfm.to_dict(params)) == params
    store.close()


def test_segment_names_filter_after_scoring(tmp_path):
    """The names keep members; everyone else still counts in the scores."""
    rng = np.random.default_rng(7)
    as_of = dt.date(2026, 3, 31)
    accounts, txs = random_bank(rng, 60, 1200, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    with store.snapshot(TENANT) as snap:
        everyone = rfm.run(snap, rfm.parse({"window_days": 400}, TAXONOMY),
                           Common((), as_of), NO_PROGRESS).to_pylist()
        some = rfm.run(snap, rfm.parse({"window_days": 400, "segment_names": ["Lost", "Loyal"]},
                                       TAXONOMY), Common((), as_of), NO_PROGRESS).to_pylist()
    assert some == [m for m in everyone if m["segment_name"] in ("Lost", "Loyal")]
    assert 0 < len(some) < len(everyone)
    store.close()


def test_an_empty_store_has_no_members(tmp_path):
    store = Store(tmp_path / "db", 1 << 28)
    with store.snapshot(TENANT) as snap:
        table = rfm.run(snap, rfm.parse({"window_days": 10}, TAXONOMY),
                        Common((), dt.date(2026, 1, 1)), NO_PROGRESS)
    assert table.num_rows == 0
    assert table.column_names == ["user_id", "recency", "frequency", "monetary", "r_score",
                                  "f_score", "m_score", "rfm_code", "segment_name"]
    store.close()


def test_defaults_and_aliases():
    params = rfm.parse({"window_days": 365, "label_groups": ["SALARY"]}, TAXONOMY)
    assert (params.currency, params.nodes, params.segment_names) == \
        ("EUR", ("INCOME.SALARY",), ())
    assert set(rfm.NAMES) == {name for row in rfm.GRID for name in row}
    assert len(rfm.NAMES) == 11


@pytest.mark.parametrize("raw, field, reason", [
    ({}, "window_days", Reason.INVALID_SPEC),
    ({"window_days": 0}, "window_days", Reason.INVALID_SPEC),
    ({"window_days": -5}, "window_days", Reason.INVALID_SPEC),
    ({"window_days": 3661}, "window_days", Reason.INVALID_SPEC),
    ({"window_days": 30, "currency": "XYZ"}, "currency", Reason.INVALID_SPEC),
    ({"window_days": 30, "label_groups": ["INCOMETAX"]}, "label_groups[0]",
     Reason.UNKNOWN_LABEL_GROUP),
    ({"window_days": 30, "label_groups": ["INCOME", "INCOME"]}, "label_groups",
     Reason.INVALID_SPEC),
    ({"window_days": 30, "label_groups": [f"G{i}" for i in range(21)]}, "label_groups",
     Reason.INVALID_SPEC),
    ({"window_days": 30, "segment_names": ["Lost", "champions"]}, "segment_names[1]",
     Reason.UNKNOWN_SEGMENT_NAME),
    ({"window_days": 30, "segment_names": ["Lost", "Lost"]}, "segment_names[1]",
     Reason.INVALID_SPEC),
])
def test_bad_requests_name_the_field(raw, field, reason):
    with pytest.raises(InvalidArgument) as error:
        rfm.parse(raw, TAXONOMY)
    assert error.value.violations[0].field == f"spec.rfm.{field}"
    assert error.value.reason == reason


def test_an_unknown_segment_name_lists_the_eleven():
    with pytest.raises(InvalidArgument) as error:
        rfm.parse({"window_days": 30, "segment_names": ["VIP"]}, TAXONOMY)
    assert all(repr(name) in str(error.value) for name in rfm.NAMES)
