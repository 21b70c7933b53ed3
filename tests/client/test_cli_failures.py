"""How `finseg` fails (issue 13): every failure one line on stderr with a
non-zero exit code, naming what the user typed or opened (file, physical
line, column; flags; target), never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import grpc
import pyarrow as pa
import pytest
from conftest import grpcurl, token_for
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from test_cli import at, finseg

from finseg.cli import files
from finseg.cli.tokens import mint
from finseg.client.api import FinsegClient
from finseg.v1 import ingest_pb2, ingest_pb2_grpc

ACCOUNTS = "account_id,user_id,type,currency,balance,balance_date\n"
TRANSACTIONS = "transaction_id,account_id,booking_date,amount,purpose\n"


def one_line(out) -> str:
    """The failure's one line (the command's own stderr, without a
    progress bar's leftovers)."""
    assert out.returncode != 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()
             and not line.startswith(("upserted ", "appended "))]
    assert len(lines) == 1, out.stderr
    return lines[0]


def multi_line_file(path: Path, rows: int, bad: int) -> Path:
    """Transactions whose purposes span three lines each (quoted), row `bad`
    with an impossible date; row r starts on line 2 + 3r, not r + 2."""
    body = "".join(
        f't{r},a1,{"2026-02-30" if r == bad else "2026-01-02"},-1.00,"Miete\nJanuar\nWohnung {r}"\n'
        for r in range(rows))
    path.write_text(TRANSACTIONS + body)
    return path


