"""The prefetch helper of client streams: order, errors, and no thread left
behind when the consumer stops early."""

from __future__ import annotations

import threading
import time

import pytest

from finseg.server.transport.pipeline import prefetch


def prefetch_threads() -> int:
    return sum(t.name == "finseg-prefetch" for t in threading.enumerate())


def test_results_come_in_order() -> None:
    assert list(prefetch(iter(range(50)), lambda x: x * x)) == [(x, x * x) for x in range(50)]


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("bad item")
        return x

    seen = []
    with pytest.raises(ValueError, match="bad item"):
        for item, _ in prefetch(iter(range(10)), work):
            seen.append(item)
    assert seen == [0, 1, 2]


def test_no_thread_is_left_when_the_consumer_stops_early() -> None:
    before = prefetch_threads()
    for n in (2, 100):
        for _ in range(3):
            # Two items: the producer has put the second and waits to put the
            # end marker when the consumer (a failed RPC) stops after one.
            stream = prefetch(iter(range(n)), lambda x: x)
            next(stream)
            time.sleep(0.05)
            stream.close()
    deadline = time.monotonic() + 5
    while prefetch_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert prefetch_threads() == before
