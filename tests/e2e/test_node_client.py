"""A client in another language: Node.js with @grpc/grpc-js and the .proto
files, against a real server."""

from __future__ import annotations

from node import run_segments

from finseg.client.api import FinsegClient


def test_node_creates_pages_streams_and_reads_a_bad_request(client: FinsegClient,
                                                            target: str) -> None:
    client.upsert_accounts([
        {"account_id": f"a{i}", "user_id": f"u{i:02}", "type": "CHECKING", "currency": "EUR",
         "balance": 100 * i, "balance_date": "2026-03-01"} for i in range(10)])
    seen = run_segments(target, "acme", {
        "as_of": "2026-03-10",
        "high_balance": {"threshold": {"currency": "EUR", "amount": "250"}}}, page_size=3)
    expected = [f"u{i:02}" for i in range(3, 10)]
    assert seen["state"] == "JOB_STATE_SUCCEEDED"
    assert seen["total_elements"] == "7"  # int64 as a string, as proto-loader gives it
    assert seen["get"] == {"page_sizes": [3, 3, 1], "users": expected}
    assert seen["stream"] == {"page_sizes": [3, 3, 1], "page_indexes": [0, 1, 2],
                              "users": expected}
    bad = seen["bad_request"]
    assert bad["grpc_code"] == 3 and bad["code"] == 3  # INVALID_ARGUMENT
    assert [v["field"] for v in bad["violations"]] == ["spec.low_balance.months"]
    assert bad["violations"][0]["description"]
