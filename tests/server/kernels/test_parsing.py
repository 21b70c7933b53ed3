"""The text-parsing kernels against plain Python readings of SPEC §2's
rules: dates exactly YYYY-MM-DD naming a real day, decimals
-?digits(.digits)? with at most the currency's decimals, read exactly."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import parsing

EPOCH = dt.date(1970, 1, 1)
#: Four hundred Gregorian years, in days: year 0 is year 400 moved back.
CYCLE_DAYS = 146097


def reference_day(value: str) -> tuple[int, int]:
    """(day number, status) of one value, read with Python's calendar."""
    if value == "":
        return 0, parsing.DAY_EMPTY
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value, flags=re.ASCII):
        return 0, parsing.DAY_BAD
    year, month, day = int(value[:4]), int(value[5:7]), int(value[8:])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year or 400, month)[1]:
        return 0, parsing.DAY_BAD
    if year == 0:  # datetime starts at year 1; the proleptic calendar repeats every 400 years
        return (dt.date(400, month, day) - EPOCH).days - CYCLE_DAYS, parsing.DAY_OK
    return (dt.date(year, month, day) - EPOCH).days, parsing.DAY_OK


def reference_decimal(value: str, exponent: int, max_digits: int) -> tuple[int, int]:
    """(minor units, status) of one decimal string in major units."""
    match = re.fullmatch(r"(-?)([0-9]+)(?:\.([0-9]+))?", value, flags=re.ASCII)
    if match is None:
        return 0, parsing.DECIMAL_MALFORMED
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    decimals = max(exponent, 0)
    if len(fraction) > decimals:
        return 0, parsing.DECIMAL_TOO_PRECISE
    digits = (whole + fraction.ljust(decimals, "0")).lstrip("0")
    if len(digits) > max_digits:
        return 0, parsing.DECIMAL_TOO_LONG
    value_ = int(digits or "0")
    return (-value_ if sign else value_), parsing.DECIMAL_OK


def kernel_days(values: list[str], large: bool) -> list[tuple[int, int]]:
    days, status = parsing.days(pa.array(values, pa.large_string() if large else pa.string()))
    return list(zip(days.tolist(), status.tolist(), strict=True))


date_like = st.text(alphabet="0123456789-- 9a\u0660\uff10", max_size=12)
real_dates = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat)
shaped = st.tuples(st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99)).map(
    lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}")


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(date_like | real_dates | shaped, max_size=30), st.booleans(), st.integers(0, 3))
def test_days_match_the_calendar(values, large, sliced):
    # A slice starts inside the array's buffers, as a batch's column may.
    array = pa.array(["x"] * sliced + values, pa.large_string() if large else pa.string())
    days, status = parsing.days(array.slice(sliced))
    assert list(zip(days.tolist(), status.tolist(), strict=True)) == \
        [reference_day(v) for v in values]


@pytest.mark.parametrize(("value", "expected"), [
    ("1970-01-01", (0, parsing.DAY_OK)),
    ("2024-02-29", (19782, parsing.DAY_OK)),          # a leap day
    ("2023-02-29", (0, parsing.DAY_BAD)),             # not one
    ("1900-02-29", (0, parsing.DAY_BAD)),             # a century is no leap year
    ("2000-02-29", (11016, parsing.DAY_OK)),          # unless divisible by 400
    ("0000-01-01", (-719528, parsing.DAY_OK)),        # the range check is the caller's
    ("9999-12-31", (2932896, parsing.DAY_OK)),
    ("2024-04-31", (0, parsing.DAY_BAD)),
    ("2024-13-01", (0, parsing.DAY_BAD)),
    ("2024-00-10", (0, parsing.DAY_BAD)),
    ("2024-1-01", (0, parsing.DAY_BAD)),
    ("2024-01-01 ", (0, parsing.DAY_BAD)),
    ("\uff12024-01-01", (0, parsing.DAY_BAD)),        # a full-width digit is no digit
    ("", (0, parsing.DAY_EMPTY)),
])
def test_days_at_their_edges(value, expected):
    assert kernel_days([value], False) == [expected]


decimal_like = st.text(alphabet="0123456789.-+e, \u0661", max_size=24)
numbers = st.tuples(st.booleans(), st.text("0123456789", min_size=1, max_size=20),
                    st.none() | st.text("0123456789", max_size=5)).map(
    lambda t: ("-" if t[0] else "") + t[1] + ("" if t[2] is None else "." + t[2]))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(decimal_like | numbers, st.sampled_from([-1, 0, 2, 3, 4])),
                max_size=30), st.booleans(), st.integers(1, 18))
def test_decimals_match_the_reference(rows, large, max_digits):
    values = [v for v, _ in rows]
    exponents = np.array([e for _, e in rows], np.int64)
    out, status = parsing.decimals(pa.array(values, pa.large_string() if large
                                            else pa.string()), exponents, max_digits)
    assert list(zip(out.tolist(), status.tolist(), strict=True)) == \
        [reference_decimal(v, e, max_digits) for v, e in rows]


@pytest.mark.parametrize(("value", "exponent", "expected"), [
    ("-150.00", 2, (-15000, parsing.DECIMAL_OK)),
    ("12", 0, (12, parsing.DECIMAL_OK)),
    ("1.5", 2, (150, parsing.DECIMAL_OK)),
    ("-0000.50", 2, (-50, parsing.DECIMAL_OK)),
    ("1200.50", 0, (0, parsing.DECIMAL_TOO_PRECISE)),  # JPY has no decimals
    ("1.234", 2, (0, parsing.DECIMAL_TOO_PRECISE)),
    ("1.", 2, (0, parsing.DECIMAL_MALFORMED)),
    (".5", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("+5", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("1e3", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("1,000", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("-", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("", 2, (0, parsing.DECIMAL_MALFORMED)),
    ("10000000000000.00", 2, (10**15, parsing.DECIMAL_OK)),  # 16 digits: the bound
    ("100000000000000.00", 2, (0, parsing.DECIMAL_TOO_LONG)),
    ("0000000000000000000000001", 0, (1, parsing.DECIMAL_OK)),  # leading zeros are free
])
def test_decimals_at_their_edges(value, exponent, expected):
    out, status = parsing.decimals(pa.array([value]), np.array([exponent]), 16)
    assert (int(out[0]), int(status[0])) == expected


def test_nulls_must_be_filled_and_only_strings_are_read():
    with pytest.raises(ValueError, match="fill the nulls"):
        parsing.days(pa.array(["2024-01-01", None]))
    with pytest.raises(ValueError, match="string"):
        parsing.days(pa.array([1, 2]))
    with pytest.raises(ValueError, match="one entry per value"):
        parsing.decimals(pa.array(["1"]), np.array([2, 2]), 16)
    assert parsing.days(pa.array([], pa.string()))[0].shape == (0,)
