"""INCOME_SPENDING_SUMMARY through the whole domain path against a plain
reference (SPEC §4), on seeded random banks with several currencies."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from test_balance_segments import NO_PROGRESS, TENANT, load, random_bank

from finseg.server.domain.segment_types import income_spending_summary as iss
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage.store import Store


def reference(accounts, txs, first, last, types):
    by_id = {a["account_id"]: a for a in accounts}
    groups: dict[tuple[str, str], list[int]] = {}
    for t in txs:
        a = by_id[t["account_id"]]
        if types and a["type"] not in types:
            continue
        if first <= t["booking_date"] <= last:
            groups.setdefault((a["user_id"], a["currency"]), []).append(t["amount"])
    users: dict[str, list] = {}
    for (user, currency), amounts in groups.items():
        users.setdefault(user, []).append({
            "currency": currency,
            "incoming_count": sum(1 for x in amounts if x > 0),
            "incoming_sum": sum(x for x in amounts if x > 0),
            "outgoing_count": sum(1 for x in amounts if x < 0),
            "outgoing_sum": sum(x for x in amounts if x < 0)})
    return [{"user_id": u, "currencies": sorted(users[u], key=lambda r: r["currency"])}
            for u in sorted(users, key=lambda u: u.encode())]


@pytest.mark.parametrize("seed", range(6))
def test_matches_reference(tmp_path, seed):
    rng = np.random.default_rng(200 + seed)
    as_of = dt.date(2026, 6, 1)
    accounts, txs = random_bank(rng, 60, 1500, as_of)
    for t in txs[::10]:
        t["amount"] = 0  # a 0.00 row makes its user a member
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    first = as_of - dt.timedelta(days=int(rng.integers(0, 700)))
    last = first + dt.timedelta(days=int(rng.integers(0, 200)))
    types = ((), ("SAVINGS",))[seed % 2]
    with store.snapshot(TENANT) as snap:
        table = iss.run(snap, iss.Params(first, last), Common(types, as_of), NO_PROGRESS)
    want = reference(accounts, txs, first, last, types)
    assert table.to_pylist() == want
    assert want, "the random bank has members"
    store.close()


@pytest.mark.parametrize("raw, field", [
    ({"to_date": "2026-01-31"}, "from_date"),
    ({"from_date": "2026-01-01"}, "to_date"),
    ({"from_date": "2026-02-30", "to_date": "2026-03-01"}, "from_date"),
    ({"from_date": "2026-03-02", "to_date": "2026-03-01"}, "from_date"),
])
def test_bad_ranges_name_the_field(raw, field):
    with pytest.raises(InvalidArgument) as error:
        iss.parse(raw)
    assert error.value.violations[0].field == f"spec.income_spending_summary.{field}"


def test_a_single_day_range_is_allowed():
    assert iss.parse({"from_date": "2026-03-01", "to_date": "2026-03-01"}).from_date == \
        dt.date(2026, 3, 1)
