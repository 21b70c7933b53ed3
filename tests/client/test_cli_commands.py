"""The command line as its users meet it (issue 13, point 15): `finseg token`
away from the project, and the commands around segments."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import threading
import time
from concurrent import futures
from importlib import metadata
from pathlib import Path

import grpc
import jwt
import pytest
from certs import generate
from conftest import connect, hold_worker, start_server, token_for
from test_cli import FINSEG, at, finseg

from finseg.cli import output
from finseg.cli.main import parser
from finseg.client.api import low_balance


def run_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FINSEG, *args], capture_output=True, text=True, timeout=120,
                          cwd=directory)


def test_token_outside_the_project_does_not_make_a_secret_silently(tmp_path: Path) -> None:
    out = run_in(tmp_path, "token", "--tenant", "acme")
    assert out.returncode == 2 and out.stdout == ""
    assert f"no secret at {tmp_path / 'finseg-dev-secret'}" in out.stderr
    assert "--secret-file" in out.stderr and "--create-secret" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "finseg-dev-secret").exists()

    made = run_in(tmp_path, "token", "--tenant", "acme", "--create-secret")
    assert made.returncode == 0, made.stderr
    secret = tmp_path / "finseg-dev-secret"
    assert f"made a new secret in {secret}" in made.stderr
    assert f"--jwt-key-file {secret}" in made.stderr
    claims = jwt.decode(made.stdout.strip(), secret.read_bytes().strip(), algorithms=["HS256"],
                        audience="finseg")
    assert claims["tenant"] == "acme"

    # An existing secret is used as it is, without a word.
    again = run_in(tmp_path, "token", "--tenant", "acme")
    assert again.returncode == 0 and again.stderr == ""
    elsewhere = run_in(tmp_path.parent, "token", "--tenant", "acme", "--secret-file",
                       str(secret))
    assert elsewhere.returncode == 0 and elsewhere.stderr == ""
    jwt.decode(elsewhere.stdout.strip(), secret.read_bytes().strip(), algorithms=["HS256"],
               audience="finseg")


def test_version_is_the_installed_one() -> None:
    out = subprocess.run([*FINSEG, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == f"finseg {metadata.version('finseg')}\n"


EMPTY = {
    "high-balance": ["--threshold", "0", "--as-of", "2026-01-31"],
    "low-balance": ["--threshold", "0", "--months", "2", "--as-of", "2026-01-31"],
    "income-spending-summary": ["--from", "2026-01-01", "--to", "2026-01-31"],
    "financial-breakdown": ["--group", "INCOME", "--months", "2", "--as-of", "2026-01-31"],
    "insurance-spending": ["--months", "2", "--as-of", "2026-01-31"],
    "rfm": ["--window-days", "30", "--as-of", "2026-01-31"],
    "merchant-affinity": ["--months", "2", "--as-of", "2026-01-31"],
}


@pytest.mark.parametrize("kind", list(EMPTY))
def test_an_empty_result_prints_its_own_header(target: str, kind: str) -> None:
    columns = list(output.MEMBER_COLUMNS[kind.upper().replace("-", "_")])
    common = ["segment", kind, *EMPTY[kind], *at(target, f"empty-{kind}"), "--quiet"]
    assert finseg(*common).stdout.split() == columns
    assert finseg(*common, "--output", "csv").stdout == ",".join(columns) + "\n"
    assert json.loads(finseg(*common, "--output", "json").stdout) == []
    assert finseg(*common, "--output", "jsonl").stdout == ""


def test_money_is_printed_alike_in_every_output(target: str, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "e1,ann,CHECKING,EUR,10.50,2026-01-31\n"
                        "j1,ann,CHECKING,JPY,1200,2026-01-31\n"
                        "b1,bob,CHECKING,BHD,-0.005,2026-01-31\n")
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                            "t1,e1,2025-12-10,-20.25\nt2,j1,2025-12-11,300\n")
    connection = at(target, "money")
    finseg("load", *connection, "--quiet", "--accounts", str(accounts), "--transactions",
           str(transactions))
    expected = {
        "EUR": {"user_id": "ann", "account_id": "e1", "currency": "EUR", "amount": "10.50",
                "monthly_minimums": ["10.50", "10.50"]},
        "JPY": {"user_id": "ann", "account_id": "j1", "currency": "JPY", "amount": "900",
                "monthly_minimums": ["900", "1200"]},
        "BHD": {"user_id": "bob", "account_id": "b1", "currency": "BHD", "amount": "-0.005",
                "monthly_minimums": ["-0.005", "-0.005"]}}
    for currency, row in expected.items():
        common = ["segment", "low-balance", "--threshold", "100000", "--currency", currency,
                  "--months", "2", "--as-of", "2026-02-01", *connection, "--quiet"]
        assert json.loads(finseg(*common, "--output", "json").stdout) == [row]
        assert json.loads(finseg(*common, "--output", "jsonl").stdout) == row
        flat = {**row, "monthly_minimums": " ".join(row["monthly_minimums"])}
        assert list(csv.DictReader(io.StringIO(finseg(*common, "--output", "csv").stdout))) \
            == [flat]
        header, line = finseg(*common).stdout.splitlines()
        assert header.split() == list(flat)
        assert line.split(maxsplit=4) == list(flat.values())


def test_segments_list_get_cancel_and_delete(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data", workers=1)
    target = f"127.0.0.1:{service.port}"
    connection = at(target, "jobs")
    gate = threading.Event()
    try:
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                            "a1,ann,CHECKING,EUR,10.50,2026-01-31\n")
        finseg("load", *connection, "--quiet", "--accounts", str(accounts))
        made = finseg("segment", "high-balance", "--threshold", "0", "--as-of", "2026-01-31",
                      *connection, "--quiet")
        done = re.search(r"segment (\w+): 1 members \(as_of 2026-01-31\)", made.stderr).group(1)
        gate = hold_worker(service)
        with connect(target, "jobs") as client:
            queued = client.create_segment(low_balance("EUR", 0, 2)).segment_id

        listed = json.loads(finseg("segments", "list", *connection, "--output", "json").stdout)
        assert [(s["segment_id"], s["type"], s["state"]) for s in listed] == [
            (queued, "LOW_BALANCE", "PENDING"), (done, "HIGH_BALANCE", "SUCCEEDED")]
        assert listed[1]["members"] == 1 and listed[1]["as_of"] == "2026-01-31"
        only = finseg("segments", "list", "--type", "high-balance", "--state", "succeeded",
                      *connection, "--output", "csv").stdout
        assert [r["segment_id"] for r in csv.DictReader(io.StringIO(only))] == [done]

        got = finseg("segments", "get", done, *connection, "--quiet", "--output", "csv")
        assert list(csv.DictReader(io.StringIO(got.stdout))) == [
            {"user_id": "ann", "account_id": "a1", "currency": "EUR", "amount": "10.50"}]

        cancelled = finseg("segments", "cancel", queued, *connection)
        assert cancelled.stderr == f"segment {queued}: CANCELLED\n"
        refused = finseg("segments", "cancel", done, *connection, check=False)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1
        assert "already SUCCEEDED" in refused.stderr
        gone = finseg("segments", "get", queued, *connection, "--quiet", check=False)
        assert gone.returncode == 1 and f"segment {queued} was cancelled" in gone.stderr

        deleted = finseg("segments", "delete", done, *connection)
        assert deleted.stderr == f"segment {done}: deleted with its results\n"
        missing = finseg("segments", "get", done, *connection, "--quiet", check=False)
        assert missing.returncode == 1
        assert missing.stderr == f"finseg segments get: segment '{done}' not found\n"
    finally:
        gate.set()
        service.stop(0)


def test_audit_and_usage(target: str, tmp_path: Path) -> None:
    connection = at(target, "books")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                        "a1,ann,CHECKING,EUR,10.50,2026-01-31\n")
    finseg("load", *connection, "--quiet", "--accounts", str(accounts))
    finseg("segment", "high-balance", "--threshold", "0", "--as-of", "2026-01-31", *connection,
           "--quiet")
    events = json.loads(finseg("audit", *connection, "--output", "json").stdout)
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("finseg.v1.IngestionService/UpsertAccounts", "OK"),
        ("finseg.v1.SegmentService/CreateSegment", "OK")]
    assert events[0]["target"] == "accounts=1" and events[0]["time"].endswith("Z")
    later = finseg("audit", "--from", "2999-01-01", *connection, "--output", "csv").stdout
    assert later == ",".join(output.AUDIT_COLUMNS) + "\n"
    usage = {r["type"]: r for r in csv.DictReader(io.StringIO(
        finseg("usage", *connection, "--output", "csv").stdout))}
    assert usage["HIGH_BALANCE"]["jobs_created"] == "1"
    assert usage["HIGH_BALANCE"]["result_rows_returned"] == "1"
    assert usage["LOW_BALANCE"]["jobs_created"] == "0"
    denied = finseg("usage", "--target", target, "--token", token_for("books", ["audit:read"]),
                    check=False)
    assert denied.returncode == 1 and "mint a token with --scope usage:read" in denied.stderr


def test_server_name_is_the_name_the_certificate_is_checked_against(tmp_path: Path) -> None:
    certs = generate(tmp_path / "certs")
    service = start_server(tmp_path / "data", plaintext=False, tls_cert_file=certs.server_cert,
                           tls_key_file=certs.server_key)
    try:
        tls = ["--target", f"127.0.0.1:{service.port}", "--token", token_for("tls"),
               "--tls-ca", str(certs.ca)]
        assert finseg("segments", "list", *tls, "--server-name", "finseg").returncode == 0
        refused = finseg("segments", "list", *tls, "--server-name", "elsewhere", check=False)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1
        assert refused.stderr == (
            f"finseg segments list: cannot reach finseg at 127.0.0.1:{service.port}: its "
            "certificate does not carry the name dialed; give --server-name with a name it "
            "does carry\n")
        stranger = finseg("segments", "list", *tls[:4], "--tls-ca", str(certs.wrong_ca),
                          check=False)
        assert stranger.returncode == 1 and stranger.stderr.count("\n") == 1, stranger.stderr
        assert "the TLS handshake failed" in stranger.stderr and "--tls-ca" in stranger.stderr
        plain = finseg("segments", "list", "--server-name", "finseg", *tls[:4], check=False)
        assert plain.returncode == 2 and "--server-name needs --tls-ca" in plain.stderr
    finally:
        service.stop(0)


class Silent(grpc.GenericRpcHandler):
    """A real gRPC server that takes every call and never answers."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def service(self, handler_call_details):  # noqa: ANN001, ANN201 - gRPC's signature
        def unary(request, context):  # noqa: ANN001, ANN202
            self.release.wait(60)

        def streams(requests, context):  # noqa: ANN001, ANN202
            for _ in requests:
                self.release.wait(60)
            yield b""

        if handler_call_details.method.endswith("AppendTransactions"):
            return grpc.stream_stream_rpc_method_handler(streams)
        return grpc.unary_unary_rpc_method_handler(unary)


