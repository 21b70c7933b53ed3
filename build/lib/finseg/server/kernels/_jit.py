"""The one place where finseg's numba flags are chosen.

- cache=True: compiled machine code is written to NUMBA_CACHE_DIR so a
  restarted service answers its first request without waiting for the JIT.
- nogil=True: kernels run on job worker threads while gRPC threads keep
  serving; releasing the GIL lets both make progress.
- parallel=True only for kernels whose outer loop is a prange over accounts.
- fastmath stays off everywhere: money is exact integer arithmetic, and the
  float statistics must be reproducible against the plain references.
"""

from __future__ import annotations

import numba

kernel = numba.njit(cache=True, nogil=True)
parallel_kernel = numba.njit(cache=True, nogil=True, parallel=True)
