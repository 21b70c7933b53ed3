"""`finseg serve --log-format json` (issue 13, point 8): every line of its
output is a JSON object; each call is one line with method, tenant, segment,
status and duration, each job's end one line; and no user id, account id or
amount sent appears anywhere in the log, failed calls and hostile segment ids
included."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import grpc
import pytest
from conftest import connect
from process import ServerProcess

from finseg.client.api import FinsegClient, high_balance

AS_OF = dt.date(2026, 3, 1)
#: What the log must never hold: ids and amounts as sent, and in major units.
USER = "user-6d1f3a9c"
ACCOUNT = "acct-91be77d2"
STRANGER = "acct-unknown-5c0e11"
AMOUNTS = (-7_654_321, 123_456_789)
SECRETS = (USER, ACCOUNT, STRANGER, "user-other-48aa", *(str(abs(a)) for a in AMOUNTS),
           "76543.21", "1234567.89")


def calls_and_a_job(target: str) -> str:
    """Ingests, fails, runs a job, erases the user; the job's id."""
    with connect(target, "acme") as client:
        client.upsert_accounts([{"account_id": ACCOUNT, "user_id": USER, "type": "CHECKING",
                                 "currency": "EUR", "balance": AMOUNTS[1],
                                 "balance_date": "2026-02-28"}])
        list(client.append_transactions([[{"transaction_id": "tx-1", "account_id": ACCOUNT,
                                           "booking_date": "2026-01-05",
                                           "amount": AMOUNTS[0]}]]))
        with pytest.raises(grpc.RpcError):
            list(client.append_transactions([[{"transaction_id": "tx-2", "account_id": STRANGER,
                                               "booking_date": "2026-01-06",
                                               "amount": AMOUNTS[0]}]]))
        with pytest.raises(grpc.RpcError) as unknown:  # a user id where a segment id goes
            client.get_segment("user-other-48aa")
        assert "user-other-48aa" in (unknown.value.details() or "")  # errors quote requests
        job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF)).segment_id
        assert [m.user_id for m in client.members(job)] == [USER]
        client.delete_user(USER)
    with FinsegClient(target, None) as anonymous, pytest.raises(grpc.RpcError):
        anonymous.delete_user(USER)
    return job


def test_json_log_lines_name_calls_and_jobs_and_no_user_data(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", "--log-format", "json")
    try:
        job = calls_and_a_job(server.target)
    finally:
        assert server.stop() == 0
    text = server.log.read_text()
    entries = [json.loads(line) for line in text.splitlines()]  # every line, or it fails

    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    calls = [e for e in entries if e.get("event") == "call"]
    assert all({"method", "tenant", "job_id", "status", "duration_ms"} <= c.keys()
               and c["level"] == "INFO" for c in calls)
    seen = [(c["method"].rsplit("/", 1)[1], c["status"], c["tenant"]) for c in calls
            if not c["method"].startswith("grpc.")]
    assert seen == [
        ("UpsertAccounts", "OK", "acme"), ("AppendTransactions", "OK", "acme"),
        ("AppendTransactions", "INVALID_ARGUMENT", "acme"), ("GetSegment", "NOT_FOUND", "acme"),
        ("CreateSegment", "OK", "acme"), ("StreamSegment", "OK", "acme"),
        ("DeleteUser", "OK", "acme"), ("DeleteUser", "UNAUTHENTICATED", "")]
    by_method = {c["method"].rsplit("/", 1)[1]: c for c in calls}
    assert by_method["CreateSegment"]["job_id"] == by_method["StreamSegment"]["job_id"] == job
    assert by_method["GetSegment"]["job_id"] == ""  # not an id of the service's making
    assert all(c["duration_ms"] >= 0 for c in calls)

    (ended,) = [e for e in entries if e.get("event") == "job"]
    assert (ended["job_id"], ended["tenant"], ended["type"], ended["status"]) == (
        job, "acme", "HIGH_BALANCE", "SUCCEEDED")
    assert ended["members"] == 1 and ended["duration_ms"] > 0 and ended["queued_ms"] >= 0

    for secret in SECRETS:
        assert secret not in text


def test_text_logs_are_the_default(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    try:
        with connect(server.target, "acme") as client:
            client.get_taxonomy()
    finally:
        server.stop()
    lines = server.log.read_text().splitlines()
    assert any(" INFO finseg.calls: finseg.v1.TaxonomyService/GetTaxonomy OK " in line
               for line in lines)
    assert not any(line.startswith("{") for line in lines)
