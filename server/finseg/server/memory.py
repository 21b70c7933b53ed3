"""The service keeps the memory it frees, to use it again.

A job of half a million members allocates about a gigabyte (the kernels'
sums, the members table, the encoded members) and frees it when it is
stored. By default glibc gives large blocks back to the kernel at once
(each is its own mmap) and trims the heap; the next job then faults every
page in again. On the VMs finseg is benchmarked on, which hand freed pages
back to their host within seconds, that is about 2.4 ms per MB: most of a
second per such job (bench-e2e). So the service tells glibc to serve every
allocation from its one main heap and never to trim it: a thread's own
arena (glibc makes one per thread under contention, 64 MB heaps) is
unmapped whole once empty, which the job threads' arrays of tens of MB
did after every job. The price: the process stays at the size of its
largest job, which it would reach again at the next one anyway, and
threads share one arena's lock (numpy and Arrow allocate large blocks,
few of them; Python's small objects have their own allocator).

Arrow allocates from its own pool, mimalloc in the wheels, which returns a
freed page to the kernel within milliseconds: every other FINANCIAL_BREAKDOWN
job of half a million members then took 0.3 s longer to compute and 0.4 s
longer to encode, faulting its tables in again (bench-e2e, 50M bank). So
Arrow is switched to the system allocator, which now keeps what it frees.

Without glibc (musl, macOS) this does nothing. Only `finseg serve` calls
it: a test process or another program embedding the service keeps its
allocator as it is.
"""

from __future__ import annotations

import ctypes
import logging

import pyarrow as pa

log = logging.getLogger(__name__)

#: mallopt's parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
#: The largest trim threshold mallopt takes (an int): free memory at the top
#: of the heap is kept up to this much.
_KEEP_BYTES = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tells glibc's malloc to keep freed memory, and Arrow to allocate
    from it; False where there is no glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    kept = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)) \
        and bool(mallopt(_M_ARENA_MAX, 1))
    if not kept:
        log.warning("could not tell malloc to keep freed memory; large jobs will be slower")
        return False
    pa.set_memory_pool(pa.system_memory_pool())
    return True
