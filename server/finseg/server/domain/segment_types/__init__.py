"""Segment types. Each module holds one type's parameters (`Params`,
`parse(raw, taxonomy)`, `to_dict`) and its `run` over a snapshot; its kernel lives in
finseg.server.kernels and its wire messages in protos/finseg/v1. Adding a
type means adding a module here and registering it below. A type whose
members go in another ResultPage field than its own name's (a drill-down)
says which with `page(params)`."""

from __future__ import annotations

from types import ModuleType

from . import (
    financial_breakdown,
    high_balance,
    income_spending_summary,
    insurance_spending,
    low_balance,
    merchant_affinity,
    rfm,
    rule,
)

TYPES: dict[str, ModuleType] = {
    module.NAME: module for module in (high_balance, low_balance, income_spending_summary,
                                       financial_breakdown, insurance_spending, rfm, rule,
                                       merchant_affinity)}


def page_of(record: dict) -> str:
    """The ResultPage field (upper case) a job's members are encoded for."""
    module = TYPES[record["type"]]
    if not hasattr(module, "page"):
        return record["type"]
    return str(module.page(module.parse(record["params"])))
