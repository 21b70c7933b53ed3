"""SPEC §7 against real servers: who gets in, what each scope allows, and
that one tenant cannot see or touch another's data.

Every refused case also checks that nothing changed. The attack cases are
counted by pytest's parametrisation (see the issue note).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from conftest import SECRET, connect, start_server, token_for
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from finseg.cli.tokens import ALL_SCOPES
from finseg.client.api import (
    FinsegClient,
    financial_breakdown,
    high_balance,
    income_spending_summary,
    insurance_spending,
    low_balance,
    rfm,
    rule,
)
from finseg.server.transport.auth import ALL_SCOPES as SERVER_SCOPES
from finseg.server.transport.auth import METHOD_SCOPES
from finseg.v1 import segments_pb2, taxonomy_pb2

AS_OF = dt.date(2026, 3, 1)
SPECS = {
    "HIGH_BALANCE": high_balance("EUR", 0, as_of=AS_OF),
    "LOW_BALANCE": low_balance("EUR", 0, 2, as_of=AS_OF),
    "INCOME_SPENDING_SUMMARY": income_spending_summary(dt.date(2026, 1, 1), dt.date(2026, 2, 1)),
    "FINANCIAL_BREAKDOWN": financial_breakdown(["GROCERIES"], 2, as_of=AS_OF),
    "INSURANCE_SPENDING": insurance_spending(2, as_of=AS_OF),
    "RFM": rfm(60, as_of=AS_OF),
    "RULE": rule("frequency(days=30) >= 0", as_of=AS_OF),
}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "tester", "tenant": "acme", "scope": " ".join(ALL_SCOPES), "aud": "finseg",
            "iss": "finseg", "iat": now, "nbf": now, "exp": now + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_signed(header: dict[str, Any], body: dict[str, Any] | str, key: bytes) -> str:
    """A JWT signed with HMAC-SHA256 by hand: PyJWT refuses to make the
    forgeries an attacker would (a PEM public key as HMAC secret), and
    json.dumps cannot write a claim such as 1e400 (`body` as text can)."""
    text = body if isinstance(body, str) else json.dumps(body)
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(text.encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def raw_claims(**raw: str) -> str:
    """A correctly signed token whose named claims are the given JSON text."""
    body = json.dumps(claims(**dict.fromkeys(raw)))[:-1]
    body += "".join(f', "{name}": {text}' for name, text in raw.items()) + "}"
    return hand_signed({"alg": "HS256", "typ": "JWT"}, body, SECRET)


def tampered() -> str:
    """A valid token of tenant acme whose payload now says tenant other."""
    head, _, signature = token_for("acme").split(".")
    body = _b64(json.dumps(claims(tenant="other")).encode())
    return f"{head}.{body}.{signature}"


BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "no token": lambda: None,
    "not a JWT": lambda: "not-a-jwt",
    "empty": lambda: "",
    "expired": lambda: jwt.encode(claims(exp=int(time.time()) - 60), SECRET, "HS256"),
    "not yet valid": lambda: jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, "HS256"),
    "another key": lambda: jwt.encode(claims(), b"k" * 40, "HS256"),
    "alg none": lambda: jwt.encode(claims(), None, "none"),
    "alg none, no signature part": lambda: ".".join(
        jwt.encode(claims(), None, "none").split(".")[:2]),
    "HS384 with the right secret": lambda: jwt.encode(claims(), SECRET, "HS384"),
    "wrong audience": lambda: jwt.encode(claims(aud="someone-else"), SECRET, "HS256"),
    "wrong issuer": lambda: jwt.encode(claims(iss="evil"), SECRET, "HS256"),
    "no exp": lambda: jwt.encode(claims(exp=None), SECRET, "HS256"),
    "no aud": lambda: jwt.encode(claims(aud=None), SECRET, "HS256"),
    "no tenant": lambda: jwt.encode(claims(tenant=None), SECRET, "HS256"),
    "empty tenant": lambda: jwt.encode(claims(tenant=""), SECRET, "HS256"),
    "tenant not a string": lambda: jwt.encode(claims(tenant=["acme"]), SECRET, "HS256"),
    "payload edited": tampered,
    # RFC 7519 NumericDate: a JSON number, here bounded to years 1..9999.
    "exp 1e400": lambda: raw_claims(exp="1e400"),
    "nbf -1e400": lambda: raw_claims(nbf="-1e400"),
    "exp past year 9999": lambda: raw_claims(exp=str(10**12)),
    "exp a numeric string": lambda: raw_claims(exp=f'"{int(time.time()) + 600}"'),
    "nbf a numeric string": lambda: raw_claims(nbf='"0"'),
    "iat a numeric string": lambda: raw_claims(iat='"0"'),
    "exp true": lambda: raw_claims(exp="true"),
    "iat in the future": lambda: raw_claims(iat=str(int(time.time()) + 600)),
    "aud a list without finseg": lambda: jwt.encode(claims(aud=["other"]), SECRET, "HS256"),
}


def call_with(target: str, authorization: str | None, shape: str) -> grpc.StatusCode:
    """One call of the given RPC shape with a raw authorization value."""
    with FinsegClient(target) as client:
        metadata = () if authorization is None else (("authorization", authorization),)
        client.metadata = metadata
        try:
            if shape == "unary":
                list(client.list_segments())
            elif shape == "server-streaming":
                list(client.stream_segment("any-job", timeout=10))
            else:
                list(client.append_transactions([[{
                    "transaction_id": "t-x", "account_id": "a0", "booking_date": "2026-01-05",
                    "amount": 1}]]))
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


SHAPES = ["unary", "server-streaming", "client-streaming"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = start_server(Path(tmp_path_factory.mktemp("security")) / "data")
    with connect(f"127.0.0.1:{server.port}", "acme") as client:
        bank(client)
    yield server
    server.stop(0)


def bank(client: FinsegClient, prefix: str = "") -> None:
    client.upsert_accounts([{"account_id": f"{prefix}a{i}", "user_id": f"{prefix}u{i}",
                             "type": "CHECKING", "currency": "EUR", "balance": 100 * i,
                             "balance_date": "2026-02-28"} for i in range(6)])
    list(client.append_transactions([[{
        "transaction_id": f"{prefix}t{i}", "account_id": f"{prefix}a{i % 6}",
        "booking_date": f"2026-01-{1 + i % 28:02d}", "amount": (-1) ** i * 1000 * i,
        "label": "GROCERIES"} for i in range(60)]]))


def counts(service: Any, tenant: str) -> tuple[int, int, int]:
    """Accounts, transactions and jobs stored for `tenant`: what a refused
    call must leave as it was."""
    env = service.store.env
    with env.read() as txn:
        number = env.tenant_no(txn, tenant, create=False)
        if number is None:
            return (0, 0, 0)
        state = env.load_state(txn, number)
    return state["accounts"], state["log_rows"], len(service.store.jobs.records(tenant))


def test_a_well_formed_control_token_is_accepted(service: Any) -> None:
    """The bad-token cases differ from this one in one claim each."""
    for token in (raw_claims(exp=str(int(time.time()) + 600)),
                  jwt.encode(claims(aud=["other", "finseg"]), SECRET, "HS256")):
        assert call_with(f"127.0.0.1:{service.port}", f"Bearer {token}", "unary") == \
            grpc.StatusCode.OK


@pytest.mark.parametrize("separator", ["\t", "\n", "\u00a0", "\u3000", "\x1f"])
def test_scopes_are_split_on_the_ascii_space_only(service: Any, separator: str) -> None:
    """RFC 6749 §3.3: other white space is part of a scope, granting nothing."""
    token = jwt.encode(claims(scope=f"segments:read{separator}segments:create:high_balance"),
                       SECRET, "HS256")
    with FinsegClient(f"127.0.0.1:{service.port}", token) as client:
        for call in (lambda: list(client.list_segments()),
                     lambda: client.create_segment(SPECS["HIGH_BALANCE"])):
            with pytest.raises(grpc.RpcError) as refused:
                call()
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    spaced = jwt.encode(claims(scope="  segments:read   usage:read "), SECRET, "HS256")
    with FinsegClient(f"127.0.0.1:{service.port}", spaced) as client:
        assert list(client.list_segments()) is not None


def test_client_and_server_know_the_same_scopes() -> None:
    assert set(ALL_SCOPES) == set(SERVER_SCOPES)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_is_unauthenticated(service: Any, case: str, shape: str) -> None:
    target = f"127.0.0.1:{service.port}"
    before = counts(service, "acme"), counts(service, "other")
    token = BAD_TOKENS[case]()
    authorization = None if token is None else f"Bearer {token}"
    assert call_with(target, authorization, shape) == grpc.StatusCode.UNAUTHENTICATED
    assert (counts(service, "acme"), counts(service, "other")) == before


@pytest.mark.parametrize("authorization", ["Basic YWNtZTpwdw==", "Bearer", "token-only",
                                           "Bearer " + "A" * 6_000])
def test_a_malformed_authorization_value_is_unauthenticated(service: Any,
                                                             authorization: str) -> None:
    code = call_with(f"127.0.0.1:{service.port}", authorization, "unary")
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_oversized_metadata_is_refused_by_grpc_before_the_service(service: Any) -> None:
    """gRPC refuses metadata beyond its 16 KiB hard limit (and some beyond
    8 KiB) with RESOURCE_EXHAUSTED: documented in docs/decisions.md."""
    code = call_with(f"127.0.0.1:{service.port}", "Bearer " + "A" * 20_000, "unary")
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


def _calls(job_id: str) -> dict[str, Callable[[FinsegClient], Any]]:
    """A well-formed call of each method that needs one fixed scope."""
    return {
        "/finseg.v1.IngestionService/UpsertAccounts": lambda c: c.upsert_accounts([{
            "account_id": "new", "user_id": "nu", "type": "CHECKING", "currency": "EUR",
            "balance": 1, "balance_date": "2026-02-28"}]),
        "/finseg.v1.IngestionService/AppendTransactions": lambda c: list(c.append_transactions(
            [[{"transaction_id": "new-t", "account_id": "a1", "booking_date": "2026-01-03",
               "amount": 5}]])),
        "/finseg.v1.IngestionService/DeleteUser": lambda c: c.delete_user("u1"),
        "/finseg.v1.SegmentService/GetSegment": lambda c: c.get_segment(job_id),
        "/finseg.v1.SegmentService/StreamSegment": lambda c: list(c.stream_segment(job_id)),
        "/finseg.v1.SegmentService/ListSegments": lambda c: list(c.list_segments()),
        # Refused before it is found not live: the scope check comes first.
        "/finseg.v1.SegmentService/WatchSegment": lambda c: list(c.watch_segment(job_id,
                                                                                 timeout=5)),
        "/finseg.v1.TaxonomyService/GetTaxonomy": lambda c: c.get_taxonomy(),
        "/finseg.v1.TaxonomyService/ReplaceTaxonomy": lambda c: c.replace_taxonomy(
            taxonomy_pb2.LabelTaxonomy(groups=["ONLY"])),
        "/finseg.v1.AuditService/ListAuditEvents": lambda c: list(c.audit_events()),
        "/finseg.v1.UsageService/GetUsage": lambda c: c.usage_by_type(),
    }


FIXED_SCOPE_METHODS = [m for m, s in METHOD_SCOPES.items() if s != "segments:create:<type>"]


def test_every_method_of_every_service_has_a_scope() -> None:
    """A new RPC is refused until someone decides its scope; this lists the
    ones that exist so the table and the services cannot drift apart."""
    from finseg.server.app import SERVICE_NAMES
    from finseg.v1 import audit_pb2, ingest_pb2, usage_pb2

    methods = {f"/{service.full_name}/{method.name}"
               for module in (ingest_pb2, segments_pb2, taxonomy_pb2, audit_pb2, usage_pb2)
               for service in module.DESCRIPTOR.services_by_name.values()
               for method in service.methods}
    assert methods == set(METHOD_SCOPES)
    assert {m.split("/")[1] for m in methods} == set(SERVICE_NAMES)


@pytest.fixture(scope="module")
def finished_job(service: Any) -> str:
    with connect(f"127.0.0.1:{service.port}", "acme") as client:
        job = client.create_segment(SPECS["HIGH_BALANCE"])
        client.members(job.segment_id)
        return job.segment_id


@pytest.mark.parametrize("method", FIXED_SCOPE_METHODS)
def test_each_method_needs_its_scope(service: Any, finished_job: str, method: str) -> None:
    scope = METHOD_SCOPES[method]
    others = [s for s in ALL_SCOPES if s != scope]
    call = _calls(finished_job)[method]
    before = counts(service, "acme")
    with FinsegClient(f"127.0.0.1:{service.port}", token_for("acme", others)) as client:
        with pytest.raises(grpc.RpcError) as refused:
            call(client)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert scope in refused.value.details()
    assert counts(service, "acme") == before


@pytest.mark.parametrize("type_name", list(SPECS))
def test_creating_cancelling_and_deleting_a_type_needs_its_create_scope(
        service: Any, type_name: str) -> None:
    target = f"127.0.0.1:{service.port}"
    scope = f"segments:create:{type_name.lower()}"
    without = token_for("acme", [s for s in ALL_SCOPES if s != scope])
    with connect(target, "acme") as allowed:
        job = allowed.create_segment(SPECS[type_name])
        allowed.members(job.segment_id)
    before = counts(service, "acme")
    with FinsegClient(target, without) as client:
        for attempt in (lambda: client.create_segment(SPECS[type_name]),
                        lambda: client.cancel_segment(job.segment_id),
                        lambda: client.delete_segment(job.segment_id)):
            with pytest.raises(grpc.RpcError) as refused:
                attempt()
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, type_name
        # The other types' scopes are still there.
        other = next(t for t in SPECS if t != type_name)
        client.members(client.create_segment(SPECS[other]).segment_id)
    assert counts(service, "acme")[:2] == before[:2]
    with connect(target, "acme") as allowed:
        assert allowed.get_segment(job.segment_id).segment.state == \
            segments_pb2.JOB_STATE_SUCCEEDED  # not cancelled, not deleted


def test_another_tenants_jobs_tokens_and_users_are_not_found(service: Any) -> None:
    target = f"127.0.0.1:{service.port}"
    with connect(target, "beta") as beta, connect(target, "acme") as acme:
        bank(beta, prefix="b-")
        theirs = beta.create_segment(SPECS["HIGH_BALANCE"])
        members = beta.members(theirs.segment_id)
        their_page = beta.get_segment(theirs.segment_id, page_size=1)
        assert their_page.next_page_token
        mine = acme.create_segment(SPECS["HIGH_BALANCE"])
        acme.members(mine.segment_id)
        before = counts(service, "beta"), counts(service, "acme")
        attempts = {
            "get": lambda: acme.get_segment(theirs.segment_id),
            "get with their token": lambda: acme.get_segment(
                theirs.segment_id, page_size=1, page_token=their_page.next_page_token),
            "stream": lambda: list(acme.stream_segment(theirs.segment_id)),
            "cancel": lambda: acme.cancel_segment(theirs.segment_id),
            "delete": lambda: acme.delete_segment(theirs.segment_id),
            "delete their user": lambda: acme.delete_user("b-u1"),
        }
        for name, attempt in attempts.items():
            with pytest.raises(grpc.RpcError) as refused:
                attempt()
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND, name
        assert theirs.segment_id not in {s.segment_id for s in acme.list_segments()}
        # Their page token on my job: bound to tenant and job, so refused.
        with pytest.raises(grpc.RpcError) as refused:
            acme.get_segment(mine.segment_id, page_size=1,
                             page_token=their_page.next_page_token)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (counts(service, "beta"), counts(service, "acme")) == before
        assert beta.members(theirs.segment_id) == members
        assert beta.get_segment(theirs.segment_id, page_size=1,
                                page_token=their_page.next_page_token).page.high_balance.members


def test_a_forged_page_token_is_refused(service: Any) -> None:
    with connect(f"127.0.0.1:{service.port}", "acme") as client:
        job = client.create_segment(SPECS["HIGH_BALANCE"])
        client.members(job.segment_id)
        token = client.get_segment(job.segment_id, page_size=1).next_page_token
        raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        raw[8] ^= 1  # the offset's last byte: 1 -> 0 or 2
        forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
        with pytest.raises(grpc.RpcError) as refused:
            client.get_segment(job.segment_id, page_size=1, page_token=forged)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_is_open_and_can_be_closed(service: Any, tmp_path: Path) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                           timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    closed = start_server(tmp_path / "data", open_services=())
    try:
        with grpc.insecure_channel(f"127.0.0.1:{closed.port}") as channel:
            with pytest.raises(grpc.RpcError) as refused:
                health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        closed.stop(0)


def _pem_public(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def test_rs256_service_accepts_its_keys_tokens_and_refuses_a_switch_to_hs256(
        tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_file = tmp_path / "public.pem"
    public_file.write_bytes(_pem_public(private))
    service = start_server(tmp_path / "data", jwt_algorithm="RS256", jwt_key_file=public_file)
    target = f"127.0.0.1:{service.port}"
    try:
        with FinsegClient(target, jwt.encode(claims(), private, "RS256")) as client:
            assert list(client.list_segments()) == []
        forgeries = {
            # The public key is public: signing HS256 with it must not pass.
            "HS256 keyed with the public PEM": hand_signed(
                {"alg": "HS256", "typ": "JWT"}, claims(), public_file.read_bytes()),
            "HS256 with the test secret": jwt.encode(claims(), SECRET, "HS256"),
            "RS256 by another key": jwt.encode(
                claims(), rsa.generate_private_key(public_exponent=65537, key_size=2048),
                "RS256"),
            "alg none": jwt.encode(claims(), None, "none"),
        }
        for name, token in forgeries.items():
            assert call_with(target, f"Bearer {token}", "unary") == \
                grpc.StatusCode.UNAUTHENTICATED, name
    finally:
        service.stop(0)


def test_es256_service_with_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    service = start_server(tmp_path / "data", jwt_algorithm="ES256", jwt_key_file=None,
                           jwt_jwks_file=jwks)
    target = f"127.0.0.1:{service.port}"
    try:
        good = jwt.encode(claims(), private, "ES256", headers={"kid": "k1"})
        with FinsegClient(target, good) as client:
            assert list(client.list_segments()) == []
        unknown_kid = jwt.encode(claims(), private, "ES256", headers={"kid": "k2"})
        no_kid = jwt.encode(claims(), private, "ES256")
        other_key = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), "ES256",
                               headers={"kid": "k1"})
        for token in (unknown_kid, no_kid, other_key):
            assert call_with(target, f"Bearer {token}", "unary") == \
                grpc.StatusCode.UNAUTHENTICATED
    finally:
        service.stop(0)


def test_development_mode_is_explicit_and_loud(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="--dev-tenant"):
        start_server(tmp_path / "none", jwt_key_file=None)
    caplog.set_level(logging.WARNING)
    service = start_server(tmp_path / "data", dev_tenant="demo")
    target = f"127.0.0.1:{service.port}"
    try:
        assert "DEVELOPMENT MODE" in caplog.text
        caplog.clear()
        with FinsegClient(target) as anonymous:  # no token: the development tenant
            bank(anonymous)
            list(anonymous.list_segments())
            list(anonymous.list_segments())
        warnings = [r for r in caplog.records if "DEVELOPMENT MODE" in r.getMessage()]
        assert {w.getMessage().split(" called")[0].split(": ")[1] for w in warnings} == {
            "/finseg.v1.IngestionService/UpsertAccounts",
            "/finseg.v1.IngestionService/AppendTransactions",
            "/finseg.v1.SegmentService/ListSegments"}  # once per method
        assert counts(service, "demo")[0] == 6
        # A token still names its own tenant, which does not see the demo's.
        with connect(target, "acme") as acme:
            with pytest.raises(grpc.RpcError) as refused:
                acme.delete_user("u1")
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        service.stop(0)


def test_a_refused_replace_leaves_the_taxonomy(service: Any) -> None:
    target = f"127.0.0.1:{service.port}"
    with FinsegClient(target, token_for("acme", ["segments:read"])) as reader:
        before = reader.get_taxonomy()
        with pytest.raises(grpc.RpcError) as refused:
            reader.replace_taxonomy(taxonomy_pb2.LabelTaxonomy(groups=["ONLY"]))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert reader.get_taxonomy() == before


def test_a_token_that_expires_after_its_first_use_is_refused(service: Any) -> None:
    """Verified tokens are remembered to spare the per-call cost; their
    expiry still holds."""
    target = f"127.0.0.1:{service.port}"
    token = jwt.encode(claims(exp=int(time.time()) + 2), SECRET, "HS256")
    assert call_with(target, f"Bearer {token}", "unary") == grpc.StatusCode.OK
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"]
                   - time.time()) + 0.1)
    assert call_with(target, f"Bearer {token}", "unary") == grpc.StatusCode.UNAUTHENTICATED
