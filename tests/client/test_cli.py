"""The `finseg` command line against a real server: generate, load (CSV and
Parquet), segment, and the README's tour exactly as written."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import SECRET_FILE, connect, token_for

from finseg.cli import files
from finseg.client.api import high_balance
from finseg.v1 import segments_pb2

ROOT = Path(__file__).resolve().parents[2]
FINSEG = [sys.executable, "-m", "finseg.cli.main"]


def finseg(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*FINSEG, *args], capture_output=True, text=True, timeout=300)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def at(target: str, tenant: str) -> list[str]:
    """The connection arguments for `tenant` on the test server."""
    return ["--target", target, "--token", token_for(tenant)]


def members(target: str, tenant: str, *args: str) -> list[dict]:
    out = finseg("segment", *args, *at(target, tenant), "--quiet",
                 "--output", "jsonl")
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_csv_and_parquet_loads_give_the_same_segments(target: str, tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        finseg("generate", str(tmp_path / fmt), "--users", "60", "--seed", "3", "--format", fmt,
               "--below-zero-share", "0.2", "--quiet")
        out = finseg("load", *at(target, fmt), "--quiet",
                     "--accounts", str(tmp_path / fmt / f"accounts.{fmt}"),
                     "--transactions", str(tmp_path / fmt / f"transactions.{fmt}"))
        assert re.search(r"appended \d+ transactions \(0 already stored\)", out.stderr)
    low = ["low-balance", "--threshold", "0", "--months", "12", "--as-of", "2026-11-01"]
    high = ["high-balance", "--threshold", "1000.00", "--as-of", "2026-10-31"]
    for spec in (low, high):
        from_csv, from_parquet = members(target, "csv", *spec), members(target, "parquet", *spec)
        assert from_csv == from_parquet
        assert from_csv, "the generated bank has members in both segments"
    # The generator's below-zero share: 12 of 60 users slip below zero monthly.
    assert len(members(target, "csv", *low)) >= 12


def test_rerunning_a_load_is_a_no_op(target: str, tmp_path: Path) -> None:
    finseg("generate", str(tmp_path), "--users", "10", "--quiet")
    args = ["load", *at(target, "rerun"), "--quiet",
            "--accounts", str(tmp_path / "accounts.parquet"),
            "--transactions", str(tmp_path / "transactions.parquet")]
    first = finseg(*args)
    count = int(re.search(r"appended (\d+) transactions", first.stderr).group(1))
    second = finseg(*args)
    assert f"appended 0 transactions ({count} already stored)" in second.stderr


def test_a_bad_row_names_file_line_and_column(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                            "t1,a1,2026-01-02,-1.00\n"
                            "t2,a1,2026-01-03,-1.005\n"
                            "t3,a1,2026-02-30,2.00\n")
    out = finseg("load", *at(target, "bad"), "--quiet", "--accounts",
                 str(accounts), "--transactions", str(transactions), check=False)
    assert out.returncode == 1
    # One line: the first bad line and column, and where the others are.
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("finseg load:")]
    assert line.startswith(f"finseg load: {transactions}: line 3, column amount: has more "
                           "decimals than EUR has (2 decimals); and 1 more problem (also "
                           "lines 4)"), line
    # Nothing of the failing batch was written: t1 alone now appends.
    transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                            "t1,a1,2026-01-02,-1.00\n")
    out = finseg("load", *at(target, "bad"), "--quiet", "--transactions",
                 str(transactions))
    assert "appended 1 transactions" in out.stderr


#: BHD (3 decimals) in major units: the int64 extremes as minor units and
#: one past each bound of |x| <= 10^15 minor units (issue 12)...
BEYOND_THE_BOUNDS = ["-9223372036854775.808", "-9223372036854775.807", "9223372036854775.807",
                     "1000000000000.001", "-1000000000000.001"]
#: ... and the bounds themselves.
AT_THE_BOUNDS = ["1000000000000.000", "-1000000000000.000"]


def _money_file(path: Path, columns: dict[str, list[str]], money: str) -> Path:
    """A CSV or Parquet file (by suffix) whose `money` column is a decimal,
    as a bank's export would have it."""
    table = pa.table({**columns, money: pa.array([Decimal(v) for v in columns[money]],
                                                 pa.decimal128(22, 3))})
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def _accounts(path: Path, balances: list[str]) -> Path:
    n = len(balances)
    return _money_file(path, {
        "account_id": [f"a{i}" for i in range(n)], "user_id": ["u1"] * n,
        "type": ["CHECKING"] * n, "currency": ["BHD"] * n, "balance": balances,
        "balance_date": ["2026-01-31"] * n}, "balance")


