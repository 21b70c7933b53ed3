"""Exit 0 when the finseg at TARGET answers the standard health check as
SERVING (used by the container's HEALTHCHECK). Health stays open without a
token; with --tls-ca the check speaks TLS, naming the server --server-name
(the name in its certificate) whatever address it dials."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", nargs="?", default="127.0.0.1:50051")
    parser.add_argument("--tls-ca", type=Path, help="CA certificate (PEM) of the server's")
    parser.add_argument("--server-name", help="the name the server's certificate carries")
    parser.add_argument("--client-cert", type=Path, help="client certificate, for mutual TLS")
    parser.add_argument("--client-key", type=Path, help="its private key")
    args = parser.parse_args()
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    try:
        channel = grpc.secure_channel(args.target, grpc.ssl_channel_credentials(
            args.tls_ca.read_bytes(),
            args.client_key.read_bytes() if args.client_key else None,
            args.client_cert.read_bytes() if args.client_cert else None), options) \
            if args.tls_ca else grpc.insecure_channel(args.target)
        with channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3)
    except grpc.RpcError as error:
        print(f"unhealthy: {error.code().name}", file=sys.stderr)
        return 1
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    raise SystemExit(main())
