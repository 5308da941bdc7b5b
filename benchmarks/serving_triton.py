"""A Triton server (PyTriton's bundled tritonserver) with the models benchmarks/serving.py
loads: `sleep` (FP32 [16] in, the same out, 1 ms per request; batches up to 8) and
`identity` (no work: the fastest v2 server here, for the client's own ceiling).

    python3.12 benchmarks/serving_triton.py [--http-port 8000] [--grpc-port 8001]

Runs in the Triton venv benchmarks/serving_setup.sh makes (Python 3.12, with its lib/
on LD_LIBRARY_PATH). The model config endpoints are open (restricted_endpoints=[]) so
that perf_analyzer, like our client, may read max_batch_size. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

SLEEP_S = 0.001


@batch
def _sleep(INPUT0: np.ndarray) -> dict[str, np.ndarray]:
    time.sleep(SLEEP_S)
    return {"OUTPUT0": INPUT0}


@batch
def _identity(INPUT0: np.ndarray) -> dict[str, np.ndarray]:
    return {"OUTPUT0": INPUT0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--metrics-port", type=int, default=8002)
    args = parser.parse_args()
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.http_port,
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
    )
    tensors = {
        "inputs": [Tensor(name="INPUT0", dtype=np.float32, shape=(16,))],
        "outputs": [Tensor(name="OUTPUT0", dtype=np.float32, shape=(16,))],
        "config": ModelConfig(max_batch_size=8),
    }
    security = TritonSecurityConfig(restricted_endpoints=[])
    with Triton(config=config, security_config=security) as triton:
        triton.bind(model_name="sleep", infer_func=_sleep, **tensors)
        triton.bind(model_name="identity", infer_func=_identity, **tensors)
        print(f"serving sleep and identity on 127.0.0.1:{args.http_port}", flush=True)
        triton.serve()


if __name__ == "__main__":
    main()
