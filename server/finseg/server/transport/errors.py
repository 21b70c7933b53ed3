"""Turns domain errors into gRPC statuses, one decorator per RPC shape.

Domain errors carry their status by name; rich details travel as
google.rpc.BadRequest (field violations), google.rpc.RetryInfo and, on every
error, google.rpc.ErrorInfo (a stable reason, docs/errors.md). Anything
unexpected is logged with its traceback and becomes INTERNAL with a generic
message: a client never sees a stack trace.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from ..errors import FinsegError, Internal, InvalidArgument, Reason, Violation

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


#: The status travels in the trailers: grpc-message (percent-encoded, up to
#: 3 bytes a byte) and grpc-status-details-bin (base64, 4/3 of the bytes),
#: which holds the message again with the details. Clients of gRPC core
#: (Python's among them) refuse metadata beyond 8 KiB by default and report
#: their own RESOURCE_EXHAUSTED instead; these two stay within TRAILER_BYTES
#: whatever the error, the details listing as many violations as the
#: message leaves room for.
TRAILER_BYTES = 6144
MESSAGE_BYTES = 1024
#: One violation's share at most, so a long one cannot crowd out the rest.
FIELD_BYTES = 256
DESCRIPTION_BYTES = 1024
#: Room in the details for what is not a violation or the ErrorInfo
#: (measured apart): the code, the Any's type URL, a RetryInfo.
DETAILS_OVERHEAD = 160
#: ErrorInfo.domain of every finseg error.
DOMAIN = "finseg.v1"
#: One ErrorInfo.metadata value at most: a field path, a scope, a segment
#: id fit; an id the caller sent may be 20 KB and is not echoed whole.
METADATA_BYTES = 64


def _clipped(text: str, limit: int) -> str:
    """text cut to at most `limit` bytes of UTF-8, at a character boundary,
    an ellipsis marking the cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[:limit - len("…".encode())].decode(errors="ignore") + "…"


def _encoded_size(message: str) -> int:
    """Bytes of the message in grpc-message (gRPC's percent-encoding)."""
    return sum(1 if 0x20 <= b <= 0x7E and b != 0x25 else 3 for b in message.encode())


def _fitting(violations: list[Violation], budget: int
             ) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """The leading violations whose BadRequest fits `budget` bytes."""
    kept, size = [], 0
    for v in violations:
        entry = error_details_pb2.BadRequest.FieldViolation(
            field=_clipped(v.field, FIELD_BYTES),
            description=_clipped(v.description, DESCRIPTION_BYTES))
        size += entry.ByteSize() + 3  # the entry's tag and length
        if size > budget:
            break
        kept.append(entry)
    return kept


def _message(exc: FinsegError, unlisted: int) -> str:
    note = f" … and {unlisted:,} more violations not listed" if unlisted else ""
    return _clipped(exc.message, MESSAGE_BYTES - len(note.encode())) + note


def _error_info(exc: FinsegError) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(
        reason=exc.reason, domain=DOMAIN,
        metadata={key: _clipped(value, METADATA_BYTES) for key, value in exc.metadata.items()}))
    return detail


def _status(exc: FinsegError) -> status_pb2.Status:
    # The budget is taken with the longest note, as if nothing were listed:
    # the final note, with a smaller count, is no longer.
    longest = _message(exc, len(exc.violations) + exc.unlisted)
    info = _error_info(exc)
    budget = (TRAILER_BYTES - _encoded_size(longest)) * 3 // 4 - len(longest.encode()) \
        - DETAILS_OVERHEAD - info.ByteSize() - 4
    violations = _fitting(exc.violations, budget)
    message = _message(exc, len(exc.violations) - len(violations) + exc.unlisted)
    status = status_pb2.Status(code=getattr(code_pb2, exc.code), message=message)
    if violations:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=violations))
        status.details.append(detail)
    if exc.retry_after_seconds is not None:
        detail = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(exc.retry_after_seconds * 1000))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    # Last, so clients that read details[0] as the BadRequest or RetryInfo
    # before ErrorInfo existed still find it there.
    status.details.append(info)
    return status


def abort(context: grpc.ServicerContext, error: FinsegError) -> NoReturn:
    """Ends the call with the error's status and details."""
    context.abort_with_status(rpc_status.to_status(_status(error)))
    raise AssertionError("abort_with_status returned")  # it raises


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, FinsegError):
        abort(context, exc)
    log.error("unexpected error in %s", method, exc_info=exc)
    abort(context, Internal("internal error; the service log has the details",
                            reason=Reason.INTERNAL_ERROR))


class Malformed:
    """Stands for a request whose bytes did not parse (see registry)."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def _checked(request: Any) -> Any:
    """The request, or for a request stream its messages, refusing any that
    did not parse."""
    if isinstance(request, Malformed):
        raise InvalidArgument(f"the request is not a valid {request.message_name} message "
                              "(its bytes do not parse)", reason=Reason.MALFORMED_REQUEST)
    if isinstance(request, Iterator):
        return (_checked(message) for message in request)
    return request


def unary(method: F) -> F:
    """For unary-response RPCs (unary-unary and stream-unary)."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, _checked(request), context)
        except Exception as exc:  # noqa: BLE001 - mapped to a status right here
            if _aborted(exc):
                raise
            _abort(context, exc, method.__name__)

    return wrapper  # type: ignore[return-value]


def streaming(method: F) -> F:
    """For stream-response RPCs (unary-stream and stream-stream)."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from method(self, _checked(request), context)
        except Exception as exc:  # noqa: BLE001 - mapped to a status right here
            if _aborted(exc):
                raise
            _abort(context, exc, method.__name__)

    return wrapper  # type: ignore[return-value]


def _aborted(exc: BaseException) -> bool:
    # context.abort() raises a bare Exception to unwind the handler; it must
    # pass through untouched or the status it set would become INTERNAL.
    return type(exc) is Exception and not exc.args
