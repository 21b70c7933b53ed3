"""Server reflection answers under grpc.reflection.v1, which newer tools
(grpcurl from 1.8.8, grpcui, Postman) try before v1alpha, without a token."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as messages  # v1's bytes too

V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def ask(target: str, method: str, **request: str) -> messages.ServerReflectionResponse:
    with grpc.insecure_channel(target) as channel:
        call = channel.stream_stream(
            method, request_serializer=messages.ServerReflectionRequest.SerializeToString,
            response_deserializer=messages.ServerReflectionResponse.FromString)
        (response,) = call(iter([messages.ServerReflectionRequest(**request)]), timeout=10)
    return response


def test_v1_lists_and_describes_the_services(target: str) -> None:
    listed = ask(target, V1, list_services="")
    names = {s.name for s in listed.list_services_response.service}
    assert {"finseg.v1.SegmentService", "finseg.v1.IngestionService", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"} <= names
    for symbol in ("finseg.v1.SegmentService", "grpc.reflection.v1.ServerReflection"):
        found = ask(target, V1, file_containing_symbol=symbol).file_descriptor_response
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in found.file_descriptor_proto]
        services = {f"{f.package}.{s.name}" for f in files for s in f.service}
        assert symbol in services


def test_v1alpha_still_answers(target: str) -> None:
    listed = ask(target, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                 list_services="")
    assert "finseg.v1.SegmentService" in {s.name for s in listed.list_services_response.service}