def test_errors_name_the_physical_line_after_multi_line_fields(target: str,
                                                               tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    transactions = multi_line_file(tmp_path / "transactions.csv", 10, 7)
    assert files.record_lines(transactions, [0, 7, 9]) == {0: 2, 7: 23, 9: 29}
    out = finseg("load", *at(target, "lines"), "--quiet", "--accounts", str(accounts),
                 "--transactions", str(transactions), "--batch-rows", "5", check=False)
    assert out.returncode == 1
    assert f"{transactions}: line 23, column booking_date" in out.stderr, out.stderr


def test_record_lines_follow_the_csv_readers_rules(tmp_path: Path) -> None:
    """Escaped quotes, CRLF and lone CR line ends, empty lines (no record),
    a quote inside an unquoted field (a character, as Arrow reads it)."""
    path = tmp_path / "odd.csv"
    path.write_bytes(b'a,b\n1,"x\ny"\n\n2,3\r\n"q""\nz",4\r5" screen,6\n8,9\n')
    assert files.record_lines(path, range(6)) == {0: 2, 1: 5, 2: 6, 3: 8, 4: 9}
    assert files.first_misshapen(path, 2) is None
    path.write_bytes(b'a,b\n1,"x\ny"\n2,3,4\n')
    assert files.first_misshapen(path, 2) == (4, 3)


def test_the_resume_hint_names_the_physical_line(target: str, tmp_path: Path) -> None:
    """The first batch (rows 0-4) is stored, the second fails at row 7: the
    hint names where the unstored rows start, line 17 (row 5), not line 7."""
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    transactions = multi_line_file(tmp_path / "transactions.csv", 10, 7)
    out = finseg("load", *at(target, "resume"), "--quiet", "--accounts", str(accounts),
                 "--transactions", str(transactions), "--batch-rows", "5", check=False)
    line = one_line(out)
    assert line.startswith(f"finseg load: {transactions}: line 23, column booking_date: ")
    assert line.endswith("; the 5 rows before line 17 are stored, and rerunning the same load "
                         "skips them"), line


# ---- large errors (point 1) ------------------------------------------------

def bad_rows(n: int) -> list[dict[str, str]]:
    """`n` rows, every one bad twice (no such account, no date), with ids of
    the longest length allowed, 128 characters."""
    return [{"transaction_id": f"{i:0128d}", "account_id": "x" * 128, "booking_date": "bad",
             "amount": "1"} for i in range(n)]


def details(error: grpc.RpcError) -> tuple[list[str], str]:
    """BadRequest fields and the ErrorInfo reason, read as grpcio-status does."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields, reason = [], ""
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
    return fields, reason


@pytest.mark.parametrize("n", [60, 80, 300, 5000])
def test_a_batch_of_bad_rows_reaches_every_client_whole(target: str, tmp_path: Path,
                                                        n: int) -> None:
    """60 bad rows crashed `finseg load` with a traceback, 80 and more came
    back as the client's own RESOURCE_EXHAUSTED: grpcurl, the Python client
    with its default options, a bare channel and `finseg load` all get
    INVALID_ARGUMENT with the first rows named and the total counted."""
    rows = bad_rows(n)
    out = grpcurl(target, "finseg.v1.IngestionService/AppendTransactions",
                  data=json.dumps({"batch_id": "b", "rows": {"transactions": [
                      {**r, "amount": 1} for r in rows]}}))
    assert "Code: InvalidArgument" in out.stderr, out.stderr[:500]
    assert f"{2 * n:,} invalid field(s)" in out.stderr and "INVALID_ROWS" in out.stderr
    assert "transactions[0].booking_date" in out.stderr

    with FinsegClient(target, token_for("large")) as client:
        with pytest.raises(grpc.RpcError) as failure:
            list(client.append_transactions([pa.table({k: [r[k] for r in rows]
                                                       for k in rows[0]})]))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failure.value.details()
    fields, reason = details(failure.value)
    assert fields[:2] == ["transactions[0].booking_date", "transactions[0].account_id"]
    assert reason == "INVALID_ROWS"
    with grpc.insecure_channel(target) as channel:  # no options at all
        stub = ingest_pb2_grpc.IngestionServiceStub(channel)
        request = ingest_pb2.AppendTransactionsRequest(rows=ingest_pb2.TransactionRows(
            transactions=[ingest_pb2.Transaction(**{**r, "amount": 1}) for r in rows]))
        with pytest.raises(grpc.RpcError) as failure:
            list(stub.AppendTransactions(iter([request]), metadata=(
                ("authorization", f"Bearer {token_for('large')}"),)))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert details(failure.value)[1] == "INVALID_ROWS"

    path = tmp_path / "transactions.csv"
    path.write_text("transaction_id,account_id,booking_date,amount\n" +
                    "".join(f"{r['transaction_id']},{r['account_id']},bad,1\n" for r in rows))
    line = one_line(finseg("load", *at(target, "large"), "--quiet", "--transactions",
                           str(path), check=False))
    assert line.startswith(f"finseg load: {path}: line 2, column booking_date: is not a date")
    assert f"; and {2 * n - 1:,} more problems (also lines 3, 4, 5, 6, 7, …)" in line


class Lie(grpc.Status):
    def __init__(self, code: grpc.StatusCode, details: str, trailing_metadata: tuple) -> None:
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


class Liar(grpc.GenericRpcHandler):
    """A real gRPC server answering every call with INVALID_ARGUMENT and
    details that do not match it (a proxy's, an older service's), or that
    do not parse: what a client may meet besides finseg itself."""

    def __init__(self, details_bin: bytes) -> None:
        self.trailers = (("grpc-status-details-bin", details_bin),)

    def service(self, handler_call_details):  # noqa: ANN001, ANN201 - gRPC's signature
        lie = Lie(grpc.StatusCode.INVALID_ARGUMENT,
                  "UpsertAccounts rejected: accounts[0].balance: is wrong", self.trailers)

        def unary(request, context):  # noqa: ANN001, ANN202
            context.abort_with_status(lie)

        def streams(requests, context):  # noqa: ANN001, ANN202
            next(requests, None)
            context.abort_with_status(lie)
            yield b""

        if handler_call_details.method.endswith("AppendTransactions"):
            return grpc.stream_stream_rpc_method_handler(streams)
        return grpc.unary_unary_rpc_method_handler(unary)


def mismatched_status() -> bytes:
    from google.protobuf import any_pb2
    from google.rpc import status_pb2

    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="accounts[0].balance",
                                                    description="is wrong")]))
    return status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="x",
                             details=[detail]).SerializeToString()


@pytest.mark.parametrize("details_bin", [mismatched_status(), b"\xff\x00 not a Status"],
                         ids=["code-mismatch", "garbage"])
def test_details_that_do_not_parse_or_match_are_no_crash(tmp_path: Path,
                                                         details_bin: bytes) -> None:
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(4), handlers=[Liar(details_bin)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        accounts = tmp_path / "accounts.csv"
        accounts.write_text(ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
        line = one_line(finseg("load", "--target", f"127.0.0.1:{port}", "--quiet",
                               "--accounts", str(accounts), check=False))
        # Without details, the message's row path still names the line.
        assert line == (f"finseg load: {accounts}: UpsertAccounts rejected: line 2, column "
                        "balance: is wrong; nothing of the file was stored")
        line = one_line(finseg("segments", "list", "--target", f"127.0.0.1:{port}",
                               check=False))
        assert line.startswith("finseg segments list: UpsertAccounts rejected")
    finally:
        server.stop(0)


# ---- every failure one line (point 2) ---------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_file_problems_are_one_line_naming_the_file(target: str, tmp_path: Path) -> None:
    connection = [*at(target, "files"), "--quiet"]
    missing = tmp_path / "missing.csv"
    assert one_line(finseg("load", *connection, "--transactions", str(missing), check=False)) \
        == f"finseg load: {missing}: no such file"
    # Both files are checked before anything is sent.
    good = tmp_path / "accounts.csv"
    good.write_text(ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    out = finseg("load", *connection, "--accounts", str(good), "--transactions", str(missing),
                 check=False)
    assert one_line(out) == f"finseg load: {missing}: no such file"
    assert "upserted" not in out.stderr
    for table in ("accounts", "transactions"):
        empty = tmp_path / f"empty-{table}.csv"
        empty.write_text("")
        line = one_line(finseg("load", *connection, f"--{table}", str(empty), check=False))
        assert line.startswith(f"finseg load: {empty}: the file is empty; ")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert "is a directory" in one_line(finseg("load", *connection, "--accounts", str(folder),
                                               check=False))
    not_parquet = tmp_path / "accounts.parquet"
    not_parquet.write_text("account_id\n")
    assert "not a readable Parquet file" in one_line(
        finseg("load", *connection, "--accounts", str(not_parquet), check=False))


def test_a_file_that_is_not_utf8_names_the_line_and_the_encoding(target: str,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes((ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n"
                      "a2,Müller,CHECKING,EUR,10.00,2026-01-31\n").encode("cp1252"))
    line = one_line(finseg("load", *at(target, "latin"), "--quiet", "--accounts", str(path),
                           check=False))
    assert line.startswith(f"finseg load: {path}: line 3, character 5: byte 0xFC is not UTF-8")
    assert "Windows-1252" in line and "'a2,Müller,CHECKING" in line and "iconv" in line


def test_an_amount_with_too_many_decimals_names_the_currency(target: str,
                                                             tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS + "j1,u1,CHECKING,JPY,1200,2026-01-31\n")
    finseg("load", *at(target, "yen"), "--quiet", "--accounts", str(accounts))
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(TRANSACTIONS + "t1,j1,2026-01-02,-1200.50,\n")
    assert one_line(finseg("load", *at(target, "yen"), "--quiet", "--transactions",
                           str(transactions), check=False)) == (
        f"finseg load: {transactions}: line 2, column amount: has more decimals than JPY has "
        "(no decimals); nothing of the file was stored")


def test_a_bad_account_type_lists_the_allowed_ones(target: str) -> None:
    out = finseg("segment", "high-balance", "--threshold", "1", "--account-type", "CHEQUING",
                 *at(target, "types"), "--quiet", check=False)
    line = one_line(out)
    assert out.returncode == 2
    assert "--account-type: 'CHEQUING' is not an account type; allowed: CHECKING, SAVINGS" \
        in line and "ACCOUNT_TYPE_" not in line
    # Case does not matter, as in the files.
    finseg("segment", "high-balance", "--threshold", "1", "--account-type", "checking",
           *at(target, "types"), "--quiet")


def test_a_server_that_is_not_running_is_named(tmp_path: Path) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS + "a1,u1,CHECKING,EUR,10.00,2026-01-31\n")
    for command in (["load", "--accounts", str(accounts)],
                    ["segment", "high-balance", "--threshold", "1"], ["segments", "list"]):
        line = one_line(finseg(*command, "--target", nowhere, "--quiet", check=False))
        assert f"cannot reach finseg at {nowhere}" in line, line
        assert "check that the service runs and listens there" in line


def test_a_token_signed_with_another_secret_hints_at_the_secret(target: str) -> None:
    stranger = mint(b"a secret the service has never seen, 32+ bytes", "acme")
    line = one_line(finseg("segments", "list", "--target", target, "--token", stranger,
                           check=False))
    assert "Signature verification failed" in line and "./finseg-dev-secret" in line
    assert "--secret-file" in line


@pytest.mark.parametrize(("args", "says"), [
    (["low-balance", "--threshold", "0", "--months", "30"],
     "--months must be between 1 and 24, got 30"),
    (["high-balance", "--threshold", "0", "--as-of", "1800-01-01"],
     "--as-of must be between 1900-01-01 and 2199-12-31"),
    (["financial-breakdown", "--group", "INCOMETAX", "--months", "3"],
     "--group 'INCOMETAX' is not a label group"),
    (["financial-breakdown", "--group", "INCOME", "--months", "13"],
     "--months must be between 1 and 12, got 13"),
    (["income-spending-summary", "--from", "2026-02-01", "--to", "2026-01-31"],
     "--from 2026-02-01 is after --to 2026-01-31"),
    (["high-balance", "--threshold", "0", "--page-size", "100000"],
     "--page-size must be between 1 and 10000"),
    (["high-balance", "--threshold", "1.001"], "--threshold: 1.001 EUR has more than 2"),
    (["high-balance", "--threshold", "1", "--currency", "EURO"],
     "--currency: 'EURO' is not an ISO 4217 currency code"),
])
def test_segment_errors_name_the_flags(target: str, args: list[str], says: str) -> None:
    line = one_line(finseg("segment", *args, *at(target, "flags"), "--quiet", check=False))
    assert says in line and "spec." not in line, line
