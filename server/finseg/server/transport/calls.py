"""Handlers of every shape, and what the outermost interceptor
(transport/observe.py) learns about a call from the parts inside it: the
auth interceptor names the tenant here."""

from __future__ import annotations

from typing import Any

import grpc


def kind_of(handler: Any) -> str:
    """A method handler's shape: which of its four behaviors it has."""
    # Spelled out: it runs for every call, and a loop over getattr costs
    # ten times as much.
    if handler.unary_unary is not None:
        return "unary_unary"
    if handler.unary_stream is not None:
        return "unary_stream"
    return "stream_unary" if handler.stream_unary is not None else "stream_stream"


def with_behavior(handler: Any, behavior: Any) -> Any:
    """The handler with `behavior` in place of its own, whatever its shape."""
    return handler._replace(**{kind_of(handler): behavior})


class CallRecord:
    __slots__ = ("method", "started", "tenant", "span", "children")

    def __init__(self, method: str, started: float) -> None:
        self.method = method
        self.started = started
        self.tenant = ""
        self.span: Any = None
        self.children: Any = None


class WrappedContext:
    """A servicer's context with something added by an interceptor;
    everything else is the gRPC context's."""

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class Observed(WrappedContext):
    """The context carrying its call's record."""

    def __init__(self, context: grpc.ServicerContext, call: CallRecord) -> None:
        super().__init__(context)
        self.call = call


def note_tenant(context: Any, tenant: str) -> None:
    """Tells the call's record (when the call is observed) whose call it is."""
    call = getattr(context, "call", None)
    if isinstance(call, CallRecord):
        call.tenant = tenant
