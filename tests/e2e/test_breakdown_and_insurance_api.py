"""FINANCIAL_BREAKDOWN and INSURANCE_SPENDING over gRPC: typed pages, the
tenant's taxonomy deciding what a request may name, and every bad input of
issue 3 answered INVALID_ARGUMENT naming the field and what is allowed."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from conftest import connect
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import FinsegClient, financial_breakdown, insurance_spending
from finseg.v1 import segments_pb2, taxonomy_pb2, taxonomy_pb2_grpc

AS_OF = dt.date(2026, 4, 15)  # complete months: ... January, February, March 2026


def load(client: FinsegClient) -> None:
    client.upsert_accounts([
        {"account_id": "a", "user_id": "u1", "type": "CHECKING", "currency": "EUR",
         "balance": 0, "balance_date": "2026-03-31"},
        {"account_id": "b", "user_id": "u1", "type": "SAVINGS", "currency": "EUR",
         "balance": 0, "balance_date": "2026-03-31"}])
    rows = [("1", "a", "2026-01-31", -1000, "INSURANCE.PET", "Petplan"),
            ("2", "b", "2026-03-01", -1200, "INSURANCE.PET", "PETPLAN"),  # other account
            ("3", "a", "2026-02-14", 250_000, "SALARY", "ACME"),
            ("4", "a", "2026-03-31", -9, "GROCERIES", "REWE"),
            ("5", "a", "2026-04-01", -7, "GROCERIES", "REWE")]  # after the months
    list(client.append_transactions([[
        {"transaction_id": t, "account_id": a, "booking_date": d, "amount": amount,
         "label": label, "counterparty_name": name}
        for t, a, d, amount, label, name in rows]]))


def test_breakdown_and_insurance_pages(client: FinsegClient) -> None:
    load(client)
    job = client.create_segment(financial_breakdown(["GROCERIES", "INCOME"], 3, as_of=AS_OF))
    assert job.type == segments_pb2.SEGMENT_TYPE_FINANCIAL_BREAKDOWN
    (member,) = [m for p in client.stream_segment(job.segment_id)
                 for m in p.page.financial_breakdown.members]
    assert [(g.label_group, list(g.monthly_sums), g.count) for g in member.groups] == [
        ("GROCERIES", [0, 0, -9], 1), ("INCOME", [0, 250_000, 0], 1)]

    job = client.create_segment(insurance_spending(3, as_of=AS_OF))
    assert job.type == segments_pb2.SEGMENT_TYPE_INSURANCE_SPENDING
    (member,) = [m for p in client.stream_segment(job.segment_id)
                 for m in p.page.insurance_spending.members]
    (pet,) = member.contracts  # both accounts' payments: one contract
    assert (pet.provider_key, pet.provider_name, pet.insurance_type, pet.payment_count,
            pet.typical_amount, pet.frequency, pet.annual_cost) == (
        "petplan", "PETPLAN", "PET", 2, 1100.0, segments_pb2.FREQUENCY_MONTHLY, 13_200.0)
    assert client.get_segment(job.segment_id).segment.spec.insurance_spending.months == 3


def violation(failure: pytest.ExceptionInfo) -> error_details_pb2.BadRequest.FieldViolation:
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = error_details_pb2.BadRequest()
    rpc_status.from_call(failure.value).details[0].Unpack(bad)
    return bad.field_violations[0]


FB = "spec.financial_breakdown"
INS = "spec.insurance_spending"


@pytest.mark.parametrize("spec, field, says", [
    (financial_breakdown(["INCOMETAX"], 3), f"{FB}.label_groups[0]", "known groups: BANKING"),
    (financial_breakdown([], 3), f"{FB}.label_groups", "at least one label group"),
    (financial_breakdown(["INCOME"], 0), f"{FB}.months", "between 1 and 12"),
    (financial_breakdown(["INCOME"], 13), f"{FB}.months", "between 1 and 12"),
    (insurance_spending(0), f"{INS}.months", "between 1 and 24"),
    (insurance_spending(25), f"{INS}.months", "between 1 and 24"),
    (insurance_spending(12, ["CAR", ""]), f"{INS}.insurance_types[1]", "is empty"),
    (insurance_spending(12, ["PET.DOG"]), f"{INS}.insurance_types[0]", "contains a dot"),
    (insurance_spending(12, ["PET", "PET"]), f"{INS}.insurance_types[1]", "is repeated"),
])
def test_bad_input_names_the_field_and_what_is_allowed(client: FinsegClient, spec, field,
                                                       says) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        client.create_segment(spec)
    assert violation(failure).field == field
    assert says in failure.value.details()


def test_a_type_outside_the_taxonomy_filters_like_any_other(client: FinsegClient) -> None:
    # PET is not a node of the default taxonomy, yet INSURANCE.PET labels
    # give contracts of type PET: the filter must find them too.
    load(client)
    job = client.create_segment(insurance_spending(3, ["PET"], as_of=AS_OF))
    assert [(c.provider_key, c.insurance_type) for m in client.members(job.segment_id)
            for c in m.contracts] == [("petplan", "PET")]
    job = client.create_segment(insurance_spending(3, ["CAR"], as_of=AS_OF))
    assert client.members(job.segment_id) == []


def test_the_tenants_aliases_decide_the_insurance_type(target: str) -> None:
    with connect(target, "pet-insurer") as client:  # its own taxonomy
        load(client)
        taxonomy = taxonomy_pb2_grpc.TaxonomyServiceStub(client.channel)
        taxonomy.ReplaceTaxonomy(taxonomy_pb2.ReplaceTaxonomyRequest(
            taxonomy=taxonomy_pb2.LabelTaxonomy(
                groups=["INSURANCE", "INSURANCE.ANIMAL"],
                aliases={"INSURANCE.PET": "INSURANCE.ANIMAL"})),
            metadata=client.metadata)
        job = client.create_segment(insurance_spending(3, ["ANIMAL"], as_of=AS_OF))
        assert [c.insurance_type for m in client.members(job.segment_id)
                for c in m.contracts] == ["ANIMAL"]
        job = client.create_segment(insurance_spending(3, ["PET"], as_of=AS_OF))
        assert client.members(job.segment_id) == []
