"""INSURANCE_SPENDING (SPEC §4): per user and currency, the insurance
contracts paid in the N complete months, one per (provider key, insurance
type), with payment count, dates, typical amount, frequency and annual cost.

Insurance payments are outgoing rows labelled in the INSURANCE group. The
type is the label's second level after aliases are resolved (plain
INSURANCE is OTHER); the provider key is the counterparty name case-folded
with white space collapsed. Contracts of a user are ordered by provider key
(UTF-8 bytes), then type, then currency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import InvalidArgument, Reason, ResourceExhausted, Violation, quoted
from ...kernels import insurance
from ...kernels.calendar import complete_months
from ...storage.store import Snapshot
from ..model import FIELD_LIMITS
from ..taxonomy import Taxonomy
from ..text import unprintable_names
from .common import (
    Common,
    Progress,
    Slots,
    currency_array,
    eligible_accounts,
    nest,
    parse_months,
    user_currency_slots,
    walk,
)

NAME = "INSURANCE_SPENDING"
FIELD = "spec.insurance_spending"
MAX_MONTHS = 24
GROUP = "INSURANCE"
PLAIN = "OTHER"  # the type of a label that is just INSURANCE
# \s in a str pattern is Unicode white space (what str.isspace() says).
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Params:
    months: int
    insurance_types: tuple[str, ...]  # empty: all
    aliases: dict[str, str]           # the taxonomy's aliases when the job was made


def provider_key(name: str) -> str:
    return _SPACES.sub(" ", name.casefold()).strip()


def insurance_type(taxonomy: Taxonomy, label: str) -> str | None:
    """The insurance type of a label, None if it is not an insurance label."""
    if not taxonomy.contains(GROUP, label):
        return None
    parts = taxonomy.canonical(label).split(".")
    return parts[1] if len(parts) > 1 else PLAIN


def type_name_problem(name: str) -> str | None:
    """Why `name` cannot be an insurance type, None if some label can yield
    it: a label's second level is non-empty, holds no dot, is printable and
    fits in a label. The taxonomy does not bound it, because labels deeper
    than the taxonomy keep their second level (INSURANCE.PET gives PET)."""
    if not name:
        return "is empty; an insurance type is a label's second level (CAR, PET, ...)"
    if "." in name:
        return "contains a dot; an insurance type is one level of a label (CAR, PET, ...)"
    if len(name) > FIELD_LIMITS["label"]:
        return f"is longer than a label ({FIELD_LIMITS['label']} characters)"
    return unprintable_names([name]).get(0)


def parse(raw: dict[str, Any], taxonomy: Taxonomy | None = None) -> Params:
    """Checks a request, or reads back a stored job's params, which carry
    the aliases in force when it was created."""
    months = parse_months(raw.get("months"), f"{FIELD}.months", MAX_MONTHS)
    types = tuple(str(t) for t in raw.get("insurance_types") or [])
    if "aliases" in raw:
        return Params(months, types, dict(raw["aliases"]))
    assert taxonomy is not None, "a new request resolves aliases with the tenant's taxonomy"
    for i, name in enumerate(types):
        field = f"{FIELD}.insurance_types[{i}]"
        problem = type_name_problem(name)
        if problem is not None:
            raise InvalidArgument(f"{field} {quoted(name)} {problem}",
                                  [Violation(field, problem)],
                                  reason=Reason.UNKNOWN_INSURANCE_TYPE)
        if name in types[:i]:
            raise InvalidArgument(f"{field} {quoted(name)} is repeated",
                                  [Violation(field, "repeats an earlier type")],
                                  reason=Reason.INVALID_SPEC)
    return Params(months, types, dict(taxonomy.aliases))


def to_dict(params: Params) -> dict[str, Any]:
    return {"months": params.months, "insurance_types": list(params.insurance_types),
            "aliases": params.aliases}


def run(snapshot: Snapshot, params: Params, common: Common, progress: Progress) -> pa.Table:
    taxonomy = Taxonomy((), params.aliases)
    label_types = [insurance_type(taxonomy, label) for label in snapshot.labels().to_pylist()]
    types = sorted({t for t in label_types if t is not None
                    and (not params.insurance_types or t in params.insurance_types)},
                   key=str.encode)
    type_of_label = np.array([types.index(t) if t in types else -1 for t in label_types],
                             np.int32)
    slots = user_currency_slots(snapshot, eligible_accounts(snapshot, common))
    bounds = complete_months(common.as_of, params.months)
    start, stop = int(bounds[0]), int(bounds[-1])
    parts = [insurance.payments(block.offsets, block.dates, block.amounts, block.labels,
                                block.counterparties, slots.of_account[s], type_of_label,
                                start, stop)
             for block, s in walk(snapshot, progress)]
    rows = {name: np.concatenate([p[name] for p in parts]) if parts else np.zeros(0, dtype)
            for name, dtype in (("slot", np.int64), ("type", np.int32),
                                ("counterparty", np.int32), ("date", np.int32),
                                ("amount", np.int64))}

    # Provider keys of the spellings that occur, numbered in key order.
    used = np.nonzero(np.bincount(rows["counterparty"], minlength=1))[0]
    keys = [provider_key(name) for name in snapshot.counterparties(used).to_pylist()]
    key_names = sorted(set(keys), key=str.encode)
    key_of = np.full(int(used.max()) + 1 if used.size else 1, -1, np.int64)
    rank = {k: i for i, k in enumerate(key_names)}
    key_of[used] = [rank[k] for k in keys]

    # Order into runs of one contract, dates ascending within each.
    currencies, currency_of_slot = np.unique(slots.currency, return_inverse=True)
    currency_of_slot = currency_of_slot.reshape(-1)
    if int(len(key_names) * max(len(types), 1) * len(currencies)).bit_length() > 52:
        raise ResourceExhausted("too many distinct providers for one INSURANCE_SPENDING job",
                                reason=Reason.TOO_MANY_PROVIDERS)
    slot = rows["slot"]
    contract = ((key_of[rows["counterparty"]] * len(types) + rows["type"]) * len(currencies)
                + currency_of_slot[slot])
    # 24 months are under 2**10 days.
    key = (contract << 10) | (rows["date"].astype(np.int64) - start)
    user_position = slots.user_position
    order, starts = insurance.contract_runs(user_position[slot], key, slots.users.shape[0])
    out = insurance.contracts(starts, rows["date"][order], rows["amount"][order],
                              rows["counterparty"][order])
    first_row = order[starts[:-1]]
    c_slot = slot[first_row]
    c_key = key_of[rows["counterparty"][first_row]]
    c_type = rows["type"][first_row]
    # Names stay Arrow strings: a Python str per contract took a fifth of the job.
    names = snapshot.counterparties(out["spelling"])
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    if out["tie"].any():
        names = _settle_ties(snapshot, slots, taxonomy, out, c_slot, key_names, c_key, types,
                             c_type, names)
    per_user = np.bincount(user_position[c_slot], minlength=slots.users.shape[0])
    return nest(snapshot, slots.users, per_user, "contracts", {
        "provider_key": pa.array(key_names, pa.string()).take(pa.array(c_key)),
        "provider_name": names,
        "insurance_type": pa.array(types, pa.string()).take(pa.array(c_type)),
        "currency": currency_array(slots.currency, c_slot),
        "payment_count": pa.array(out["count"]),
        "first_payment": pa.array(out["first"], pa.date32()).cast(pa.string()),
        "last_payment": pa.array(out["last"], pa.date32()).cast(pa.string()),
        "typical_amount": pa.array(out["typical"]),
        "frequency": pa.array([f"FREQUENCY_{f}" for f in insurance.FREQUENCIES]).take(
            pa.array(out["frequency"].astype(np.int32))),
        "annual_cost": pa.array(out["annual"]),
    })

def _settle_ties(snapshot: Snapshot, slots: Slots, taxonomy: Taxonomy,
                 out: dict[str, np.ndarray], c_slot: np.ndarray, key_names: list[str],
                 c_key: np.ndarray, types: list[str], c_type: np.ndarray, names: pa.Array
                 ) -> pa.Array:
    """Contracts whose last day has payments of several spellings take the
    spelling of the greatest transaction id (UTF-8 bytes), read from the
    log: the base keeps no transaction ids. Returns `names` with theirs."""
    tied = np.nonzero(out["tie"])[0]
    accounts = np.nonzero(np.isin(slots.of_account, c_slot[tied]))[0]
    found = snapshot.find_transactions(accounts, np.unique(out["last"][tied]),
                                       ["transaction_id", "amount", "label",
                                        "counterparty_name"]).to_pylist()
    best: dict[tuple[int, str, str | None, int], tuple[bytes, str]] = {}
    for row in found:
        if row["amount"] >= 0:
            continue
        where = (int(slots.of_account[row["account"]]), provider_key(row["counterparty_name"]),
                 insurance_type(taxonomy, row["label"]), row["booking_date"])
        candidate = (row["transaction_id"].encode(), row["counterparty_name"])
        if where not in best or candidate > best[where]:
            best[where] = candidate
    settled = {}
    for j in tied:
        found_j = best.get((int(c_slot[j]), key_names[c_key[j]], types[c_type[j]],
                            int(out["last"][j])))
        if found_j is not None:
            settled[int(j)] = found_j[1]
    if not settled:
        return names
    mask = np.zeros(len(names), np.bool_)
    mask[list(settled)] = True
    return pc.replace_with_mask(names, pa.array(mask),
                                pa.array([settled[j] for j in sorted(settled)], names.type))
