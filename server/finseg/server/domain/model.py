"""Names shared by the domain: account types, limits, currencies, dates."""

from __future__ import annotations

import datetime as dt

from iso4217 import Currency

#: Account types in the order of their stored codes (code = index + 1).
ACCOUNT_TYPES = ("CHECKING", "SAVINGS", "CREDIT_CARD", "SECURITIES", "LOAN", "MEMBERSHIP",
                 "BUILDING_SAVINGS", "OTHER")
ACCOUNT_TYPE_CODES = {name: code for code, name in enumerate(ACCOUNT_TYPES, start=1)}

MAX_ID_LENGTH = 128
#: Longest value, in characters, of each optional transaction field.
FIELD_LIMITS = {"label": 128, "counterparty_name": 256, "counterparty_iban": 42,
                "purpose": 1024, "mcc": 8, "currency": 3}
#: Amounts and balances are bounded to 10^15 minor units (10 trillion EUR),
#: so one account's sum overflows int64 only after more than 9,000 rows of
#: that size, all of one sign: far from any real account.
MAX_ABS_AMOUNT = 10**15
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)


def _currency_exponents() -> dict[str, int]:
    out = {}
    for currency in Currency:
        if currency.exponent is not None:
            out[currency.code] = int(currency.exponent)
    return out


#: ISO 4217 code -> number of minor-unit digits (EUR 2, JPY 0, BHD 3).
CURRENCY_EXPONENTS = _currency_exponents()
