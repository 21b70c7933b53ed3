"""finseg's errors as Python exceptions, with the status details decoded.

Every FinsegClient method raises a subclass of FinsegError named after the
gRPC status code (InvalidArgument, NotFound, ResourceExhausted, ...). The
error keeps grpc.Call's methods (code(), details(), trailing_metadata()),
so code written against grpc.RpcError, and grpc_status.rpc_status.from_call,
keep working, and adds what the service sends in the
`grpc-status-details-bin` trailer (a google.rpc.Status):

    try:
        client.create_segment(spec)
    except InvalidArgument as error:
        for v in error.violations:          # google.rpc.BadRequest
            print(v.field, v.description)
        error.reason                        # google.rpc.ErrorInfo.reason, or None
    except ResourceExhausted as error:
        error.retry_delay                   # google.rpc.RetryInfo, seconds, or None
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

#: The trailer gRPC servers put a serialized google.rpc.Status in.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class Violation(NamedTuple):
    """One google.rpc.BadRequest field violation: `transactions[17].booking_date`
    and what is wrong with it."""

    field: str
    description: str


class FinsegError(grpc.RpcError):
    """A call that ended with a status other than OK."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 trailing_metadata: Sequence[tuple[str, Any]] = (),
                 call: Any = None) -> None:
        super().__init__(f"{code.name}: {message}")
        self._code = code
        self._message = message
        self._trailing = tuple(trailing_metadata)
        self._call = call
        #: The google.rpc.Status the service sent, or None (an error made
        #: by gRPC itself: no connection, deadline, message too large).
        self.status: status_pb2.Status | None = None
        self.violations: tuple[Violation, ...] = ()
        #: google.rpc.ErrorInfo: a machine-readable reason, its domain and
        #: metadata, when the service sends one.
        self.reason: str | None = None
        self.domain: str | None = None
        self.error_metadata: dict[str, str] = {}
        #: google.rpc.RetryInfo: how long to wait before trying again, in
        #: seconds, when the service says.
        self.retry_delay: float | None = None
        raw = next((v for k, v in self._trailing if k == STATUS_DETAILS_KEY), None)
        if raw is not None:
            self._read_details(raw)

    def _read_details(self, raw: bytes) -> None:
        try:
            status = status_pb2.Status.FromString(raw)
        except DecodeError:
            return  # details a proxy mangled are no details, not a crash
        if status.code != self.code().value[0]:
            return  # the status of another hop, not this error's
        self.status = status
        violations = []
        for detail in status.details:
            bad = error_details_pb2.BadRequest()
            info = error_details_pb2.ErrorInfo()
            retry = error_details_pb2.RetryInfo()
            if detail.Unpack(bad):
                violations += [Violation(v.field, v.description) for v in bad.field_violations]
            elif detail.Unpack(info):
                self.reason, self.domain = info.reason, info.domain
                self.error_metadata = dict(info.metadata)
            elif detail.Unpack(retry):
                self.retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        self.violations = tuple(violations)

    # grpc.Call's view of the error, for code written against grpc.RpcError.
    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self._trailing

    def initial_metadata(self) -> tuple[tuple[str, Any], ...]:
        return tuple(self._call.initial_metadata() or ()) if self._call is not None else ()

    def debug_error_string(self) -> str:
        return self._call.debug_error_string() if self._call is not None else ""

    @property
    def message(self) -> str:
        return self._message


class Cancelled(FinsegError):
    pass


class InvalidArgument(FinsegError):
    pass


class DeadlineExceeded(FinsegError):
    pass


class NotFound(FinsegError):
    pass


class AlreadyExists(FinsegError):
    pass


class PermissionDenied(FinsegError):
    pass


class ResourceExhausted(FinsegError):
    pass


class FailedPrecondition(FinsegError):
    pass


class Unimplemented(FinsegError):
    pass


class Internal(FinsegError):
    pass


class Unavailable(FinsegError):
    pass


class Unauthenticated(FinsegError):
    pass


class OutOfRange(FinsegError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[FinsegError]] = {
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.INTERNAL: Internal,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
}


def error(code: grpc.StatusCode, message: str,
          trailing_metadata: Sequence[tuple[str, Any]] = (), call: Any = None) -> FinsegError:
    """The FinsegError subclass of `code`."""
    return _BY_CODE.get(code, FinsegError)(code, message, trailing_metadata, call)


def from_rpc_error(exc: grpc.RpcError) -> FinsegError:
    """The typed error of a failed call (grpc raises errors that are also
    grpc.Call objects)."""
    if isinstance(exc, FinsegError):
        return exc
    call: Any = exc
    return error(call.code(), call.details() or "", call.trailing_metadata() or (), call)