def _assert_rows_beyond_the_bounds(out: subprocess.CompletedProcess[str], path: Path,
                                   column: str) -> None:
    assert out.returncode == 1, out.stderr
    assert f"{files.locate(path, 1)}, column {column}: is larger in magnitude" in out.stderr
    others = [files.position(path, [row])[row].split()[1]
              for row in range(2, len(BEYOND_THE_BOUNDS) + 1)]
    kind = "lines" if path.suffix == ".csv" else "rows"
    assert f"; and 4 more problems (also {kind} {', '.join(others)})" in out.stderr, \
        out.stderr
    assert f"{files.locate(path, 0)}," not in out.stderr


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_names_money_beyond_the_bounds(target: str, tmp_path: Path, fmt: str) -> None:
    connection = at(target, f"bounds-{fmt}")
    accounts = _accounts(tmp_path / f"accounts.{fmt}", ["1.000", *BEYOND_THE_BOUNDS])
    out = finseg("load", *connection, "--quiet", "--accounts", str(accounts), check=False)
    _assert_rows_beyond_the_bounds(out, accounts, "balance")

    finseg("load", *connection, "--quiet", "--accounts",
           str(_accounts(tmp_path / f"good.{fmt}", ["1.000"])))
    transactions = _money_file(tmp_path / f"transactions.{fmt}", {
        "transaction_id": [f"t{i}" for i in range(6)], "account_id": ["a0"] * 6,
        "booking_date": ["2026-01-02"] * 6, "amount": ["-1.000", *BEYOND_THE_BOUNDS]},
        "amount")
    out = finseg("load", *connection, "--quiet", "--transactions", str(transactions),
                 check=False)
    _assert_rows_beyond_the_bounds(out, transactions, "amount")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_keeps_money_at_the_bounds_exactly(target: str, tmp_path: Path, fmt: str) -> None:
    accounts = _accounts(tmp_path / f"accounts.{fmt}", AT_THE_BOUNDS)
    finseg("load", *at(target, f"at-bounds-{fmt}"), "--quiet", "--accounts", str(accounts))
    with connect(target, f"at-bounds-{fmt}") as client:
        job = client.create_segment(high_balance("BHD", -(10**15) - 1,
                                                 as_of=dt.date(2026, 1, 31)))
        stored = {a.account_id: a.amount for m in client.members(job.segment_id)
                  for a in m.accounts}
    assert stored == {"a0": 10**15, "a1": -(10**15)}


def test_unknown_column_is_named_with_line_1(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date,colour\n"
                        "a1,u1,CHECKING,EUR,10.00,2026-01-31,red\n")
    out = finseg("load", *at(target, "acme"), "--quiet", "--accounts", str(accounts),
                 check=False)
    assert out.returncode == 1 and f"{accounts}: line 1: unknown column(s) colour" in out.stderr
    out = finseg("load", *at(target, "acme"), "--quiet", "--accounts", str(accounts),
                 "--ignore-extra-columns")
    assert "upserted 1 accounts" in out.stderr


def test_segment_output_formats(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        'a1,"Müller, ""Max""",CHECKING,EUR,1500.50,2026-01-31\n'
                        "a2,bob,SAVINGS,JPY,12000,2026-01-31\n")
    finseg("load", *at(target, "fmt"), "--quiet", "--accounts", str(accounts))
    common = ["segment", "high-balance", "--threshold", "1000", "--as-of", "2026-01-31",
              *at(target, "fmt"), "--quiet"]
    table = finseg(*common).stdout.splitlines()
    assert table[0].split() == ["user_id", "account_id", "currency", "amount"]
    assert 'Müller, "Max"' in table[1] and "1500.50" in table[1]
    rows = list(csv.DictReader(io.StringIO(finseg(*common, "--output", "csv").stdout)))
    assert rows == [{"user_id": 'Müller, "Max"', "account_id": "a1", "currency": "EUR",
                     "amount": "1500.50"}]
    jpy = finseg(*common[:3], "100", *common[4:], "--currency", "JPY", "--output", "csv")
    assert list(csv.DictReader(io.StringIO(jpy.stdout)))[0]["amount"] == "12000"
    bad = finseg(*common[:3], "10.001", *common[4:], check=False)
    assert bad.returncode == 2 and "more than 2 decimals" in bad.stderr


