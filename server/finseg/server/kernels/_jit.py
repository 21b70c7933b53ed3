"""The one place where finseg's numba flags are chosen.

- cache=True: compiled machine code is written to NUMBA_CACHE_DIR so a
  restarted service answers its first request without waiting for the JIT.
- nogil=True: kernels run on job worker threads while gRPC threads keep
  serving; releasing the GIL lets both make progress.
- parallel=True only for kernels whose outer loop is a prange over accounts.
- fastmath stays off everywhere: money is exact integer arithmetic, and the
  float statistics must be reproducible against the plain references.
- Array inputs are passed read-only (`readonly` below), so each kernel
  compiles once, whatever memory its inputs come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np

# Typed loosely: numba's Dispatcher type knows nothing of a kernel's
# parameters, and mypy would count a call's unpacked arguments against it.
kernel: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True, nogil=True)
parallel_kernel: Callable[[Callable[..., Any]], Any] = numba.njit(cache=True, nogil=True,
                                                                  parallel=True)


def readonly(*arrays: np.ndarray) -> list[np.ndarray]:
    """Read-only views of `arrays`, for the inputs a kernel only reads.

    numba compiles machine code per argument type, and whether an array is
    writable is part of its type. A kernel's inputs are read-only views over
    LMDB's map in one block and fresh arrays in the next (merged tail rows,
    padded offsets, Arrow buffers or copies), so without this one kernel
    would have several signatures and the first job to meet a new mix would
    wait for the JIT. Entry points pass their inputs through here, so each
    kernel has one signature, the one the warm-up compiles.
    """
    views = []
    for array in arrays:
        view = array.view()
        view.flags.writeable = False
        views.append(view)
    return views
