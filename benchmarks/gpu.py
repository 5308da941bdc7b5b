"""The PyTorch GPU path against bare loops timed on the GPU, side by side from one run.

    python benchmarks/gpu.py [--seconds 5]      # needs torch with CUDA and a GPU
    python benchmarks/gpu.py --smoke            # the same steps on the CPU, tiny sizes:
                                                # checks this script, measures nothing

For a 4096x4096 FP16 matmul and a small conv net, at batch sizes 1 and 64 (issue 16):

1. events: a bare loop of back-to-back calls, each between two CUDA events and no host
   wait between calls (what a GPU user measures): per-call GPU time, p50/p99, and the
   throughput of the whole loop (wall time to the final synchronize);
2. sync: the same calls, each followed by torch.cuda.synchronize() and timed on the host
   clock: the policy npf.torch uses on a GPU, so that latency covers the GPU work;
3. ours: npf.torch.benchmark(device_type="gpu") of the same model class, one copy, one
   worker: its p50/p99 and throughput.

It prints ours vs sync (the harness's cost per call, in us and as a ratio: the same
policy, so the difference is ours), sync vs events (what waiting after every call costs:
the pipelining of launches it gives up), and whether our inputs stayed on the GPU: a
threads-mode run records, on every call, the input's device and storage address (one
address on cuda:0 for all calls means no host-to-device copy per call).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import neuronperf_native as npf

_MATMUL_N = 4096
_BATCH_SIZES = (1, 64)
_LOOP_CALLS = 200  # calls per bare loop, after _WARMUP_CALLS
_WARMUP_CALLS = 20
_SMOKE = {"matmul_n": 64, "image": 16, "calls": 20}


class MatMul(nn.Module):
    """x @ W with W n x n in FP16 (on the GPU; FP32 on the CPU, which lacks FP16 matmul)."""

    n = _MATMUL_N

    def __init__(self) -> None:
        super().__init__()
        dtype = torch.float16 if torch.cuda.is_available() else torch.float32
        generator = torch.Generator().manual_seed(0)
        weight = torch.randn(self.n, self.n, generator=generator).to(dtype)
        self.weight = nn.Parameter(weight, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


class ConvNet(nn.Module):
    """Three 3x3 convolutions with ReLU and pooling, then a linear layer (FP32)."""

    image = 64

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


SEEN: list[tuple[str, int]] = []  # threads mode: (device, storage address) per call


class MatMulProbe(MatMul):
    """MatMul that notes where each input lives (threads mode: same process)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN.append((str(x.device), x.data_ptr()))
        return super().forward(x)


def _example(model_class: type, batch_size: int) -> torch.Tensor:
    """A host tensor of the model's input shape at batch_size."""
    if issubclass(model_class, MatMul):
        dtype = torch.float16 if torch.cuda.is_available() else torch.float32
        return torch.randn(batch_size, model_class.n).to(dtype)
    return torch.randn(batch_size, 3, model_class.image, model_class.image)


class _HostEvent:
    """A stand-in for torch.cuda.Event on the CPU (--smoke): the host clock."""

    def __init__(self, enable_timing: bool = True) -> None:
        self.ns = 0

    def record(self) -> None:
        self.ns = time.perf_counter_ns()

    def elapsed_time(self, end: _HostEvent) -> float:
        return (end.ns - self.ns) / 1e6  # ms, as CUDA events report


def _device() -> tuple[str, Callable[[], None], Any]:
    """(device, synchronize, event class) for this run."""
    if torch.cuda.is_available():
        return "cuda:0", torch.cuda.synchronize, torch.cuda.Event
    return "cpu", lambda: None, _HostEvent


def events_loop(model: nn.Module, x: torch.Tensor, calls: int) -> dict[str, float]:
    """Back-to-back calls, each between two events: GPU ms per call, and throughput."""
    _, synchronize, event = _device()
    for _ in range(_WARMUP_CALLS):
        model(x)
    synchronize()
    pairs = [(event(enable_timing=True), event(enable_timing=True)) for _ in range(calls)]
    started = time.perf_counter()
    for start, end in pairs:
        start.record()
        model(x)
        end.record()
    synchronize()
    wall_s = time.perf_counter() - started
    latencies_ms = [start.elapsed_time(end) for start, end in pairs]
    return _summary(latencies_ms, calls * x.shape[0] / wall_s)


