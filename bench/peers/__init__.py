"""SPEC §4 written again for DuckDB and for Polars, as a competent analyst
would write it, to compare finseg with (issue 6).

Every peer implements the same `Query` list on the same Parquet files and
answers in the same plain form as finseg's members (`plain`), so results
are compared exactly before anything is timed. The peers read the bank's
files, not finseg's store; the only shared inputs beyond the files are
`label_groups`, the label -> requested group pairs that the tenant's
taxonomy (the default one here) defines, as an analyst would join a
category table, and `rfm_segments`, the product's table of RFM segment
names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from finseg.client import api
from finseg.server.domain.segment_types.rfm import GRID as RFM_GRID
from finseg.server.domain.taxonomy import default as default_taxonomy
from finseg.v1 import segments_pb2


@dataclass(frozen=True)
class Query:
    """One segment request: `type` is the SegmentType name; the fields that
    do not apply to it are left at their defaults."""

    name: str
    type: str
    as_of: dt.date
    currency: str = "EUR"
    threshold: int = 0
    months: int = 0
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    label_groups: tuple[str, ...] = ()
    insurance_types: tuple[str, ...] = ()
    expression: str = ""
    window_days: int = 0
    min_customers: int = 0
    counterparty: str = ""

    def spec(self) -> segments_pb2.SegmentSpec:
        """The same request for finseg."""
        if self.type == "HIGH_BALANCE":
            return api.high_balance(self.currency, self.threshold, as_of=self.as_of)
        if self.type == "LOW_BALANCE":
            return api.low_balance(self.currency, self.threshold, self.months, as_of=self.as_of)
        if self.type == "INCOME_SPENDING_SUMMARY":
            assert self.from_date is not None and self.to_date is not None
            return api.income_spending_summary(self.from_date, self.to_date)
        if self.type == "FINANCIAL_BREAKDOWN":
            return api.financial_breakdown(list(self.label_groups), self.months,
                                           as_of=self.as_of)
        if self.type == "INSURANCE_SPENDING":
            return api.insurance_spending(self.months, list(self.insurance_types),
                                          as_of=self.as_of)
        if self.type == "RULE":
            return api.rule(self.expression, currency=self.currency, as_of=self.as_of)
        if self.type == "RFM":
            return api.rfm(self.window_days, list(self.label_groups), currency=self.currency,
                           as_of=self.as_of)
        if self.type == "MERCHANT_AFFINITY":
            return api.merchant_affinity(self.months, self.min_customers, self.counterparty,
                                         as_of=self.as_of)
        raise ValueError(self.type)


#: The names of the MERCHANT_AFFINITY ranking of `queries` and of its
#: drill-down, whatever the drill-down's merchant.
MERCHANT_RANKING = "MERCHANT_AFFINITY 12 months"
MERCHANT_DRILL_DOWN = "MERCHANT_AFFINITY drill-down, largest merchant"


def queries(as_of: dt.date, high_threshold: int = 1_000_000, largest_merchant: str = ""
            ) -> list[Query]:
    """The benchmark's requests (issue 6), for a bank whose history ends the
    day before `as_of`'s month. Which merchant is the largest only the data
    says, so the drill-down is in the list only given `largest_merchant`,
    which `largest_merchant_of` picks from the ranking's members."""
    year_ago = dt.date(as_of.year - 1, as_of.month, 1)
    drill_down = [Query(MERCHANT_DRILL_DOWN, "MERCHANT_AFFINITY", as_of, months=12,
                        counterparty=largest_merchant)] if largest_merchant else []
    return [
        Query("HIGH_BALANCE", "HIGH_BALANCE", as_of, threshold=high_threshold),
        Query("LOW_BALANCE N=3", "LOW_BALANCE", as_of, threshold=0, months=3),
        Query("LOW_BALANCE N=12", "LOW_BALANCE", as_of, threshold=0, months=12),
        Query("INCOME_SPENDING_SUMMARY (a year)", "INCOME_SPENDING_SUMMARY", as_of,
              from_date=year_ago, to_date=as_of - dt.timedelta(days=1)),
        Query("FINANCIAL_BREAKDOWN 5 groups N=12", "FINANCIAL_BREAKDOWN", as_of, months=12,
              label_groups=("INCOME", "RENTANDLIVING", "INSURANCE", "GROCERIES", "SHOPPING")),
        Query("INSURANCE_SPENDING N=12", "INSURANCE_SPENDING", as_of, months=12),
        Query("RULE 3 metrics", "RULE", as_of, expression=RULE_3_METRICS),
        Query("RFM 365 days", "RFM", as_of, window_days=365),
        # At least 2 customers: the one-customer rows are mostly transfers to people.
        Query(MERCHANT_RANKING, "MERCHANT_AFFINITY", as_of, months=12, min_customers=2),
        *drill_down,
    ]


def largest_merchant_of(ranking: Iterable[dict[str, Any]]) -> str:
    """The name of the merchant with the most customers in a ranking's plain
    members (its first), "" if none has one: the nameless rows' key "" cannot
    be asked for, an empty counterparty being the ranking itself."""
    return next((m["merchant_name"] for m in ranking if m["merchant_key"]), "")


#: The benchmark's RULE. The peers implement this one expression with the
#: numbers of `ThreeMetricRule`, not RULE's language: a general parser is
#: finseg's work (domain/rules.py), and an analyst writes one query per rule.
RULE_3_METRICS = ("frequency(days=30) > 3 AND avg_spend(days=30) > 50 "
                  "OR low_balance_months(threshold=0, months=3) >= 2")


@dataclass(frozen=True)
class ThreeMetricRule:
    """RULE_3_METRICS spelt out (money in minor units of the query's
    currency, EUR): members have frequency > min_frequency and spend >
    min_average * frequency (avg_spend > 50.00, decided on integers), or
    low_balance_months >= min_low_months. `metrics` are the canonical texts
    finseg names them by, in the order the expression names them."""

    days: int = 30
    min_frequency: int = 3
    min_average: int = 5_000
    threshold: int = 0
    months: int = 3
    min_low_months: int = 2
    metrics: tuple[str, str, str] = ("frequency(days=30)", "avg_spend(days=30)",
                                     "low_balance_months(threshold=0.00, months=3)")


def three_metric_rule(query: Query) -> ThreeMetricRule:
    """The numbers of the one RULE the peers implement; any other expression
    is refused rather than answered wrongly."""
    if query.expression != RULE_3_METRICS:
        raise NotImplementedError(f"the peers implement only the RULE {RULE_3_METRICS!r}, "
                                  f"not {query.expression!r}")
    return ThreeMetricRule()


def label_groups(labels: Iterable[str], groups: Iterable[str]) -> list[tuple[str, str]]:
    """(label, group) for every label in `labels` that the default taxonomy
    puts in one of `groups` (aliases resolved: SALARY is INCOME.SALARY)."""
    taxonomy = default_taxonomy()
    return [(label, group) for group in groups for label in sorted(set(labels))
            if label and taxonomy.contains(taxonomy.group(group, "label_groups"), label)]


def rfm_segments() -> dict[str, list[Any]]:
    """RFM's segment name of each (R, F) cell, the product's grid, as a
    table to join on (r_score, f_score)."""
    cells = [(r + 1, f + 1, name) for r, row in enumerate(RFM_GRID) for f, name in enumerate(row)]
    return {"r_score": [r for r, _, _ in cells], "f_score": [f for _, f, _ in cells],
            "segment_name": [name for _, _, name in cells]}


def group_order(groups: Iterable[str]) -> dict[str, int]:
    """Each group's place among a user's rows: by the name's UTF-8 bytes."""
    return {group: i for i, group in enumerate(sorted(groups, key=str.encode))}


class Peer(Protocol):
    """What a peer engine offers the benchmark and the cross-check test.
    A peer is built from the bank's two Parquet files (loading them is not
    part of a query's time)."""

    name: str

    def run(self, query: Query) -> Any:
        """Computes the query's result and materialises it (the timed part)."""

    def members(self, result: Any) -> list[dict[str, Any]]:
        """A result of `run` in `plain`'s form (not timed)."""


def plain(members: Iterable[Message]) -> list[dict[str, Any]]:
    """finseg's member messages as plain values: a dict per message with
    every field (defaults included), int64 as int, double as float, enums
    by name without their prefix (FREQUENCY_MONTHLY -> MONTHLY), repeated
    fields as lists."""
    return [_plain(member) for member in members]


def _plain(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for descriptor in message.DESCRIPTOR.fields:
        value = getattr(message, descriptor.name)
        if descriptor.is_repeated:
            out[descriptor.name] = [_value(descriptor, v) for v in value]
        else:
            out[descriptor.name] = _value(descriptor, value)
    return out


def _value(descriptor: FieldDescriptor, value: Any) -> Any:
    if descriptor.type == FieldDescriptor.TYPE_MESSAGE:
        return _plain(value)
    if descriptor.type == FieldDescriptor.TYPE_ENUM:
        name = descriptor.enum_type.values_by_number[value].name
        return name.split("_", 1)[1] if name.startswith("FREQUENCY_") else name
    return value


def differences(expected: list[dict[str, Any]], actual: list[dict[str, Any]],
                limit: int = 5) -> list[str]:
    """Where two plain results differ (at most `limit`), doubles compared to
    a relative 1e-9: the engines sum and divide in different orders."""
    found: list[str] = []
    if len(expected) != len(actual):
        found.append(f"{len(expected)} members expected, {len(actual)} found")
    for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
        _compare(want, got, f"[{i}]", found)
        if len(found) >= limit:
            break
    return found[:limit]


def _compare(want: Any, got: Any, path: str, found: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        if set(want) != set(got):
            found.append(f"{path}: fields {sorted(want)} != {sorted(got)}")
            return
        for key in want:
            _compare(want[key], got[key], f"{path}.{key}", found)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            found.append(f"{path}: {len(want)} items expected, {len(got)} found: {got!r}")
            return
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            _compare(a, b, f"{path}[{i}]", found)
    elif isinstance(want, float) or isinstance(got, float):
        if not (isinstance(got, int | float) and isinstance(want, int | float)) or \
                abs(float(want) - float(got)) > 1e-9 * max(1.0, abs(float(want))):
            found.append(f"{path}: expected {want!r}, found {got!r}")
    elif want != got or type(want) is not type(got):
        found.append(f"{path}: expected {want!r}, found {got!r}")
