"""Development tokens: HS256 JWTs signed with a local secret file.

`finseg token` prints one for grpcurl and scripts; the tests mint theirs the
same way. Production tokens come from the bank's identity provider; the
service only verifies them (finseg.server.transport.auth).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import jwt

from finseg.v1 import segments_pb2

from .failures import CliError

DEFAULT_SECRET_FILE = Path("finseg-dev-secret")
AUDIENCE = ISSUER = "finseg"

#: Every scope the service knows (SPEC §7, and docs/decisions.md for the
#: taxonomy, audit and usage ones).
ALL_SCOPES = ("ingest:write", "data:delete", "segments:read", "taxonomy:write", "audit:read",
              "usage:read", "metrics:read",
              *(f"segments:create:{name.removeprefix('SEGMENT_TYPE_').lower()}"
                for name in segments_pb2.SegmentType.keys()[1:]))


def secret(path: Path = DEFAULT_SECRET_FILE, create: bool = False) -> bytes:
    """The secret in `path`; a new one only when asked. Made silently, a
    secret in whatever directory `finseg token` ran in would sign tokens
    the service (verifying with its own file) refuses."""
    if not path.exists() and not create:
        raise CliError(f"no secret at {path.resolve()}; give --secret-file with the file the "
                       "service verifies tokens with (its --jwt-key-file; `make run` uses "
                       "./finseg-dev-secret in the project directory), or --create-secret to "
                       "make a new one there", 2)
    if not path.exists():
        ensure_secret(path)
        print(f"finseg token: made a new secret in {path.resolve()}; the service verifies "
              f"tokens with it when run with --jwt-key-file {path.resolve()}", file=sys.stderr)
    return path.read_bytes().strip()


def ensure_secret(path: Path = DEFAULT_SECRET_FILE) -> bytes:
    """The secret in `path`, made (random, readable by its owner only) when
    the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_bytes().strip()


def mint(secret: bytes, tenant: str, scopes: Iterable[str] = ALL_SCOPES, *,
         subject: str = "developer", ttl_seconds: int = 3600, audience: str = AUDIENCE,
         issuer: str = ISSUER, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"sub": subject, "tenant": tenant, "scope": " ".join(scopes), "aud": audience,
              "iss": issuer, "iat": issued, "nbf": issued, "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
