"""Segment jobs through a real server and the Python client (SPEC §1, §3, §4
HIGH_BALANCE and LOW_BALANCE, §8)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import connect, start_server
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client.api import FinsegClient, high_balance, low_balance
from finseg.v1 import common_pb2, segments_pb2

CODE = grpc.StatusCode
AS_OF = dt.date(2026, 3, 10)
LOWEST = -(10**15)


# ---- helpers ---------------------------------------------------------------

def acct(account_id: str, user_id: str, balance: int = 0, *, currency: str = "EUR",
         type: str = "CHECKING", balance_date: str = "2026-03-10", **extra: Any
         ) -> dict[str, Any]:
    return {"account_id": account_id, "user_id": user_id, "type": type, "currency": currency,
            "balance": balance, "balance_date": balance_date, **extra}


def tx(transaction_id: str, account_id: str, amount: int, booking_date: str) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "account_id": account_id,
            "booking_date": booking_date, "amount": amount}


def append(client: FinsegClient, *batches: Any) -> None:
    acks = list(client.append_transactions(list(batches)))
    assert len(acks) == len(batches)


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    fields: list[str] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.extend(v.field for v in bad.field_violations)
    return fields


def assert_invalid_naming(error: grpc.RpcError, name: str) -> None:
    assert error.code() == CODE.INVALID_ARGUMENT, (error.code(), error.details())
    fields = violations(error)
    assert any(name in f for f in fields) or name in (error.details() or ""), \
        f"{name!r} is named neither in {fields} nor in {error.details()!r}"


@contextlib.contextmanager
def running(data_dir: Path) -> Iterator[FinsegClient]:
    """A server on data_dir and a client of tenant acme; stop(0) at the end."""
    service = start_server(data_dir)
    try:
        with connect(f"127.0.0.1:{service.port}", "acme") as c:
            yield c
    finally:
        service.stop(0)


def run(client: FinsegClient, spec: segments_pb2.SegmentSpec) -> segments_pb2.Segment:
    """Creates a job and waits for it through StreamSegment."""
    job = client.create_segment(spec)
    assert job.segment_id
    responses = list(client.stream_segment(job.segment_id, timeout=30))
    return responses[-1].segment if responses else client.get_segment(job.segment_id).segment


def members_of(page: segments_pb2.ResultPage) -> list[Any]:
    kind = page.WhichOneof("rows")
    return list(getattr(page, kind).members) if kind else []


def summary(members: list[Any]) -> list[tuple[str, list[tuple[str, int]]]]:
    return [(m.user_id, [(a.account_id, a.amount) for a in m.accounts]) for m in members]


def get_pages(client: FinsegClient, segment_id: str, page_size: int
              ) -> list[segments_pb2.GetSegmentResponse]:
    pages, token = [], ""
    for _ in range(10_000):
        response = client.get_segment(segment_id, page_size, token)
        pages.append(response)
        token = response.next_page_token
        if not token:
            return pages
    raise AssertionError("next_page_token never ran out")


def stream_pages(client: FinsegClient, segment_id: str, page_size: int
                 ) -> list[segments_pb2.StreamSegmentResponse]:
    return list(client.stream_segment(segment_id, page_size, timeout=30))


# ---- SPEC §4 worked example --------------------------------------------------

@pytest.fixture
def worked_example(client: FinsegClient) -> FinsegClient:
    client.upsert_accounts([acct("acc", "user", 10_000, balance_date="2026-03-10")])
    append(client, [tx("t1", "acc", -15_000, "2026-01-15"), tx("t2", "acc", 20_000, "2026-01-20"),
                    tx("t3", "acc", -8_000, "2026-02-27"), tx("t4", "acc", 5_000, "2026-03-05")])
    return client


@pytest.mark.parametrize(("threshold", "member"), [(0, False), (5_000, False), (6_000, True)])
def test_low_balance_worked_example(worked_example: FinsegClient, threshold: int,
                                    member: bool) -> None:
    client = worked_example
    job = client.create_segment(low_balance("EUR", threshold, months=2, as_of=AS_OF))
    members = client.members(job.segment_id)
    if not member:
        assert members == []
        return
    assert len(members) == 1 and members[0].user_id == "user"
    [account] = members[0].accounts
    assert (account.account_id, account.currency, account.amount) == ("acc", "EUR", -7_000)
    assert list(account.monthly_minimums) == [-7_000, 5_000]


@pytest.mark.parametrize(("as_of", "eod"), [
    ("2026-01-14", 8_000), ("2026-01-15", -7_000), ("2026-01-19", -7_000),
    ("2026-01-20", 13_000), ("2026-02-27", 5_000), ("2026-03-04", 5_000),
    ("2026-03-05", 10_000), ("2026-03-10", 10_000), ("2026-04-01", 10_000),
])
def test_end_of_day_balance_of_the_worked_example(worked_example: FinsegClient, as_of: str,
                                                  eod: int) -> None:
    spec = high_balance("EUR", LOWEST, as_of=dt.date.fromisoformat(as_of))
    job = worked_example.create_segment(spec)
    assert summary(worked_example.members(job.segment_id)) == [("user", [("acc", eod)])]


# ---- the job: state, times, as_of ------------------------------------------------

def test_get_segment_before_and_after_it_finishes(client: FinsegClient) -> None:
    client.upsert_accounts([acct(f"a{i}", f"u{i}", 100 * i) for i in range(5)])
    before = dt.datetime.now(dt.UTC)
    job = client.create_segment(high_balance("EUR", 150, as_of=AS_OF))
    assert job.state == segments_pb2.JOB_STATE_PENDING
    assert job.type == segments_pb2.SEGMENT_TYPE_HIGH_BALANCE
    assert job.as_of == "2026-03-10"

    early = client.get_segment(job.segment_id)
    assert early.segment.state in (segments_pb2.JOB_STATE_PENDING, segments_pb2.JOB_STATE_RUNNING,
                                   segments_pb2.JOB_STATE_SUCCEEDED)
    assert 0.0 <= early.segment.progress <= 1.0
    assert early.segment.as_of == "2026-03-10"
    if early.segment.state != segments_pb2.JOB_STATE_SUCCEEDED:
        assert not early.HasField("page")

    created = job.create_time.ToDatetime(dt.UTC)
    expires = job.expire_time.ToDatetime(dt.UTC)
    assert before - dt.timedelta(seconds=5) <= created <= dt.datetime.now(dt.UTC)
    assert abs(expires - created - dt.timedelta(days=14)) < dt.timedelta(milliseconds=1)

    list(client.stream_segment(job.segment_id, timeout=30))
    done = client.get_segment(job.segment_id)
    assert done.segment.state == segments_pb2.JOB_STATE_SUCCEEDED
    segment = done.segment
    assert segment.segment_id == job.segment_id
    assert segment.progress == 1.0
    assert segment.total_elements == 3
    assert segment.as_of == "2026-03-10" and not segment.error
    assert segment.create_time == job.create_time and segment.expire_time == job.expire_time
    assert segment.spec.high_balance.threshold == common_pb2.Money(currency="EUR", amount=150)
    assert [m.user_id for m in members_of(done.page)] == ["u2", "u3", "u4"]
    assert done.total_pages == 1 and done.next_page_token == ""


def test_default_as_of_is_today_in_utc(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100, balance_date="2020-01-01")])
    before = dt.datetime.now(dt.UTC).date()
    job = client.create_segment(high_balance("EUR", 0))
    after = dt.datetime.now(dt.UTC).date()
    assert job.as_of in {before.isoformat(), after.isoformat()}
    finished = run(client, low_balance("EUR", 1_000, months=1))
    assert finished.as_of in {before.isoformat(), after.isoformat()}
    assert summary(client.members(job.segment_id)) == [("u1", [("a1", 100)])]


def test_stream_segment_waits_without_polling(client: FinsegClient) -> None:
    client.upsert_accounts([acct(f"a{i:02}", f"u{i:02}", 1_000 + i) for i in range(7)])
    job = client.create_segment(high_balance("EUR", 0, as_of=AS_OF))
    responses = stream_pages(client, job.segment_id, 3)
    assert [r.page_index for r in responses] == [0, 1, 2]
    assert all(r.segment.state == segments_pb2.JOB_STATE_SUCCEEDED for r in responses)
    assert all(r.segment.segment_id == job.segment_id for r in responses)
    users = [m.user_id for r in responses for m in members_of(r.page)]
    assert users == [f"u{i:02}" for i in range(7)]
    assert [len(members_of(r.page)) for r in responses] == [3, 3, 1]


def test_unknown_segment_is_not_found(client: FinsegClient) -> None:
    for segment_id in ("0" * 32, "no-such-job"):
        error = rpc_error(functools.partial(client.get_segment, segment_id))
        assert error.code() == CODE.NOT_FOUND, error.details()
        error = rpc_error(functools.partial(stream_pages, client, segment_id, 0))
        assert error.code() == CODE.NOT_FOUND, error.details()


# ---- ordering and paging -----------------------------------------------------------

USERS = ["user1", "user10", "user2", "USER7", "a b", "a,b", 'q"uote', "'single'", "ü", "u",
         "Zed", "z", "émile", "東京", "0"]
USER1_ACCOUNTS = ["b2", "a1", "B3", "a10", "a 1", "a2"]


@pytest.fixture
def many_users(client: FinsegClient) -> segments_pb2.Segment:
    rows = [acct(f"acc-{i:02}", user, 1_000 + i) for i, user in enumerate(USERS)]
    rows += [acct(a, "user1", 5_000 + i) for i, a in enumerate(USER1_ACCOUNTS)]
    client.upsert_accounts(rows)
    return run(client, high_balance("EUR", 0, as_of=AS_OF))


def test_members_ordered_by_utf8_bytes(client: FinsegClient, many_users: segments_pb2.Segment
                                       ) -> None:
    members = client.members(many_users.segment_id)
    assert [m.user_id for m in members] == sorted(USERS, key=lambda u: u.encode())
    assert [m.user_id for m in members][:3] == ["'single'", "0", "USER7"]
    order = [m.user_id for m in members]
    assert order.index("USER7") < order.index("user1") < order.index("user10") \
        < order.index("user2")
    user1 = next(m for m in members if m.user_id == "user1")
    expected = sorted(["acc-00", *USER1_ACCOUNTS], key=lambda a: a.encode())
    assert [a.account_id for a in user1.accounts] == expected
    assert many_users.total_elements == len(USERS)


@pytest.mark.parametrize("page_size", [1, 2, 3, 1000])
def test_paging_get_equals_stream_equals_all(client: FinsegClient,
                                             many_users: segments_pb2.Segment,
                                             page_size: int) -> None:
    total = len(USERS)
    everyone = client.members(many_users.segment_id)
    pages = get_pages(client, many_users.segment_id, page_size)
    streamed = stream_pages(client, many_users.segment_id, page_size)

    assert [m for p in pages for m in members_of(p.page)] == everyone
    assert [members_of(p.page) for p in pages] == [members_of(s.page) for s in streamed]
    assert [s.page_index for s in streamed] == list(range(len(streamed)))
    expected_pages = math.ceil(total / page_size)
    assert len(pages) == expected_pages
    assert all(p.total_pages == expected_pages for p in pages)
    assert all(p.segment.total_elements == total for p in pages)
    assert all(p.next_page_token for p in pages[:-1]) and pages[-1].next_page_token == ""
    assert all(len(members_of(p.page)) == page_size for p in pages[:-1])


def test_page_size_zero_means_1000(client: FinsegClient) -> None:
    client.upsert_accounts([acct(f"a{i:04}", f"u{i:04}", 100) for i in range(1001)])
    job = run(client, high_balance("EUR", 0, as_of=AS_OF))
    first = client.get_segment(job.segment_id, 0)
    assert len(members_of(first.page)) == 1000
    assert first.total_pages == 2 and first.next_page_token
    second = client.get_segment(job.segment_id, 0, first.next_page_token)
    assert [m.user_id for m in members_of(second.page)] == ["u1000"]
    assert second.next_page_token == ""
    assert [len(members_of(r.page)) for r in stream_pages(client, job.segment_id, 0)] \
        == [1000, 1]
    assert len(members_of(client.get_segment(job.segment_id, 10_000).page)) == 1001


@pytest.mark.parametrize("page_size", [-1, 10_001])
def test_bad_page_size(client: FinsegClient, many_users: segments_pb2.Segment,
                       page_size: int) -> None:
    error = rpc_error(lambda: client.get_segment(many_users.segment_id, page_size))
    assert_invalid_naming(error, "page_size")
    error = rpc_error(lambda: stream_pages(client, many_users.segment_id, page_size))
    assert_invalid_naming(error, "page_size")


def test_bad_page_tokens(client: FinsegClient, many_users: segments_pb2.Segment) -> None:
    other = run(client, high_balance("EUR", 1_002, as_of=AS_OF))
    foreign = client.get_segment(other.segment_id, 1).next_page_token
    assert foreign
    for token in ("garbage", "!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", foreign):
        error = rpc_error(functools.partial(client.get_segment, many_users.segment_id, 1, token))
        assert_invalid_naming(error, "page_token")


# ---- filters and rules -----------------------------------------------------------

@pytest.fixture
def filtered(client: FinsegClient) -> FinsegClient:
    client.upsert_accounts([
        acct("alice-chk", "alice", 10_000),
        acct("alice-sav", "alice", 20_000, type="SAVINGS"),
        acct("bob-usd", "bob", 1_000_000, currency="USD"),
        acct("bob-usd-low", "bob", -1_000_000, currency="USD"),
        acct("carol-eq", "carol", 5_000),
        acct("carol-above", "carol", 5_001, type="CREDIT_CARD"),
        acct("dave-future", "dave", 99_999, opened_on="2026-03-11"),
        acct("dave-closed", "dave", 99_999, opened_on="2020-01-01", closed_on="2026-03-10"),
        acct("erin-new", "erin", 7_000, opened_on="2026-03-10"),
        acct("erin-closing", "erin", 8_000, closed_on="2026-03-11"),
    ])
    return client


def test_high_balance_filters(filtered: FinsegClient) -> None:
    client = filtered
    everything = run(client, high_balance("EUR", 5_000, as_of=AS_OF))
    assert summary(client.members(everything.segment_id)) == [
        ("alice", [("alice-chk", 10_000), ("alice-sav", 20_000)]),
        ("carol", [("carol-above", 5_001)]),
        ("erin", [("erin-closing", 8_000), ("erin-new", 7_000)]),
    ]
    savings = run(client, high_balance("EUR", 5_000, as_of=AS_OF, account_types=["SAVINGS"]))
    assert summary(client.members(savings.segment_id)) == [("alice", [("alice-sav", 20_000)])]
    two = run(client, high_balance("EUR", 0, as_of=AS_OF,
                                   account_types=["SAVINGS", "CREDIT_CARD"]))
    assert summary(client.members(two.segment_id)) == [
        ("alice", [("alice-sav", 20_000)]), ("carol", [("carol-above", 5_001)])]
    usd = run(client, high_balance("USD", 5_000, as_of=AS_OF))
    assert summary(client.members(usd.segment_id)) == [("bob", [("bob-usd", 1_000_000)])]
    assert client.members(usd.segment_id)[0].accounts[0].currency == "USD"
    jpy = run(client, high_balance("JPY", LOWEST, as_of=AS_OF))
    assert jpy.total_elements == 0


def test_low_balance_never_mixes_currencies(filtered: FinsegClient) -> None:
    client = filtered
    eur = run(client, low_balance("EUR", 0, months=1, as_of=AS_OF))
    assert eur.total_elements == 0
    usd = run(client, low_balance("USD", 0, months=1, as_of=AS_OF))
    assert summary(client.members(usd.segment_id)) == [("bob", [("bob-usd-low", -1_000_000)])]


def test_low_balance_needs_the_account_open_in_every_month(client: FinsegClient) -> None:
    client.upsert_accounts([
        acct("from-feb", "frank", -5_000, opened_on="2026-02-01"),
        acct("from-jan-31", "gina", -5_000, opened_on="2026-01-31"),
        acct("closed-feb-01", "hank", -5_000, closed_on="2026-02-01"),
    ])
    two = run(client, low_balance("EUR", 0, months=2, as_of=AS_OF))
    assert summary(client.members(two.segment_id)) == [("gina", [("from-jan-31", -5_000)])]
    one = run(client, low_balance("EUR", 0, months=1, as_of=AS_OF))
    assert [m.user_id for m in client.members(one.segment_id)] == ["frank", "gina"]


def _spec(**kind: Any) -> segments_pb2.SegmentSpec:
    return segments_pb2.SegmentSpec(**kind)


def _money(currency: str, amount: int = 0) -> common_pb2.Money:
    return common_pb2.Money(currency=currency, amount=amount)


BAD_SPECS = {
    "months_0": (_spec(low_balance=segments_pb2.LowBalance(threshold=_money("EUR"), months=0)),
                 "spec.low_balance.months"),
    "months_25": (_spec(low_balance=segments_pb2.LowBalance(threshold=_money("EUR"), months=25)),
                  "spec.low_balance.months"),
    "months_negative": (_spec(low_balance=segments_pb2.LowBalance(threshold=_money("EUR"),
                                                                  months=-1)),
                        "spec.low_balance.months"),
    "low_threshold_missing_currency": (
        _spec(low_balance=segments_pb2.LowBalance(threshold=_money(""), months=1)),
        "spec.low_balance.threshold.currency"),
    "low_threshold_missing": (_spec(low_balance=segments_pb2.LowBalance(months=1)),
                              "spec.low_balance.threshold"),
    "high_threshold_missing_currency": (
        _spec(high_balance=segments_pb2.HighBalance(threshold=_money("", 5))),
        "spec.high_balance.threshold.currency"),
    "high_threshold_missing": (_spec(high_balance=segments_pb2.HighBalance()),
                               "spec.high_balance.threshold"),
    "currency_XYZ": (_spec(high_balance=segments_pb2.HighBalance(threshold=_money("XYZ"))),
                     "spec.high_balance.threshold.currency"),
    "currency_lower_case": (_spec(high_balance=segments_pb2.HighBalance(
        threshold=_money("eur"))), "spec.high_balance.threshold.currency"),
    "no_kind": (_spec(as_of="2026-03-10"), "spec"),
    "as_of_feb_30": (_spec(as_of="2026-02-30", high_balance=segments_pb2.HighBalance(
        threshold=_money("EUR"))), "spec.as_of"),
    "as_of_two_digit_year": (_spec(as_of="26-01-01", high_balance=segments_pb2.HighBalance(
        threshold=_money("EUR"))), "spec.as_of"),
    "as_of_month_13": (_spec(as_of="2026-13-01", high_balance=segments_pb2.HighBalance(
        threshold=_money("EUR"))), "spec.as_of"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec_is_invalid_argument(client: FinsegClient, case: str) -> None:
    spec, name = BAD_SPECS[case]
    error = rpc_error(lambda: client.create_segment(spec))
    assert_invalid_naming(error, name)


def test_valid_month_bounds(client: FinsegClient) -> None:
    for months in (1, 24):
        job = run(client, low_balance("EUR", 0, months=months, as_of=AS_OF))
        assert job.state == segments_pb2.JOB_STATE_SUCCEEDED
        assert job.spec.low_balance.months == months


# ---- stored results ---------------------------------------------------------------

def test_results_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running(data_dir) as c:
        c.upsert_accounts([acct(f"a{i}", f"u{i}", 100 + i) for i in range(5)])
        job = run(c, high_balance("EUR", 0, as_of=AS_OF))
        low = run(c, low_balance("EUR", 1_000, months=1, as_of=AS_OF))
        before = [(p.page, p.next_page_token, p.total_pages)
                  for p in get_pages(c, job.segment_id, 2)]
        low_before = c.members(low.segment_id)
    with running(data_dir) as c:
        pages = get_pages(c, job.segment_id, 2)
        assert [(p.page, p.next_page_token, p.total_pages) for p in pages] == before
        assert pages[0].segment.state == segments_pb2.JOB_STATE_SUCCEEDED
        assert pages[0].segment.total_elements == 5
        assert c.members(low.segment_id) == low_before


def test_results_are_a_snapshot(client: FinsegClient) -> None:
    later = dt.date(2026, 3, 20)
    client.upsert_accounts([acct("a1", "u1", 10_000), acct("a2", "u2", 100)])
    job = run(client, high_balance("EUR", 5_000, as_of=later))
    before = get_pages(client, job.segment_id, 1)
    assert summary(client.members(job.segment_id)) == [("u1", [("a1", 10_000)])]

    # Booked after the snapshot date (2026-03-10), so they move EOD(2026-03-20).
    append(client, [tx("t1", "a1", -9_000, "2026-03-15"), tx("t2", "a2", 9_000, "2026-03-15")])
    client.upsert_accounts([acct("a3", "u3", 50_000)])

    assert get_pages(client, job.segment_id, 1) == before
    assert summary(client.members(job.segment_id)) == [("u1", [("a1", 10_000)])]
    fresh = run(client, high_balance("EUR", 5_000, as_of=later))
    assert summary(client.members(fresh.segment_id)) == [
        ("u2", [("a2", 9_100)]), ("u3", [("a3", 50_000)])]


def test_each_job_keeps_its_own_results(client: FinsegClient) -> None:
    client.upsert_accounts([acct("a1", "u1", 100)])
    jobs = [run(client, high_balance("EUR", t, as_of=AS_OF)) for t in (0, 99, 100)]
    assert [j.total_elements for j in jobs] == [1, 1, 0]
    assert len({j.segment_id for j in jobs}) == 3
