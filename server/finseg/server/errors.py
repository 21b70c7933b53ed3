"""Domain errors. Each carries the status it stands for, by name, so the
transport maps it to a gRPC code without the domain knowing about gRPC, and
a reason (google.rpc.ErrorInfo) clients can branch on instead of the text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """ErrorInfo reasons, stable across releases: clients branch on them,
    so one is never renamed or reused for another meaning. docs/errors.md
    has the table (a test compares the two)."""

    # INVALID_ARGUMENT
    INVALID_ROWS = "INVALID_ROWS"
    INVALID_COLUMNS = "INVALID_COLUMNS"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    INVALID_ARROW_IPC = "INVALID_ARROW_IPC"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    INVALID_USER_ID = "INVALID_USER_ID"
    INVALID_SPEC = "INVALID_SPEC"
    UNKNOWN_LABEL_GROUP = "UNKNOWN_LABEL_GROUP"
    UNKNOWN_INSURANCE_TYPE = "UNKNOWN_INSURANCE_TYPE"
    UNKNOWN_SEGMENT_NAME = "UNKNOWN_SEGMENT_NAME"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"
    INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
    INVALID_FILTER = "INVALID_FILTER"
    INVALID_TIME_RANGE = "INVALID_TIME_RANGE"
    INVALID_TAXONOMY = "INVALID_TAXONOMY"
    INVALID_RULE = "INVALID_RULE"
    NOT_LIVE_TYPE = "NOT_LIVE_TYPE"
    # NOT_FOUND
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    # ALREADY_EXISTS
    TRANSACTION_ID_CONFLICT = "TRANSACTION_ID_CONFLICT"
    # RESOURCE_EXHAUSTED
    QUEUE_FULL = "QUEUE_FULL"
    DATABASE_FULL = "DATABASE_FULL"
    TOO_MANY_PROVIDERS = "TOO_MANY_PROVIDERS"
    # FAILED_PRECONDITION
    SEGMENT_FAILED = "SEGMENT_FAILED"
    SEGMENT_FINISHED = "SEGMENT_FINISHED"
    STORE_INCONSISTENT = "STORE_INCONSISTENT"
    STORE_FORMAT_MISMATCH = "STORE_FORMAT_MISMATCH"
    DATA_DIR_IN_USE = "DATA_DIR_IN_USE"
    BACKUP_DIR_NOT_EMPTY = "BACKUP_DIR_NOT_EMPTY"
    SEGMENT_NOT_LIVE = "SEGMENT_NOT_LIVE"
    # OUT_OF_RANGE
    EVENTS_PRUNED = "EVENTS_PRUNED"
    # CANCELLED
    SEGMENT_CANCELLED = "SEGMENT_CANCELLED"
    # UNAUTHENTICATED
    TOKEN_MISSING = "TOKEN_MISSING"
    TOKEN_MALFORMED = "TOKEN_MALFORMED"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_SIGNATURE_INVALID = "TOKEN_SIGNATURE_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_NOT_YET_VALID = "TOKEN_NOT_YET_VALID"
    TOKEN_CLAIM_INVALID = "TOKEN_CLAIM_INVALID"
    # PERMISSION_DENIED
    MISSING_SCOPE = "MISSING_SCOPE"
    METHOD_NOT_GRANTED = "METHOD_NOT_GRANTED"
    # INTERNAL
    INTERNAL_ERROR = "INTERNAL_ERROR"


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
    #: Required at every raise site (keyword-only, no default), so mypy
    #: names a site that forgets it before a client sees no reason.
    reason: Reason = field(kw_only=True)
    #: ErrorInfo.metadata: facts a client may act on (the missing scope,
    #: the segment id); values are clipped by the transport.
    metadata: dict[str, str] = field(default_factory=dict, kw_only=True)
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


class OutOfRange(FinsegError):
    code = "OUT_OF_RANGE"


class Cancelled(FinsegError):
    code = "CANCELLED"


class Unauthenticated(FinsegError):
    code = "UNAUTHENTICATED"


class PermissionDenied(FinsegError):
    code = "PERMISSION_DENIED"


class Internal(FinsegError):
    code = "INTERNAL"


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


def invalid(violations: list[Violation], what: str, unlisted: int = 0, *, reason: Reason
            ) -> InvalidArgument:
    """One error for every violation found; the transport lists as many in
    detail as a trailer can carry, and says how many more there were."""
    total = len(violations) + unlisted
    head = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
    tail = f" (and {total - 5:,} more)" if total > 5 else ""
    return InvalidArgument(f"{what}: {total:,} invalid field(s): {head}{tail}", violations,
                           unlisted=unlisted, reason=reason,
                           metadata={"violations": str(total)})
