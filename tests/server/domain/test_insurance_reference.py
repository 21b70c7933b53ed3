"""Tests of the plain INSURANCE_SPENDING reference itself, on hand-made cases
taken from SPEC §1 and §4."""

from __future__ import annotations

import datetime as dt

import pytest
from insurance_reference import insurance_spending_ref, provider_key

D = dt.date
AS_OF = D(2026, 3, 25)  # 12 complete months: March 2025 .. February 2026

ACCOUNTS = [
    {"account_id": "a1", "user_id": "u1", "type": "CHECKING", "currency": "EUR"},
    {"account_id": "a2", "user_id": "u1", "type": "CREDIT_CARD", "currency": "EUR"},
    {"account_id": "a3", "user_id": "u1", "type": "CHECKING", "currency": "USD"},
    {"account_id": "b1", "user_id": "u2", "type": "CHECKING", "currency": "EUR"},
]

_counter = iter(range(10**9))


def tx(date, amount=-1000, label="INSURANCE.CAR", name="Allianz", account="a1", tid=None):
    return {"transaction_id": tid if tid is not None else f"t{next(_counter):06d}",
            "account_id": account, "booking_date": date, "amount": amount,
            "label": label, "counterparty_name": name}


def run(txs, months=12, **kw):
    return insurance_spending_ref(ACCOUNTS, txs, AS_OF, months, **kw)


def only_contract(txs, **kw):
    result = run(txs, **kw)
    assert len(result) == 1 and len(result[0]["contracts"]) == 1, result
    return result[0]["contracts"][0]


def two_payments(gap):
    first = D(2025, 3, 1)
    return [tx(first), tx(first + dt.timedelta(days=gap))]


@pytest.mark.parametrize("gap, expected", [
    (24, "IRREGULAR"), (25, "MONTHLY"), (35, "MONTHLY"), (36, "IRREGULAR"),
    (79, "IRREGULAR"), (80, "QUARTERLY"), (100, "QUARTERLY"), (101, "IRREGULAR"),
    (169, "IRREGULAR"), (170, "HALF_YEARLY"), (195, "HALF_YEARLY"), (196, "IRREGULAR"),
    (349, "IRREGULAR"), (350, "YEARLY"),
])
def test_frequency_band_edges(gap, expected):
    c = only_contract(two_payments(gap))
    assert c["frequency"] == expected
    assert c["payment_count"] == 2
    per_year = {"MONTHLY": 12, "QUARTERLY": 4, "HALF_YEARLY": 2, "YEARLY": 1}
    if expected == "IRREGULAR":
        assert c["annual_cost"] == 2000.0
    else:
        assert c["annual_cost"] == 1000.0 * per_year[expected]


@pytest.mark.parametrize("gap, expected", [(380, "YEARLY"), (381, "IRREGULAR")])
def test_yearly_upper_edge(gap, expected):
    # A gap of 380/381 days does not fit in 12 months; use the 24-month window.
    first = D(2024, 3, 1)
    txs = [tx(first), tx(first + dt.timedelta(days=gap))]
    c = only_contract(txs, months=24)
    assert c["frequency"] == expected


def test_median_gap_35_5_is_irregular():
    # Three distinct dates, gaps 35 and 36: median 35.5, outside the closed band 25..35.
    txs = [tx(D(2025, 3, 1)), tx(D(2025, 4, 5)), tx(D(2025, 5, 11))]
    c = only_contract(txs)
    assert c["frequency"] == "IRREGULAR"
    assert c["annual_cost"] == 3000.0
    # Gaps 35, 36, 35, 36: median 35.5 again.
    txs += [tx(D(2025, 6, 15)), tx(D(2025, 7, 21))]
    assert only_contract(txs)["frequency"] == "IRREGULAR"
    # Gaps 35, 36, 35, 35: median 35 -> MONTHLY.
    txs[-1] = tx(D(2025, 7, 20))
    assert only_contract(txs)["frequency"] == "MONTHLY"
    # Gaps 24, 25: median 24.5 -> IRREGULAR at the lower edge too.
    txs = [tx(D(2025, 3, 1)), tx(D(2025, 3, 25)), tx(D(2025, 4, 19))]
    assert only_contract(txs)["frequency"] == "IRREGULAR"


