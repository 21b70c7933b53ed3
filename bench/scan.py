"""The scan alone: how long a segment type's kernels take to read the
columns, without ordering and naming the members. This is what the
machine's read bandwidth bounds, so it is what `make bench` compares with
that limit (next to the whole job's time).

It runs in the benchmark's process on the store `finseg serve` wrote, read
only (LMDB serves many processes), with the service's own segment code.
The scan is the time between the job's first and last look at its cancel
flag: the walk over blocks looks before each block and once after the last.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from finseg.server.domain.segment_types import TYPES
from finseg.server.domain.segment_types.common import Common, Progress
from finseg.server.domain.taxonomy import default
from finseg.server.storage.store import Store
from finseg.server.transport.convert import segment_request

from .peers import Query


def scan_seconds(store: Store, tenant: str, query: Query) -> float:
    kind, raw, account_types, as_of = segment_request(query.spec())
    module = TYPES[kind]
    params = module.parse(raw, default())
    looks: list[float] = []

    def cancelled() -> bool:
        looks.append(time.perf_counter())
        return False

    with store.snapshot(tenant) as snapshot:
        module.run(snapshot, params, Common(tuple(account_types), as_of or query.as_of),
                   Progress(lambda share: None, cancelled))
    return looks[-1] - looks[0]


def median_scans(data_dir: Path, map_size: int, tenant: str, queries: list[Query], runs: int
                 ) -> dict[str, float]:
    """Median scan seconds per query over `runs` rounds, after one untimed
    round that brings the columns into memory."""
    store = Store(data_dir, map_size, readonly=True)
    try:
        for query in queries:
            scan_seconds(store, tenant, query)
        times: dict[str, list[float]] = {q.name: [] for q in queries}
        for _ in range(runs):
            for query in queries:
                times[query.name].append(scan_seconds(store, tenant, query))
    finally:
        store.close()
    return {name: statistics.median(values) for name, values in times.items()}
