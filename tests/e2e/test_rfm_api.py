"""RFM over gRPC against one real server: members equal the plain reference
(naive.rfm_ref) on a small random bank, bad input named by its field and
reason, the scope segments:create:rfm, order by user_id bytes, paging,
usage, grpcurl, and erasure from stored results."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import jwt
import numpy as np
import pytest
from conftest import SECRET, SECRET_FILE, connect, grpcurl, token_for

from finseg.cli.tokens import ALL_SCOPES
from finseg.client.api import FinsegClient, income_spending_summary, rfm
from finseg.client.errors import FinsegError
from finseg.server.app import Service
from finseg.server.domain import taxonomy
from finseg.v1 import segments_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server" / "kernels"))
import naive  # noqa: E402

AS_OF = dt.date(2026, 3, 31)
TAXONOMY = taxonomy.default()
#: Ids whose UTF-8 byte order is not their number order.
USERS = ["USER7", "user1", "user10", "user2", "üser", "u,\"q\""]
TYPES = ["CHECKING", "SAVINGS", "CREDIT_CARD"]
LABELS = ["", "SALARY", "GROCERIES", "SHOPPING", "SHOPPING.ONLINE", "INSURANCE.CAR",
          "RENTANDLIVING.RENT"]


@pytest.fixture(scope="module")
def target(module_server: Service) -> str:
    return f"127.0.0.1:{module_server.port}"


def random_bank(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    accounts = [{"account_id": f"acc-{i:03d}", "user_id": USERS[i % 6] + str(i // 6),
                 "type": TYPES[int(rng.integers(3))],
                 "currency": "EUR" if rng.random() < 0.8 else "USD",
                 "balance": 0, "balance_date": "2026-03-31"} for i in range(50)]
    # Few days and amounts, so that figures tie; a few rows after as_of.
    transactions = [{"transaction_id": f"t{k}", "account_id": f"acc-{int(rng.integers(50)):03d}",
                     "booking_date": AS_OF - dt.timedelta(days=int(rng.integers(-3, 60))),
                     "amount": int(rng.choice([-2500, -1000, -1000, -99, 0, 500])),
                     "label": LABELS[int(rng.integers(len(LABELS)))]} for k in range(600)]
    return accounts, transactions


def load(client: FinsegClient, accounts: list[dict[str, Any]],
         transactions: list[dict[str, Any]]) -> None:
    client.upsert_accounts(accounts)
    list(client.append_transactions([[{**t, "booking_date": t["booking_date"].isoformat()}
                                      for t in transactions]]))


@pytest.fixture(scope="module")
def reference_bank(target: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    accounts, transactions = random_bank(3)
    with connect(target, "rfm-reference") as client:
        load(client, accounts, transactions)
    return accounts, transactions


def plain(members: list[Any]) -> list[dict[str, Any]]:
    return [{f.name: getattr(m, f.name) for f in segments_pb2.RfmMember.DESCRIPTOR.fields}
            for m in members]


def in_groups(groups: tuple[str, ...]) -> Any:
    return (lambda label: any(TAXONOMY.contains(g, label) for g in groups)) if groups else None


@pytest.mark.parametrize(("window", "groups", "currency", "types", "names"), [
    (30, (), "EUR", (), ()),
    (45, ("SHOPPING", "GROCERIES"), "EUR", (), ()),
    (7, (), "USD", (), ()),
    (60, ("SALARY",), "EUR", ("CHECKING", "SAVINGS"), ()),
    (30, (), "EUR", (), ("Champions", "Lost", "At risk", "Potential loyalist")),
], ids=["all", "groups", "usd", "types-alias", "names"])
def test_members_equal_the_reference(reference_bank: Any, target: str, window: int,
                                     groups: tuple[str, ...], currency: str,
                                     types: tuple[str, ...], names: tuple[str, ...]) -> None:
    accounts, transactions = reference_bank
    with connect(target, "rfm-reference") as client:
        job = client.create_segment(rfm(window, groups, currency=currency, segment_names=names,
                                        account_types=types, as_of=AS_OF))
        assert job.type == segments_pb2.SEGMENT_TYPE_RFM
        got = plain(client.members(job.segment_id))
        echo = client.get_segment(job.segment_id, page_size=1).segment.spec.rfm
    want = naive.rfm_ref(accounts, transactions, AS_OF, window, currency=currency,
                         account_types=types, in_groups=in_groups(groups), segment_names=names)
    assert len(want) >= 3, "a check on nothing proves nothing"
    assert got == want
    assert (echo.window_days, list(echo.label_groups), echo.currency,
            list(echo.segment_names)) == (window, list(groups), currency, list(names))


def test_the_currency_defaults_to_eur_and_the_job_says_so(target: str) -> None:
    with connect(target, "rfm-default") as client:
        load(client, [{"account_id": "e", "user_id": "eve", "type": "CHECKING",
                       "currency": "EUR", "balance": 0, "balance_date": "2026-03-31"},
                      {"account_id": "u", "user_id": "uma", "type": "CHECKING",
                       "currency": "USD", "balance": 0, "balance_date": "2026-03-31"}],
             [{"transaction_id": "1", "account_id": "e", "booking_date": AS_OF,
               "amount": -1500},
              {"transaction_id": "2", "account_id": "u", "booking_date": AS_OF,
               "amount": -1500}])
        spec = segments_pb2.SegmentSpec(rfm=segments_pb2.Rfm(window_days=1),
                                        as_of=AS_OF.isoformat())
        job = client.create_segment(spec)
        (member,) = client.members(job.segment_id)
        assert client.get_segment(job.segment_id).segment.spec.rfm.currency == "EUR"
    # Bought on as_of: recency 0; the only member scores 1 everywhere.
    assert (member.user_id, member.recency, member.frequency, member.monetary,
            member.rfm_code, member.segment_name) == ("eve", 0, 1, 1500, "111", "Lost")


@pytest.mark.parametrize(("spec", "field", "reason", "says"), [
    (rfm(0), "spec.rfm.window_days", "INVALID_SPEC", "between 1 and 3660"),
    (rfm(3661), "spec.rfm.window_days", "INVALID_SPEC", "between 1 and 3660"),
    (rfm(-1), "spec.rfm.window_days", "INVALID_SPEC", "between 1 and 3660"),
    (rfm(30, ["INCOMETAX"]), "spec.rfm.label_groups[0]", "UNKNOWN_LABEL_GROUP",
     "known groups: BANKING"),
    (rfm(30, ["INCOME", "INCOME"]), "spec.rfm.label_groups", "INVALID_SPEC", "no repeats"),
    (rfm(30, segment_names=["Champions", "VIP"]), "spec.rfm.segment_names[1]",
     "UNKNOWN_SEGMENT_NAME", "'Champions', 'Loyal', 'Potential loyalist', 'New', 'Promising', "
     "'Need attention', 'About to sleep', 'At risk', 'Cannot lose them', 'Hibernating', "
     "'Lost'"),
    (rfm(30, currency="EURO"), "spec.rfm.currency", "INVALID_SPEC", "ISO 4217"),
    (rfm(30, segment_names=["Lost", "Lost"]), "spec.rfm.segment_names[1]", "INVALID_SPEC",
     "is repeated"),
    # A name sent 20,000 characters long is quoted, not echoed whole.
    (rfm(30, segment_names=["L" * 20_000]), "spec.rfm.segment_names[0]",
     "UNKNOWN_SEGMENT_NAME", "(20,000 characters) is not an RFM segment name"),
], ids=["zero", "too-long", "negative", "unknown-group", "repeated-group", "unknown-name",
        "currency", "repeated-name", "huge-name"])
def test_bad_input_names_the_field_and_the_reason(target: str, spec, field: str, reason: str,
                                                  says: str) -> None:
    with connect(target, "rfm-bad") as client, pytest.raises(FinsegError) as failure:
        client.create_segment(spec)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.value.violations[0].field == field
    assert failure.value.reason == reason
    assert says in failure.value.details()


def test_rfm_needs_its_create_scope(target: str) -> None:
    assert "segments:create:rfm" in ALL_SCOPES
    # `finseg token` mints it by default.
    minted = subprocess.run([sys.executable, "-m", "finseg.cli.main", "token", "--tenant",
                             "rfm-scope", "--secret-file", str(SECRET_FILE)],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    claims = jwt.decode(minted.strip(), SECRET, algorithms=["HS256"], audience="finseg")
    assert "segments:create:rfm" in claims["scope"].split(" ")

    without = [s for s in ALL_SCOPES if s != "segments:create:rfm"]
    with FinsegClient(target, token_for("rfm-scope", without)) as client:
        with pytest.raises(FinsegError) as refused:
            client.create_segment(rfm(30, as_of=AS_OF))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert refused.value.reason == "MISSING_SCOPE"
        assert "segments:create:rfm" in refused.value.details()
        # The other types' scopes are still there.
        client.create_segment(income_spending_summary(dt.date(2026, 1, 1), AS_OF))
    only = ["segments:create:rfm", "segments:read", "usage:read"]
    with FinsegClient(target, token_for("rfm-scope", only)) as client:
        job = client.create_segment(rfm(30, as_of=AS_OF))
        assert client.members(job.segment_id) == []
        assert client.usage_by_type()["RFM"].jobs_created == 1


def test_members_are_ordered_by_user_id_bytes_and_page(target: str) -> None:
    users = ["user2", "üser", "USER7", "user10", "user1", "Zed", "a", "b b"]
    with connect(target, "rfm-pages") as client:
        load(client, [{"account_id": f"a-{u}", "user_id": u, "type": "CHECKING",
                       "currency": "EUR", "balance": 0, "balance_date": "2026-03-31"}
                      for u in users],
             [{"transaction_id": f"t-{u}", "account_id": f"a-{u}",
               "booking_date": AS_OF - dt.timedelta(days=k), "amount": -100 * (k + 1)}
              for k, u in enumerate(users)])
        job = client.create_segment(rfm(365, as_of=AS_OF))
        streamed = list(client.stream_segment(job.segment_id, page_size=3))
        assert [len(p.page.rfm.members) for p in streamed] == [3, 3, 2]
        assert [p.page_index for p in streamed] == [0, 1, 2]
        members = [m for p in streamed for m in p.page.rfm.members]
        paged = [m for p in client.pages(job.segment_id, page_size=3) for m in p.page.rfm.members]
        first = client.get_segment(job.segment_id, page_size=3)
    assert [m.user_id for m in members] == sorted(users, key=str.encode)
    assert paged == members
    assert (first.segment.total_elements, first.total_pages) == (8, math.ceil(8 / 3))
    assert first.next_page_token
    # The newest and biggest purchase is user2's (k = 0: recency 0, least
    # spent); the ranks are strict, so the scores spread over 1..5.
    by_user = {m.user_id: m for m in members}
    assert by_user["user2"].r_score == 5 and by_user["user2"].m_score == 1
    assert by_user["b b"].r_score == 1 and by_user["b b"].m_score == 5


def test_grpcurl_prints_rfm_members(target: str) -> None:
    with connect(target, "rfm-grpcurl") as client:
        load(client, [{"account_id": "g", "user_id": "gus", "type": "CHECKING",
                       "currency": "EUR", "balance": 0, "balance_date": "2026-03-31"}],
             [{"transaction_id": "1", "account_id": "g", "booking_date": AS_OF,
               "amount": -4200}])
    created = grpcurl(target, "finseg.v1.SegmentService/CreateSegment", tenant="rfm-grpcurl",
                      data=json.dumps({"spec": {"as_of": AS_OF.isoformat(),
                                                "rfm": {"window_days": 30}}}))
    assert created.returncode == 0, created.stderr
    segment = json.loads(created.stdout)["segment"]
    assert segment["type"] == "SEGMENT_TYPE_RFM"
    streamed = grpcurl(target, "finseg.v1.SegmentService/StreamSegment", tenant="rfm-grpcurl",
                       data=json.dumps({"segment_id": segment["segment_id"]}))
    assert streamed.returncode == 0, streamed.stderr
    page = json.loads(streamed.stdout)["page"]
    assert page == {"rfm": {"members": [{
        "user_id": "gus", "frequency": "1", "monetary": "4200", "r_score": 1, "f_score": 1,
        "m_score": 1, "rfm_code": "111", "segment_name": "Lost"}]}}


def test_erasure_removes_the_user_from_stored_results(target: str) -> None:
    with connect(target, "rfm-erasure") as client:
        load(client, [{"account_id": f"a-{u}", "user_id": u, "type": "CHECKING",
                       "currency": "EUR", "balance": 0, "balance_date": "2026-03-31"}
                      for u in ("erika", "max", "nina")],
             [{"transaction_id": f"t-{u}", "account_id": f"a-{u}", "booking_date": AS_OF,
               "amount": -100 * (k + 1)} for k, u in enumerate(("erika", "max", "nina"))])
        job = client.create_segment(rfm(30, as_of=AS_OF))
        before = {m.user_id: m for m in client.members(job.segment_id)}
        assert sorted(before) == ["erika", "max", "nina"]
        client.delete_user("erika")
        after = client.members(job.segment_id)
        assert client.get_segment(job.segment_id).segment.total_elements == 2
        # The others keep the scores the job computed.
        assert after == [before["max"], before["nina"]]
        fresh = client.create_segment(rfm(30, as_of=AS_OF))
        assert [m.user_id for m in client.members(fresh.segment_id)] == ["max", "nina"]
