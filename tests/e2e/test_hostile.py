"""Hostile input (SPEC §8): generated requests to every RPC, with random and
extreme field values, and raw bytes that are no message at all, against one
real server. No call may get INTERNAL or UNKNOWN, the server stays healthy,
and what a rejected call carried is not stored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from conftest import start_server, token_for
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finseg.server.app import Service
from finseg.server.storage.env import DB, U32, new_tenant_state
from finseg.v1 import audit_pb2, ingest_pb2, segments_pb2, taxonomy_pb2, usage_pb2

SERVICES = [ingest_pb2.DESCRIPTOR.services_by_name["IngestionService"],
            segments_pb2.DESCRIPTOR.services_by_name["SegmentService"],
            taxonomy_pb2.DESCRIPTOR.services_by_name["TaxonomyService"],
            audit_pb2.DESCRIPTOR.services_by_name["AuditService"],
            usage_pb2.DESCRIPTOR.services_by_name["UsageService"]]
METHODS = [(s, m) for s in SERVICES for m in s.methods]
# Everything a client can be told by a well-behaved service for bad input.
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

#: Characters ids and names may not hold: one of each refused category
#: (Cc, Cf, Zl, Zp; protobuf cannot carry surrogates) and invisible ones.
UNPRINTABLE = "\x00\x1f\x85\u200b\u200d\ufeff\u00ad\u202e\u2028\u2029"
texts = st.one_of(st.text(max_size=40), st.just(""), st.text(min_size=300, max_size=2000),
                  st.text(st.sampled_from("aZ0._ " + UNPRINTABLE), min_size=1, max_size=12),
                  # Far beyond every limit: an error must never quote it whole.
                  st.sampled_from(["G" * 20_000, "\u00e9" * 10_000, "\u200b" * 7_000]),
                  st.sampled_from(["2026-02-30", "9999-12-31", "0001-01-01", "2026-1-1",
                                   "EUR", "CHECKING", "INSURANCE.CAR", "\x00", "a\nb"]))
ints = st.one_of(st.integers(-5, 5), st.sampled_from([-2**31, 2**31 - 1]),
                 st.integers(-2**31, 2**31 - 1))
#: The int64 extremes and both sides of the money bound of 10^15.
longs = st.one_of(ints, st.sampled_from([-2**63, -2**63 + 1, 2**63 - 1, 10**15, -10**15,
                                         10**15 + 1, -10**15 - 1]))


def message(descriptor: d.Descriptor, depth: int = 0) -> st.SearchStrategy:
    """Any message of the type: each field set or not, to a value of its
    type that may make no sense (enum numbers included)."""
    cls = message_factory.GetMessageClass(descriptor)
    fields = {}
    for f in descriptor.fields:
        if f.type == d.FieldDescriptor.TYPE_MESSAGE:
            if depth > 2 or f.message_type.GetOptions().map_entry:
                continue
            value = message(f.message_type, depth + 1)
        elif f.type == d.FieldDescriptor.TYPE_STRING:
            value = texts
        elif f.type == d.FieldDescriptor.TYPE_BYTES:
            value = st.binary(max_size=200)
        elif f.type == d.FieldDescriptor.TYPE_BOOL:
            value = st.booleans()
        elif f.type == d.FieldDescriptor.TYPE_ENUM:
            value = ints
        elif f.type in (d.FieldDescriptor.TYPE_INT64, d.FieldDescriptor.TYPE_SINT64):
            value = longs
        elif f.type == d.FieldDescriptor.TYPE_DOUBLE:
            value = st.floats(allow_nan=True)
        else:
            value = ints
        if f.is_repeated:
            value = st.lists(value, max_size=3)
        fields[f.name] = st.none() | value

    def build(values: dict) -> object:
        msg = cls()
        for name, value in values.items():
            if value is None:
                continue
            field = msg.DESCRIPTOR.fields_by_name[name]
            if field.is_repeated:
                getattr(msg, name).extend(value)
            elif field.type == d.FieldDescriptor.TYPE_MESSAGE:
                getattr(msg, name).CopyFrom(value)
            else:
                setattr(msg, name, value)
        return msg

    return st.fixed_dictionaries(fields).map(build)


def stored_state(service: Service) -> dict:
    """What calls change, per tenant: the counters of ids, rows and batches,
    and the job records (the compactor's re-layout of the base is left out:
    it runs on its own and changes no content)."""
    env = service.store.env
    out = {}
    untouched = new_tenant_state()
    untouched.pop("base")
    with env.read() as txn:
        for name, number in txn.cursor(db=env.db(DB.TENANTS)):
            state = env.load_state(txn, U32.unpack(bytes(number))[0])
            state.pop("base", None)
            # A refused call is audited: the audit log may number a new
            # tenant, with no data. That is not a change of data.
            if state != untouched:
                out[bytes(name)] = state
        out[b"jobs"] = txn.stat(env.db(DB.JOBS))["entries"]
    return out


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    server = start_server(Path(tmp_path_factory.mktemp("hostile")) / "data")
    yield server
    server.stop(0)


def call(channel: grpc.Channel, service: d.ServiceDescriptor, method: d.MethodDescriptor,
         payload: bytes, authorization: str) -> tuple[grpc.StatusCode, str]:
    """The call's status code and message, as the client sees them."""
    path = f"/{service.full_name}/{method.name}"
    metadata = (("authorization", authorization),)
    try:
        if method.client_streaming:
            stub = (channel.stream_stream if method.server_streaming else channel.stream_unary)(
                path, request_serializer=None, response_deserializer=None)
            result = stub(iter([payload]), metadata=metadata, timeout=20)
        else:
            stub = (channel.unary_stream if method.server_streaming else channel.unary_unary)(
                path, request_serializer=None, response_deserializer=None)
            result = stub(payload, metadata=metadata, timeout=20)
        if method.server_streaming:
            for _ in result:
                pass
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details() or ""


#: The long version: FINSEG_HOSTILE_EXAMPLES=5000 pytest tests/e2e/test_hostile.py
EXAMPLES = int(os.environ.get("FINSEG_HOSTILE_EXAMPLES", "400"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_generated_requests_never_get_internal(service: Service, data) -> None:
    svc, method = data.draw(st.sampled_from(METHODS))
    request = data.draw(message(method.input_type))
    authorization = data.draw(st.one_of(
        st.sampled_from(["hostile", "", "x" * 200, "a b", "\u00e9\u20ac"]).map(
            lambda tenant: f"Bearer {token_for(tenant)}"),
        st.sampled_from(["", "Bearer", "Bearer x.y.z", "Basic YTpi", "bearer " + "A" * 5000])))
    before = stored_state(service)
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        code, details = call(channel, svc, method, request.SerializeToString(), authorization)
    assert code not in FORBIDDEN, (method.full_name, request)
    # The client's own RESOURCE_EXHAUSTED: the service's status did not fit
    # the trailers a client accepts by default.
    assert "metadata size exceeds" not in details, (method.full_name, details)
    if code != grpc.StatusCode.OK:  # a refused call wrote nothing
        assert stored_state(service) == before, (method.full_name, code, request)


@settings(max_examples=max(EXAMPLES // 3, 1), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(METHODS), st.binary(min_size=1, max_size=300))
def test_raw_bytes_never_get_internal(service: Service, target_method, payload) -> None:
    svc, method = target_method
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        code, details = call(channel, svc, method, payload, f"Bearer {token_for('hostile')}")
    assert code not in FORBIDDEN, (method.full_name, payload)
    assert "metadata size exceeds" not in details, (method.full_name, details)


def test_the_server_is_still_healthy(service: Service) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                             timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING
