"""Rows for people and machines: one set of columns per result, printed as
a table, CSV, JSON or JSON lines with the same values in each (money as
exact decimal text in major units, `"-150.00"`, never minor units)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from finseg.client import api
from finseg.v1 import segments_pb2

FORMATS = ("table", "csv", "json", "jsonl")

#: The columns of each segment type's rows: one per account (balances),
#: per currency (summaries), per label group, per contract, per user (RFM) or
#: per merchant.
MEMBER_COLUMNS = {
    "HIGH_BALANCE": ("user_id", "account_id", "currency", "amount"),
    "LOW_BALANCE": ("user_id", "account_id", "currency", "amount", "monthly_minimums"),
    "INCOME_SPENDING_SUMMARY": ("user_id", "currency", "incoming_count", "incoming_sum",
                                "outgoing_count", "outgoing_sum"),
    "FINANCIAL_BREAKDOWN": ("user_id", "label_group", "currency", "count", "total", "average",
                            "min", "max", "median", "std_dev", "monthly_sums"),
    "INSURANCE_SPENDING": ("user_id", "provider_key", "provider_name", "insurance_type",
                           "currency", "payment_count", "first_payment", "last_payment",
                           "typical_amount", "frequency", "annual_cost"),
    "RULE": ("user_id", "metric", "value"),
    "RFM": ("user_id", "currency", "recency", "frequency", "monetary", "r_score", "f_score",
            "m_score", "rfm_code", "segment_name"),
    "MERCHANT_AFFINITY": ("merchant_key", "merchant_name", "currency", "customers",
                          "transactions", "spend"),
    # A MERCHANT_AFFINITY drill-down's rows: the merchant's customers.
    "MERCHANT_CUSTOMERS": ("user_id", "currency", "transactions", "spend", "first_purchase",
                           "last_purchase"),
}
#: RULE's metrics whose values are money (the others are counts or days).
MONEY_METRICS = ("spend(", "avg_spend(", "income(", "balance(")
SEGMENT_COLUMNS = ("segment_id", "type", "state", "created", "as_of", "members", "error")
AUDIT_COLUMNS = ("time", "subject", "action", "target", "outcome", "count", "detail")
USAGE_COLUMNS = ("type", "jobs_created", "rows_scanned", "result_rows_returned")


def money(amount: int, currency: str) -> str:
    return api.major_units(amount, currency)


def _exponent(currency: str) -> int:
    return len(api.major_units(0, currency).partition(".")[2])


def statistic(value: float, currency: str) -> str:
    """A statistic (a double in minor units, SPEC 1) in major units, with
    the currency's decimals like every amount."""
    exponent = _exponent(currency)
    return f"{value / 10 ** exponent:.{exponent}f}"