def _readme_tour() -> list[str]:
    """The shell blocks of the README's tour, in order."""
    text = (ROOT / "README.md").read_text()
    tour = text.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", tour, flags=re.S)


def tour_env(target: str) -> dict[str, str]:
    """The tour's shell: the CLI finds the test server through FINSEG_TARGET,
    and holds the token the tour's first block exports (each block runs in
    its own shell here)."""
    return {**os.environ, "FINSEG_TARGET": target, "FINSEG_TOKEN": token_for("tour")}


def project(tmp_path: Path) -> Path:
    """A directory standing for the project's: its ./finseg-dev-secret is
    the one the test servers verify tokens with, as `make run`'s is."""
    directory = tmp_path / "project"
    directory.mkdir(exist_ok=True)
    shutil.copy(SECRET_FILE, directory / "finseg-dev-secret")
    return directory


def readme_shell(tmp_path: Path, target: str) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Runs a README block as printed: in the project directory, with the
    README's /tmp files in tmp_path, this venv's tools and the test server's
    address in place of the default one."""
    venv_bin = Path(sys.executable).parent
    cwd = project(tmp_path)

    def run(block: str) -> subprocess.CompletedProcess[str]:
        # The README's /tmp files first: the checkout itself may live in /tmp.
        script = (block.replace("/tmp/", f"{tmp_path}/").replace(".venv/bin/", f"{venv_bin}/")
                  .replace("127.0.0.1:50051", target))
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                             text=True, timeout=120, env=tour_env(target), cwd=cwd)
        assert out.returncode == 0, (block, out.stderr)
        return out

    return run


def test_readme_tour_runs_as_written(target: str, tmp_path: Path) -> None:
    blocks = _readme_tour()
    assert len(blocks) == 3
    shell = readme_shell(tmp_path, target)

    def run(block: str) -> str:
        return shell(block).stdout

    run(blocks[0])  # load the two CSV files
    table = run(blocks[1])
    expected = re.search(r"```text\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert expected and table == expected.group(1)
    first, stream = blocks[2].split("\n.venv/bin/grpcurl", 1)
    created = json.loads(run(first))
    segment_id = created["segment"]["segment_id"]
    streamed = run(".venv/bin/grpcurl" + stream.replace("<segment_id>", segment_id))
    assert '"account_id": "acc-1"' in streamed and '"amount": "10000"' in streamed


def test_a_malformed_csv_record_is_named_by_file(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                            "t1,a1,2026-01-02,-1.00\n"
                            "t2,a1,2026-01-03,-1.00,surplus\n")
    out = finseg("load", *at(target, "malformed"), "--quiet", "--accounts",
                 str(accounts), "--transactions", str(transactions), check=False)
    assert out.returncode == 1
    # Arrow names no line; the file is read again to find it.
    assert f"finseg load: {transactions}: line 3: 5 fields where the header has 4" in out.stderr


def test_readme_grpcurl_call_per_segment_type(target: str, client, tmp_path: Path) -> None:
    """Each segment type's grpcurl call in the README works on the tour data."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Segment types", 1)[1].split("\n## ", 1)[0]
    calls = [line for line in re.findall(r"```sh\n(.*?)```", section, re.S)[0].splitlines()
             if line.startswith(".venv/bin/grpcurl")]
    kinds = [re.search(r'"spec":\{(?:"as_of":"[^"]+",)?"(\w+)"', c).group(1) for c in calls]
    assert kinds == ["high_balance", "low_balance", "income_spending_summary",
                     "financial_breakdown", "insurance_spending", "rfm", "rule",
                     "merchant_affinity", "merchant_affinity"]
    # The second is the drill-down, whose members are customers.
    kinds[-1] = "merchant_customers"
    venv_bin = Path(sys.executable).parent
    readme_shell(tmp_path, target)(_readme_tour()[0])

    found = {}
    with connect(target, "tour") as tour:
        for call, kind in zip(calls, kinds, strict=True):
            command = call.replace(".venv/bin/", f"{venv_bin}/").replace("127.0.0.1:50051",
                                                                         target)
            out = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                 timeout=60, env=tour_env(target))
            assert out.returncode == 0, out.stderr
            segment_id = json.loads(out.stdout)["segment"]["segment_id"]
            pages = list(tour.stream_segment(segment_id))
            found[kind] = getattr(pages[0].page, kind).members
            if kind != "merchant_affinity":  # whose members are merchants
                assert [m.user_id for m in found[kind]] == ["alice"], kind
    # Every merchant alice paid in the six months, one customer each, by key.
    assert [(m.merchant_key, m.merchant_name, m.customers, m.transactions, m.spend)
            for m in found["merchant_affinity"]] == [
        ("hausverwaltung meier", "Hausverwaltung Meier", 1, 1, 15000),
        ("huk-coburg", "HUK-COBURG", 1, 2, 9000), ("rewe", "REWE", 1, 1, 8000)]
    (alice,) = found["merchant_customers"]
    assert (alice.currency, alice.transactions, alice.spend, alice.first_purchase,
            alice.last_purchase) == ("EUR", 2, 9000, "2025-11-03", "2025-12-01")
    assert [m.metric for m in found["rule"][0].metrics] == ["frequency(days=60)",
                                                            "avg_spend(days=60)"]
    (car,) = found["insurance_spending"][0].contracts  # the tour's car insurance
    assert (car.provider_key, car.provider_name, car.insurance_type, car.payment_count,
            car.first_payment, car.last_payment, car.typical_amount, car.annual_cost) == \
        ("huk-coburg", "HUK-COBURG", "CAR", 2, "2025-11-03", "2025-12-01", 4500.0, 54000.0)
    assert segments_pb2.Frequency.Name(car.frequency) == "FREQUENCY_MONTHLY"
    income, rent = found["financial_breakdown"][0].groups  # in group order
    assert (income.label_group, income.count, list(income.monthly_sums)) == \
        ("INCOME", 1, [20000, 0])
    assert (rent.label_group, rent.total, rent.median, rent.min) == \
        ("RENTANDLIVING", -15000, -7500.0, -15000)
    summary = found["income_spending_summary"][0].currencies[0]
    # January of the tour: -150.00 rent and +200.00 salary.
    assert (summary.incoming_count, summary.incoming_sum, summary.outgoing_count,
            summary.outgoing_sum) == (1, 20000, 1, -15000)
    # RFM: the rent and groceries rows; alone, alice has the lowest scores.
    (alice,) = found["rfm"]
    assert (alice.recency, alice.frequency, alice.monetary, alice.rfm_code,
            alice.segment_name) == (11, 2, 23000, "111", "Lost")


