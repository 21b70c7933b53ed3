"""INCOME_SPENDING_SUMMARY over gRPC: typed pages, the spec echoed, bad
ranges named."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import FinsegClient, income_spending_summary
from finseg.v1 import segments_pb2


def test_summary_pages_and_spec_echo(client: FinsegClient) -> None:
    client.upsert_accounts([
        {"account_id": "a", "user_id": "u2", "type": "CHECKING", "currency": "EUR",
         "balance": 0, "balance_date": "2026-01-31"},
        {"account_id": "b", "user_id": "u1", "type": "CREDIT_CARD", "currency": "USD",
         "balance": 0, "balance_date": "2026-01-31"}])
    list(client.append_transactions([[
        {"transaction_id": "1", "account_id": "a", "booking_date": "2026-01-05", "amount": 700},
        {"transaction_id": "2", "account_id": "a", "booking_date": "2026-01-06", "amount": -50},
        {"transaction_id": "3", "account_id": "b", "booking_date": "2026-01-07", "amount": 0},
        {"transaction_id": "4", "account_id": "b", "booking_date": "2025-12-31", "amount": -9},
    ]]))
    spec = income_spending_summary(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    job = client.create_segment(spec)
    assert job.type == segments_pb2.SEGMENT_TYPE_INCOME_SPENDING_SUMMARY
    pages = list(client.stream_segment(job.segment_id, page_size=1))
    members = [m for p in pages for m in p.page.income_spending_summary.members]
    assert [m.user_id for m in members] == ["u1", "u2"]
    assert [(c.currency, c.incoming_count, c.incoming_sum, c.outgoing_count, c.outgoing_sum)
            for m in members for c in m.currencies] == [("USD", 0, 0, 0, 0),
                                                        ("EUR", 1, 700, 1, -50)]
    got = client.get_segment(job.segment_id).segment
    assert got.spec.income_spending_summary.from_date == "2026-01-01"
    assert got.spec.income_spending_summary.to_date == "2026-01-31"
    only_cards = income_spending_summary(dt.date(2026, 1, 1), dt.date(2026, 1, 31),
                                         account_types=["CREDIT_CARD"])
    job = client.create_segment(only_cards)
    assert [m.user_id for m in client.members(job.segment_id)] == ["u1"]


@pytest.mark.parametrize("from_date, to_date, field", [
    ("2026-02-01", "2026-01-31", "from_date"),
    ("", "2026-01-31", "from_date"),
    ("2026-01-01", "2026-13-01", "to_date"),
])
def test_bad_range_is_invalid_argument(client: FinsegClient, from_date, to_date, field) -> None:
    spec = segments_pb2.SegmentSpec(income_spending_summary=segments_pb2.IncomeSpendingSummary(
        from_date=from_date, to_date=to_date))
    with pytest.raises(grpc.RpcError) as failure:
        client.create_segment(spec)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(failure.value)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == f"spec.income_spending_summary.{field}"
