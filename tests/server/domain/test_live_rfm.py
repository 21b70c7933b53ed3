"""Live RFM's order-statistics structure against the batch scoring: after
every random replacement of some users' figures (ties everywhere, users
that stop or start being scored), the members equal those the batch
kernel's scores give, and every user whose membership changed is among the
users `update` hands back for comparison."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from finseg.server.domain.live_rfm import Figures, Ranked
from finseg.server.domain.segment_types import rfm
from finseg.server.kernels.rfm import scores


def reference(scored: dict[int, tuple[int, int]], names: tuple[str, ...]) -> set[int]:
    users = sorted(scored)
    if not users:
        return set()
    values = np.array([scored[u] for u in users], np.int64)
    r = scores(values[:, 0], more_is_better=False)
    f = scores(values[:, 1], more_is_better=True)
    kept = np.isin(rfm.segment_name(r, f), [rfm.NAMES.index(n) for n in names])
    return {u for u, k in zip(users, kept, strict=True) if k or not names}


figures_of = st.tuples(st.integers(0, 4), st.integers(1, 4))  # few values: ties
steps = st.lists(st.dictionaries(st.integers(0, 30), st.none() | figures_of, min_size=1,
                                 max_size=6), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(first=st.dictionaries(st.integers(0, 30), figures_of, max_size=25), steps=steps,
       names=st.sets(st.sampled_from(rfm.NAMES), max_size=4))
def test_members_follow_every_replacement(first, steps, names):
    params = rfm.Params(30, (), "EUR", tuple(sorted(names)), (), {})
    figures = Figures()
    users = np.array(sorted(first), np.int64)
    figures._replace(np.empty(0, np.int64), users,
                     np.array([first[u] for u in users], np.int64).reshape(-1, 2))
    scored = dict(first)
    assert set(figures.members(params).tolist()) == reference(scored, params.segment_names)
    for step in steps:
        before = reference(scored, params.segment_names)
        named = np.array(sorted(step), np.int64)
        now_scored = np.array([u for u in named if step[u] is not None], np.int64)
        moved = figures._replace(named, now_scored, np.array(
            [step[u] for u in now_scored.tolist()], np.int64).reshape(-1, 2))
        for user, value in step.items():
            if value is None:
                scored.pop(user, None)
            else:
                scored[user] = value
        after = reference(scored, params.segment_names)
        assert set(figures.members(params).tolist()) == after
        candidates = set(np.concatenate([named, *moved]).tolist())
        assert before ^ after <= candidates
        assert sorted(figures.recency.keys.tolist()) == figures.recency.keys.tolist()


def test_bounds_are_the_batch_kernels():
    rng = np.random.default_rng(3)
    for n in (1, 2, 4, 5, 6, 99, 1000):
        values = rng.integers(0, 7, n)
        for more in (True, False):
            ranked = Ranked(more)
            ranked.change(np.zeros(0, np.int64), Ranked.key(values, np.arange(n)))
            assert ranked.scores(values, ranked.bounds()).tolist() == \
                scores(values, more_is_better=more).tolist()
