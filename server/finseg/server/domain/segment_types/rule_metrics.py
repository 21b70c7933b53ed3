"""RULE's metrics as columns over the candidates, and their exact
comparisons with a literal (SPEC §4 RULE).

Every metric a rule names is computed in one walk over the snapshot's
blocks: the transaction metrics of all windows in one kernel call per block,
EOD(as_of) once for all `balance` metrics, the monthly minimums once per
number of months for all `low_balance_months` metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

import numpy as np

from ...kernels import balances
from ...kernels import rules as kernels
from ...kernels.calendar import complete_months, day_number
from ...storage.store import Snapshot
from .. import rules
from ..model import ACCOUNT_TYPE_CODES
from ..taxonomy import Taxonomy
from .common import Progress, account_block, walk

#: The metrics read from a window's outgoing and incoming transactions.
WINDOW_METRICS = frozenset({"frequency", "spend", "avg_spend", "income", "recency"})
INT64 = np.iinfo(np.int64)


@dataclass(frozen=True)
class Columns:
    """One metric over the candidates. `exact` holds counts, days and money
    (minor units); avg_spend keeps its spend in `exact` and its frequency in
    `divisor`, so that it compares exactly, and the quotient in `average`."""

    exact: np.ndarray                # int64[n]
    present: np.ndarray              # bool[n]: the user has a value
    divisor: np.ndarray | None = None

    @property
    def average(self) -> np.ndarray:
        if self.divisor is None:
            return np.zeros(self.exact.shape[0], np.float64)
        return np.divide(self.exact, self.divisor, out=np.zeros(self.exact.shape[0]),
                         where=self.divisor > 0)

    @property
    def shown(self) -> np.ndarray:
        """The integer a member's result shows: avg_spend shows its average."""
        return np.where(self.present, self.exact, 0) if self.divisor is None \
            else np.zeros(self.exact.shape[0], np.int64)

    def take(self, keep: np.ndarray) -> Columns:
        return Columns(self.exact[keep], self.present[keep],
                       None if self.divisor is None else self.divisor[keep])

    def compare(self, op: str, value: Fraction) -> np.ndarray:
        """bool[n]: `metric op value`, false where the value is missing."""
        if self.divisor is None:
            return _compare_integers(self.exact, op, value) & self.present
        # spend / frequency against an integral amount L, without a product
        # that could overflow: with q, r = divmod(spend, frequency), the
        # average is above L when q > L, or q == L and r > 0.
        assert value.denominator == 1, "money literals are whole minor units"
        amount = _clamp(value.numerator)
        divisor = np.where(self.present, self.divisor, 1)
        q, r = np.divmod(self.exact, divisor)
        above_or_at = q >= amount
        at = (q == amount) & (r == 0)
        result = {">": above_or_at & ~at, ">=": above_or_at, "<": ~above_or_at,
                  "<=": ~above_or_at | at, "==": at, "!=": ~at}[op]
        return result & self.present


def _clamp(value: int) -> int:
    return min(max(value, int(INT64.min)), int(INT64.max))


def _compare_integers(column: np.ndarray, op: str, value: Fraction) -> np.ndarray:
    """An int64 column against an exact rational: `frequency > 2.5` is
    `frequency > 2`, `frequency >= 2.5` is `frequency >= 3`."""
    low, high = _clamp(floor(value)), _clamp(ceil(value))
    whole = value.denominator == 1
    if op == ">":
        return column > low
    if op == ">=":
        return column >= high
    if op == "<":
        return column < high
    if op == "<=":
        return column <= low
    equal = column == low if whole else np.zeros(column.shape[0], np.bool_)
    return equal if op == "==" else ~equal


def reads_since(metrics: list[rules.Metric], as_of: dt.date) -> int:
    """The earliest booking day the metrics read: a window's first day, the
    first day of the oldest complete month, as_of for a balance."""
    today = day_number(as_of)
    return min([today] + [today - (m.days or 0) + 1 for m in metrics if m.name in WINDOW_METRICS]
               + [int(complete_months(as_of, m.months or 0)[0]) for m in metrics
                  if m.name == "low_balance_months"])


