"""INSURANCE_SPENDING kernels against plain Python: the grouping of payments
into contract runs, and the per-contract figures (the whole path is checked
against the SPEC's reference in tests/server/domain)."""

from __future__ import annotations

import statistics
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.kernels import insurance


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 700)),
                max_size=60))
def test_contract_runs_group_by_user_then_contract_with_dates_ascending(rows):
    user = np.array([u for u, _, _ in rows], np.int64)
    key = np.array([(c << 10) | d for _, c, d in rows], np.int64)
    order, starts = insurance.contract_runs(user, key, 5)
    assert sorted(order.tolist()) == list(range(len(rows)))
    got = [[rows[r] for r in order[a:b]] for a, b in zip(starts[:-1], starts[1:], strict=True)]
    want: dict[tuple[int, int], list] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1], r[2])):
        want.setdefault(row[:2], []).append(row)
    assert [[r[2] for r in run] for run in got] == [[r[2] for r in run] for run in want.values()]
    assert [run[0][:2] for run in got] == list(want)


def test_contract_runs_checks_its_arguments():
    with pytest.raises(ValueError, match="outside"):
        insurance.contract_runs(np.array([3], np.int64), np.array([0], np.int64), 3)
    with pytest.raises(ValueError, match="int64"):
        insurance.contract_runs(np.array([0], np.int32), np.array([0], np.int64), 1)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(-10**9, -1)), min_size=1,
                max_size=15))
def test_contracts_match_plain_python(payments):
    payments.sort(key=lambda p: p[0])
    date = np.array([d for d, _ in payments], np.int32)
    amount = np.array([a for _, a in payments], np.int64)
    out = insurance.contracts(np.array([0, len(payments)], np.int64), date, amount,
                              np.arange(len(payments), dtype=np.int32))
    paid = [-a for _, a in payments]
    distinct = sorted({d for d, _ in payments})
    gaps = [b - a for a, b in pairwise(distinct)]
    typical = statistics.median(paid)
    if not gaps:
        frequency, annual = "ONCE", float(sum(paid))
    else:
        gap = statistics.median(gaps)
        bands = {"MONTHLY": (25, 35, 12), "QUARTERLY": (80, 100, 4),
                 "HALF_YEARLY": (170, 195, 2), "YEARLY": (350, 380, 1)}
        frequency, annual = "IRREGULAR", float(sum(paid))
        for name, (low, high, per_year) in bands.items():
            if low <= gap <= high:
                frequency, annual = name, typical * per_year
    assert insurance.FREQUENCIES[out["frequency"][0]] == frequency
    assert out["count"][0] == len(payments)
    assert (out["first"][0], out["last"][0]) == (distinct[0], distinct[-1])
    assert out["typical"][0] == pytest.approx(typical, rel=1e-12)
    assert out["annual"][0] == pytest.approx(annual, rel=1e-12)
    last = [i for i, (d, _) in enumerate(payments) if d == distinct[-1]]
    assert out["tie"][0] == (len(last) > 1)  # every row has its own spelling here
