"""Checks our KServe v2 gRPC protocol against tritonclient's: every field and RPC.

    $PEERS/triton/bin/python benchmarks/serving_grpc_fields.py

Loads src/neuronperf_native/targets/kserve_v2.desc into a pool of its own and compares
each message field (number, type, label) and each RPC (request and response types,
streaming) with the descriptors that tritonclient's generated modules register
(tritonclient 2.50 in the Triton venv of benchmarks/serving_setup.sh). Prints the
counts, or each difference and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from tritonclient.grpc import model_config_pb2, service_pb2  # noqa: F401  (registers theirs)

DESCRIPTOR = Path(__file__).resolve().parents[1] / "src/neuronperf_native/targets/kserve_v2.desc"
SERVICE = "inference.GRPCInferenceService"


def _fields(ours: Any, theirs_pool: Any, problems: list[str]) -> int:
    """Compares one message (and its nested ones); returns the fields compared."""
    theirs = theirs_pool.FindMessageTypeByName(ours.full_name)
    count = 0
    for field in ours.fields:
        other = theirs.fields_by_name.get(field.name)
        mine = (field.number, field.type, field.label)
        if other is None or (other.number, other.type, other.label) != mine:
            problems.append(f"{ours.full_name}.{field.name}: ours {mine}, theirs {other}")
        count += 1
    for nested in ours.nested_types:
        if not nested.GetOptions().map_entry:
            count += _fields(nested, theirs_pool, problems)
    return count


def main() -> None:
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTOR.read_bytes()).file:
        pool.Add(file)
    ours = pool.FindFileByName("kserve_v2.proto")
    theirs = descriptor_pool.Default()
    problems: list[str] = []
    fields = sum(_fields(m, theirs, problems) for m in ours.message_types_by_name.values())
    their_service = theirs.FindServiceByName(SERVICE)
    methods = ours.services_by_name["GRPCInferenceService"].methods
    for method in methods:
        other = their_service.methods_by_name[method.name]
        mine = (method.input_type.full_name, method.output_type.full_name)
        mine += (method.client_streaming, method.server_streaming)
        their = (other.input_type.full_name, other.output_type.full_name)
        their += (other.client_streaming, other.server_streaming)
        if mine != their:
            problems.append(f"rpc {method.name}: ours {mine}, theirs {their}")
    for problem in problems:
        print(problem)
    print(f"{fields} fields and {len(methods)} RPCs compared, {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