def test_single_date_is_once_and_same_day_payments_count():
    txs = [tx(D(2025, 6, 1), -1000), tx(D(2025, 6, 1), -3000)]
    c = only_contract(txs)
    assert c["frequency"] == "ONCE"
    assert c["payment_count"] == 2
    assert c["typical_amount"] == 2000.0
    assert c["annual_cost"] == 4000.0
    assert c["first_payment"] == c["last_payment"] == D(2025, 6, 1)


def test_same_day_payments_are_not_gaps():
    # Monthly payments with a duplicate on one day: a 0-day gap would pull the median down.
    txs = [tx(D(2025, 3, 1)), tx(D(2025, 3, 1)), tx(D(2025, 3, 1)),
           tx(D(2025, 4, 1)), tx(D(2025, 5, 1))]
    c = only_contract(txs)
    assert c["payment_count"] == 5
    assert c["frequency"] == "MONTHLY"
    assert c["annual_cost"] == 12000.0


def test_typical_amount_is_median_of_absolute_payments():
    amounts = [-1000, -4000, -2000, -9000]
    txs = [tx(D(2025, 3 + i, 1), a) for i, a in enumerate(amounts)]
    c = only_contract(txs)
    assert c["typical_amount"] == 3000.0  # mean of 2000 and 4000
    assert c["frequency"] == "MONTHLY"
    assert c["annual_cost"] == 36000.0
    assert isinstance(c["typical_amount"], float)
    c = only_contract(txs[:3])
    assert c["typical_amount"] == 2000.0


def test_provider_key_normalisation():
    assert provider_key(None) == ""
    assert provider_key("  Allianz\u00a0\t Versicherung\u3000AG \n") == "allianz versicherung ag"
    assert provider_key("HUK-COBURG") == provider_key("huk-coburg")
    assert provider_key("Straße") == provider_key("STRASSE")  # full case folding
    assert provider_key("\u200bx") == "\u200bx"  # zero-width space is not white space


def test_case_and_spacing_variants_merge_with_most_recent_spelling():
    txs = [
        tx(D(2025, 3, 1), name="ALLIANZ  Versicherung"),
        tx(D(2025, 5, 1), name=" allianz versicherung "),
        tx(D(2025, 4, 1), name="Allianz\tVersicherung"),
    ]
    c = only_contract(txs)
    assert c["provider_key"] == "allianz versicherung"
    assert c["provider_name"] == " allianz versicherung "  # raw, as booked
    assert c["payment_count"] == 3
    assert c["first_payment"] == D(2025, 3, 1)
    assert c["last_payment"] == D(2025, 5, 1)


def test_spelling_tie_break_by_greatest_transaction_id_utf8():
    day = D(2025, 5, 1)
    txs = [
        tx(day, name="ALLIANZ", tid="t9"),
        tx(day, name="Allianz", tid="t10"),   # "t9" > "t10" by bytes
        tx(day, name="allianz", tid="T99"),   # uppercase sorts before lowercase
        tx(D(2025, 4, 1), name="AlLiAnZ", tid="zzz"),  # older date, ignored
    ]
    assert only_contract(txs)["provider_name"] == "ALLIANZ"
    txs.append(tx(day, name="allianZ", tid="\u00e9"))  # é: UTF-8 0xC3 0xA9 > 't'
    assert only_contract(txs)["provider_name"] == "allianZ"


def test_missing_name_is_empty_key_and_name():
    txs = [tx(D(2025, 3, 1), name=None), tx(D(2025, 4, 1), name="  ")]
    c = only_contract(txs)
    assert c["provider_key"] == ""
    assert c["provider_name"] == "  "
    c = only_contract(txs[:1])
    assert c["provider_name"] == ""


def test_refunds_and_zero_amounts_ignored():
    txs = [tx(D(2025, 3, 1), -1000), tx(D(2025, 3, 15), +1000), tx(D(2025, 3, 20), 0)]
    c = only_contract(txs)
    assert c["payment_count"] == 1
    assert c["frequency"] == "ONCE"
    assert run([tx(D(2025, 3, 15), +500)]) == []


