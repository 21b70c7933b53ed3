"""When FinsegClient tries a failed call again, and after how long."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import grpc

from .errors import FinsegError


@dataclass(frozen=True)
class Retry:
    """Exponential backoff with full jitter: before attempt n+1 the client
    waits a random time up to initial_backoff * multiplier**n (at most
    max_backoff), so clients refused together do not come back together.

    Retried: UNAVAILABLE (the service is starting, stopping or unreachable)
    for idempotent calls, and RESOURCE_EXHAUSTED when the service says when
    to come back (google.rpc.RetryInfo: the job queue is full), for every
    call, after at least that delay. A RESOURCE_EXHAUSTED without it is
    final: a full database or a message over a size limit does not change
    by waiting, and gRPC's own refusal of calls beyond the server's thread
    count is load shedding the caller should see.
    """

    attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    multiplier: float = 2.0

    def delay(self, error: FinsegError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait after the failed attempt number `attempt` (0 for
        the first), or None when the error is final."""
        if attempt + 1 >= self.attempts:
            return None
        backoff = random.uniform(0, min(self.max_backoff,
                                        self.initial_backoff * self.multiplier ** attempt))
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is not None:
            return error.retry_delay + backoff
        if error.code() == grpc.StatusCode.UNAVAILABLE and idempotent:
            return backoff
        return None


DEFAULT_RETRY = Retry()
#: No second attempt.
NO_RETRY = Retry(attempts=1)


class Deadline:
    """The end of a call's time, shared by all its attempts and the waits
    between them: a timeout is what the caller waits in all."""

    def __init__(self, timeout: float | None) -> None:
        self.end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - time.monotonic())

    def sleep(self, seconds: float) -> bool:
        """Waits `seconds` if the deadline leaves time for another attempt
        after it; False (without waiting) if not."""
        left = self.remaining()
        if left is not None and seconds >= left:
            return False
        time.sleep(seconds)
        return True
