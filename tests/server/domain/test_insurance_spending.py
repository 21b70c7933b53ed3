"""INSURANCE_SPENDING through the whole domain path (validation, log, partial
compaction, kernels, tie settling, result table) against the plain reference
written from SPEC §4, on seeded random banks and the edges that bite."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from insurance_reference import insurance_spending_ref
from test_balance_segments import NO_PROGRESS, TENANT, load, random_bank

from finseg.server.domain import taxonomy
from finseg.server.domain.segment_types import insurance_spending as ins
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage.store import Store

TAXONOMY = taxonomy.default()
LABELS = ["", "INSURANCE", "INSURANCE.CAR", "INSURANCE.HEALTH", "INSURANCE.PET",
          "INSURANCE.CAR.EXTRA", "INSURANCES", "GROCERIES", "SALARY"]
#: Spellings that share a provider key, and ones that do not ("ß" folds to "ss").
NAMES = ["Allianz SE", "allianz se", "  ALLIANZ\u00a0 SE ", "Allianz  SE\t", "HUK", "huk ",
         "Straße Versicherung", "STRASSE VERSICHERUNG", "", "DEVK"]
GAPS = [1, 24, 25, 30, 35, 36, 79, 80, 91, 100, 101, 169, 170, 182, 195, 196, 349, 350, 365,
        380, 381]


def contract_payments(rng, accounts, as_of, first_id):
    """Regular payment series at the band edges, with same-day payments and
    competing spellings, so every frequency and the tie rule occur."""
    txs = []
    for k in range(60):
        account = accounts[int(rng.integers(len(accounts)))]["account_id"]
        gap = GAPS[int(rng.integers(len(GAPS)))]
        day = as_of - dt.timedelta(days=int(rng.integers(0, 760)))
        label = LABELS[int(rng.integers(1, 6))]
        for _ in range(int(rng.integers(1, 8))):
            for _ in range(1 + (rng.random() < 0.2)):  # now and then two on one day
                txs.append({"transaction_id": f"t{first_id + len(txs)}", "account_id": account,
                            "booking_date": day, "amount": -int(rng.integers(0, 9000)),
                            "label": label,
                            "counterparty_name": NAMES[int(rng.integers(0, 4)) if k % 2
                                                       else int(rng.integers(len(NAMES)))]})
            day += dt.timedelta(days=gap)
    return txs


def run(tmp_path, accounts, txs, as_of, months, types=(), account_types=(), rng=None):
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng or np.random.default_rng(0))
    params = ins.parse({"months": months, "insurance_types": list(types)}, TAXONOMY)
    with store.snapshot(TENANT) as snap:
        table = ins.run(snap, params, Common(account_types, as_of), NO_PROGRESS)
    store.close()
    return table.to_pylist()


def same(got, want):
    assert [m["user_id"] for m in got] == [m["user_id"] for m in want]
    for g_member, w_member in zip(got, want, strict=True):
        assert len(g_member["contracts"]) == len(w_member["contracts"]), g_member["user_id"]
        for g, w in zip(g_member["contracts"], w_member["contracts"], strict=True):
            for key in ("provider_key", "provider_name", "insurance_type", "currency",
                        "payment_count"):
                assert g[key] == w[key], (key, g, w)
            assert g["first_payment"] == w["first_payment"].isoformat()
            assert g["last_payment"] == w["last_payment"].isoformat()
            assert g["frequency"] == "FREQUENCY_" + w["frequency"], (g, w)
            for key in ("typical_amount", "annual_cost"):
                assert math.isclose(g[key], w[key], rel_tol=1e-12), (key, g, w)


@pytest.mark.parametrize("seed", range(8))
def test_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(700 + seed)
    as_of = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
    accounts, txs = random_bank(rng, 40, 600, as_of)
    for t in txs:
        t["label"] = LABELS[int(rng.integers(len(LABELS)))]
        t["counterparty_name"] = NAMES[int(rng.integers(len(NAMES)))]
    txs += contract_payments(rng, accounts, as_of, len(txs))
    months = int(rng.integers(1, 25))
    types = [(), ("CAR",), ("HEALTH", "OTHER")][seed % 3]
    account_types = ((), ("CHECKING", "SAVINGS"))[seed % 2]
    got = run(tmp_path, accounts, txs, as_of, months, types, account_types, rng)
    want = insurance_spending_ref(accounts, txs, as_of, months, types, account_types)
    assert want, "the seed should produce contracts"
    same(got, want)


def one_contract(tmp_path, dates, as_of, amounts=None, names=None, ids=None, months=24):
    accounts = [{"account_id": "a", "user_id": "u", "type": "CHECKING", "currency": "EUR",
                 "balance": 0, "balance_date": as_of}]
    txs = [{"transaction_id": ids[i] if ids else f"t{i:03d}", "account_id": "a",
            "booking_date": d, "amount": -(amounts[i] if amounts else 1000),
            "label": "INSURANCE.CAR", "counterparty_name": names[i] if names else "HUK"}
           for i, d in enumerate(dates)]
    got = run(tmp_path, accounts, txs, as_of, months)
    assert got == [] or len(got[0]["contracts"]) == 1
    return got[0]["contracts"][0] if got else None


@pytest.mark.parametrize(("gap", "frequency"), [
    (24, "IRREGULAR"), (25, "MONTHLY"), (35, "MONTHLY"), (36, "IRREGULAR"),
    (79, "IRREGULAR"), (80, "QUARTERLY"), (100, "QUARTERLY"), (101, "IRREGULAR"),
    (169, "IRREGULAR"), (170, "HALF_YEARLY"), (195, "HALF_YEARLY"), (196, "IRREGULAR"),
    (349, "IRREGULAR"), (350, "YEARLY"), (380, "YEARLY"), (381, "IRREGULAR")])
def test_frequency_band_edges(tmp_path, gap, frequency):
    first = dt.date(2024, 12, 1)
    got = one_contract(tmp_path, [first, first + dt.timedelta(days=gap)], dt.date(2026, 12, 1),
                       amounts=[1000, 3000])
    assert got["frequency"] == "FREQUENCY_" + frequency
    per_year = {"MONTHLY": 12, "QUARTERLY": 4, "HALF_YEARLY": 2, "YEARLY": 1}.get(frequency)
    assert got["typical_amount"] == 2000.0
    assert got["annual_cost"] == (2000.0 * per_year if per_year else 4000.0)


def test_a_median_gap_of_35_5_is_outside_the_monthly_band(tmp_path):
    start = dt.date(2026, 1, 1)
    dates = [start + dt.timedelta(days=d) for d in (0, 35, 71)]  # gaps 35 and 36
    assert one_contract(tmp_path, dates, dt.date(2026, 12, 1))["frequency"] == \
        "FREQUENCY_IRREGULAR"


def test_same_day_payments_count_but_make_no_gap(tmp_path):
    d = dt.date(2026, 3, 5)
    got = one_contract(tmp_path, [d, d, d + dt.timedelta(days=30)], dt.date(2026, 6, 1),
                       amounts=[100, 300, 200])
    assert (got["payment_count"], got["frequency"], got["typical_amount"]) == \
        (3, "FREQUENCY_MONTHLY", 200.0)
    once = one_contract(tmp_path / "once", [d, d], dt.date(2026, 6, 1), amounts=[100, 300])
    assert (once["frequency"], once["annual_cost"]) == ("FREQUENCY_ONCE", 400.0)


def test_spellings_merge_and_the_latest_one_shows_ties_going_to_the_greatest_id(tmp_path):
    d = dt.date(2026, 2, 10)
    got = one_contract(
        tmp_path, [d - dt.timedelta(days=30), d, d],
        dt.date(2026, 6, 1), names=["HUK  Coburg", " huk coburg", "HUK\u2003COBURG "],
        ids=["t1", "t9", "t10"])  # "t9" > "t10" as UTF-8 bytes
    assert (got["provider_key"], got["provider_name"], got["payment_count"]) == \
        ("huk coburg", " huk coburg", 3)


def test_window_is_the_complete_months(tmp_path):
    as_of = dt.date(2026, 3, 31)
    dates = [dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2026, 2, 28),
             dt.date(2026, 3, 1)]
    got = one_contract(tmp_path, dates, as_of, months=2)
    assert (got["first_payment"], got["last_payment"], got["payment_count"]) == \
        ("2026-01-01", "2026-02-28", 2)
    assert one_contract(tmp_path / "none", [dt.date(2026, 3, 1)], as_of, months=1) is None


FIELD = "spec.insurance_spending"


@pytest.mark.parametrize(("raw", "field", "says"), [
    ({"months": 0}, f"{FIELD}.months", "between 1 and 24"),
    ({"months": 25}, f"{FIELD}.months", "between 1 and 24"),
    ({"months": 12, "insurance_types": ["CAR", ""]}, f"{FIELD}.insurance_types[1]",
     "is empty"),
    ({"months": 12, "insurance_types": ["PET.DOG"]}, f"{FIELD}.insurance_types[0]",
     "contains a dot"),
    ({"months": 12, "insurance_types": ["P" * 129]}, f"{FIELD}.insurance_types[0]",
     "longer than a label (128 characters)"),
    ({"months": 12, "insurance_types": ["PET\u200b"]}, f"{FIELD}.insurance_types[0]",
     "contains U+200B"),
    ({"months": 12, "insurance_types": ["CAR", "CAR"]}, f"{FIELD}.insurance_types[1]",
     "repeated"),
])
def test_bad_parameters_name_the_field(raw, field, says):
    with pytest.raises(InvalidArgument) as caught:
        ins.parse(raw, TAXONOMY)
    assert caught.value.violations[0].field == field
    assert says in str(caught.value)


def test_provider_key_folds_case_and_collapses_unicode_white_space():
    assert ins.provider_key("\u2003 Straße\u00a0\u00a0Versicherung\n") == "strasse versicherung"
    assert ins.provider_key("") == ""


def test_a_tenant_without_data_has_no_members(tmp_path):
    store = Store(tmp_path / "db", 1 << 26)
    with store.snapshot("nobody") as snap:
        table = ins.run(snap, ins.parse({"months": 3}, TAXONOMY),
                        Common((), dt.date(2026, 5, 1)), NO_PROGRESS)
    assert table.num_rows == 0
