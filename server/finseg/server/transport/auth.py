"""Who is calling, decided once per call by a server interceptor.

Every call carries `authorization: Bearer <JWT>`. The token is verified with
PyJWT against one pinned algorithm (so `alg: none` and a switch from RS256
to HS256 are refused), and must carry `exp`, `aud` and `iss` with the
configured values. The tenant comes from one claim (`tenant` by default),
the scopes from `scope` (space-separated). The servicers receive the
caller as an `Identity` on their context and never read tenant metadata.

Most methods need one scope, checked here before the servicer runs; a
segment's create scope depends on its type, so CreateSegment, CancelSegment
and DeleteSegment check it themselves (`METHOD_SCOPES` maps them to
`BY_TYPE`). A method missing from the table is refused, so a new RPC is
closed until someone decides its scope.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt

from finseg.v1 import segments_pb2

from ..errors import FinsegError, PermissionDenied, Reason, Unauthenticated
from ..settings import OPEN_SERVICES
from .calls import WrappedContext, kind_of, note_tenant, with_behavior
from .errors import abort

log = logging.getLogger(__name__)

INGEST = "ingest:write"
DELETE = "data:delete"
READ = "segments:read"
TAXONOMY_WRITE = "taxonomy:write"
AUDIT_READ = "audit:read"
USAGE_READ = "usage:read"
#: Scraping /metrics when it listens beyond loopback (transport/metrics.py).
METRICS_READ = "metrics:read"
#: Stands for "segments:create:<type>", checked by the servicer.
BY_TYPE = "segments:create:<type>"
SEGMENT_TYPES = tuple(name.removeprefix("SEGMENT_TYPE_")
                      for name in segments_pb2.SegmentType.keys()[1:])


def create_scope(type_name: str) -> str:
    return f"segments:create:{type_name.lower()}"


ALL_SCOPES = (INGEST, DELETE, READ, TAXONOMY_WRITE, AUDIT_READ, USAGE_READ, METRICS_READ,
              *(create_scope(t) for t in SEGMENT_TYPES))

METHOD_SCOPES = {
    "/finseg.v1.IngestionService/UpsertAccounts": INGEST,
    "/finseg.v1.IngestionService/AppendTransactions": INGEST,
    "/finseg.v1.IngestionService/DeleteUser": DELETE,
    "/finseg.v1.SegmentService/CreateSegment": BY_TYPE,
    "/finseg.v1.SegmentService/CancelSegment": BY_TYPE,
    "/finseg.v1.SegmentService/DeleteSegment": BY_TYPE,
    "/finseg.v1.SegmentService/GetSegment": READ,
    "/finseg.v1.SegmentService/StreamSegment": READ,
    "/finseg.v1.SegmentService/ListSegments": READ,
    "/finseg.v1.SegmentService/WatchSegment": READ,
    "/finseg.v1.TaxonomyService/GetTaxonomy": READ,
    "/finseg.v1.TaxonomyService/ReplaceTaxonomy": TAXONOMY_WRITE,
    "/finseg.v1.AuditService/ListAuditEvents": AUDIT_READ,
    "/finseg.v1.UsageService/GetUsage": USAGE_READ,
}

MAX_TENANT_BYTES = 128  # a tenant name is an LMDB key prefix


@dataclass(frozen=True)
class Identity:
    tenant: str
    #: The token's `sub` ("" when it has none); the audit log's "who".
    subject: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(f"this call needs the scope {scope!r}, which the token "
                                   "does not grant", reason=Reason.MISSING_SCOPE,
                                   metadata={"scope": scope})


@dataclass(frozen=True)
class TokenConfig:
    algorithm: str
    audience: str
    issuer: str
    #: HS256/384/512: the shared secret's bytes. RS/ES/PS: a PEM public key.
    key_file: Path | None = None
    #: A JWKS document; the token's `kid` picks the key.
    jwks_file: Path | None = None
    tenant_claim: str = "tenant"
    scope_claim: str = "scope"


class Verifier:
    """Turns an `authorization` value into an Identity or an error."""

    #: Verified tokens remembered (with their validity window).
    CACHE_SIZE = 4096

    def __init__(self, config: TokenConfig) -> None:
        if config.algorithm.lower() == "none" or \
                config.algorithm not in jwt.algorithms.get_default_algorithms():
            raise ValueError(f"unsupported JWT algorithm {config.algorithm!r}")
        if (config.key_file is None) == (config.jwks_file is None):
            raise ValueError("configure exactly one of a JWT key file and a JWKS file")
        self.config = config
        self._verified: collections.OrderedDict[str, tuple[Identity, float, float]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()
        self._key: Any = None
        self._jwks: jwt.PyJWKSet | None = None
        if config.jwks_file is not None:
            self._jwks = jwt.PyJWKSet.from_json(config.jwks_file.read_text())
        elif config.algorithm.startswith("HS"):
            assert config.key_file is not None
            self._key = config.key_file.read_bytes().strip()
            if len(self._key) < 32:
                raise ValueError("an HS256 secret must have at least 32 bytes")
        else:
            assert config.key_file is not None
            self._key = config.key_file.read_bytes()

    def identify(self, authorization: str) -> Identity:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization metadata must be 'Bearer <JWT>'",
                                  reason=Reason.TOKEN_MALFORMED)
        # A client sends the same token on every call; verifying it once and
        # then only checking its time window saves most of the cost per call.
        with self._lock:
            cached = self._verified.get(token)
        if cached is not None:
            identity, not_before, expires = cached
            if not_before <= time.time() < expires:
                return identity
        identity, not_before, expires = self._verify(token)
        with self._lock:
            self._verified[token] = (identity, not_before, expires)
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float, float]:
        """The token's identity and the window [nbf, exp) it is valid in."""
        config = self.config
        try:
            key = self._key
            if self._jwks is not None:
                kid = jwt.get_unverified_header(token).get("kid")
                if not isinstance(kid, str):
                    raise Unauthenticated("the bearer token names no key (kid) of the key set",
                                          reason=Reason.TOKEN_INVALID)
                key = self._jwks[kid].key
            # The time claims are checked below, by RFC 7519's rules: PyJWT
            # takes numeric strings and, before 2.10, crashed on 1e400.
            claims = jwt.decode(token.strip(), key, algorithms=[config.algorithm],
                                audience=config.audience, issuer=config.issuer,
                                options={"require": ["exp", "aud", "iss"], "verify_exp": False,
                                         "verify_nbf": False, "verify_iat": False})
        # Whatever fails while verifying, the token is not valid; PyJWT also
        # raises TypeError and ValueError for keys and headers it cannot use.
        except (jwt.InvalidTokenError, jwt.PyJWKError, KeyError, TypeError, ValueError) as exc:
            raise Unauthenticated(f"the bearer token is not valid: {_reason(exc)}",
                                  reason=_token_reason(exc)) from exc
        tenant = claims.get(config.tenant_claim)
        if not isinstance(tenant, str) or not tenant or not tenant.isprintable() \
                or len(tenant.encode()) > MAX_TENANT_BYTES:
            raise Unauthenticated(f"the token's {config.tenant_claim!r} claim must be a tenant "
                                  f"name of 1 to {MAX_TENANT_BYTES} bytes of printable UTF-8",
                                  reason=Reason.TOKEN_CLAIM_INVALID,
                                  metadata={"claim": config.tenant_claim})
        not_before, expires = _valid_window(claims)
        scopes = claims.get(config.scope_claim, "")
        if isinstance(scopes, str):
            # RFC 6749 §3.3: scopes are separated by the ASCII space alone;
            # str.split() would also split on tabs and other white space.
            scopes = [scope for scope in scopes.split(" ") if scope]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise Unauthenticated(f"the token's {config.scope_claim!r} claim must be a "
                                  "space-separated string of scopes",
                                  reason=Reason.TOKEN_CLAIM_INVALID,
                                  metadata={"claim": config.scope_claim})
        subject = claims.get("sub", "")
        identity = Identity(tenant, subject if isinstance(subject, str) else "", frozenset(scopes))
        return identity, not_before, expires