def test_income_spending_summary_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,0.00,2026-01-31\n"
                        "e2,ann,SAVINGS,EUR,0.00,2026-01-31\n"
                        "j1,ann,CHECKING,JPY,0,2026-01-31\n"
                        "e3,bob,CHECKING,EUR,0.00,2026-01-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                            "1,e1,2026-01-01,100.50\n2,e2,2026-01-31,-20.25\n"
                            "3,j1,2026-01-15,-300\n4,e3,2026-01-10,0.00\n"
                            "5,e1,2026-02-01,999.00\n")
    finseg("load", *at(target, "iss"), "--quiet", "--accounts",
           str(accounts), "--transactions", str(transactions))
    out = finseg("segment", "income-spending-summary", "--from", "2026-01-01", "--to",
                 "2026-01-31", *at(target, "iss"), "--quiet", "--output",
                 "csv").stdout
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"user_id": "ann", "currency": "EUR", "incoming_count": "1", "incoming_sum": "100.50",
         "outgoing_count": "1", "outgoing_sum": "-20.25"},
        {"user_id": "ann", "currency": "JPY", "incoming_count": "0", "incoming_sum": "0",
         "outgoing_count": "1", "outgoing_sum": "-300"},
        {"user_id": "bob", "currency": "EUR", "incoming_count": "0", "incoming_sum": "0.00",
         "outgoing_count": "0", "outgoing_sum": "0.00"},
    ]
    bad = finseg("segment", "income-spending-summary", "--from", "2026-02-01", "--to",
                 "2026-01-31", *at(target, "iss"), "--quiet", check=False)
    # The flags the user typed, not the API's field paths.
    assert bad.returncode == 1 and "--from 2026-02-01 is after --to 2026-01-31" in bad.stderr
    assert "spec." not in bad.stderr


