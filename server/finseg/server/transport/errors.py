"""Turns domain errors into gRPC statuses, one decorator per RPC shape.

Domain errors carry their status by name; rich details travel as
google.rpc.BadRequest (field violations) and google.rpc.RetryInfo. Anything
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

from ..errors import FinsegError, InvalidArgument

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _status(exc: FinsegError) -> status_pb2.Status:
    status = status_pb2.Status(code=getattr(code_pb2, exc.code), message=exc.message)
    if exc.violations:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in exc.violations]))
        status.details.append(detail)
    if exc.retry_after_seconds is not None:
        detail = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(exc.retry_after_seconds * 1000))
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    return status


def abort(context: grpc.ServicerContext, error: FinsegError) -> NoReturn:
    """Ends the call with the error's status and details."""
    context.abort_with_status(rpc_status.to_status(_status(error)))
    raise AssertionError("abort_with_status returned")  # it raises


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, FinsegError):
        abort(context, exc)
    log.error("unexpected error in %s", method, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, "internal error; the service log has the details")


class Malformed:
    """Stands for a request whose bytes did not parse (see registry)."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def _checked(request: Any) -> Any:
    """The request, or for a request stream its messages, refusing any that
    did not parse."""
    if isinstance(request, Malformed):
        raise InvalidArgument(f"the request is not a valid {request.message_name} message "
                              "(its bytes do not parse)")
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
