"""Overlapping the work on consecutive messages of a client stream."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()


def prefetch(items: Iterator[T], work: Callable[[T], R], depth: int = 1
             ) -> Iterator[tuple[T, R]]:
    """Yields (item, work(item)) in order, computing up to `depth` items ahead
    on a background thread.

    For AppendTransactions this receives and checks batch k+1 while batch k
    commits: receiving and the stateless checks (Arrow compute, numba
    hashing) release the GIL, and a commit mostly waits for the disk. An
    exception from the stream or from `work` is raised here, in order, after
    the items before it; the thread stops when the consumer stops.
    """
    results: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(outcome: object) -> bool:
        """Hands an outcome over unless the consumer stopped; the timeout
        lets a producer whose consumer went away end instead of waiting."""
        while not stop.is_set():
            try:
                results.put(outcome, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                try:
                    outcome: object = (item, work(item), None)
                except Exception as exc:  # noqa: BLE001 - handed to the consumer in order
                    put((item, None, exc))
                    return
                if not put(outcome):
                    return
        except Exception as exc:  # noqa: BLE001 - the stream itself failed
            put((None, None, exc))
            return
        put(_END)

    thread = threading.Thread(target=produce, name="finseg-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            outcome = results.get()
            if outcome is _END:
                return
            assert isinstance(outcome, tuple)
            item, result, error = outcome
            if error is not None:
                raise error
            yield item, result
    finally:
        stop.set()
