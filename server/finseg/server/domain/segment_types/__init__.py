"""Segment types. Each module holds one type's parameters (`Params`,
`parse(raw, taxonomy)`, `to_dict`) and its `run` over a snapshot; its kernel lives in
finseg.server.kernels and its wire messages in protos/finseg/v1. Adding a
type means adding a module here and registering it below."""

from __future__ import annotations

from types import ModuleType

from . import (
    financial_breakdown,
    high_balance,
    income_spending_summary,
    insurance_spending,
    low_balance,
    rfm,
    rule,
)

TYPES: dict[str, ModuleType] = {
    module.NAME: module for module in (high_balance, low_balance, income_spending_summary,
                                       financial_breakdown, insurance_spending, rfm, rule)}
