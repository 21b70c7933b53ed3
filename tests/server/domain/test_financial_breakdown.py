"""FINANCIAL_BREAKDOWN through the whole domain path against a plain
reference (SPEC §4) on seeded random banks with labels and currencies."""

from __future__ import annotations

import datetime as dt
import math
import statistics

import numpy as np
import pytest
from test_balance_segments import NO_PROGRESS, TENANT, load, random_bank

from finseg.server.domain import taxonomy
from finseg.server.domain.segment_types import financial_breakdown as fb
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage.store import Store

TAXONOMY = taxonomy.default()
LABELS = ["", "SALARY", "INCOME.SALARY", "INCOME.PENSION", "INCOMETAX", "INSURANCE.CAR",
          "INSURANCE.PET", "GROCERIES", "SHOPPING", "RENTANDLIVING.RENT"]


def reference(accounts, txs, as_of, n, groups, types):
    by_id = {a["account_id"]: a for a in accounts}
    cells: dict[tuple[str, int, str], list] = {}
    for t in txs:
        a = by_id[t["account_id"]]
        if types and a["type"] not in types:
            continue
        back = (as_of.year * 12 + as_of.month) - (t["booking_date"].year * 12
                                                  + t["booking_date"].month)
        if not 1 <= back <= n:
            continue
        for g, group in enumerate(groups):
            if TAXONOMY.contains(group, t["label"]):
                cell = cells.setdefault((a["user_id"], g, a["currency"]), [[0] * n, 0])
                cell[0][n - back] += t["amount"]
                cell[1] += 1
    users: dict[str, list] = {}
    # Inside a user: by group name (UTF-8 bytes), then currency.
    for (user, g, currency), (monthly, count) in sorted(
            cells.items(), key=lambda kv: (groups[kv[0][1]].encode(), kv[0][2])):
        users.setdefault(user, []).append({
            "label_group": groups[g], "currency": currency, "count": count,
            "total": sum(monthly), "monthly_sums": monthly, "average": sum(monthly) / n,
            "min": min(monthly), "max": max(monthly),
            "median": float(statistics.median(monthly)),
            "std_dev": statistics.pstdev(monthly)})
    return [{"user_id": u, "groups": users[u]} for u in sorted(users, key=lambda u: u.encode())]


def same(got, want):
    assert [m["user_id"] for m in got] == [m["user_id"] for m in want]
    for g_member, w_member in zip(got, want, strict=True):
        assert len(g_member["groups"]) == len(w_member["groups"])
        for g, w in zip(g_member["groups"], w_member["groups"], strict=True):
            for key in ("label_group", "currency", "count", "total", "monthly_sums", "min",
                        "max"):
                assert g[key] == w[key], key
            for key in ("average", "median", "std_dev"):
                assert math.isclose(g[key], w[key], rel_tol=1e-9, abs_tol=1e-6), key


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(300 + seed)
    as_of = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 400)))
    accounts, txs = random_bank(rng, 60, 1500, as_of)
    for t in txs:
        t["label"] = LABELS[int(rng.integers(len(LABELS)))]
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    n = int(rng.integers(1, 13))
    groups = [["INCOME", "SALARY", "INSURANCE"], ["GROCERIES"],
              ["SHOPPING", "INCOME.SALARY", "RENTANDLIVING"]][seed % 3]
    types = ((), ("CHECKING", "SAVINGS"))[seed % 2]
    params = fb.parse({"label_groups": groups, "months": n}, TAXONOMY)
    with store.snapshot(TENANT) as snap:
        table = fb.run(snap, params, Common(types, as_of), NO_PROGRESS)
    want = reference(accounts, txs, as_of, n, groups, types)
    assert want, "the random bank has members"
    same(table.to_pylist(), want)
    # Stored params carry the resolution; reading them back needs no taxonomy.
    assert fb.parse(fb.to_dict(params)) == params
    store.close()


@pytest.mark.parametrize("raw, field", [
    ({"label_groups": [], "months": 3}, "label_groups"),
    ({"label_groups": ["INCOME", "INCOME"], "months": 3}, "label_groups"),
    ({"label_groups": ["INCOMETAX"], "months": 3}, "label_groups[0]"),
    ({"label_groups": ["INCOME"], "months": 0}, "months"),
    ({"label_groups": ["INCOME"], "months": 13}, "months"),
])
def test_bad_requests_name_the_field(raw, field):
    with pytest.raises(InvalidArgument) as error:
        fb.parse(raw, TAXONOMY)
    assert error.value.violations[0].field == f"spec.financial_breakdown.{field}"
