"""Generated protobuf and gRPC stubs for finseg.v1 (make proto)."""