def test_financial_breakdown_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,0.00,2026-03-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount,label\n"
                            "1,e1,2026-01-05,2000.00,SALARY\n2,e1,2026-02-05,2100.00,SALARY\n"
                            "3,e1,2026-02-07,-30.00,INSURANCE.CAR\n")
    finseg("load", *at(target, "fb"), "--quiet", "--accounts",
           str(accounts), "--transactions", str(transactions))
    out = finseg("segment", "financial-breakdown", "--group", "SALARY", "--group", "INSURANCE",
                 "--months", "3", "--as-of", "2026-04-01", *at(target, "fb"),
                 "--quiet", "--output", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    # In group order, not the order of the flags.
    assert [(r["label_group"], r["total"], r["monthly_sums"], r["median"]) for r in rows] == [
        ("INSURANCE", "-30.00", "0.00 -30.00 0.00", "0.00"),
        ("SALARY", "4100.00", "2000.00 2100.00 0.00", "2000.00")]
    bad = finseg("segment", "financial-breakdown", "--group", "INCOMETAX", "--months", "3",
                 *at(target, "fb"), "--quiet", check=False)
    assert bad.returncode == 1 and "known groups" in bad.stderr


def test_insurance_spending_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,0.00,2026-03-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(
        "transaction_id,account_id,booking_date,amount,label,counterparty_name\n"
        "1,e1,2025-04-01,-300.00,INSURANCE.LIFE,Allianz\n"
        "2,e1,2026-01-02,-12.50,INSURANCE,ADAC\n"
        "3,e1,2026-02-02,-12.50,INSURANCE,adac \n"
        "4,e1,2026-02-10,5.00,INSURANCE,ADAC\n")  # a refund: ignored
    finseg("load", *at(target, "ins"), "--quiet", "--accounts",
           str(accounts), "--transactions", str(transactions))
    out = finseg("segment", "insurance-spending", "--months", "12", "--as-of", "2026-04-01",
                 *at(target, "ins"), "--quiet", "--output", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["provider_key"], r["provider_name"], r["insurance_type"], r["payment_count"],
             r["frequency"], r["typical_amount"], r["annual_cost"]) for r in rows] == [
        ("adac", "adac ", "OTHER", "2", "MONTHLY", "12.50", "150.00"),
        ("allianz", "Allianz", "LIFE", "1", "ONCE", "300.00", "300.00")]
    only_life = finseg("segment", "insurance-spending", "--months", "12", "--as-of",
                       "2026-04-01", "--insurance-type", "LIFE", *at(target, "ins"),
                       "--quiet", "--output", "csv").stdout
    assert [r["provider_key"] for r in csv.DictReader(io.StringIO(only_life))] == ["allianz"]
    bad = finseg("segment", "insurance-spending", "--months", "12", "--insurance-type",
                 "LIFE.TERM", *at(target, "ins"), "--quiet", check=False)
    assert bad.returncode == 1 and "--insurance-type 'LIFE.TERM'" in bad.stderr
    assert "contains a dot" in bad.stderr and "spec." not in bad.stderr


