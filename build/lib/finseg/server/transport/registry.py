"""Registers finseg's servicers with gRPC from the services' descriptors.

The generated `add_*_to_server` functions deserialize with
`Message.FromString`, and grpcio answers bytes that do not parse with
INTERNAL. Here a request that does not parse becomes a `Malformed` marker,
which the servicer decorators turn into INVALID_ARGUMENT naming the message:
bad input never gets INTERNAL (SPEC §8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from .errors import Malformed

_HANDLERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _parser(message_class: Any) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except DecodeError:
            return Malformed(message_class.DESCRIPTOR.full_name)
    return parse


def _serialize(response: Any) -> bytes:
    # Result pages come already serialized (see wire.py).
    return response if isinstance(response, bytes) else response.SerializeToString()


def add_service(server: grpc.Server, servicer: Any, service: ServiceDescriptor) -> None:
    handlers = {}
    for method in service.methods:
        request = message_factory.GetMessageClass(method.input_type)
        make = _HANDLERS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(getattr(servicer, method.name),
                                     request_deserializer=_parser(request),
                                     response_serializer=_serialize)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)