def member_rows(member: Any, currency: str = "EUR") -> Iterator[dict[str, Any]]:
    """The rows of one member; `currency` is that of an RFM or RULE segment,
    whose members carry none (RFM's are one row each)."""
    if hasattr(member, "merchant_key"):
        yield {"merchant_key": member.merchant_key, "merchant_name": member.merchant_name,
               "currency": member.currency, "customers": member.customers,
               "transactions": member.transactions,
               "spend": money(member.spend, member.currency)}
        return
    if hasattr(member, "first_purchase"):
        yield {"user_id": member.user_id, "currency": member.currency,
               "transactions": member.transactions,
               "spend": money(member.spend, member.currency),
               "first_purchase": member.first_purchase, "last_purchase": member.last_purchase}
        return
    if hasattr(member, "rfm_code"):
        yield {"user_id": member.user_id, "currency": currency, "recency": member.recency,
               "frequency": member.frequency, "monetary": money(member.monetary, currency),
               "r_score": member.r_score, "f_score": member.f_score, "m_score": member.m_score,
               "rfm_code": member.rfm_code, "segment_name": member.segment_name}
        return
    for account in getattr(member, "accounts", ()):
        row: dict[str, Any] = {"user_id": member.user_id, "account_id": account.account_id,
                               "currency": account.currency,
                               "amount": money(account.amount, account.currency)}
        if hasattr(account, "monthly_minimums"):
            row["monthly_minimums"] = [money(v, account.currency)
                                       for v in account.monthly_minimums]
        yield row
    for group in getattr(member, "groups", ()):
        currency = group.currency
        yield {"user_id": member.user_id, "label_group": group.label_group,
               "currency": currency, "count": group.count,
               "total": money(group.total, currency),
               "average": statistic(group.average, currency),
               "min": money(group.min, currency), "max": money(group.max, currency),
               "median": statistic(group.median, currency),
               "std_dev": statistic(group.std_dev, currency),
               "monthly_sums": [money(v, currency) for v in group.monthly_sums]}
    for contract in getattr(member, "contracts", ()):
        currency = contract.currency
        yield {"user_id": member.user_id, "provider_key": contract.provider_key,
               "provider_name": contract.provider_name,
               "insurance_type": contract.insurance_type, "currency": currency,
               "payment_count": contract.payment_count,
               "first_payment": contract.first_payment, "last_payment": contract.last_payment,
               "typical_amount": statistic(contract.typical_amount, currency),
               "frequency": segments_pb2.Frequency.Name(contract.frequency)
               .removeprefix("FREQUENCY_"),
               "annual_cost": statistic(contract.annual_cost, currency)}
    for metric in getattr(member, "metrics", ()):
        yield {"user_id": member.user_id, "metric": metric.metric,
               "value": rule_value(metric, currency)}
    for summary in getattr(member, "currencies", ()):
        currency = summary.currency
        yield {"user_id": member.user_id, "currency": currency,
               "incoming_count": summary.incoming_count,
               "incoming_sum": money(summary.incoming_sum, currency),
               "outgoing_count": summary.outgoing_count,
               "outgoing_sum": money(summary.outgoing_sum, currency)}


def rule_value(metric: Any, currency: str) -> str | int:
    """A RULE metric's value: money in major units, counts and days as
    integers, "" when the member has none."""
    if metric.missing:
        return ""
    if metric.metric.startswith("avg_spend("):
        return statistic(metric.average, currency)
    if metric.metric.startswith(MONEY_METRICS):
        return money(metric.value, currency)
    return int(metric.value)


def type_name(value: int) -> str:
    return segments_pb2.SegmentType.Name(value).removeprefix("SEGMENT_TYPE_")


def segment_row(segment: segments_pb2.Segment) -> dict[str, Any]:
    return {"segment_id": segment.segment_id, "type": type_name(segment.type),
            "state": segments_pb2.JobState.Name(segment.state).removeprefix("JOB_STATE_"),
            "created": _time(segment.create_time.ToDatetime(dt.UTC)),
            "as_of": segment.as_of, "members": segment.total_elements, "error": segment.error}


def audit_row(event: Any) -> dict[str, Any]:
    return {"time": _time(event.time.ToDatetime(dt.UTC)), "subject": event.subject,
            "action": event.action, "target": event.target, "outcome": event.outcome,
            "count": event.count or 1, "detail": event.detail}


def usage_row(name: str, usage: Any) -> dict[str, Any]:
    return {"type": name, "jobs_created": usage.jobs_created,
            "rows_scanned": usage.rows_scanned,
            "result_rows_returned": usage.result_rows_returned}


def _time(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(value: Any) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


def write(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], fmt: str,
          out: TextIO) -> None:
    """The rows in `fmt`, with a header (or an empty JSON array) when there
    are none."""
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False) + "\n")
        return
    if fmt == "json":
        json.dump([{c: row[c] for c in columns} for row in rows], out, ensure_ascii=False,
                  indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(row[c]) for c in columns] for row in rows)
        return
    table = [[_text(row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    for line in [list(columns), *table]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                  + "\n")
