"""The DuckDB and Polars versions of every benchmarked segment (bench/peers)
against finseg over a real server: the same members and figures, on a
generated bank and on a hand-made one with the cases that bite. The
benchmark repeats this check on its own banks before timing anything.
MERCHANT_AFFINITY is also checked against its definition written out in
plain Python (`merchant_affinity_reference`), and against finseg only once
the service serves the type."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import connect, start_server

from bench.peers import (
    MERCHANT_DRILL_DOWN,
    MERCHANT_RANKING,
    Query,
    differences,
    largest_merchant_of,
    plain,
    queries,
)
from finseg.cli.generate import BankParams, generate_bank
from finseg.cli.main import load_accounts, load_transactions
from finseg.server.domain.segment_types import TYPES

AS_OF = dt.date(2026, 11, 1)
PEERS = ["duckdb", "polars"]
#: The segment types this checkout's service computes: a type the peers
#: have before the service (MERCHANT_AFFINITY, while it is being added) is
#: compared with finseg once it is registered there.
SERVED = frozenset(TYPES)

ACCOUNT_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("user_id", pa.string()), ("type", pa.string()),
    ("currency", pa.string()), ("balance", pa.int64()), ("balance_date", pa.date32()),
    ("opened_on", pa.date32()), ("closed_on", pa.date32())])
TRANSACTION_SCHEMA = pa.schema([
    ("transaction_id", pa.string()), ("account_id", pa.string()),
    ("booking_date", pa.date32()), ("amount", pa.int64()), ("label", pa.string()),
    ("counterparty_name", pa.string()), ("counterparty_iban", pa.string()),
    ("purpose", pa.string()), ("mcc", pa.string())])


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def edge_bank(directory: Path) -> Path:
    """Accounts and rows where definitions are easy to get wrong: another
    currency, accounts opened and closed inside the window, balance dates
    before and after the history, 0.00 rows, refunds, aliases, labels deeper
    than the taxonomy, provider names differing in case and white space,
    same-day payments, ids that sort differently as bytes; the users named
    rule-* for RULE (RULE_ACCOUNTS) and merchant-* for MERCHANT_AFFINITY
    (MERCHANT_ACCOUNTS)."""
    directory.mkdir(parents=True)
    accounts = [
        ("a1", "user1", "CHECKING", "EUR", 10_000, d("2026-10-31"), None, None),
        ("a2", "user1", "SAVINGS", "EUR", -5_000, d("2026-06-15"), d("2026-03-10"), None),
        ("a3", "USER7", "CHECKING", "EUR", 0, d("2026-10-31"), None, d("2026-09-01")),
        ("a4", "user10", "CHECKING", "USD", 2_000_000, d("2026-10-31"), None, None),
        ("a5", "user2", "CREDIT_CARD", "EUR", -70_000, d("2026-11-20"), d("2025-01-01"), None),
        ("a6", "Müller, \"M\"", "CHECKING", "EUR", 1_500_000, d("2026-10-31"), None, None),
        ("b1", "user10", "CHECKING", "EUR", 0, d("2026-10-31"), d("2026-10-31"), None),
        *RULE_ACCOUNTS,
        *MERCHANT_ACCOUNTS,
    ]
    rows: list[tuple[Any, ...]] = []

    def tx(tid: str, account: str, day: str, amount: int, label: str = "",
           name: str | None = "") -> None:
        rows.append((tid, account, d(day), amount, label, name, "", "", ""))

    for m in range(1, 13):  # a monthly car insurance, spelled three ways
        day = f"{2025 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}-03"
        spelling = ["HUK-Coburg", "huk-coburg ", "HUK\u00a0 COBURG"][m % 3]
        tx(f"ins-{m:02d}", "a1", day, -4_500, "INSURANCE.CAR", spelling)
    tx("ins-refund", "a1", "2026-05-10", 4_500, "INSURANCE.CAR", "HUK-Coburg")
    tx("ins-same-day-1", "a1", "2026-02-14", -1_000, "INSURANCE.PET", "Petplan")
    tx("ins-same-day-2", "a1", "2026-02-14", -3_000, "INSURANCE.PET", "PETPLAN")
    tx("ins-plain", "a5", "2026-04-01", -12_000, "INSURANCE", "")
    tx("ins-quarterly-1", "a5", "2026-01-05", -30_000, "INSURANCE.LIFE", "Allianz")
    tx("ins-quarterly-2", "a5", "2026-04-06", -30_000, "INSURANCE.LIFE", "Allianz")
    tx("ins-quarterly-3", "a5", "2026-07-06", -31_000, "INSURANCE.LIFE", "allianz")
    for m in range(1, 13):
        month = f"{2025 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}"
        tx(f"sal-{m:02d}", "a1", f"{month}-28", 300_000, "SALARY", "ACME")
        tx(f"rent-{m:02d}", "a1", f"{month}-01", -120_000, "RENTANDLIVING.RENT", "Meier")
        tx(f"zero-{m:02d}", "a3", f"{month}-15", 0, "GROCERIES", "REWE")
        tx(f"usd-{m:02d}", "a4", f"{month}-10", -(m * 1_000), "GROCERIES", "Safeway")
    tx("refund", "a1", "2026-03-02", 8_000, "GROCERIES", "REWE")
    tx("groc", "a1", "2026-03-01", -9_000, "GROCERIES", "REWE")
    tx("tax", "a1", "2026-03-05", -50_000, "INCOMETAX", "Finanzamt")
    tx("shop", "a6", "2026-08-30", -2_000_000, "SHOPPING.ONLINE", "Shop")
    tx("old", "a2", "2025-12-24", -10_000, "SHOPPING", "Shop")  # before a2 opened
    tx("late", "a5", "2026-11-15", 10_000, "", "")  # after as_of, before balance_date
    tx("dip", "a2", "2026-07-31", -900_000, "TRANSFER", "")
    tx("back", "a2", "2026-08-01", 900_000, "TRANSFER", "")
    for tid, account, day, amount in RULE_ROWS:
        tx(tid, account, day, amount)
    for tid, account, day, amount, name in MERCHANT_ROWS:
        tx(tid, account, day, amount, name=name)
    pq.write_table(pa.Table.from_pylist(
        [dict(zip(ACCOUNT_SCHEMA.names, a, strict=True)) for a in accounts],
        schema=ACCOUNT_SCHEMA), directory / "accounts.parquet")
    pq.write_table(pa.Table.from_pylist(
        [dict(zip(TRANSACTION_SCHEMA.names, r, strict=True)) for r in rows],
        schema=TRANSACTION_SCHEMA), directory / "transactions.parquet")
    return directory


#: RULE_3_METRICS at AS_OF reads the outgoing rows of 2026-10-03..2026-11-01
#: and the months August to October 2026. Each rule-* user is a member by
#: one side of the OR, or misses being one by one boundary: frequency 3, an
#: average of exactly 50.00, one low month.
RULE_ACCOUNTS = [
    # 4 payments averaging 50.0025 EUR, one on as_of; a 0.00 row and a
    # payment after as_of do not count; an account opened after the months
    # with a negative balance is never below.
    ("r1", "rule-spender", "CHECKING", "EUR", 100_000, d("2026-10-31"), None, None),
    ("r1n", "rule-spender", "SAVINGS", "EUR", -50_000, d("2026-11-01"), d("2026-11-01"), None),
    # 4 payments averaging exactly 50.00 EUR: not above 50.
    ("r2", "rule-at-50", "CHECKING", "EUR", 100_000, d("2026-10-31"), None, None),
    # 3 payments in the window; one the day before it, one after as_of and
    # two in USD do not count.
    ("r3", "rule-three", "CHECKING", "EUR", 100_000, d("2026-10-31"), None, None),
    ("r3u", "rule-three", "CHECKING", "USD", 100_000, d("2026-10-31"), None, None),
    # 4 payments over two accounts, two of them after the card was closed.
    ("r4", "rule-split", "CHECKING", "EUR", 100_000, d("2026-10-31"), None, None),
    ("r4c", "rule-split", "CREDIT_CARD", "EUR", 0, d("2026-10-31"), None, d("2026-10-01")),
    # Below 0 in August on one account and in September (its last day) on the
    # other: two months, and no payment in the window (no avg_spend).
    ("r5", "rule-two-months", "SAVINGS", "EUR", 10_000, d("2026-10-31"), None, None),
    ("r6", "rule-two-months", "LOAN", "EUR", 5_000, d("2026-10-31"), None, None),
    # Below 0 in August; in September only from its closing day, in October
    # only before its opening day, and 0.00 is not below: one month.
    ("r7", "rule-one-month", "CHECKING", "EUR", 1_000, d("2026-07-31"), None, d("2026-09-15")),
    ("r8", "rule-one-month", "CHECKING", "EUR", 0, d("2026-10-31"), d("2026-10-10"), None),
]
RULE_ROWS = [
    ("r1-1", "r1", "2026-10-03", -6_000), ("r1-0", "r1", "2026-10-10", 0),
    ("r1-2", "r1", "2026-10-15", -5_000), ("r1-3", "r1", "2026-10-20", -5_000),
    ("r1-in", "r1", "2026-10-25", 7_000), ("r1-4", "r1", "2026-11-01", -4_001),
    ("r1-late", "r1", "2026-11-02", -50_000),
    *[(f"r2-{i}", "r2", f"2026-10-0{4 + i}", -5_000) for i in range(1, 5)],
    ("r3-early", "r3", "2026-10-02", -30_000), ("r3-late", "r3", "2026-11-02", -30_000),
    *[(f"r3-{i}", "r3", f"2026-10-1{i}", -30_000) for i in range(3)],
    ("r3u-1", "r3u", "2026-10-13", -30_000), ("r3u-2", "r3u", "2026-10-14", -30_000),
    ("r4-1", "r4", "2026-10-05", -10_000), ("r4-2", "r4", "2026-10-06", -10_000),
    ("r4c-1", "r4c", "2026-10-20", -10_000), ("r4c-2", "r4c", "2026-10-21", -10_000),
    ("r5-1", "r5", "2026-08-10", -20_000), ("r5-2", "r5", "2026-08-20", 20_000),
    ("r6-1", "r6", "2026-09-30", -6_000), ("r6-2", "r6", "2026-10-01", 6_000),
    ("r7-1", "r7", "2026-08-05", -2_000), ("r7-2", "r7", "2026-08-06", 2_000),
    ("r7-3", "r7", "2026-09-15", -5_000),
    ("r8-1", "r8", "2026-10-05", -3_000), ("r8-2", "r8", "2026-10-10", 3_000),
]


#: MERCHANT_AFFINITY's cases beyond those the rows above already hold (Shop
#: paid by two users, one before the account opened; a refund and 0.00 rows
#: to REWE; many users paying without a name): three spellings that only
#: casefold makes one key (lower() keeps ß), the latest of which is one of
#: two on one day; a tie of dates that the spellings' bytes decide (a
#: case-blind order would not); rows on both sides of the 12-month
#: window's two ends; a merchant paid in two currencies, one by a user who
#: pays in both, on a card after it was closed; and the latest nameless
#: payment without a name at all (null). None of these users is a RULE
#: member: at most 3 payments in its 30 days, and no balance below 0.
MERCHANT_ACCOUNTS = [
    ("m1", "merchant-a", "CHECKING", "EUR", 0, d("2026-10-31"), None, None),
    ("m2", "merchant-a", "CREDIT_CARD", "USD", 0, d("2026-10-31"), None, d("2026-06-30")),
    ("m3", "merchant-b", "SAVINGS", "EUR", 0, d("2026-10-31"), d("2026-09-01"), None),
    ("m4", "Merchant-c", "CHECKING", "EUR", 0, d("2026-10-31"), None, None),
]
MERCHANT_ROWS = [
    ("m-bk-1", "m1", "2026-01-10", -350, "Bäckerei Straße"),
    ("m-bk-2", "m3", "2026-01-12", -420, "BÄCKEREI  STRASSE"),
    ("m-bk-3", "m4", "2026-01-12", -500, "bäckerei strasse\t"),
    ("m-ed-Z", "m1", "2026-04-04", -1_000, "EDEKA"),
    ("m-ed-a", "m4", "2026-04-04", -2_000, "Edeka"),
    ("m-early", "m1", "2025-10-31", -100, "ALDI"),
    ("m-first", "m1", "2025-11-01", -200, "Aldi"),
    ("m-last", "m3", "2026-10-31", -300, "aldi"),
    ("m-next", "m3", "2026-11-01", -400, "Aldi "),
    ("m-sw-eur", "m1", "2026-06-01", -700, "SAFEWAY"),
    ("m-sw-usd", "m2", "2026-08-01", -800, "safeway"),
    ("m-shop", "m4", "2026-02-02", -1_500, "SHOP"),
    ("m-null", "m3", "2026-10-30", -50, None),
]


def edge_queries(largest_merchant: str = "") -> list[Query]:
    as_of = AS_OF
    return [
        *queries(as_of, high_threshold=0, largest_merchant=largest_merchant),
        Query("HIGH_BALANCE USD", "HIGH_BALANCE", as_of, currency="USD", threshold=-1),
        Query("LOW_BALANCE below 100 N=2", "LOW_BALANCE", as_of, threshold=10_000, months=2),
        Query("LOW_BALANCE N=24", "LOW_BALANCE", as_of, threshold=10**12, months=24),
        Query("INCOME_SPENDING_SUMMARY one day", "INCOME_SPENDING_SUMMARY", as_of,
              from_date=d("2026-03-01"), to_date=d("2026-03-01")),
        Query("FINANCIAL_BREAKDOWN odd N", "FINANCIAL_BREAKDOWN", as_of, months=7,
              label_groups=("SALARY", "INCOME", "SHOPPING", "INSURANCE.CAR")),
        Query("INSURANCE_SPENDING CAR and LIFE", "INSURANCE_SPENDING", as_of, months=24,
              insurance_types=("CAR", "LIFE")),
        Query("INSURANCE_SPENDING N=1", "INSURANCE_SPENDING", d("2026-05-20"), months=1),
        Query("RFM 90 days of two groups", "RFM", as_of, window_days=90,
              label_groups=("SHOPPING", "INSURANCE.CAR")),
        Query("RFM USD since the leap day", "RFM", d("2028-02-29"), currency="USD",
              window_days=3660),
        Query("RFM 1 day", "RFM", d("2026-03-01"), window_days=1),
        Query("MERCHANT_AFFINITY N=24 every merchant", "MERCHANT_AFFINITY", as_of, months=24),
        Query("MERCHANT_AFFINITY N=1 (January)", "MERCHANT_AFFINITY", d("2026-02-28"),
              months=1),
        Query("MERCHANT_AFFINITY at least 3 customers", "MERCHANT_AFFINITY", as_of, months=12,
              min_customers=3),
        Query("MERCHANT_AFFINITY drill-down in another spelling", "MERCHANT_AFFINITY", as_of,
              months=12, counterparty=" shop\t"),
        Query("MERCHANT_AFFINITY drill-down Straße as STRASSE", "MERCHANT_AFFINITY", as_of,
              months=12, counterparty="BÄCKEREI STRASSE"),
        Query("MERCHANT_AFFINITY drill-down in two currencies", "MERCHANT_AFFINITY", as_of,
              months=24, counterparty="Safeway"),
        Query("MERCHANT_AFFINITY drill-down ignores min_customers", "MERCHANT_AFFINITY", as_of,
              months=12, min_customers=99, counterparty="edeka"),
        Query("MERCHANT_AFFINITY drill-down of nobody's merchant", "MERCHANT_AFFINITY", as_of,
              months=12, counterparty="Nobody GmbH"),
    ]


#: Query names that may rightly have no member.
EMPTY = {"HIGH_BALANCE USD", "MERCHANT_AFFINITY drill-down of nobody's merchant"}


def provider_key(name: str) -> str:
    """The merchant key as the definition states it."""
    return re.sub(r"\s+", " ", name.casefold()).strip()


def merchant_affinity_reference(directory: Path, query: Query) -> list[dict[str, Any]]:
    """MERCHANT_AFFINITY from its definition, row by row in plain Python:
    the outgoing rows of any account booked in the N complete months before
    as_of's month, keyed by name, as merchants ranked by customers or, with
    a counterparty, as that merchant's customers."""
    first = query.as_of.year * 12 + query.as_of.month - 1 - query.months
    start, stop = dt.date(first // 12, first % 12 + 1, 1), query.as_of.replace(day=1)
    owner = {a["account_id"]: (a["user_id"], a["currency"])
             for a in pq.read_table(directory / "accounts.parquet").to_pylist()}
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in pq.read_table(directory / "transactions.parquet").to_pylist():
        if row["amount"] < 0 and start <= row["booking_date"] < stop:
            user, currency = owner[row["account_id"]]
            row = {**row, "user_id": user, "key": provider_key(row["counterparty_name"] or "")}
            if not query.counterparty:
                cells[(row["key"], currency)].append(row)
            elif row["key"] == provider_key(query.counterparty):
                cells[(user, currency)].append(row)
    if query.counterparty:
        return [{"user_id": user, "currency": currency, "transactions": len(rows),
                 "spend": -sum(r["amount"] for r in rows),
                 "first_purchase": min(r["booking_date"] for r in rows).isoformat(),
                 "last_purchase": max(r["booking_date"] for r in rows).isoformat()}
                for (user, currency), rows in sorted(
                    cells.items(), key=lambda c: (c[0][0].encode(), c[0][1].encode()))]
    ranking = [{"merchant_key": key,
                "merchant_name": max(rows, key=lambda r: (
                    r["booking_date"], (r["counterparty_name"] or "").encode())
                                     )["counterparty_name"] or "",
                "currency": currency, "customers": len({r["user_id"] for r in rows}),
                "transactions": len(rows), "spend": -sum(r["amount"] for r in rows)}
               for (key, currency), rows in cells.items()]
    return sorted((m for m in ranking if m["customers"] >= query.min_customers),
                  key=lambda m: (-m["customers"], m["merchant_key"].encode(),
                                 m["currency"].encode()))


def with_largest_merchant(directory: Path, make: Callable[[str], list[Query]]
                          ) -> list[Query]:
    """A bank's queries, the drill-down's merchant picked from the ranking
    as the benchmark picks it (bench/run.py)."""
    ranking = next(q for q in make("") if q.name == MERCHANT_RANKING)
    return make(largest_merchant_of(merchant_affinity_reference(directory, ranking)))


@pytest.fixture(scope="module")
def banks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[Query]]]:
    root = tmp_path_factory.mktemp("peer-banks")
    generated = root / "generated"
    generate_bank(generated, BankParams(users=300, seed=5, end=d("2026-10-31")),
                  fmt="parquet")
    edge = edge_bank(root / "edge")
    return {"generated": (generated, with_largest_merchant(generated, lambda merchant: queries(
                AS_OF, high_threshold=500_000, largest_merchant=merchant))),
            "edge": (edge, with_largest_merchant(edge, edge_queries))}


