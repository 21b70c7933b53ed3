"""MERCHANT_AFFINITY over gRPC against one real server: the ranking and the
drill-down equal the plain reference on a random bank, page by page; bad
input named by its field; the scope segments:create:merchant_affinity and
usage; erasure, which scrubs a drill-down and runs a ranking again."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from conftest import connect, token_for

from finseg.cli.tokens import ALL_SCOPES
from finseg.client.api import FinsegClient, merchant_affinity
from finseg.client.errors import FinsegError
from finseg.server.app import Service
from finseg.v1 import segments_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server" / "domain"))
from test_merchant_affinity import bank, customers_ref, ranking_ref  # noqa: E402

AS_OF = dt.date(2026, 3, 10)
SCOPE = "segments:create:merchant_affinity"


@pytest.fixture(scope="module")
def target(module_server: Service) -> str:
    return f"127.0.0.1:{module_server.port}"


def load(client: FinsegClient, accounts: list[dict[str, Any]],
         transactions: list[dict[str, Any]]) -> None:
    client.upsert_accounts([{**a, "balance_date": a["balance_date"].isoformat()}
                            for a in accounts])
    list(client.append_transactions([[{**t, "booking_date": t["booking_date"].isoformat()}
                                      for t in transactions]]))


def plain(members: list[Any], message: Any) -> list[dict[str, Any]]:
    return [{f.name: getattr(m, f.name) for f in message.DESCRIPTOR.fields} for m in members]


@pytest.fixture(scope="module")
def reference_bank(target: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    accounts, transactions = bank(np.random.default_rng(11), 30, 900, AS_OF)
    with connect(target, "ma-reference") as client:
        load(client, accounts, transactions)
    return accounts, transactions


def test_ranking_and_drill_down_equal_the_reference(target: str, reference_bank) -> None:
    accounts, transactions = reference_bank
    with connect(target, "ma-reference") as client:
        job = client.create_segment(merchant_affinity(3, as_of=AS_OF))
        assert job.type == segments_pb2.SEGMENT_TYPE_MERCHANT_AFFINITY
        pages = list(client.stream_segment(job.segment_id, page_size=2))
        assert all(p.page.WhichOneof("rows") == "merchant_affinity" for p in pages)
        got = [m for p in pages for m in p.page.merchant_affinity.members]
        want = ranking_ref(accounts, transactions, AS_OF, 3, 0, ())
        assert len(pages) == -(-len(want) // 2) and len(want) > 2
        assert plain(got, segments_pb2.MerchantAffinityMember) == want

        least = want[0]["customers"]
        job = client.create_segment(merchant_affinity(3, least, as_of=AS_OF))
        assert plain(client.members(job.segment_id), segments_pb2.MerchantAffinityMember) == \
            ranking_ref(accounts, transactions, AS_OF, 3, least, ())

        job = client.create_segment(merchant_affinity(3, counterparty="STRASSE", as_of=AS_OF))
        pages = list(client.stream_segment(job.segment_id, page_size=4))
        assert all(p.page.WhichOneof("rows") == "merchant_customers" for p in pages)
        got = [m for p in pages for m in p.page.merchant_customers.members]
        want = customers_ref(accounts, transactions, AS_OF, 3, "straße", ())
        assert want and plain(got, segments_pb2.MerchantCustomer) == want
        spec = client.get_segment(job.segment_id).segment.spec.merchant_affinity
        assert (spec.months, spec.counterparty) == (3, "STRASSE")


@pytest.mark.parametrize(("spec", "field", "says"), [
    (merchant_affinity(0), "spec.merchant_affinity.months", "between 1 and 24"),
    (merchant_affinity(25), "spec.merchant_affinity.months", "between 1 and 24"),
    (merchant_affinity(3, -1), "spec.merchant_affinity.min_customers", "0 or more"),
    (merchant_affinity(3, counterparty="x" * 300), "spec.merchant_affinity.counterparty",
     "256 characters"),
], ids=["zero-months", "too-many-months", "negative-minimum", "long-name"])
def test_bad_input_names_the_field(target: str, spec, field: str, says: str) -> None:
    with connect(target, "ma-bad") as client, pytest.raises(FinsegError) as failure:
        client.create_segment(spec)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.violations[0].field == field
    assert failure.value.reason == "INVALID_SPEC"
    assert says in failure.value.details()


def test_merchant_affinity_needs_its_create_scope(target: str) -> None:
    assert SCOPE in ALL_SCOPES
    without = [s for s in ALL_SCOPES if s != SCOPE]
    with FinsegClient(target, token_for("ma-scope", without)) as client:
        with pytest.raises(FinsegError) as refused:
            client.create_segment(merchant_affinity(3, as_of=AS_OF))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert SCOPE in refused.value.details()
    with FinsegClient(target, token_for("ma-scope", [SCOPE, "segments:read",
                                                     "usage:read"])) as client:
        job = client.create_segment(merchant_affinity(3, as_of=AS_OF))
        assert client.members(job.segment_id) == []
        assert client.usage_by_type()["MERCHANT_AFFINITY"].jobs_created == 1


def test_erasure_scrubs_the_drill_down_and_reruns_the_ranking(target: str) -> None:
    users = ("erika", "max", "nina")
    with connect(target, "ma-erasure") as client:
        client.upsert_accounts([{"account_id": f"a-{u}", "user_id": u, "type": "CHECKING",
                                 "currency": "EUR", "balance": 0,
                                 "balance_date": "2026-03-01"} for u in users])
        list(client.append_transactions([[
            {"transaction_id": f"t-{u}-{k}", "account_id": f"a-{u}",
             "booking_date": f"2026-02-{10 + k:02d}", "amount": -100 * (i + 1),
             "counterparty_name": name}
            for i, u in enumerate(users) for k, name in enumerate(("Aldi", "Edeka")[:i + 1])]]))
        ranking = client.create_segment(merchant_affinity(1, as_of=AS_OF)).segment_id
        drill = client.create_segment(merchant_affinity(1, counterparty="ALDI",
                                                        as_of=AS_OF)).segment_id
        before = [(m.merchant_key, m.customers, m.spend) for m in client.members(ranking)]
        assert before == [("aldi", 3, 600), ("edeka", 2, 500)]
        assert [m.user_id for m in client.members(drill)] == ["erika", "max", "nina"]

        client.delete_user("nina")
        assert [m.user_id for m in client.members(drill)] == ["erika", "max"]
        # The ranking is computed again without nina's payments.
        after = [(m.merchant_key, m.customers, m.spend) for m in client.members(ranking)]
        assert after == [("aldi", 2, 300), ("edeka", 1, 200)]
        segment = client.get_segment(ranking).segment
        assert segment.state == segments_pb2.JOB_STATE_SUCCEEDED
        assert segment.total_elements == 2
