"""Which users the writes named while a live segment's whole-tenant
evaluation ran outside the write lock.

The first membership and each day change evaluate every user over a read
snapshot, which takes as long as a batch job; ingestion goes on meanwhile.
Each write then counts a generation in the tenant's state and notes its
users here. Under the write lock at the end, the users named after the
snapshot's generation are evaluated again over the write transaction and
replace their rows of the snapshot's result, so the stored members are
exactly those of the data at that commit.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}  # tenant -> evaluations running
        self._entries: dict[str, list[tuple[int, np.ndarray, str | None]]] = {}

    def open(self, tenant: str) -> None:
        """Starts noting the tenant's writes. The caller holds the write lock
        while it opens and takes its snapshot, so that every write is either
        in the snapshot or noted."""
        with self._lock:
            self._open[tenant] = self._open.get(tenant, 0) + 1

    def close(self, tenant: str) -> None:
        with self._lock:
            left = self._open.get(tenant, 0) - 1
            if left > 0:
                self._open[tenant] = left
            else:
                self._open.pop(tenant, None)
                self._entries.pop(tenant, None)

    def note(self, tenant: str, state: dict[str, Any], users: np.ndarray,
             erased: str | None) -> None:
        """Counts a write in the state it will commit and notes its users. A
        write that then fails leaves a note behind: its users are evaluated
        again for nothing, which changes no result."""
        with self._lock:
            if tenant not in self._open:
                return
            generation = state.get("generation", 0) + 1
            state["generation"] = generation
            self._entries.setdefault(tenant, []).append((generation, users, erased))

    def since(self, tenant: str, generation: int) -> tuple[np.ndarray, set[str]]:
        """(users, erased user ids) of the writes after `generation`."""
        with self._lock:
            entries = [e for e in self._entries.get(tenant, []) if e[0] > generation]
        users = (np.unique(np.concatenate([e[1] for e in entries])) if entries
                 else np.empty(0, np.int64))
        return users, {e[2] for e in entries if e[2] is not None}