def test_rfm_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n" + "".join(
        f"{account},{user},{kind},{currency},0,2026-03-31\n" for account, user, kind, currency
        in (("e1", "ann", "CHECKING", "EUR"), ("e2", "ann", "SAVINGS", "EUR"),
            ("e3", "bob", "CHECKING", "EUR"), ("j1", "bob", "CHECKING", "JPY"),
            ("e4", "cy", "CHECKING", "EUR"))))
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount,label\n"
                            "1,e1,2026-03-30,-20.50,GROCERIES\n2,e2,2026-03-01,-100.00,SHOPPING\n"
                            "3,e3,2026-01-15,-5.25,GROCERIES\n4,j1,2026-03-31,-9000,SHOPPING\n"
                            "5,e4,2025-03-31,-70.00,SHOPPING\n6,e3,2026-03-02,40.00,SALARY\n")
    finseg("load", *at(target, "rfm"), "--quiet", "--accounts", str(accounts),
           "--transactions", str(transactions))
    common = ["segment", "rfm", "--window-days", "365", "--as-of", "2026-03-31",
              *at(target, "rfm"), "--quiet"]
    rows = list(csv.DictReader(io.StringIO(finseg(*common, "--output", "csv").stdout)))
    # cy's purchase is 365 days before as_of: outside the window.
    assert rows == [
        {"user_id": "ann", "currency": "EUR", "recency": "1", "frequency": "2",
         "monetary": "120.50", "r_score": "3", "f_score": "3", "m_score": "3",
         "rfm_code": "333", "segment_name": "Need attention"},
        {"user_id": "bob", "currency": "EUR", "recency": "75", "frequency": "1",
         "monetary": "5.25", "r_score": "1", "f_score": "1", "m_score": "1",
         "rfm_code": "111", "segment_name": "Lost"}]
    table = finseg(*common, "--segment-name", "Need attention").stdout.splitlines()
    assert table[0].split() == list(rows[0]) and len(table) == 2
    assert table[1].split(maxsplit=9) == [*list(rows[0].values())[:-1], "Need attention"]
    yen = finseg(*common, "--currency", "JPY", "--label-group", "SHOPPING", "--output",
                 "jsonl").stdout
    assert [json.loads(line) for line in yen.splitlines()] == [
        {"user_id": "bob", "currency": "JPY", "recency": 0, "frequency": 1, "monetary": "9000",
         "r_score": 1, "f_score": 1, "m_score": 1, "rfm_code": "111", "segment_name": "Lost"}]
    # The flags the user typed, not the API's field paths.
    for flags, says in ((["--window-days", "0"], "--window-days must be between 1 and 3660"),
                        (["--segment-name", "VIP"], "--segment-name 'VIP' is not an RFM "
                                                    "segment name"),
                        (["--label-group", "INCOMETAX"], "--label-group 'INCOMETAX' is not a "
                                                         "label group"),
                        (["--currency", "EURO"], "--currency 'EURO' is not an ISO 4217")):
        bad = finseg(*common, *flags, check=False)
        assert bad.returncode == 1 and says in bad.stderr, bad.stderr
        assert "spec." not in bad.stderr


def test_merchant_affinity_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,0,2026-03-31\ne2,bob,CHECKING,EUR,0,2026-03-31\n"
                        "j1,bob,CHECKING,JPY,0,2026-03-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount,counterparty_name\n"
                            "1,e1,2026-02-03,-20.50,REWE\n2,e2,2026-02-27,-4.00,rewe\n"
                            "3,e2,2026-02-28,-1.25,Aldi\n4,j1,2026-02-01,-900,Rewe\n"
                            "5,e1,2026-03-01,-7.00,REWE\n")
    finseg("load", *at(target, "merchants"), "--quiet", "--accounts", str(accounts),
           "--transactions", str(transactions))
    common = ["segment", "merchant-affinity", "--months", "1", "--as-of", "2026-03-31",
              *at(target, "merchants"), "--quiet"]
    rows = list(csv.DictReader(io.StringIO(finseg(*common, "--output", "csv").stdout)))
    # February only; money in major units of each row's currency.
    assert rows == [
        {"merchant_key": "rewe", "merchant_name": "rewe", "currency": "EUR", "customers": "2",
         "transactions": "2", "spend": "24.50"},
        {"merchant_key": "aldi", "merchant_name": "Aldi", "currency": "EUR", "customers": "1",
         "transactions": "1", "spend": "1.25"},
        {"merchant_key": "rewe", "merchant_name": "Rewe", "currency": "JPY", "customers": "1",
         "transactions": "1", "spend": "900"}]
    assert len(finseg(*common, "--min-customers", "2").stdout.splitlines()) == 2
    drill = finseg(*common, "--counterparty", " REWE ", "--output", "jsonl").stdout
    assert [json.loads(line) for line in drill.splitlines()] == [
        {"user_id": "ann", "currency": "EUR", "transactions": 1, "spend": "20.50",
         "first_purchase": "2026-02-03", "last_purchase": "2026-02-03"},
        {"user_id": "bob", "currency": "EUR", "transactions": 1, "spend": "4.00",
         "first_purchase": "2026-02-27", "last_purchase": "2026-02-27"},
        {"user_id": "bob", "currency": "JPY", "transactions": 1, "spend": "900",
         "first_purchase": "2026-02-01", "last_purchase": "2026-02-01"}]
    bad = finseg(*common, "--min-customers", "-1", check=False)
    assert bad.returncode == 1 and "--min-customers must be 0 or more" in bad.stderr
    assert "spec." not in bad.stderr