def test_months_window_edges():
    # as_of 2026-03-25, N=3: December 2025 .. February 2026.
    inside = [tx(D(2025, 12, 1)), tx(D(2026, 2, 28))]
    outside = [tx(D(2025, 11, 30)), tx(D(2026, 3, 1)), tx(D(2026, 3, 25)), tx(D(2026, 4, 1))]
    c = only_contract(inside + outside, months=3)
    assert c["payment_count"] == 2
    assert (c["first_payment"], c["last_payment"]) == (D(2025, 12, 1), D(2026, 2, 28))
    # N=1 with as_of in January: only December of the previous year.
    r = insurance_spending_ref(ACCOUNTS, [tx(D(2025, 12, 31)), tx(D(2025, 11, 30))],
                               D(2026, 1, 1), 1)
    assert r[0]["contracts"][0]["payment_count"] == 1
    # N=24.
    r = insurance_spending_ref(ACCOUNTS, [tx(D(2024, 3, 1)), tx(D(2024, 2, 29))], AS_OF, 24)
    assert r[0]["contracts"][0]["first_payment"] == D(2024, 3, 1)
    with pytest.raises(ValueError):
        run([], months=0)
    with pytest.raises(ValueError):
        run([], months=25)


def test_labels_and_types():
    day = D(2025, 6, 1)
    txs = [
        tx(day, label="INSURANCE"),
        tx(day, label="INSURANCE.CAR.EXTRA"),
        tx(day, label="INSURANCE.PET"),
        tx(day, label="INSURANCES"),        # not in the group
        tx(day, label="insurance.car"),     # case-sensitive: not in the group
        tx(day, label=None),
        tx(day, label="RENTANDLIVING.RENT"),
    ]
    result = run(txs)
    assert [c["insurance_type"] for c in result[0]["contracts"]] == ["CAR", "OTHER", "PET"]
    only = run(txs, insurance_types=["PET", "HEALTH"])
    assert [c["insurance_type"] for c in only[0]["contracts"]] == ["PET"]
    assert run(txs, insurance_types=["HEALTH"]) == []


def test_pooling_currencies_users_accounts_and_order():
    day = D(2025, 6, 1)
    txs = [
        tx(day, -1000, account="a1"),
        tx(D(2025, 7, 1), -3000, account="a2"),   # same user and currency: pooled
        tx(day, -5000, account="a3"),             # USD: separate contract
        tx(day, -7000, account="b1", name="axa"),
        tx(day, -7000, account="b1", name="AXA", label="INSURANCE.HEALTH"),
        tx(day, -7000, account="b1", name="Zurich"),
        tx(day, -7000, account="b1", name="Axa "),
    ]
    result = run(txs)
    assert [r["user_id"] for r in result] == ["u1", "u2"]
    u1 = result[0]["contracts"]
    assert [(c["currency"], c["payment_count"]) for c in u1] == [("EUR", 2), ("USD", 1)]
    assert u1[0]["typical_amount"] == 2000.0
    u2 = result[1]["contracts"]
    assert [(c["provider_key"], c["insurance_type"]) for c in u2] == [
        ("axa", "CAR"), ("axa", "HEALTH"), ("zurich", "CAR")]
    # account_types: only the credit card counts.
    only_cc = run(txs, account_types=["CREDIT_CARD"])
    assert len(only_cc) == 1
    assert only_cc[0]["contracts"][0]["payment_count"] == 1
    assert only_cc[0]["contracts"][0]["last_payment"] == D(2025, 7, 1)


def test_user_order_is_utf8_bytes():
    accounts = [{"account_id": f"x{u}", "user_id": u, "type": "CHECKING", "currency": "EUR"}
                for u in ["user2", "user10", "USER7", "user1", "\u00e9"]]
    txs = [tx(D(2025, 6, 1), account=f"x{a['user_id']}") for a in accounts]
    result = insurance_spending_ref(accounts, txs, AS_OF, 12)
    assert [r["user_id"] for r in result] == ["USER7", "user1", "user10", "user2", "\u00e9"]
