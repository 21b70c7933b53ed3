"""Domain errors. Each carries the status it stands for, by name, so the
transport maps it to a gRPC code without the domain knowing about gRPC."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Violation:
    """One bad field: `field` is a path such as "transactions[17].booking_date"."""

    field: str
    description: str


@dataclass
class FinsegError(Exception):
    message: str
    violations: list[Violation] = field(default_factory=list)
    retry_after_seconds: float | None = None
    code = "UNKNOWN"

    def __str__(self) -> str:
        return self.message


class InvalidArgument(FinsegError):
    code = "INVALID_ARGUMENT"


class NotFound(FinsegError):
    code = "NOT_FOUND"


class AlreadyExists(FinsegError):
    code = "ALREADY_EXISTS"


class ResourceExhausted(FinsegError):
    code = "RESOURCE_EXHAUSTED"


class FailedPrecondition(FinsegError):
    code = "FAILED_PRECONDITION"


class Cancelled(FinsegError):
    code = "CANCELLED"


class Unauthenticated(FinsegError):
    code = "UNAUTHENTICATED"


class PermissionDenied(FinsegError):
    code = "PERMISSION_DENIED"


#: How many violations one error lists in detail. A 100,000-row batch that is
#: all wrong would otherwise overflow gRPC's trailing-metadata limit (the
#: details travel in a trailer); the message still gives the total count.
MAX_LISTED_VIOLATIONS = 100


def invalid(violations: list[Violation], what: str) -> InvalidArgument:
    shown = violations[:MAX_LISTED_VIOLATIONS]
    more = len(violations) - len(shown)
    head = "; ".join(f"{v.field}: {v.description}" for v in shown[:5])
    tail = f" (and {len(violations) - 5} more)" if len(violations) > 5 else ""
    note = f"; {more} further violations not listed" if more else ""
    return InvalidArgument(f"{what}: {len(violations)} invalid field(s): {head}{tail}{note}", shown)