def test_timeout_bounds_each_call_and_each_wait_of_a_stream(tmp_path: Path) -> None:
    assert parser().parse_args(["segments", "list"]).timeout == 60.0
    silent = Silent()
    server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[silent])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    nowhere = ["--target", f"127.0.0.1:{port}", "--timeout", "1"]
    try:
        started = time.monotonic()
        out = finseg("segments", "list", *nowhere, check=False)
        assert out.returncode == 1 and time.monotonic() - started < 30
        assert out.stderr == (f"finseg segments list: no answer from 127.0.0.1:{port} within "
                              "--timeout 1 s; the service may be overloaded, or give a longer "
                              "--timeout\n")
        transactions = tmp_path / "transactions.csv"
        transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                                "t1,a1,2026-01-02,1.00\n")
        out = finseg("load", *nowhere, "--quiet", "--transactions", str(transactions),
                     check=False)
        assert out.returncode == 1 and out.stderr == (
            f"finseg load: {transactions}: no answer from 127.0.0.1:{port} within --timeout "
            "1 s; nothing of the file was stored\n")
    finally:
        silent.release.set()
        server.stop(0)


def test_a_live_segment_from_the_cli_and_its_events_with_watch(tmp_path: Path) -> None:
    service = start_server(tmp_path / "data")
    target = f"127.0.0.1:{service.port}"
    connection = at(target, "live")
    try:
        accounts = tmp_path / "accounts.csv"
        accounts.write_text("account_id,user_id,type,currency,balance,balance_date\n"
                            "a1,ann,CHECKING,EUR,10.50,2020-01-01\n"
                            "b1,ben,CHECKING,EUR,0.00,2020-01-01\n")
        finseg("load", *connection, "--quiet", "--accounts", str(accounts))
        made = finseg("segment", "high-balance", "--live", "--threshold", "5", *connection,
                      "--quiet", "--output", "jsonl")
        segment_id = re.search(r"live: `finseg watch (\w+)`", made.stderr).group(1)
        assert [json.loads(line)["user_id"] for line in made.stdout.splitlines()] == ["ann"]
        refused = finseg("segment", "rule", "balance > 1", "--live", "--as-of", "2026-01-01",
                         *connection, check=False)
        assert refused.returncode == 2 and "--as-of cannot go with --live" in refused.stderr

        watching = subprocess.Popen([*FINSEG, "watch", segment_id, *connection, "--output",
                                     "jsonl", "--for", "60"], stdout=subprocess.PIPE, text=True)
        assert watching.stdout is not None
        first = json.loads(watching.stdout.readline())
        assert (first["sequence"], first["type"], first["user_id"], first["cause"]) == \
            (1, "ENTER", "ann", "CREATED")
        transactions = tmp_path / "transactions.csv"
        transactions.write_text("transaction_id,account_id,booking_date,amount\n"
                                "t1,b1,2020-01-02,9.00\n")
        finseg("load", *connection, "--quiet", "--transactions", str(transactions))
        second = json.loads(watching.stdout.readline())  # as the batch commits
        assert (second["sequence"], second["type"], second["user_id"], second["cause"]) == \
            (2, "ENTER", "ben", "BATCH")
        watching.terminate()
        watching.wait(30)

        resumed = finseg("watch", segment_id, *connection, "--after", "1", "--for", "1")
        assert resumed.stdout.splitlines()[0].split("\t") == list(
            ("sequence", "type", "user_id", "cause", "batch_id", "time"))
        assert [line.split("\t")[:4] for line in resumed.stdout.splitlines()[1:]] == [
            ["2", "ENTER", "ben", "BATCH"]]
    finally:
        service.stop(0)
