"""Plain reference for INSURANCE_SPENDING (SPEC §1 and §4), written from the spec
text only, for use as a test oracle. Clarity over speed; no numpy.

    insurance_spending_ref(accounts, transactions, as_of, months,
                           insurance_types=(), account_types=()) -> list[dict]

accounts:     dicts with account_id, user_id, type, currency.
transactions: dicts with transaction_id, account_id, booking_date (dt.date),
              amount (int, minor units, signed), label (str | None),
              counterparty_name (str | None).

Returns one {"user_id", "contracts"} per user with at least one contract,
ordered by the user id's UTF-8 bytes; contracts ordered by (provider_key
UTF-8 bytes, insurance_type, currency).
"""

from __future__ import annotations

import datetime as dt
import re

INSURANCE = "INSURANCE"

# Frequency bands: closed intervals of the median gap in days, and payments per year.
BANDS = [
    ("MONTHLY", 25, 35, 12),
    ("QUARTERLY", 80, 100, 4),
    ("HALF_YEARLY", 170, 195, 2),
    ("YEARLY", 350, 380, 1),
]

# In Python's default (Unicode) mode for str patterns, \s matches exactly the
# characters for which str.isspace() is true (checked over all code points).
_WHITESPACE_RUN = re.compile(r"\s+")


def utf8(s: str) -> bytes:
    return s.encode("utf-8")


def in_insurance_group(label: str | None) -> bool:
    return label is not None and (label == INSURANCE or label.startswith(INSURANCE + "."))


def insurance_type(label: str) -> str:
    """The label's second dot level; plain INSURANCE -> OTHER."""
    parts = label.split(".")
    if len(parts) < 2:
        return "OTHER"
    return parts[1]


def provider_key(name: str | None) -> str:
    if name is None:
        return ""
    folded = name.casefold()
    collapsed = _WHITESPACE_RUN.sub(" ", folded)
    return collapsed.strip()


def month_index(d: dt.date) -> int:
    return d.year * 12 + (d.month - 1)


def window(as_of: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """First and last day (both included) of the N complete months before as_of's month."""
    first_month = month_index(as_of) - months
    start = dt.date(first_month // 12, first_month % 12 + 1, 1)
    end = dt.date(as_of.year, as_of.month, 1) - dt.timedelta(days=1)
    return start, end


def median(values: list) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of nothing")
    mid = n // 2
    if n % 2 == 1:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


def frequency(dates: list[dt.date]) -> str:
    distinct = sorted(set(dates))
    if len(distinct) == 1:
        return "ONCE"
    gaps = [(distinct[i + 1] - distinct[i]).days for i in range(len(distinct) - 1)]
    m = median(gaps)
    for name, low, high, _per_year in BANDS:
        if low <= m <= high:
            return name
    return "IRREGULAR"


def annual_cost(freq: str, typical: float, payments: list[int]) -> float:
    for name, _low, _high, per_year in BANDS:
        if freq == name:
            return typical * per_year
    # ONCE and IRREGULAR: the sum of the payments (as a positive amount).
    return float(sum(payments))


def insurance_spending_ref(accounts, transactions, as_of: dt.date, months: int,
                           insurance_types=(), account_types=()) -> list[dict]:
    if not 1 <= months <= 24:
        raise ValueError("months must be in 1..24")
    start, end = window(as_of, months)
    accounts_by_id = {a["account_id"]: a for a in accounts}

    # (user_id, currency, provider_key, insurance_type) -> list of transactions
    contracts: dict[tuple[str, str, str, str], list[dict]] = {}
    for t in transactions:
        account = accounts_by_id.get(t["account_id"])
        if account is None:
            continue
        if account_types and account["type"] not in account_types:
            continue
        if not t["amount"] < 0:
            continue
        if not start <= t["booking_date"] <= end:
            continue
        if not in_insurance_group(t["label"]):
            continue
        itype = insurance_type(t["label"])
        if insurance_types and itype not in insurance_types:
            continue
        key = (account["user_id"], account["currency"],
               provider_key(t["counterparty_name"]), itype)
        contracts.setdefault(key, []).append(t)

    per_user: dict[str, list[dict]] = {}
    for (user_id, currency, pkey, itype), txs in contracts.items():
        payments = [-t["amount"] for t in txs]
        dates = [t["booking_date"] for t in txs]
        # Most recent spelling: latest booking date, then greatest transaction id (UTF-8).
        latest = max(txs, key=lambda t: (t["booking_date"], utf8(t["transaction_id"])))
        name = latest["counterparty_name"]
        typical = median(payments)
        freq = frequency(dates)
        per_user.setdefault(user_id, []).append({
            "currency": currency,
            "provider_key": pkey,
            "provider_name": "" if name is None else name,
            "insurance_type": itype,
            "payment_count": len(txs),
            "first_payment": min(dates),
            "last_payment": max(dates),
            "typical_amount": typical,
            "frequency": freq,
            "annual_cost": annual_cost(freq, typical, payments),
        })

    result = []
    for user_id in sorted(per_user, key=utf8):
        rows = sorted(per_user[user_id], key=lambda c: (
            utf8(c["provider_key"]), utf8(c["insurance_type"]), utf8(c["currency"])))
        result.append({"user_id": user_id, "contracts": rows})
    return result