#: NumericDates past year 9999 (or before year 1) are refused: no real
#: token needs them, and they overflow date arithmetic.
MAX_NUMERIC_DATE = 253_402_300_799


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """An RFC 7519 NumericDate claim: a JSON number (not a string, not a
    boolean), finite and within years 1..9999; None when absent."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        raise Unauthenticated(f"the bearer token is not valid: its {name!r} claim must be a "
                              "number of seconds since 1970 (RFC 7519 NumericDate) before "
                              "year 10000", reason=Reason.TOKEN_CLAIM_INVALID,
                              metadata={"claim": name})
    return float(value)


def _valid_window(claims: dict[str, Any]) -> tuple[float, float]:
    """[nbf, exp) of a token that is valid now."""
    expires = _numeric_date(claims, "exp")
    not_before = _numeric_date(claims, "nbf")
    issued = _numeric_date(claims, "iat")
    now = time.time()
    assert expires is not None  # PyJWT requires it
    if expires <= now:
        raise Unauthenticated("the bearer token is not valid: Signature has expired",
                              reason=Reason.TOKEN_EXPIRED)
    if not_before is not None and not_before > now:
        raise Unauthenticated("the bearer token is not valid: The token is not yet valid (nbf)",
                              reason=Reason.TOKEN_NOT_YET_VALID, metadata={"claim": "nbf"})
    if issued is not None and issued > now:
        raise Unauthenticated("the bearer token is not valid: The token is not yet valid (iat)",
                              reason=Reason.TOKEN_NOT_YET_VALID, metadata={"claim": "iat"})
    return (not_before if not_before is not None else float("-inf")), expires


def _token_reason(exc: Exception) -> Reason:
    # A wrong signature gets its own reason: it is the usual mistake (a
    # token minted with another secret), and a client can say so.
    if isinstance(exc, jwt.InvalidSignatureError):
        return Reason.TOKEN_SIGNATURE_INVALID
    if isinstance(exc, jwt.DecodeError):
        return Reason.TOKEN_MALFORMED
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return Reason.TOKEN_CLAIM_INVALID
    return Reason.TOKEN_INVALID


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return "its key id (kid) is not in the configured key set"
    return str(exc) or type(exc).__name__


class Authenticated(WrappedContext):
    """The context with the caller's identity."""

    def __init__(self, context: grpc.ServicerContext, identity: Identity) -> None:
        super().__init__(context)
        self.identity = identity


