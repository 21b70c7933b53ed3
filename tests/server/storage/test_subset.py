"""UserSubset: a segment type run over some users' accounts gives exactly
those users' rows of the whole snapshot's result, base and tail rows,
erased accounts and several currencies included."""

from __future__ import annotations

import datetime as dt
import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "domain"))
from test_balance_segments import NO_PROGRESS, TENANT, load  # noqa: E402
from test_rule import TAXONOMY, bank, random_tree  # noqa: E402

from finseg.server.domain import rules  # noqa: E402
from finseg.server.domain.ingest import Ingestor  # noqa: E402
from finseg.server.domain.segment_types import TYPES  # noqa: E402
from finseg.server.domain.segment_types.common import Common  # noqa: E402
from finseg.server.storage.store import Store  # noqa: E402
from finseg.server.storage.subset import UserSubset  # noqa: E402


def specs(rnd: random.Random) -> list[tuple[str, dict]]:
    threshold = {"currency": "EUR", "amount": rnd.choice([-5000, 0, 10_000])}
    return [("HIGH_BALANCE", {"threshold": threshold}),
            ("LOW_BALANCE", {"threshold": threshold, "months": rnd.randint(1, 4)}),
            *[("RULE", {"expression": rules.to_text(random_tree(rnd), 2)}) for _ in range(3)]]


@pytest.mark.parametrize("seed", range(4))
def test_a_subset_gives_its_users_rows_of_the_whole_result(tmp_path, seed):
    as_of = [dt.date(2026, 3, 1), dt.date(2024, 2, 29), dt.date(2026, 1, 31),
             dt.date(2025, 12, 31)][seed]
    rng, accounts, txs = bank(seed, as_of)
    store = Store(tmp_path / "db", 1 << 28)
    load(store, accounts, txs, rng)
    if seed % 2:
        Ingestor(store).delete_user(TENANT, accounts[3]["user_id"])
    rnd = random.Random(seed)
    common = Common(((), ("CHECKING", "SAVINGS"))[seed % 2], as_of)
    checked = 0
    with store.snapshot(TENANT) as snap:
        n_users = snap.state["users"]
        for name, raw in specs(rnd):
            module = TYPES[name]
            params = module.parse(raw, TAXONOMY)
            whole = module.run(snap, params, common, NO_PROGRESS).to_pylist()
            for size in (1, 5, n_users):
                users = np.sort(rng.choice(n_users, size=size, replace=False))
                subset = UserSubset(store, snap.txn, snap.tenant_no, snap.state, users)
                ids = set(subset.user_ids(np.arange(size)).to_pylist())
                got = module.run(subset, params, common, NO_PROGRESS).to_pylist()
                assert got == [m for m in whole if m["user_id"] in ids], (name, raw, size)
                checked += len(got)
    assert checked, "some subsets hold members"
    store.close()
