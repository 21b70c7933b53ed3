"""This machine's sequential read bandwidth, as a kernel would see it: a
numba loop summing a 2 GiB int64 array already in memory, on one thread and
on all of them (the parallel kernels use both cores here)."""

from __future__ import annotations

import statistics
import time

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _sum(values: np.ndarray) -> int:
    total = 0
    for i in range(values.size):
        total += values[i]
    return total


@numba.njit(nogil=True, cache=True, parallel=True)
def _parallel_sum(values: np.ndarray) -> int:
    total = 0
    for i in numba.prange(values.size):
        total += values[i]
    return total


def measure(size_bytes: int = 2 << 30, runs: int = 5) -> dict[str, float]:
    """Bytes per second read, median of `runs`, on one thread and on all."""
    values = np.ones(size_bytes // 8, np.int64)  # written once: every page is resident
    out = {}
    for name, function in (("one thread", _sum), ("all threads", _parallel_sum)):
        function(values[:1024])  # compile outside the timing
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            assert function(values) == values.size
            times.append(time.perf_counter() - started)
        out[name] = values.nbytes / statistics.median(times)
    return out


if __name__ == "__main__":
    for name, rate in measure().items():
        print(f"{name}: {rate / 2**30:.1f} GiB/s")