def identity_of(context: Any) -> Identity:
    identity = getattr(context, "identity", None)
    if not isinstance(identity, Identity):
        raise RuntimeError("a call reached a servicer without the auth interceptor")
    return identity


#: What the interceptor reports about a refused call: method, the caller
#: when known, the error and the peer's address.
OnDenied = Callable[[str, Identity | None, FinsegError, str], None]


class AuthInterceptor(grpc.ServerInterceptor):
    """Verifies the caller once per call, before any servicer code runs."""

    def __init__(self, verifier: Verifier | None, dev_tenant: str | None,
                 open_services: Iterable[str] = OPEN_SERVICES,
                 on_denied: OnDenied | None = None) -> None:
        if verifier is None and dev_tenant is None:
            raise ValueError("configure token verification, or a development tenant")
        self.verifier = verifier
        self.dev_tenant = dev_tenant
        self.open_services = frozenset(open_services)
        self.on_denied = on_denied
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method: str = details.method  # type: ignore[attr-defined]
        if handler is None or method.split("/")[1] in self.open_services:
            return handler
        identity = None
        try:
            identity = self._identify(method, details.invocation_metadata)  # type: ignore[attr-defined]
            needed = METHOD_SCOPES.get(method)
            if needed is None:
                raise PermissionDenied(f"no scope grants {method}",
                                       reason=Reason.METHOD_NOT_GRANTED)
            if needed != BY_TYPE:
                identity.require(needed)
        except FinsegError as exc:
            return _refusing(handler, exc, identity,
                             functools.partial(self._denied, method, identity, exc))
        return _with_identity(handler, identity)

    def _denied(self, method: str, identity: Identity | None, error: FinsegError,
                peer: str) -> None:
        if self.on_denied is not None:
            self.on_denied(method, identity, error, peer)

    def _identify(self, method: str, metadata: Any) -> Identity:
        authorization = next((value for key, value in metadata or ()
                              if key == "authorization"), None)
        if authorization is not None and self.verifier is not None:
            return self.verifier.identify(authorization)
        if self.dev_tenant is None:
            raise Unauthenticated("the call carries no bearer token (metadata "
                                  "'authorization: Bearer <JWT>')", reason=Reason.TOKEN_MISSING)
        with self._lock:
            first = method not in self._warned
            self._warned.add(method)
        if first:
            log.warning("DEVELOPMENT MODE: %s called without a verified token, as tenant %r",
                        method, self.dev_tenant)
        return Identity(self.dev_tenant, "development", frozenset(ALL_SCOPES))


def _with_identity(handler: Any, identity: Identity) -> Any:
    behavior = getattr(handler, kind_of(handler))

    def authenticated(request: Any, context: grpc.ServicerContext) -> Any:
        note_tenant(context, identity.tenant)
        return behavior(request, Authenticated(context, identity))

    return with_behavior(handler, authenticated)


def _refusing(handler: Any, error: FinsegError, identity: Identity | None,
              report: Callable[[str], None]) -> Any:
    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        if identity is not None:  # a valid token without the scope
            note_tenant(context, identity.tenant)
        # Reported here, not in intercept_service: only the call's context
        # knows the peer.
        report(context.peer())
        abort(context, error)

    return with_behavior(handler, refuse)
