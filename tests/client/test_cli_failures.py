"""How `finseg` fails (issue 13): every failure one line on stderr with a
non-zero exit code, naming what the user typed or opened (file, physical
line, column; flags; target), never a traceback."""

from __future__ import annotations

from pathlib import Path

from test_cli import at, finseg

from finseg.cli import files

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