@pytest.fixture(scope="module")
def finseg_answers(banks, tmp_path_factory: pytest.TempPathFactory
                   ) -> dict[tuple[str, str], list[dict[str, Any]]]:
    answers = {}
    for bank, (directory, bank_queries) in banks.items():
        service = start_server(tmp_path_factory.mktemp(f"store-{bank}") / "data")
        try:
            with connect(f"127.0.0.1:{service.port}", "peers", timeout=None) as client:
                load_accounts(client, directory / "accounts.parquet", 100_000, False, True)
                load_transactions(client, directory / "transactions.parquet", 100_000, False,
                                  True)
                for query in (q for q in bank_queries if q.type in SERVED):
                    job = client.create_segment(query.spec())
                    answers[(bank, query.name)] = plain(client.members(job.segment_id))
        finally:
            service.stop(0)
    return answers


#: (bank, query name): the names do not depend on the drill-down's merchant.
CASES = [(bank, query) for bank, make in (("generated", lambda merchant: queries(
                                              AS_OF, largest_merchant=merchant)),
                                          ("edge", edge_queries))
         for query in (q.name for q in make("a merchant"))]
MERCHANT_CASES = [(bank, name) for bank, name in CASES if name.startswith("MERCHANT_AFFINITY")]


@pytest.mark.parametrize("peer_name", PEERS)
@pytest.mark.parametrize(("bank", "query_name"), CASES)
def test_peer_gives_finsegs_members(banks, finseg_answers, peer_name: str, bank: str,
                                    query_name: str) -> None:
    directory, bank_queries = banks[bank]
    query = next(q for q in bank_queries if q.name == query_name)
    if query.type not in SERVED:
        pytest.skip(f"the service does not compute {query.type} yet")
    module = importlib.import_module(f"bench.peers.{peer_name}_peer")
    peer = _peer(module, peer_name, directory)
    expected = finseg_answers[(bank, query_name)]
    assert expected or query_name in EMPTY, "a check on nothing proves nothing"
    found = peer.members(peer.run(query))
    assert differences(expected, found) == []


