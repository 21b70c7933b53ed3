"""One store, one process; one port, one server. Each `finseg serve` keeps
in-memory state of its store (the transaction-id index, caches), so a
second process on the same data directory would break idempotency, and a
second listener on the same port would take some of the first one's calls.
The second process must exit with one clear line, and the first serve on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import connect
from process import ServerProcess

from finseg.client.api import high_balance

ACCOUNT = {"account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
           "balance": 500, "balance_date": "2026-01-01"}


def refused(second: ServerProcess) -> str:
    """The last line of a second server that must exit at once, non-zero."""
    code, output = second.exit(timeout=30)
    assert code is not None, f"the second server is still running:\n{output}"
    assert code != 0 and "Traceback" not in output, output
    return output.strip().splitlines()[-1]


def still_serves(first: ServerProcess) -> None:
    with connect(first.target, "bank") as client:
        for k in range(20):  # enough calls that a second listener would take some
            client.upsert_accounts([{**ACCOUNT, "balance": k}])
        job = client.create_segment(high_balance("EUR", -10**9, as_of=dt.date(2026, 1, 2)))
        (member,) = client.members(job.segment_id)
        assert [(a.account_id, a.amount) for a in member.accounts] == [("a1", 19)]
    assert first.stop() == 0


def test_a_second_server_on_the_same_data_dir_exits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ServerProcess(data_dir)
    try:
        line = refused(ServerProcess(data_dir, wait=False))
        assert line == (f"finseg serve: the data directory {data_dir} is in use by another "
                        f"finseg process (pid {first.process.pid}); stop it or choose another "
                        "--data-dir")
        still_serves(first)
    finally:
        first.process.kill()


def test_a_second_server_on_the_same_port_exits(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "data")
    try:
        line = refused(ServerProcess(tmp_path / "other", port=first.port, wait=False))
        assert line == f"finseg serve: cannot listen on 127.0.0.1:{first.port}: the port is in use"
        still_serves(first)
    finally:
        first.process.kill()
