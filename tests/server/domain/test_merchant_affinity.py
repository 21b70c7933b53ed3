"""MERCHANT_AFFINITY through the whole domain path against a plain reference
(SPEC §4) on seeded random banks: spelling variants (case, Unicode white
space, ß), users with several accounts and currencies, refunds and 0.00,
min_customers at its boundary, ties of the last date, and the drill-down."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from test_balance_segments import NO_PROGRESS, TENANT, load

from finseg.server.domain.segment_types import merchant_affinity as ma
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage import transactions
from finseg.server.storage.store import Store

#: Spellings that share keys: "rewe markt", "straße"/"strasse" (casefold), "".
NAMES = ["REWE Markt", "rewe  markt", " Rewe\u00a0MARKT\t", "Straße", "STRASSE", "strasse",
         "Aldi", None, "", "Café Ü", "CAFÉ  ü"]
USERS = ["USER7", "user1", "user10", "user2", "üser", "u,\"q\""]
TYPES = ["CHECKING", "SAVINGS", "CREDIT_CARD"]


def key(name):
    return re.sub(r"\s+", " ", (name or "").casefold()).strip()


def bank(rng, n_accounts, n_tx, as_of):
    # Users own several accounts, far apart in account order, in two currencies.
    n_users = max(1, n_accounts // 3)
    accounts = [{"account_id": f"acc {i:03d}", "user_id": USERS[i % n_users % 6] + str(i % n_users),
                 "type": TYPES[int(rng.integers(3))],
                 "currency": "EUR" if rng.random() < 0.75 else "USD",
                 "balance": 0, "balance_date": as_of}
                for i in range(n_accounts)]
    # Few dates, so that last days tie; ids whose byte order is not numeric.
    txs = [{"transaction_id": f"t{int(rng.integers(10**6))}-{k}",
            "account_id": f"acc {int(rng.integers(n_accounts)):03d}",
            "booking_date": as_of - dt.timedelta(days=int(rng.integers(-5, 120)) // 7 * 7),
            "amount": int(rng.choice([-2500, -999, -1, 0, 700])),
            "counterparty_name": NAMES[int(rng.integers(len(NAMES)))]} for k in range(n_tx)]
    return accounts, txs


def months_window(as_of, n):
    first = dt.date(as_of.year, as_of.month, 1)
    start_month = as_of.year * 12 + as_of.month - 1 - n
    return dt.date(start_month // 12, start_month % 12 + 1, 1), first


def payments(accounts, txs, as_of, n, types):
    by_id = {a["account_id"]: a for a in accounts}
    start, stop = months_window(as_of, n)
    for t in txs:
        a = by_id[t["account_id"]]
        if t["amount"] < 0 and start <= t["booking_date"] < stop \
                and (not types or a["type"] in types):
            yield a, t


def ranking_ref(accounts, txs, as_of, n, least, types):
    cells: dict[tuple[str, str], dict] = {}
    for a, t in payments(accounts, txs, as_of, n, types):
        cell = cells.setdefault((key(t["counterparty_name"]), a["currency"]),
                                {"users": set(), "transactions": 0, "spend": 0, "last": None})
        cell["users"].add(a["user_id"])
        cell["transactions"] += 1
        cell["spend"] -= t["amount"]
        # The latest payment's spelling; on one date the greatest in bytes.
        latest = (t["booking_date"], (t["counterparty_name"] or "").encode())
        if cell["last"] is None or latest > cell["last"][0]:
            cell["last"] = (latest, t["counterparty_name"] or "")
    rows = [{"merchant_key": k, "merchant_name": c["last"][1], "currency": cur,
             "customers": len(c["users"]), "transactions": c["transactions"],
             "spend": c["spend"]} for (k, cur), c in cells.items()
            if len(c["users"]) >= least]
    return sorted(rows, key=lambda r: (-r["customers"], r["merchant_key"].encode(),
                                       r["currency"]))


def customers_ref(accounts, txs, as_of, n, counterparty, types):
    rows: dict[tuple[str, str], dict] = {}
    for a, t in payments(accounts, txs, as_of, n, types):
        if key(t["counterparty_name"]) != key(counterparty):
            continue
        row = rows.setdefault((a["user_id"], a["currency"]), {
            "user_id": a["user_id"], "currency": a["currency"], "transactions": 0, "spend": 0,
            "first_purchase": t["booking_date"], "last_purchase": t["booking_date"]})
        row["transactions"] += 1
        row["spend"] -= t["amount"]
        row["first_purchase"] = min(row["first_purchase"], t["booking_date"])
        row["last_purchase"] = max(row["last_purchase"], t["booking_date"])
    return [{**r, "first_purchase": r["first_purchase"].isoformat(),
             "last_purchase": r["last_purchase"].isoformat()}
            for _, r in sorted(rows.items(), key=lambda kv: (kv[0][0].encode(), kv[0][1]))]


@pytest.fixture(scope="module", params=range(4))
def loaded(request, tmp_path_factory):
    seed = request.param
    rng = np.random.default_rng(900 + seed)
    as_of = dt.date(2024, 3, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
    accounts, txs = bank(rng, 40, 1200, as_of)
    store = Store(tmp_path_factory.mktemp("ma") / "db", 1 << 28)
    # Odd seeds: base chunks of 100 rows, so a user's accounts lie in
    # several blocks (its slot is split) and ties span blocks.
    chunk_rows, transactions.CHUNK_ROWS = transactions.CHUNK_ROWS, (
        100 if seed % 2 else transactions.CHUNK_ROWS)
    try:
        load(store, accounts, txs, rng)
        store.compact(TENANT)
    finally:
        transactions.CHUNK_ROWS = chunk_rows
    if seed % 2:
        with store.snapshot(TENANT) as snap:
            assert len(list(snap.blocks())) > 3
    yield store, accounts, txs, as_of, seed
    store.close()


def run(store, raw, types, as_of):
    params = ma.parse(raw)
    with store.snapshot(TENANT) as snap:
        return ma.run(snap, params, Common(types, as_of), NO_PROGRESS).to_pylist()


@pytest.mark.parametrize("types", [(), ("CHECKING", "SAVINGS")])
def test_ranking_matches_reference(loaded, types):
    store, accounts, txs, as_of, seed = loaded
    n = 1 + seed % 4
    everyone = ranking_ref(accounts, txs, as_of, n, 0, types)
    assert everyone and any(r["customers"] > 1 for r in everyone)
    assert run(store, {"months": n}, types, as_of) == everyone
    # min_customers at its boundary: a row with exactly that many stays.
    least = everyone[len(everyone) // 2]["customers"]
    want = ranking_ref(accounts, txs, as_of, n, least, types)
    assert want[-1]["customers"] == least
    assert run(store, {"months": n, "min_customers": str(least)}, types, as_of) == want


def test_drill_down_takes_any_spelling(loaded):
    store, accounts, txs, as_of, seed = loaded
    n = 1 + seed % 4
    # White space alone keys to "", the payments without a name.
    for spelling in ("STRASSE", "  rewe markt ", " ", "nobody at all"):
        got = run(store, {"months": n, "counterparty": spelling, "min_customers": "99"}, (),
                  as_of)
        assert got == customers_ref(accounts, txs, as_of, n, spelling, ())
    assert run(store, {"months": n, "counterparty": "Straße"}, (), as_of)


def test_page_names_and_params_round_trip():
    params = ma.parse({"months": 3, "min_customers": "2", "counterparty": "Aldi"})
    assert ma.parse(ma.to_dict(params)) == params
    assert ma.page(params) == "MERCHANT_CUSTOMERS"
    assert ma.page(ma.parse({"months": 3})) == "MERCHANT_AFFINITY"


@pytest.mark.parametrize("raw, field", [
    ({"months": 0}, "months"),
    ({"months": 25}, "months"),
    ({"months": 3, "min_customers": "-1"}, "min_customers"),
    ({"months": 3, "counterparty": "x" * 257}, "counterparty"),
])
def test_bad_requests_name_the_field(raw, field):
    with pytest.raises(InvalidArgument) as error:
        ma.parse(raw)
    assert error.value.violations[0].field == f"spec.merchant_affinity.{field}"
