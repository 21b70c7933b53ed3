"""RULE through the whole domain path (parse, taxonomy, log, compaction,
kernels, evaluation, members table) against a plain reference written from
SPEC §4, on seeded random banks and random rules."""

from __future__ import annotations

import datetime as dt
import random
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from test_balance_segments import NO_PROGRESS, TENANT, load, random_bank

from finseg.server.domain import rules, taxonomy
from finseg.server.domain.segment_types import rule
from finseg.server.domain.segment_types.common import Common
from finseg.server.errors import InvalidArgument
from finseg.server.storage.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
import naive  # noqa: E402

TAXONOMY = taxonomy.default()
LABELS = ["", "SALARY", "INCOME.SALARY", "INSURANCE.CAR", "GROCERIES", "SHOPPING",
          "RENTANDLIVING.RENT"]
GROUPS = [None, "INCOME", "INSURANCE", "GROCERIES"]
TYPES = [None, "CHECKING", "SAVINGS"]
OPS = [">", ">=", "<", "<=", "==", "!="]


def metric_values(accounts, txs, as_of, currency, account_types, metric):
    """{user: value or None} over the candidates, value as an exact Fraction."""
    mine = [a for a in accounts if a["currency"] == currency
            and (not account_types or a["type"] in account_types)]
    users = {a["user_id"] for a in mine}
    reads = {a["account_id"]: a for a in mine if metric.type in (None, a["type"])}
    out = {}
    for user in users:
        own = [a for a in reads.values() if a["user_id"] == user]
        ids = {a["account_id"] for a in own}
        if metric.name == "balance":
            total = 0
            for a in own:
                account, rows = _naive(a, txs)
                if naive.is_open(account, as_of):
                    total += naive.eod(account, rows, as_of)
            out[user] = Fraction(total)
            continue
        if metric.name == "low_balance_months":
            below = [False] * metric.months
            for a in own:
                account, rows = _naive(a, txs)
                for k, low in enumerate(naive.monthly_minimums(account, rows, as_of,
                                                               metric.months)):
                    below[k] |= low is not None and low < metric.threshold
            out[user] = Fraction(sum(below))
            continue
        window = [t for t in txs if t["account_id"] in ids
                  and as_of - dt.timedelta(days=metric.days) < t["booking_date"] <= as_of
                  and (metric.group is None or TAXONOMY.contains(metric.group, t["label"]))]
        outgoing = [t for t in window if t["amount"] < 0]
        spend = -sum(t["amount"] for t in outgoing)
        out[user] = {
            "frequency": Fraction(len(outgoing)),
            "spend": Fraction(spend),
            "income": Fraction(sum(t["amount"] for t in window if t["amount"] > 0)),
            "avg_spend": Fraction(spend, len(outgoing)) if outgoing else None,
            "recency": Fraction((as_of - max(t["booking_date"] for t in outgoing)).days)
            if outgoing else None,
        }[metric.name]
    return out


def _naive(a, txs):
    account = naive.Account(a["balance"], a["balance_date"], a["opened_on"], a["closed_on"])
    rows = [naive.Transaction(0, t["booking_date"], t["amount"]) for t in txs
            if t["account_id"] == a["account_id"]]
    return account, rows


def holds(node, values, user):
    if isinstance(node, rules.Compare):
        v = values[node.metric][user]
        return v is not None and {">": v > node.value, ">=": v >= node.value,
                                  "<": v < node.value, "<=": v <= node.value,
                                  "==": v == node.value, "!=": v != node.value}[node.op]
    if isinstance(node, rules.Not):
        return not holds(node.operand, values, user)
    parts = [holds(o, values, user) for o in node.operands]
    return all(parts) if isinstance(node, rules.And) else any(parts)


def reference(accounts, txs, as_of, currency, account_types, tree):
    metrics = rules.metrics(tree)
    values = {m: metric_values(accounts, txs, as_of, currency, account_types, m)
              for m in metrics}
    users = sorted(values[metrics[0]], key=str.encode)
    return [{"user_id": u, "metrics": [
        {"metric": m.text(2),
         "value": 0 if values[m][u] is None or m.name == "avg_spend" else int(values[m][u]),
         "average": float(values[m][u]) if m.name == "avg_spend" and values[m][u] is not None
         else 0.0,
         "missing": values[m][u] is None} for m in metrics]}
        for u in users if holds(tree, values, u)]


