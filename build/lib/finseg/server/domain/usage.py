"""Usage metering per tenant and segment type (SPEC §7, billing).

Jobs created and rows scanned are counted in the transactions that store
the job and its results (storage/jobs.py). Result rows returned are counted
here in memory and written every `interval` seconds and at stop: a page
read must not wait for a durable write. A crash loses at most the last
interval's result-row counts; it never counts a row twice.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from ..storage.store import Store
from ..storage.usage import FIELDS

log = logging.getLogger(__name__)


class Meter:
    def __init__(self, store: Store, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pending: collections.Counter[tuple[str, str]] = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def returned(self, tenant: str, type_name: str, rows: int) -> None:
        if rows:
            with self._lock:
                self._pending[(tenant, type_name)] += rows

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, collections.Counter()
        if not pending:
            return
        try:
            with self.store.env.write() as txn:
                for (tenant, type_name), rows in pending.items():
                    self.store.usage.add_in(txn, tenant, type_name, result_rows_returned=rows)
        except Exception:
            with self._lock:  # kept for the next flush
                self._pending.update(pending)
            raise

    def usage(self, tenant: str) -> dict[str, dict[str, int]]:
        """The tenant's counters by type, including counts not written yet."""
        with self._lock:
            pending = {t: n for (who, t), n in self._pending.items() if who == tenant}
        return _with_pending(self.store.usage.of(tenant), pending)

    def everything(self) -> dict[tuple[str, str], dict[str, int]]:
        with self._lock:
            pending = dict(self._pending)
        return _with_pending(self.store.usage.everything(), pending)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.flush()
                except Exception:
                    log.exception("could not write usage counters; retrying")

        self._thread = threading.Thread(target=loop, name="finseg-meter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()


def _with_pending(stored: dict[Any, dict[str, int]], pending: dict[Any, int]
                  ) -> dict[Any, dict[str, int]]:
    """Stored counters plus result rows counted but not written yet."""
    for key, rows in pending.items():
        stored.setdefault(key, dict.fromkeys(FIELDS, 0))["result_rows_returned"] += rows
    return stored
