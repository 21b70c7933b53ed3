"""The synthetic bank of `finseg generate`: format, determinism, realism.

The checks on balances recompute everything with plain Python loops over the
rows (SPEC §1: EOD(d) = balance + S(d) - S(balance_date)), independently of
the vectorised generator.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from schwifty import IBAN

from finseg.cli.generate import (
    ACCOUNT_COLUMNS,
    LABELS,
    TRANSACTION_COLUMNS,
    BankParams,
    generate_bank,
    provider_key,
)

SPEC_ACCOUNT_TYPES = {"CHECKING", "SAVINGS", "CREDIT_CARD", "SECURITIES", "LOAN", "MEMBERSHIP",
                      "BUILDING_SAVINGS", "OTHER"}
SMALL = BankParams(users=120, months=6, seed=3)
MEDIUM = BankParams(users=2000, seed=11)  # 24 months, 5 % below zero


def _gen(tmp: Path, params: BankParams, fmt: str = "parquet") -> tuple[dict, Path]:
    counts = generate_bank(tmp, params, fmt=fmt)
    return counts, tmp


def _read(path: Path, table: str) -> list[dict]:
    file = path / f"{table}.parquet"
    return pq.read_table(file).to_pylist()


def _read_csv_text(path: Path, table: str) -> pa.Table:
    file = path / f"{table}.csv"
    header = file.read_text(encoding="utf-8").splitlines()[0]
    names = [n.strip('"') for n in header.split(",")]
    return pacsv.read_csv(file, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True,
        quoted_strings_can_be_null=False))


def _minor(text: str, decimals: int) -> int:
    """Exact decimal text in major units -> int minor units, no floats."""
    m = re.fullmatch(r"(-?)(\d+)(?:\.(\d+))?", text)
    assert m, text
    frac = m.group(3) or ""
    assert len(frac) == decimals, text
    value = int(m.group(2)) * 10**decimals + (int(frac) if frac else 0)
    return -value if m.group(1) else value


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict], list[dict]]:
    counts, path = _gen(tmp_path_factory.mktemp("medium"), MEDIUM)
    return counts, _read(path, "accounts"), _read(path, "transactions")


# ---- format ----------------------------------------------------------------

def test_parquet_schema_is_the_spec_format(tmp_path: Path) -> None:
    _, path = _gen(tmp_path, SMALL)
    accounts = pq.read_schema(path / "accounts.parquet")
    transactions = pq.read_schema(path / "transactions.parquet")
    assert tuple(accounts.names) == ACCOUNT_COLUMNS == (
        "account_id", "user_id", "type", "currency", "balance", "balance_date", "opened_on",
        "closed_on")
    assert tuple(transactions.names) == TRANSACTION_COLUMNS == (
        "transaction_id", "account_id", "booking_date", "amount", "label",
        "counterparty_name", "counterparty_iban", "purpose", "mcc")
    types = {f.name: f.type for f in (*accounts, *transactions)}
    assert types["balance"] == types["amount"] == pa.int64()  # minor units
    for name in ("balance_date", "opened_on", "closed_on", "booking_date"):
        assert types[name] == pa.date32()
    for name in ("account_id", "user_id", "type", "currency", "transaction_id", "label",
                 "counterparty_name", "counterparty_iban", "purpose", "mcc"):
        assert types[name] == pa.string(), name


def test_csv_header_and_decimals_match_parquet_exactly(tmp_path: Path) -> None:
    _gen(tmp_path / "p", SMALL, "parquet")
    _gen(tmp_path / "c", SMALL, "csv")
    for table, columns, money in (("accounts", ACCOUNT_COLUMNS, "balance"),
                                  ("transactions", TRANSACTION_COLUMNS, "amount")):
        first_line = (tmp_path / "c" / f"{table}.csv").read_bytes().split(b"\n")[0]
        assert first_line.decode("utf-8").replace('"', "").split(",") == list(columns)
        csv = _read_csv_text(tmp_path / "c", table)
        par = pq.read_table(tmp_path / "p" / f"{table}.parquet")
        assert csv.num_rows == par.num_rows
        texts = csv.column(money).to_pylist()
        assert all(re.fullmatch(r"-?\d+\.\d\d", t) for t in texts)
        assert [_minor(t, 2) for t in texts] == par.column(money).to_pylist()
        for name in columns:
            if name == money:
                continue
            want = [None if v is None else str(v) for v in par.column(name).to_pylist()]
            assert csv.column(name).to_pylist() == want, name


def test_csv_amounts_use_the_currency_decimals(tmp_path: Path) -> None:
    _gen(tmp_path, BankParams(users=20, months=2, currency="JPY"), "csv")
    csv = _read_csv_text(tmp_path, "transactions")
    texts = csv.column("amount").to_pylist()
    assert texts and all(re.fullmatch(r"-?\d+", t) for t in texts)
    assert set(_read_csv_text(tmp_path, "accounts").column("currency").to_pylist()) == {"JPY"}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, fmt: str) -> None:
    params = BankParams(users=150, months=4, seed=5)
    _gen(tmp_path / "a", params, fmt)
    _gen(tmp_path / "b", params, fmt)
    _gen(tmp_path / "c", BankParams(users=150, months=4, seed=6), fmt)
    for table in ("accounts", "transactions"):
        a = (tmp_path / "a" / f"{table}.{fmt}").read_bytes()
        assert a == (tmp_path / "b" / f"{table}.{fmt}").read_bytes()
        assert a != (tmp_path / "c" / f"{table}.{fmt}").read_bytes()


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        generate_bank(tmp_path, SMALL, fmt="xlsx")
    with pytest.raises(ValueError, match="currency"):
        generate_bank(tmp_path, BankParams(users=5, currency="XYZ"))
    with pytest.raises(ValueError, match="months"):
        generate_bank(tmp_path, BankParams(users=5, months=0))


# ---- counts and ids ----------------------------------------------------------

def test_exact_account_count_and_transaction_target(tmp_path: Path) -> None:
    seen: list[int] = []
    counts = generate_bank(tmp_path, BankParams(accounts=1001, transactions=30_000, months=12),
                           progress=seen.append)
    accounts = _read(tmp_path, "accounts")
    assert counts["accounts"] == len(accounts) == 1001
    assert counts["users"] == len({a["user_id"] for a in accounts})
    assert abs(counts["transactions"] - 30_000) <= 0.05 * 30_000
    assert sum(seen) == counts["transactions"] == pq.read_metadata(
        tmp_path / "transactions.parquet").num_rows


def test_default_volume_is_about_50_per_account(medium) -> None:
    counts, accounts, transactions = medium
    assert counts["transactions"] == len(transactions)
    assert abs(len(transactions) - 50 * len(accounts)) <= 0.05 * 50 * len(accounts)
    types = Counter(a["type"] for a in accounts)
    assert types["CHECKING"] == counts["users"] == 2000
    assert 0.55 < types["SAVINGS"] / 2000 < 0.65 and 0.35 < types["CREDIT_CARD"] / 2000 < 0.45


def test_ids_and_references(medium) -> None:
    _, accounts, transactions = medium
    account_ids = [a["account_id"] for a in accounts]
    assert len(set(account_ids)) == len(account_ids)
    assert all(re.fullmatch(r"a\d{7}", a) for a in account_ids)
    assert all(re.fullmatch(r"u\d{7}", a["user_id"]) for a in accounts)
    tx_ids = [t["transaction_id"] for t in transactions]
    assert len(set(tx_ids)) == len(tx_ids)
    assert all(re.fullmatch(r"t\d{9}", t) for t in tx_ids)
    known = set(account_ids)
    assert all(t["account_id"] in known for t in transactions)
    assert {a["type"] for a in accounts} <= SPEC_ACCOUNT_TYPES
    assert {a["currency"] for a in accounts} == {"EUR"}
    assert {t["label"] for t in transactions} - {None} <= set(LABELS)
    # grouped by account, by day within the account
    keys = [(t["account_id"], t["booking_date"]) for t in transactions]
    assert keys == sorted(keys)


def test_counterparty_ibans_are_valid_german_ibans(medium) -> None:
    _, _, transactions = medium
    ibans = {t["counterparty_iban"] for t in transactions} - {None}
    assert len(ibans) > 500
    for iban in ibans:
        assert iban.startswith("DE")
        IBAN(iban, validate_bban=True)  # mod 97 and the bank's own check digit


# ---- realism -------------------------------------------------------------------

def test_the_data_has_the_streams_segments_look_for(medium) -> None:
    _, _, transactions = medium
    by_label: dict[str, list[dict]] = defaultdict(list)
    for t in transactions:
        by_label[t["label"]].append(t)
    salaries = by_label["SALARY"]
    assert salaries and all(t["amount"] > 0 and t["counterparty_iban"].startswith("DE")
                            and t["counterparty_name"] for t in salaries)
    assert all(t["amount"] < 0 for t in by_label["RENTANDLIVING.RENT"])
    for label in ("RENTANDLIVING.UTILITIES", "RENTANDLIVING.ENERGY", "RENTANDLIVING.TELECOM",
                  "INSURANCE.CAR", "INSURANCE.HEALTH", "INSURANCE.LIFE", "INSURANCE.LIABILITY",
                  "INSURANCE.HOUSEHOLD", "INSURANCE.LEGAL", "GROCERIES", "SHOPPING", "LEISURE",
                  "TRANSPORT", "CASH", "SAVINGS", "TRANSFER"):
        assert by_label[label], label
    grocers = {t["counterparty_name"] for t in by_label["GROCERIES"]}
    assert {"REWE", "EDEKA", "ALDI SÜD", "LIDL"} <= grocers
    assert all(re.fullmatch(r"\d{4}", t["mcc"]) for t in by_label["GROCERIES"])
    # insurers: several spellings of one provider key, and more than one rhythm
    spellings: dict[str, set[str]] = defaultdict(set)
    dates: dict[tuple[str, str, str], list[dt.date]] = defaultdict(list)
    for label, rows in by_label.items():
        if label and label.startswith("INSURANCE."):
            for t in rows:
                spellings[provider_key(t["counterparty_name"])].add(t["counterparty_name"])
                dates[(t["account_id"], label, provider_key(t["counterparty_name"]))].append(
                    t["booking_date"])
    assert "huk-coburg" in spellings and len(spellings["huk-coburg"]) >= 2
    assert sum(len(v) >= 2 for v in spellings.values()) >= 3
    gaps = Counter()
    for ds in dates.values():
        ds = sorted(set(ds))
        if len(ds) >= 3:
            gap = sorted(b.toordinal() - a.toordinal() for a, b in zip(ds, ds[1:], strict=False))
            med = gap[(len(gap) - 1) // 2]
            gaps["MONTHLY" if 25 <= med <= 35 else "QUARTERLY" if 80 <= med <= 100
                 else "YEARLY" if 350 <= med <= 380 else "OTHER"] += 1
    assert gaps["MONTHLY"] and gaps["QUARTERLY"] and gaps["YEARLY"]


def test_accounts_open_and_close_during_the_history(medium) -> None:
    _, accounts, transactions = medium
    start = dt.date(2024, 10, 1)
    assert any(a["opened_on"] >= start for a in accounts)
    closed = [a for a in accounts if a["closed_on"] is not None]
    assert closed and all(a["balance"] == 0 for a in closed)
    by_id = {a["account_id"]: a for a in accounts}
    for t in transactions:
        a = by_id[t["account_id"]]
        assert max(a["opened_on"], start) <= t["booking_date"] <= MEDIUM.end
        assert a["closed_on"] is None or t["booking_date"] < a["closed_on"]
        assert t["booking_date"].weekday() < 5 or t["booking_date"] in (
            a["opened_on"], start, MEDIUM.end)


def _monthly_minimum_eod(account: dict, rows: list[dict], months: list[tuple[int, int]]
                         ) -> list[int | None]:
    """Lowest EOD(d) per month over the days the account was open, by brute force."""
    per_day: dict[dt.date, int] = defaultdict(int)
    for t in rows:
        per_day[t["booking_date"]] += t["amount"]
    s_snapshot = sum(v for d, v in per_day.items() if d <= account["balance_date"])
    first = dt.date(*months[0], 1)
    s = sum(v for d, v in per_day.items() if d < first)
    lows: dict[tuple[int, int], int] = {}
    day = first
    last = dt.date(months[-1][0] + months[-1][1] // 12, months[-1][1] % 12 + 1, 1)
    while day < last:
        s += per_day.get(day, 0)
        is_open = account["opened_on"] <= day and (
            account["closed_on"] is None or day < account["closed_on"])
        if is_open:
            eod = account["balance"] + s - s_snapshot
            key = (day.year, day.month)
            lows[key] = min(lows.get(key, eod), eod)
        day += dt.timedelta(days=1)
    return [lows.get(m) for m in months]


def test_balances_and_the_below_zero_share(medium) -> None:
    counts, accounts, transactions = medium
    rows: dict[str, list[dict]] = defaultdict(list)
    for t in transactions:
        rows[t["account_id"]].append(t)
    months = [(2024 + (9 + i) // 12, (9 + i) % 12 + 1) for i in range(24)]  # 2024-10..2026-09
    always, sometimes = 0, 0
    for a in accounts:
        assert a["balance_date"] == MEDIUM.end
        lows = _monthly_minimum_eod(a, rows[a["account_id"]], months)
        if a["type"] == "SAVINGS":
            assert all(v is None or v >= 0 for v in lows)
        if a["type"] != "CHECKING":
            continue
        below = [v is not None and v < 0 for v in lows]
        if all(below):
            always += 1
            # the dip comes from paying rent before the income arrives
            labels = {t["label"] for t in rows[a["account_id"]]}
            assert "RENTANDLIVING.RENT" in labels and labels & {
                "SALARY", "INCOME.PENSION", "INCOME.BENEFITS"}
        elif any(below):
            sometimes += 1
    share = always / counts["users"]
    assert abs(share - MEDIUM.below_zero_share) <= 0.01
    assert sometimes / counts["users"] < 0.10  # the others mostly keep a buffer


def test_below_zero_share_is_a_parameter(tmp_path: Path) -> None:
    params = BankParams(users=300, months=3, below_zero_share=0.2, seed=2)
    counts = generate_bank(tmp_path, params)
    accounts, transactions = _read(tmp_path, "accounts"), _read(tmp_path, "transactions")
    rows: dict[str, list[dict]] = defaultdict(list)
    for t in transactions:
        rows[t["account_id"]].append(t)
    months = [(2026, 7), (2026, 8), (2026, 9)]
    always = sum(
        all(v is not None and v < 0 for v in _monthly_minimum_eod(a, rows[a["account_id"]], months))
        for a in accounts if a["type"] == "CHECKING")
    assert always == round(0.2 * counts["users"])