def _readme_cli_blocks() -> list[str]:
    """The README's shell blocks outside the tour that run `finseg`."""
    text = (ROOT / "README.md").read_text()
    before, tour = text.split("## A short tour", 1)
    rest = tour.split("\n## ", 1)[1]
    # The container's blocks need a Docker engine, which the tests do not
    # have; tests/test_container.py runs the image's commands instead.
    return [block for block in re.findall(r"```sh\n(.*?)```", before + rest, flags=re.S)
            if ".venv/bin/finseg" in block and "docker " not in block]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_cli_example_of_the_readme_runs_as_printed(target: str, tmp_path: Path) -> None:
    """Each `finseg` command the README prints, on the tour's data: they
    exit 0 and every `segment` command finds the tour's customer (without
    --as-of, financial-breakdown and insurance-spending found nobody).
    `<segment_id>` stands for the newest segment, and `finseg serve` gets a
    free port instead of the default one another service may hold."""
    blocks = _readme_cli_blocks()
    commands = sum(len(re.findall(r"\.venv/bin/finseg ", b)) for b in blocks)
    assert commands >= 9, blocks
    shell = readme_shell(tmp_path, target)
    shell(_readme_tour()[0])
    for block in blocks:
        if ".venv/bin/finseg serve" in block:
            serve, rest = block.split("\n", 1)
            port = _free_port()
            venv_bin = Path(sys.executable).parent
            command = serve.split("#", 1)[0].replace(".venv/bin/", f"{venv_bin}/")
            server = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"],
                                      cwd=project(tmp_path), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
            try:
                _wait_for(port, server)
                readme_shell(tmp_path, f"127.0.0.1:{port}")(rest)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
            continue
        if "<segment_id>" in block:
            newest = json.loads(shell(".venv/bin/finseg segments list --output json").stdout)
            block = block.replace("<segment_id>", newest[0]["segment_id"])
        out = shell(block)
        for found in re.findall(r"segment \w+: (\d+) members", out.stderr):
            assert int(found) >= 1, (block, out.stderr)


def _wait_for(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("finseg serve did not listen")


def test_rule_from_the_command_line(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,12.34,2026-03-31\n"
                        "e2,bob,CHECKING,EUR,0.00,2026-03-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount,label\n"
                            "1,e1,2026-03-20,-10.00,GROCERIES\n"
                            "2,e1,2026-03-21,-5.01,GROCERIES\n")
    finseg("load", *at(target, "rules"), "--quiet", "--accounts",
           str(accounts), "--transactions", str(transactions))
    out = finseg("segment", "rule", "spend(group=GROCERIES) > 15 OR NOT recency < 3",
                 "--as-of", "2026-03-31", *at(target, "rules"), "--quiet",
                 "--output", "csv").stdout
    # Money in major units, days as integers, a missing value empty.
    assert list(csv.DictReader(io.StringIO(out))) == [
        {"user_id": "ann", "metric": "spend(days=30, group=GROCERIES)", "value": "15.01"},
        {"user_id": "ann", "metric": "recency(days=30)", "value": "10"},
        {"user_id": "bob", "metric": "spend(days=30, group=GROCERIES)", "value": "0.00"},
        {"user_id": "bob", "metric": "recency(days=30)", "value": ""},
    ]
    bad = finseg("segment", "rule", "spend >", *at(target, "rules"), "--quiet", check=False)
    assert bad.returncode == 1, bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "finseg segment rule: the rule at 7: expected a number after '>'"], bad.stderr
