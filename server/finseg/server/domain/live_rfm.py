"""Live RFM: scores that rank every user against all others, kept exact at
every write.

Whether a user is scored at all (an outgoing transaction counted in the
window) is the user's own affair, but the 1-5 scores, and so the segment
name that `segment_names` keeps, move for everyone when one user's figures
change: `b` and `n` of 1 + floor(5 b / n) are over all scored users. The
name depends on R and F only, so a live RFM segment keeps, for recency and
for frequency, every scored user's value in one sorted array (an
order-statistics structure: the value of rank k is one read). A score is
1 plus the number of four boundary values (the ranks ceil((s - 1) n / 5))
that the user's value beats. A write replaces the figures of the users it
names and moves their entries in the sorted arrays (two memmoves); where a
boundary value moved, the users whose value lies between its old and new
place are exactly those whose score changed, one contiguous slice of the
array. So a write costs its users plus those who really change score, and
only they are compared with the stored membership. The figures are built
from a whole-tenant evaluation when the segment starts, at each day change
and at the first write after the service starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels import gather
from ..kernels.rfm import SCORES
from .segment_types import rfm
from .segment_types.common import Common, Progress

#: A sorted entry is value << _SHIFT | user index: unique, and ordered by value.
_SHIFT = 32
_LIMIT = 1 << 31


class Ranked:
    """One metric's values of the scored users, as sorted unique keys."""

    def __init__(self, more_is_better: bool) -> None:
        self.more_is_better = more_is_better
        self.keys = np.zeros(0, np.int64)

    @staticmethod
    def key(values: np.ndarray, users: np.ndarray) -> np.ndarray:
        if values.size and (values.min() < 0 or values.max() >= _LIMIT or users.max() >= _LIMIT):
            raise ValueError("an RFM figure or user index is out of the live range")
        return (values.astype(np.int64) << _SHIFT) | users.astype(np.int64)

    def change(self, gone: np.ndarray, new: np.ndarray) -> None:
        """Removes the keys `gone` (present) and adds the keys `new`."""
        if gone.size or new.size:
            self.keys = gather.replace_sorted(self.keys, gone, new)

    def bounds(self) -> np.ndarray:
        """The four values a score counts: with b_s = ceil((s - 1) n / 5),
        the b_s-th smallest when more is better, else the b_s-th largest
        (the batch kernel's reading of 1 + floor(5 b / n))."""
        n = self.keys.shape[0]
        if n == 0:
            return np.zeros(0, np.int64)
        needed = np.array([-(-(s - 1) * n // SCORES) for s in range(2, SCORES + 1)])
        at = needed - 1 if self.more_is_better else n - needed
        return self.keys[at] >> _SHIFT

    def scores(self, values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        out = np.ones(values.shape[0], np.int64)
        for bound in bounds.tolist():
            out += (values > bound) if self.more_is_better else (values < bound)
        return out

    def crossing(self, old: np.ndarray, new: np.ndarray) -> list[np.ndarray]:
        """The users whose score differs between the bounds `old` and `new`:
        for a bound that moved from a to b, the values that beat one and not
        the other, a slice of the sorted keys."""
        if old.shape != new.shape:  # no one or everyone was scored
            return [self.keys & ((1 << _SHIFT) - 1)]
        out = []
        for a, b in zip(old.tolist(), new.tolist(), strict=True):
            if a == b:
                continue
            lo, hi = min(a, b), max(a, b)
            # More is better: v > a differs from v > b for lo < v <= hi;
            # otherwise v < a against v < b, for lo <= v < hi.
            first, last = (lo + 1, hi) if self.more_is_better else (lo, hi - 1)
            start, stop = np.searchsorted(self.keys, [first << _SHIFT, (last + 1) << _SHIFT])
            out.append(self.keys[start:stop] & ((1 << _SHIFT) - 1))
        return out


class Figures:
    """Recency and frequency by tenant user index (meaningful where
    `scored`), with their sorted rankings."""

    def __init__(self) -> None:
        self.scored = np.zeros(0, np.bool_)
        self.values = np.zeros((0, 2), np.int64)  # recency, frequency
        self.recency, self.frequency = Ranked(False), Ranked(True)

    @classmethod
    def of(cls, snapshot: Any, params: rfm.Params, common: Common, progress: Progress
           ) -> Figures:
        """Every scored user of a whole tenant's snapshot."""
        figures = cls()
        users, values = rfm.figures(snapshot, params, common, progress)
        figures._replace(np.empty(0, np.int64), users, values)
        return figures

    def update(self, subset: Any, params: rfm.Params, common: Common, progress: Progress
               ) -> np.ndarray:
        """Evaluates the users of `subset` (a UserSubset) again, in place;
        returns the users whose membership may have changed: those users
        and everyone whose R or F score moved."""
        users, values = rfm.figures(subset, params, common, progress)
        named = subset.global_users
        moved = self._replace(named, named[users], values)
        if not params.segment_names:
            return named  # every scored user is a member: scores do not matter
        return np.unique(np.concatenate([named, *moved]))

    def _replace(self, users: np.ndarray, scored_users: np.ndarray, values: np.ndarray
                 ) -> list[np.ndarray]:
        top = int(max(users.max(initial=-1), scored_users.max(initial=-1)))
        if top >= self.scored.shape[0]:
            size = max(top + 1, 2 * self.scored.shape[0])
            scored, kept = np.zeros(size, np.bool_), np.zeros((size, 2), np.int64)
            scored[:self.scored.shape[0]], kept[:self.values.shape[0]] = self.scored, self.values
            self.scored, self.values = scored, kept
        before = [self.recency.bounds(), self.frequency.bounds()]
        was = users[self.scored[users]]
        for k, ranked in enumerate((self.recency, self.frequency)):
            ranked.change(Ranked.key(self.values[was, k], was),
                          Ranked.key(values[:, k], scored_users))
        self.scored[users] = False
        self.scored[scored_users] = True
        self.values[scored_users] = values[:, :2]
        return [*self.recency.crossing(before[0], self.recency.bounds()),
                *self.frequency.crossing(before[1], self.frequency.bounds())]

    def is_member(self, users: np.ndarray, params: rfm.Params) -> np.ndarray:
        scored = self.scored[users] if users.size else np.zeros(0, np.bool_)
        if not params.segment_names:
            return scored
        r = self.recency.scores(self.values[users, 0], self.recency.bounds())
        f = self.frequency.scores(self.values[users, 1], self.frequency.bounds())
        wanted = [rfm.NAMES.index(n) for n in params.segment_names]
        return scored & np.isin(rfm.segment_name(r, f), wanted)

    def members(self, params: rfm.Params) -> np.ndarray:
        """User indexes of the members, ascending."""
        users = np.flatnonzero(self.scored)
        return users[self.is_member(users, params)]
