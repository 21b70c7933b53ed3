"""Kernels that read text columns as sent (CSV loads send every column as
text): "YYYY-MM-DD" dates and decimal amounts in major units, each value
checked by SPEC §2's rules in one pass over an Arrow string array's offsets
and bytes. pyarrow's regex, strptime and string kernels did the same in a
dozen passes: 0.7 s of every batch of 500,000 rows, most of a CSV load.

Inputs: `offsets` int64[n + 1] into `data` uint8 (UTF-8 bytes). Outputs are
per row: a value and a status; the caller words the violations.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ._jit import kernel, readonly

#: Statuses of `days`.
DAY_OK, DAY_EMPTY, DAY_BAD = 0, 1, 2
#: Statuses of `decimals`: well-formed with at most the row's decimals;
#: not a decimal at all; a decimal with more decimals than the row's
#: currency has; or more significant digits than `max_digits` (value 0).
DECIMAL_OK, DECIMAL_MALFORMED, DECIMAL_TOO_PRECISE, DECIMAL_TOO_LONG = 0, 1, 2, 3

_ZERO, _NINE, _MINUS, _POINT = 48, 57, 45, 46


@kernel
def _digits(data, lo, n):
    """The number written by data[lo:lo+n], or -1 if one is not a digit."""
    value = 0
    for k in range(n):
        c = data[lo + k]
        if c < _ZERO or c > _NINE:
            return -1
        value = value * 10 + (c - _ZERO)
    return value


@kernel
def _civil_day(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date, year 0 included
    (H. Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def _month_days(year, month):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


@kernel
def _days(offsets, data, out, status):
    for i in range(out.shape[0]):
        lo, hi = offsets[i], offsets[i + 1]
        out[i] = 0
        if hi == lo:
            status[i] = DAY_EMPTY
            continue
        status[i] = DAY_BAD
        if hi - lo != 10 or data[lo + 4] != _MINUS or data[lo + 7] != _MINUS:
            continue
        year, month, day = _digits(data, lo, 4), _digits(data, lo + 5, 2), \
            _digits(data, lo + 8, 2)
        if year < 0 or month < 1 or month > 12 or day < 1 or day > _month_days(year, month):
            continue
        out[i] = _civil_day(year, month, day)
        status[i] = DAY_OK


@kernel
def _decimals(offsets, data, exponents, max_digits, out, status):
    for i in range(out.shape[0]):
        lo, hi = offsets[i], offsets[i + 1]
        out[i] = 0
        status[i] = DECIMAL_MALFORMED
        p = lo
        negative = p < hi and data[p] == _MINUS
        if negative:
            p += 1
        whole = p
        while p < hi and _ZERO <= data[p] <= _NINE:
            p += 1
        n_whole = p - whole
        fraction, n_fraction = p, 0
        if p < hi and data[p] == _POINT:
            p += 1
            fraction = p
            while p < hi and _ZERO <= data[p] <= _NINE:
                p += 1
            n_fraction = p - fraction
            if n_fraction == 0:
                continue  # "1." is no decimal
        if n_whole == 0 or p != hi:
            continue
        decimals = max(exponents[i], 0)
        if n_fraction > decimals:
            status[i] = DECIMAL_TOO_PRECISE
            continue
        # The digits joined, the fraction padded to the currency's decimals:
        # minor units. Leading zeros are not significant; a value with more
        # significant digits than max_digits is never accumulated (int64
        # could overflow).
        value = np.int64(0)
        significant = 0
        for k in range(n_whole + decimals):
            if k < n_whole:
                digit = data[whole + k] - _ZERO
            elif k - n_whole < n_fraction:
                digit = data[fraction + k - n_whole] - _ZERO
            else:
                digit = 0
            if significant == 0 and digit == 0:
                continue
            significant += 1
            if significant > max_digits:
                break
            value = value * 10 + digit
        if significant > max_digits:
            status[i] = DECIMAL_TOO_LONG
            continue
        out[i] = -value if negative else value
        status[i] = DECIMAL_OK


def _offsets_and_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """int64 offsets and the bytes of a string or large_string array without
    nulls (a null's offsets may span bytes: callers fill nulls first)."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise ValueError(f"expected a string array, got {values.type}")
    if values.null_count:
        raise ValueError("fill the nulls first")
    n = len(values)
    _, offsets_buffer, data_buffer = values.buffers()
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    if offsets_buffer is None or n == 0:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.uint8)
    offsets = np.frombuffer(offsets_buffer, width)[values.offset:values.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None \
        else np.zeros(0, np.uint8)
    return offsets, data


def days(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 day numbers since 1970-01-01, int8 status) of "YYYY-MM-DD"
    strings: DAY_OK for exactly ten bytes of that shape naming a real
    calendar day (proleptic Gregorian, years 0000-9999), DAY_EMPTY for an
    empty value, DAY_BAD otherwise (value 0)."""
    offsets, data = _offsets_and_bytes(values)
    out = np.empty(len(values), np.int64)
    status = np.empty(len(values), np.int8)
    _days(*readonly(offsets, data), out, status)
    return out, status


def decimals(values: pa.Array, exponents: np.ndarray, max_digits: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(int64 minor units, int8 status) of decimal strings in major units,
    row i of a currency with exponents[i] decimals (0 or less: whole
    numbers): `-?[0-9]+(\\.[0-9]+)?` with at most that many decimals. A value
    with more than `max_digits` significant digits is DECIMAL_TOO_LONG."""
    offsets, data = _offsets_and_bytes(values)
    if exponents.shape != (len(values),):
        raise ValueError("exponents must have one entry per value")
    out = np.empty(len(values), np.int64)
    status = np.empty(len(values), np.int8)
    _decimals(*readonly(offsets, data, exponents.astype(np.int64, copy=False)),
              np.int64(max_digits), out, status)
    return out, status