def random_metric(rnd: random.Random) -> rules.Metric:
    name = rnd.choice(sorted(rules.METRICS))
    kind = rnd.choice(TYPES)
    if name == "balance":
        return rules.Metric("balance", type=kind)
    if name == "low_balance_months":
        return rules.Metric(name, type=kind, threshold=rnd.choice([0, 5000, -10_000, 30_000]),
                            months=rnd.randint(1, 6))
    return rules.Metric(name, days=rnd.choice([1, 7, 30, 31, 365]), group=rnd.choice(GROUPS),
                        type=kind)


def random_tree(rnd: random.Random, depth: int = 0) -> rules.Node:
    pick = rnd.random() if depth < 3 else 0.0
    if pick < 0.5:
        metric = random_metric(rnd)
        if metric.name in rules.MONEY_METRICS:
            value = Fraction(rnd.choice([0, 1, 2500, 5000, 99_99, 100_000, -20_000]))
        else:
            value = Fraction(rnd.choice([0, 1, 2, 3, 5, 10]), rnd.choice([1, 1, 2, 10]))
        return rules.Compare(metric, rnd.choice(OPS), value)
    if pick < 0.65:
        return rules.Not(random_tree(rnd, depth + 1))
    operands = tuple(random_tree(rnd, depth + 1) for _ in range(rnd.randint(2, 3)))
    return (rules.And if pick < 0.85 else rules.Or)(operands)


def bank(seed: int, as_of: dt.date):
    rng = np.random.default_rng(300 + seed)
    accounts, txs = random_bank(rng, 60, 1500, as_of)
    for k, t in enumerate(txs):
        t["label"] = LABELS[k % len(LABELS)]
        # Amounts near as_of, so that short windows have rows.
        if k % 3 == 0:
            t["booking_date"] = as_of - dt.timedelta(days=k % 40)
        if k % 17 == 0:
            t["amount"] = 0
    return rng, accounts, txs


@pytest.mark.parametrize("seed", range(5))
def test_random_rules_match_reference(tmp_path, seed):
    as_of = [dt.date(2026, 3, 1), dt.date(2024, 2, 29), dt.date(2026, 1, 31),
             dt.date(2025, 12, 31), dt.date(2026, 6, 15)][seed]
    rng, accounts, txs = bank(seed, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    rnd = random.Random(seed)
    account_types = ((), ("CHECKING", "SAVINGS"))[seed % 2]
    found_members = 0
    for _ in range(12):
        tree = random_tree(rnd)
        text = rules.to_text(tree, 2)
        params = rule.parse({"expression": text, "currency": "EUR"}, TAXONOMY)
        assert params.rule.tree == tree, text
        with store.snapshot(TENANT) as snap:
            table = rule.run(snap, params, Common(account_types, as_of), NO_PROGRESS)
        want = reference(accounts, txs, as_of, "EUR", account_types, tree)
        assert table.to_pylist() == want, text
        found_members += len(want)
    assert found_members, "the random rules select someone"
    store.close()


def test_one_metric_named_twice_is_one_column(tmp_path):
    rng, accounts, txs = bank(0, dt.date(2026, 3, 1))
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    params = rule.parse({"expression": "FREQUENCY > 0 or frequency(DAYS=30) >= 0"}, TAXONOMY)
    with store.snapshot(TENANT) as snap:
        table = rule.run(snap, params, Common((), dt.date(2026, 3, 1)), NO_PROGRESS)
    members = table.to_pylist()
    assert members and all([m["metric"] for m in member["metrics"]] == ["frequency(days=30)"]
                           for member in members)
    store.close()


def test_an_unknown_group_names_its_position_and_the_known_groups():
    with pytest.raises(InvalidArgument) as error:
        rule.parse({"expression": "spend(group=NOPE) > 1"}, TAXONOMY)
    assert str(error.value).startswith("spec.rule.expression at 12: 'NOPE' is not a label "
                                       "group of this tenant's taxonomy; known groups: ")
    assert "INCOME" in str(error.value)


def test_an_unknown_currency_is_refused():
    with pytest.raises(InvalidArgument) as error:
        rule.parse({"expression": "spend > 1", "currency": "EURO"}, TAXONOMY)
    assert error.value.violations[0].field == "spec.rule.currency"


def test_a_stored_job_reads_back_without_the_taxonomy():
    params = rule.parse({"expression": "spend(group=SALARY) > 1.5", "currency": "EUR"},
                        TAXONOMY)
    again = rule.parse(rule.to_dict(params))
    assert again == params


def test_a_tenant_without_candidates_gives_no_member(tmp_path):
    store = Store(tmp_path / "db", 1 << 28)
    params = rule.parse({"expression": "NOT frequency > 0"}, TAXONOMY)
    with store.snapshot(TENANT) as snap:
        assert rule.run(snap, params, Common((), dt.date(2026, 3, 1)), NO_PROGRESS).num_rows == 0
    store.close()