def sync_loop(model: nn.Module, x: torch.Tensor, calls: int) -> dict[str, float]:
    """Each call followed by a synchronize, timed on the host clock."""
    _, synchronize, _ = _device()
    for _ in range(_WARMUP_CALLS):
        model(x)
        synchronize()
    latencies_ms = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        model(x)
        synchronize()
        latencies_ms.append((time.perf_counter_ns() - t0) / 1e6)
    wall_s = time.perf_counter() - started
    return _summary(latencies_ms, calls * x.shape[0] / wall_s)


def _summary(latencies_ms: list[float], throughput: float) -> dict[str, float]:
    p50, p99 = np.percentile(latencies_ms, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "throughput": throughput}


def ours(model_class: type, x: torch.Tensor, seconds: float, **options: Any) -> dict[str, float]:
    """npf.torch.benchmark of model_class on this run's device: one copy, one worker."""
    device_type = "gpu" if torch.cuda.is_available() else "cpu"
    (report,) = npf.torch.benchmark(
        model_class, [x], batch_sizes=[x.shape[0]], n_models=1, workers_per_model=1,
        duration=seconds, device_type=device_type, verbosity=0, **options,
    )  # fmt: skip
    if report["status"] != "finished":
        raise RuntimeError(f"{model_class.__name__}: {report['error']}")
    return {
        "p50_ms": report["latency_ms_p50"],
        "p99_ms": report["latency_ms_p99"],
        "throughput": report["throughput_avg"],
    }


def residency(x: torch.Tensor, seconds: float) -> str:
    """Where our inputs were on each call of a short threads-mode run."""
    SEEN.clear()
    ours(MatMulProbe, x, min(seconds, 1.0), multiprocess=False)
    places = set(SEEN)
    devices = sorted({device for device, _ in places})
    verdict = "one storage, never copied per call" if len(places) == 1 else "COPIED per call"
    return f"{len(SEEN)} calls; input devices {devices}; {len(places)} storage(s): {verdict}"


def _row(label: str, figures: dict[str, float]) -> str:
    return (
        f"    {label:<7} p50 {figures['p50_ms'] * 1e3:>10.1f} us   p99 "
        f"{figures['p99_ms'] * 1e3:>10.1f} us   {figures['throughput']:>12.1f} inf/s"
    )


def measure(model_class: type, batch_size: int, seconds: float, calls: int, **options: Any) -> None:
    device, _, _ = _device()
    x = _example(model_class, batch_size)
    model = model_class().to(device).eval()
    with torch.inference_mode():
        on_device = x.to(device)
        events = events_loop(model, on_device, calls)
        synced = sync_loop(model, on_device, calls)
    measured = ours(model_class, x, seconds, **options)
    print(f"  {model_class.__name__}, batch {batch_size}:")
    for label, figures in (("events", events), ("sync", synced), ("ours", measured)):
        print(_row(label, figures))
    overhead_us = (measured["p50_ms"] - synced["p50_ms"]) * 1e3
    print(
        f"    ours/sync: p50 x{measured['p50_ms'] / synced['p50_ms']:.3f} "
        f"({overhead_us:+.1f} us per call), throughput "
        f"x{measured['throughput'] / synced['throughput']:.3f}; sync/events throughput "
        f"x{synced['throughput'] / events['throughput']:.3f} (the cost of waiting per call)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="our run per case (s)")
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: no figures")
    args = parser.parse_args()
    calls, options = _LOOP_CALLS, {}
    if args.smoke:  # copies as threads: they see the shrunk sizes
        options["multiprocess"] = False
        MatMul.n, ConvNet.image, calls = _SMOKE["matmul_n"], _SMOKE["image"], _SMOKE["calls"]
        args.seconds = min(args.seconds, 0.5)
        print("smoke run on the CPU: checks the script, the figures mean nothing")
    elif not torch.cuda.is_available():
        print("no CUDA device here: nothing measured (use --smoke to check the script)")
        return 2
    else:
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    for model_class in (MatMul, ConvNet):
        for batch_size in _BATCH_SIZES:
            measure(model_class, batch_size, args.seconds, calls, **options)
    print("  inputs: " + residency(_example(MatMulProbe, 1), args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