def compute(snapshot: Snapshot, of_account: np.ndarray, n_slots: int,
            metrics: list[rules.Metric], as_of: dt.date, node_of: Callable[[str], str],
            taxonomy: Taxonomy, progress: Progress) -> dict[rules.Metric, Columns]:
    """Each metric as Columns over the n_slots candidates; of_account maps
    accounts to candidates (-1: not a candidate's account in the currency)."""
    today = day_number(as_of)
    accounts = snapshot.accounts
    candidate = of_account >= 0

    # Each `type` argument's accounts, once per job: the block loop slices them.
    of_type = {m.type: candidate if m.type is None
               else candidate & (accounts["type"] == ACCOUNT_TYPE_CODES[m.type])
               for m in metrics}

    windows = sorted({(m.days or 0, m.group, m.type) for m in metrics
                      if m.name in WINDOW_METRICS},
                     key=repr)
    flows = kernels.new_flows(n_slots, len(windows))
    if windows:
        first_days = np.array([today - days + 1 for days, _, _ in windows], np.int32)
        # Without a group anywhere, the kernel reads no label column.
        label_ok = None
        if any(group is not None for _, group, _ in windows):
            labels = snapshot.labels().to_pylist()
            label_ok = np.ones((len(labels), len(windows)), np.bool_)
            for k, (_, group, _) in enumerate(windows):
                if group is not None:
                    label_ok[:, k] = taxonomy.membership([node_of(group)], labels)[:, 0]
        account_ok = np.stack([of_type[kind] for _, _, kind in windows], axis=1)
    balance = {m.type: np.zeros(n_slots, np.int64) for m in metrics if m.name == "balance"}
    low = [m for m in metrics if m.name == "low_balance_months"]
    bounds = {m.months or 0: complete_months(as_of, m.months or 0) for m in low}
    below = {m: np.zeros((n_slots, m.months or 0), np.bool_) for m in low}
    for block, s in walk(snapshot, progress):
        per_account = account_block(snapshot, candidate, s)
        if windows:
            kernels.window_flows(block.offsets, block.dates, block.amounts,
                                 None if label_ok is None else block.labels, of_account[s],
                                 first_days, today, label_ok, account_ok[s], flows)
        if balance:
            open_today, eod = balances.high_balance(block.offsets, block.dates, block.amounts,
                                                    *per_account, today, int(INT64.min))
            for kind, out in balance.items():
                kernels.sum_by_slot(eod, of_account[s], open_today & of_type[kind][s],
                                    out)
        minimums = {months: balances.monthly_minimums(block.offsets, block.dates,
                                                      block.amounts, *per_account, edges)
                    for months, edges in bounds.items()}
        for m in low:
            kernels.months_below(minimums[m.months or 0] < (m.threshold or 0), of_account[s],
                                 of_type[m.type][s], below[m])
    columns: dict[rules.Metric, Columns] = {}
    everyone = np.ones(n_slots, np.bool_)
    for m in metrics:
        if m.name in WINDOW_METRICS:
            cell = flows[:, windows.index((m.days or 0, m.group, m.type))]
            count = cell[:, kernels.OUT_COUNT].copy()
            columns[m] = _window_metric(m.name, cell, count, today, everyone)
        elif m.name == "balance":
            columns[m] = Columns(balance[m.type], everyone)
        else:
            columns[m] = Columns(below[m].sum(axis=1, dtype=np.int64), everyone)
    return columns


def _window_metric(name: str, cell: np.ndarray, count: np.ndarray, today: int,
                   everyone: np.ndarray) -> Columns:
    spend = cell[:, kernels.OUT_SUM].copy()
    if name == "frequency":
        return Columns(count, everyone)
    if name == "spend":
        return Columns(spend, everyone)
    if name == "income":
        return Columns(cell[:, kernels.IN_SUM].copy(), everyone)
    if name == "avg_spend":
        return Columns(spend, count > 0, count)
    last = cell[:, kernels.LAST_OUT]
    present = last != kernels.NO_DAY
    return Columns(np.where(present, today - last, 0), present)
