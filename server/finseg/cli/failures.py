"""What the CLI says when a call fails: one line, with a hint at the fix.

The status details are read defensively. A status may come from another
service or proxy, be cut short, or (grpcio-status) make `from_call` raise
when its code differs from the call's; none of that may turn into a
traceback, so anything that does not parse is treated as no details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2


class CliError(Exception):
    """A failure the command reports as one line and exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Failure:
    """A failed call as the CLI reads it."""

    code: str
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    #: (field, description) of google.rpc.BadRequest, in the service's order.
    violations: list[tuple[str, str]] = field(default_factory=list)

    def total(self) -> int:
        """How many violations the service found, listed or not."""
        if self.metadata.get("violations", "").isdigit():
            return int(self.metadata["violations"])
        counted = re.search(r"([\d,]+) invalid field", self.message)
        if counted:
            return int(counted.group(1).replace(",", ""))
        return len(self.violations)


def read(error: grpc.RpcError) -> Failure:
    code = error.code() if callable(getattr(error, "code", None)) else None
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details = error.details() if callable(getattr(error, "details", None)) else None
    failure = Failure(name, str(details or "").strip() or "(no message)")
    status = _status(error, code)
    if status is None:
        return failure
    for detail in status.details:
        try:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                failure.violations.extend((v.field, v.description) for v in bad.field_violations)
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                failure.reason, failure.metadata = info.reason, dict(info.metadata)
        except (DecodeError, ValueError, TypeError):
            continue
    return failure


def _status(error: grpc.RpcError, code: object) -> status_pb2.Status | None:
    """grpc-status-details-bin, when it parses and agrees with the call's
    code (a proxy or the client itself may have replaced the status)."""
    try:
        trailers = error.trailing_metadata() or ()  # type: ignore[attr-defined]
        raw = next((value for key, value in trailers if key == "grpc-status-details-bin"),
                   None)
        if not isinstance(raw, bytes):
            return None
        status = status_pb2.Status.FromString(raw)
    except (AttributeError, DecodeError, TypeError, ValueError):
        return None
    if not isinstance(code, grpc.StatusCode) or status.code != code.value[0]:
        return None
    return status


#: Hints by reason (docs/errors.md), then by code for statuses without one.
_REASON_HINTS = {
    "TOKEN_SIGNATURE_INVALID": "the token was signed with another secret than the service "
                               "verifies with (its --jwt-key-file); mint one from that file: "
                               "finseg token --tenant T --secret-file FILE (`make run` uses "
                               "./finseg-dev-secret)",
    "TOKEN_MISSING": "pass --token or set FINSEG_TOKEN; `finseg token --tenant T` mints one "
                     "for development",
    "TOKEN_EXPIRED": "mint a new one (finseg token)",
    "TOKEN_MALFORMED": "--token takes the JWT alone, without 'Bearer '",
    "QUEUE_FULL": "the service is busy; try again in a few seconds",
    "DATABASE_FULL": "the service's store is full; its operator restarts it with a larger "
                     "--map-size",
}


def _scope_hint(failure: Failure) -> str:
    scope = failure.metadata.get("scope")
    return f"mint a token with --scope {scope}" if scope else ""


def describe(error: grpc.RpcError, target: str, timeout: float | None = None,
             rename: Callable[[str], str] = lambda text: text) -> str:
    """One line for a failed call to `target`; `rename` rewrites the
    service's field paths into what the user typed (flags, file lines)."""
    failure = read(error)
    if failure.code == "UNAVAILABLE":
        lower = failure.message.lower()
        if "hostname verification" in lower:
            return (f"cannot reach finseg at {target}: its certificate does not carry the name "
                    "dialed; give --server-name with a name it does carry")
        if "handshake" in lower or "certificate" in lower or "ssl" in lower:
            return (f"cannot reach finseg at {target}: the TLS handshake failed "
                    f"({_short(_tail(failure.message))}); check that --tls-ca is the CA that "
                    "signed the service's certificate, and --server-name")
        return (f"cannot reach finseg at {target} ({_short(_tail(failure.message))}); check "
                "that the service runs and listens there, or give --target (or "
                "$FINSEG_TARGET), and --tls-ca if it speaks TLS")
    if failure.code == "DEADLINE_EXCEEDED":
        limit = f" within --timeout {timeout:g} s" if timeout else ""
        return (f"no answer from {target}{limit}; the service may be overloaded, or give a "
                "longer --timeout")
    if failure.code == "RESOURCE_EXHAUSTED" and not failure.reason and \
            "metadata" in failure.message:
        return (f"the answer of {target} was too large for this client and was dropped "
                f"({_short(failure.message)}); the service's error details are lost")
    text = rename(failure.message)
    hint = _REASON_HINTS.get(failure.reason) or \
        (_scope_hint(failure) if failure.reason == "MISSING_SCOPE" else "")
    # The message says what is wrong; the code adds nothing for a person.
    return (text if failure.message != "(no message)" else failure.code) + \
        (f" ({hint})" if hint else "")


def _tail(message: str) -> str:
    """gRPC's connection errors without their generic head."""
    return message.split("last error: ", 1)[-1].removeprefix("UNKNOWN: ")


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:200] + "…"
