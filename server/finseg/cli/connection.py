"""How the client commands reach the service: target, token, TLS, deadlines."""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from finseg.client import api

from .failures import CliError

DEFAULT_TARGET = "127.0.0.1:50051"
#: Seconds a call may take; a stream may go this long between messages.
DEFAULT_TIMEOUT = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default=os.environ.get("FINSEG_TARGET", DEFAULT_TARGET),
                        help="host:port of the service (default: $FINSEG_TARGET or "
                             f"{DEFAULT_TARGET})")
    parser.add_argument("--token", default=os.environ.get("FINSEG_TOKEN"),
                        help="bearer token (JWT; default: $FINSEG_TOKEN; none: the service's "
                             "development tenant); `finseg token` mints one for development")
    parser.add_argument("--tls-ca", type=Path,
                        help="CA certificate (PEM) the service's certificate is checked "
                             "against; without it the connection is plaintext")
    parser.add_argument("--server-name",
                        help="with --tls-ca: the name the service's certificate must carry, "
                             "when it is not the host of --target (e.g. dialing an IP address)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"deadline of each call, and the longest wait between two "
                             f"messages of a stream (default {DEFAULT_TIMEOUT:g}; 0: none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def timeout_of(args: argparse.Namespace) -> float | None:
    return args.timeout if args.timeout and args.timeout > 0 else None


def connect(args: argparse.Namespace) -> api.FinsegClient:
    credentials = None
    options: list[tuple[str, Any]] = list(api.DEFAULT_OPTIONS)
    if args.tls_ca is not None:
        try:
            credentials = grpc.ssl_channel_credentials(args.tls_ca.read_bytes())
        except OSError as error:
            raise CliError(f"--tls-ca {args.tls_ca}: {error.strerror}", 2) from None
    if args.server_name:
        if credentials is None:
            raise CliError("--server-name needs --tls-ca: it names the server of a TLS "
                           "connection", 2)
        options.append(("grpc.ssl_target_name_override", args.server_name))
    token = (args.token or "").strip()
    # A token pasted with its scheme would be sent as "Bearer Bearer ...".
    token = token[len("bearer "):].strip() if token.lower().startswith("bearer ") else token
    return api.FinsegClient(args.target, token or None, credentials=credentials,
                            timeout=timeout_of(args), options=options)


def watched(call: Any, timeout: float | None) -> Iterator[Any]:
    """The messages of a response stream, cancelling the call when none
    arrives within `timeout` seconds: one deadline for a whole stream would
    cut a long load short, none at all would wait forever on a stuck one."""
    if timeout is None:
        yield from call
        return
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        call.cancel()

    while True:
        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
        try:
            message = next(call)
        except StopIteration:
            return
        except grpc.RpcError as error:
            if expired.is_set():
                raise StreamStalled(timeout) from error
            raise
        finally:
            timer.cancel()
        yield message


class StreamStalled(Exception):
    """No message of a stream within the timeout; the call was cancelled."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"no answer within --timeout {timeout:g} s")
        self.timeout = timeout
