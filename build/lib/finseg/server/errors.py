"""Domain errors. Each carries the status it stands for, by name, so the
transport maps it to a gRPC code without the domain knowing about gRPC."""

from __future__ import annotations

from collections.abc import Sequence
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
    #: Violations found but never built (a rule that fails on a million rows
    #: names the first of them), counted so the client learns the total.
    unlisted: int = 0
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


#: How much of an input a message quotes. Statuses travel in gRPC trailers,
#: which clients refuse beyond 8 KiB by default; an echoed 20 KB id would
#: replace the error with the client's own RESOURCE_EXHAUSTED.
QUOTED_CHARACTERS = 40


def quoted(value: str, characters: int = QUOTED_CHARACTERS) -> str:
    """The value for a message: its repr when short, else the repr of its
    first `characters` characters and its length."""
    if len(value) <= characters:
        return repr(value)
    return f"{value[:characters]!r}… ({len(value):,} characters)"


def brief(value: str) -> str:
    """The value as it is when short (a column name as a field path), else
    quoted()."""
    return value if len(value) <= QUOTED_CHARACTERS else quoted(value)


def listing(names: Sequence[str], characters: int = 600) -> str:
    """Names allowed or known, for a message: as many as fit in about
    `characters` (a tenant's taxonomy may have thousands), then how many
    more there are."""
    shown: list[str] = []
    used = 0
    for name in names:
        text = brief(name)
        used += len(text) + 2
        if used > characters:
            break
        shown.append(text)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" and {rest:,} more" if rest else "")


def invalid(violations: list[Violation], what: str, unlisted: int = 0) -> InvalidArgument:
    """One error for every violation found; the transport lists as many in
    detail as a trailer can carry, and says how many more there were."""
    total = len(violations) + unlisted
    head = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
    tail = f" (and {total - 5:,} more)" if total > 5 else ""
    return InvalidArgument(f"{what}: {total:,} invalid field(s): {head}{tail}", violations,
                           unlisted=unlisted)
