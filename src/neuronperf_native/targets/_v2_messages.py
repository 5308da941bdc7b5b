"""The KServe v2 gRPC messages, built from kserve_v2.desc (compiled from kserve_v2.proto).

The descriptor goes into a pool of our own rather than protobuf's default one, so the
names (inference.ModelInferRequest ...) never clash with another definition of the
protocol in the process (tritonclient's), and no generated code ties us to the protoc
that made it: a descriptor set reads the same with every protobuf runtime from 4.22 on.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError:
    raise ImportError(
        "a gRPC endpoint needs grpcio and protobuf: pip install 'neuronperf-native[serving]'"
    ) from None

__all__ = ["METHODS", "message"]

_SERVICE = "inference.GRPCInferenceService"


def _pool() -> Any:
    raw = resources.files(__package__).joinpath("kserve_v2.desc").read_bytes()
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(raw).file:
        pool.Add(file)
    return pool


_POOL = _pool()

#: RPC name -> its path on the wire (/inference.GRPCInferenceService/ModelInfer ...).
METHODS = {m.name: f"/{_SERVICE}/{m.name}" for m in _POOL.FindServiceByName(_SERVICE).methods}


def message(name: str) -> Any:
    """The message class of `name` (e.g. "ModelInferRequest") in package inference."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"inference.{name}"))
