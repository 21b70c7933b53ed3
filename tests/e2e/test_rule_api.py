"""RULE over gRPC: the members and metric values a marketing team's own
expression selects, and errors that say where the expression went wrong and
what was expected there, through the Python client and grpcurl."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pytest
from conftest import connect, grpcurl
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from finseg.client import api
from finseg.client.api import FinsegClient

AS_OF = dt.date(2026, 4, 15)
ISSUE_RULE = ("frequency(days=30) > 3 AND avg_spend(days=30) > 50 OR "
              "low_balance_months(threshold=0, months=3) >= 2")


def load(client: FinsegClient) -> None:
    client.upsert_accounts([
        {"account_id": f"{u}-a", "user_id": u, "type": "CHECKING", "currency": "EUR",
         "balance": balance, "balance_date": "2026-04-15"}
        for u, balance in (("shopper", 10_000), ("saver", 900_000), ("overdrawn", -5_000))
    ] + [{"account_id": "usd-a", "user_id": "dollar", "type": "CHECKING", "currency": "USD",
          "balance": 0, "balance_date": "2026-04-15"}])
    rows = [("shopper-a", f"2026-04-{day:02d}", -6_000, "SHOPPING") for day in (1, 5, 9, 14)]
    rows += [("saver-a", "2026-04-02", -100, "GROCERIES"),
             ("saver-a", "2026-03-31", 250_000, "SALARY"),
             ("overdrawn-a", "2026-01-10", -1, "GROCERIES"),  # below 0 since January
             ("usd-a", "2026-04-10", -99_000, "SHOPPING")]
    list(client.append_transactions([[
        {"transaction_id": f"t{k}", "account_id": a, "booking_date": d, "amount": amount,
         "label": label} for k, (a, d, amount, label) in enumerate(rows)]]))


def metrics(member) -> dict[str, object]:
    return {m.metric: ("missing" if m.missing else m.average or m.value) for m in member.metrics}


def test_the_issues_rule_selects_shoppers_and_the_overdrawn(module_server) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-bank") as client:
        load(client)
        job = client.create_segment(api.rule(ISSUE_RULE, as_of=AS_OF))
        members = client.members(job.segment_id)
    assert [m.user_id for m in members] == ["overdrawn", "shopper"]
    assert metrics(members[0]) == {"frequency(days=30)": 0, "avg_spend(days=30)": "missing",
                                   "low_balance_months(threshold=0.00, months=3)": 3}
    assert metrics(members[1]) == {"frequency(days=30)": 4, "avg_spend(days=30)": 6000.0,
                                   "low_balance_months(threshold=0.00, months=3)": 0}


@pytest.mark.parametrize("expression, members", [
    ("NOT recency < 5", ["overdrawn", "saver"]),  # no recency: NOT of false
    ("recency != 5", ["saver", "shopper"]),         # a missing value never compares
    ("income(days=30, group=INCOME) == 2500", ["saver"]),
    ("balance() >= 9000.00", ["saver"]),
    ("spend(group=SHOPPING) > 239.99 and frequency > 3.5", ["shopper"]),
    ("frequency(days=1) > 0", []),
])
def test_readings_of_missing_values_groups_and_literals(module_server, expression,
                                                         members) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-readings") as client:
        if not client.members(client.create_segment(
                api.rule("balance() != 123", as_of=AS_OF)).segment_id):
            load(client)
        job = client.create_segment(api.rule(expression, as_of=AS_OF))
        assert [m.user_id for m in client.members(job.segment_id)] == members


def refusal(client: FinsegClient, expression: str, **options) -> tuple[str, dict[str, str]]:
    with pytest.raises(grpc.RpcError) as failure:
        client.create_segment(api.rule(expression, **options))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_details_pb2.ErrorInfo()
    for detail in rpc_status.from_call(failure.value).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
    return failure.value.details(), {"reason": info.reason, **info.metadata}


@pytest.mark.parametrize("expression, says", [
    ("frequency(days=30) > ", "spec.rule.expression at 21: expected a number after '>'"),
    ("freq > 3", "spec.rule.expression at 0: unknown metric 'freq'; metrics are avg_spend, "
                 "balance, frequency, income, low_balance_months, recency, spend"),
    ("spend(dayz=3) > 1", "spec.rule.expression at 6: unknown argument 'dayz' of spend; "
                          "it takes days, group, type"),
    ("spend > 1.001", "spec.rule.expression at 8: "),
    ("(spend > 1", "spec.rule.expression at 10: "),
])
def test_a_malformed_rule_says_where_and_what_was_expected(module_server, expression,
                                                           says) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-errors") as client:
        message, info = refusal(client, expression)
    assert message.startswith(says), message
    assert info["reason"] == "INVALID_RULE"


def test_an_unknown_group_lists_the_tenants_groups(module_server) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-errors") as client:
        message, info = refusal(client, "spend(days=7, group=PETS) > 0")
    assert message.startswith("spec.rule.expression at 20: 'PETS' is not a label group of "
                              "this tenant's taxonomy; known groups: "), message
    assert "GROCERIES" in message and info["reason"] == "UNKNOWN_LABEL_GROUP"


@pytest.mark.parametrize("expression", ["spend > 1 AND " * 400 + "spend > 1",
                                        "(" * 100_000 + "spend > 1" + ")" * 100_000,
                                        "NOT " * 5000 + "spend > 1"])
def test_rules_beyond_the_limits_are_invalid_not_internal(module_server, expression) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-errors") as client:
        _, info = refusal(client, expression)
    assert info["reason"] == "INVALID_RULE"


def test_jpy_money_literals_take_no_decimals(module_server) -> None:
    with connect(f"127.0.0.1:{module_server.port}", "rule-errors") as client:
        message, _ = refusal(client, "spend > 1.5", currency="JPY")
        assert "JPY" in message
        client.create_segment(api.rule("spend > 15", currency="JPY"))


def test_grpcurl_creates_a_rule_segment_and_reads_its_metrics(module_server) -> None:
    target = f"127.0.0.1:{module_server.port}"
    with connect(target, "rule-grpcurl") as client:
        load(client)
    spec = {"spec": {"as_of": "2026-04-15", "rule": {"expression": ISSUE_RULE}}}
    created = grpcurl(target, "finseg.v1.SegmentService/CreateSegment",
                      data=json.dumps(spec), tenant="rule-grpcurl")
    assert created.returncode == 0, created.stderr
    segment_id = json.loads(created.stdout)["segment"]["segment_id"]
    streamed = grpcurl(target, "finseg.v1.SegmentService/StreamSegment",
                       data=json.dumps({"segment_id": segment_id}), tenant="rule-grpcurl")
    assert streamed.returncode == 0, streamed.stderr
    (page,) = [json.loads(part) for part in streamed.stdout.replace("}\n{", "}\n\x00{")
               .split("\x00")]
    shopper = page["page"]["rule"]["members"][1]
    assert shopper == {"user_id": "shopper", "metrics": [
        {"metric": "frequency(days=30)", "value": "4"},
        {"metric": "avg_spend(days=30)", "average": 6000},
        {"metric": "low_balance_months(threshold=0.00, months=3)"}]}