@pytest.mark.parametrize("peer_name", PEERS)
@pytest.mark.parametrize(("bank", "query_name"), MERCHANT_CASES)
def test_peer_gives_the_defined_merchant_affinity(banks, peer_name: str, bank: str,
                                                  query_name: str) -> None:
    directory, bank_queries = banks[bank]
    query = next(q for q in bank_queries if q.name == query_name)
    module = importlib.import_module(f"bench.peers.{peer_name}_peer")
    peer = _peer(module, peer_name, directory)
    expected = merchant_affinity_reference(directory, query)
    assert expected or query_name in EMPTY, "a check on nothing proves nothing"
    found = peer.members(peer.run(query))
    assert differences(expected, found) == []


def test_edge_merchant_affinity_is_as_defined(banks) -> None:
    """The reference gives on the edge bank what MERCHANT_ROWS sets out, so
    that agreeing with it means something before finseg serves the type."""
    directory, bank_queries = banks["edge"]
    answers = {q.name: merchant_affinity_reference(directory, q) for q in bank_queries
               if q.type == "MERCHANT_AFFINITY"}
    ranking = {(m["merchant_key"], m["currency"]): m for m in answers[MERCHANT_RANKING]}
    assert ranking[("bäckerei strasse", "EUR")] == {
        "merchant_key": "bäckerei strasse", "merchant_name": "bäckerei strasse\t",
        "currency": "EUR", "customers": 3, "transactions": 3, "spend": 1_270}
    assert ranking[("edeka", "EUR")]["merchant_name"] == "Edeka"
    assert ranking[("aldi", "EUR")]["spend"] == 500
    assert ranking[("aldi", "EUR")]["merchant_name"] == "aldi"
    assert ranking[("", "EUR")]["merchant_name"] == ""
    assert ranking[("shop", "EUR")]["customers"] == 3
    assert [m["customers"] for m in answers[MERCHANT_RANKING]][:2] == [9, 3]
    assert min(m["customers"] for m in answers[MERCHANT_RANKING]) == 2
    assert ("rewe", "EUR") not in ranking  # one customer: below min_customers
    assert [(m["user_id"], m["currency"]) for m in answers[
        "MERCHANT_AFFINITY drill-down in two currencies"]] == [
        ("merchant-a", "EUR"), ("merchant-a", "USD"), ("user10", "USD")]
    assert [m["user_id"] for m in answers["MERCHANT_AFFINITY drill-down in another spelling"]
            ] == ["Merchant-c", "Müller, \"M\"", "user1"]
    assert answers["MERCHANT_AFFINITY drill-down ignores min_customers"] == [
        {"user_id": "Merchant-c", "currency": "EUR", "transactions": 1, "spend": 2_000,
         "first_purchase": "2026-04-04", "last_purchase": "2026-04-04"},
        {"user_id": "merchant-a", "currency": "EUR", "transactions": 1, "spend": 1_000,
         "first_purchase": "2026-04-04", "last_purchase": "2026-04-04"}]
    drill_down = next(q for q in bank_queries if q.name == MERCHANT_DRILL_DOWN)
    assert provider_key(drill_down.counterparty) == "bäckerei strasse"


def test_edge_rule_has_members_by_each_side(finseg_answers) -> None:
    """The edge bank's RULE members are what RULE_ACCOUNTS sets out: by
    frequency and average, by low months (some without an avg_spend), and
    none of the users one boundary short."""
    members = {m["user_id"]: m["metrics"] for m in finseg_answers[("edge", "RULE 3 metrics")]}
    assert list(members) == ["rule-spender", "rule-split", "rule-two-months", "user1", "user2"]
    assert [members["rule-spender"][0]["value"], members["rule-split"][0]["value"]] == [4, 4]
    assert [members[u][2]["value"] for u in ("rule-two-months", "user1", "user2")] == [2, 3, 3]
    assert [u for u, metrics in members.items() if metrics[1]["missing"]] == \
        ["rule-two-months", "user2"]


_PEERS: dict[tuple[str, Path], Any] = {}


def _peer(module: Any, name: str, directory: Path) -> Any:
    """One peer per engine and bank: loading is done once."""
    key = (name, directory)
    if key not in _PEERS:
        _PEERS[key] = module.make(directory / "accounts.parquet",
                                  directory / "transactions.parquet")
    return _PEERS[key]
