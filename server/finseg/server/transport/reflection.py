"""Server reflection under both of its names, grpc.reflection.v1 and
grpc.reflection.v1alpha.

grpcio-reflection (1.85) serves only v1alpha, while newer tools (grpcurl
from 1.8.8, grpcui, Postman) ask v1 first. v1 is the same protocol: its
messages have v1alpha's fields and numbers under another package, so the
bytes of one parse as the other, and v1alpha's servicer answers v1 calls as
they are. v1's descriptor is v1alpha's renamed, so that reflection can
describe the service it lists.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA_NAME = reflection.SERVICE_NAME
V1_NAME = "grpc.reflection.v1.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _rename(type_name: str) -> str:
    return type_name.replace(".grpc.reflection.v1alpha.", ".grpc.reflection.v1.")


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(_V1_FILE)
        return  # a library registered the real one
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name, proto.package = _V1_FILE, "grpc.reflection.v1"
    proto.ClearField("options")  # v1alpha's Java package and the like
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = _rename(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type, method.output_type = (_rename(method.input_type),
                                                     _rename(method.output_type))
    pool.Add(proto)


def enable(server: grpc.Server, service_names: Iterable[str]) -> None:
    """Reflection of `service_names` and of itself, under both names."""
    names = (*service_names, V1ALPHA_NAME, V1_NAME)
    _add_v1_descriptor(descriptor_pool.Default())
    reflection.enable_server_reflection(names, server)
    servicer = reflection.ReflectionServicer(names)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(V1_NAME, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString),
    }),))
