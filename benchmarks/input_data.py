"""Input data costs, side by side from one run: per-inference selection, shared memory.

    python benchmarks/input_data.py [seconds-per-run] [repeats]

1. Selection: a no-op model fed one argument tuple vs the pre-batched steps of an
   InputData (1,000 steps at batch size 8). Batches are built once, before timing,
   and the engine serves them round-robin, so choosing the next batch should cost
   nothing measurable: the ratio of ns/iteration should be ~1.00. Both are shown
   for the bare engine loop and for npf.cpu.benchmark in this process.
2. Shared memory: setup time (benchmark wall time less the timed duration) of 2
   model copies in fresh interpreters fed a 64 x 3 x 224 x 224 float32 batch
   (38.5 MB), pickled into each copy vs mapped from POSIX shared memory.
Repetitions are interleaved and medians printed: machines are noisy.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

import neuronperf_native as npf
from neuronperf_native import engine
from neuronperf_native.inputs import TensorSpec, load_input_data


class NoopModel:
    def __call__(self, *args):
        return args


def _engine_ns(inputs: list[tuple], seconds: float) -> float:
    result = engine.run(NoopModel(), inputs, workers=1, duration_s=seconds)
    assert result.status == "finished", result.error
    return (result.end_ns - result.start_ns) / result.iterations


def _api_ns(inputs, seconds: float) -> float:
    (report,) = npf.cpu.benchmark(NoopModel, inputs, duration=seconds, n_models=1,
                                  workers_per_model=1, multiprocess=False, verbosity=0)  # fmt: skip
    assert report["status"] == "finished", report["error"]
    return report["total_s"] / (report["total_infs"] / report["batch_size"]) * 1e9


def selection(seconds: float, repeats: int) -> None:
    specs = [TensorSpec("A", "FP32", (16,)), TensorSpec("B", "INT64", (4,))]
    steps = {"data": [{"A": [0.5] * 16, "B": [k, 1, 2, 3]} for k in range(1000)]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "steps.json")
        with open(path, "w") as f:
            json.dump(steps, f)
        data = load_input_data(path, specs)
    batches = data.batches(8)
    single = [batches[0]]
    runs: dict[str, list[float]] = {k: [] for k in ("engine 1", "engine N", "api 1", "api N")}
    for _ in range(repeats):
        runs["engine 1"].append(_engine_ns(single, seconds))
        runs["engine N"].append(_engine_ns(batches, seconds))
        runs["api 1"].append(_api_ns([batches[0]], seconds))
        runs["api N"].append(_api_ns(data, seconds))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"input selection, no-op model, batch 8, median of {repeats} x {seconds:g} s:")
    for layer in ("engine", "api"):
        one, many = med[f"{layer} 1"], med[f"{layer} N"]
        print(f"  {layer:6s} one tuple {one:6.1f} ns/inference, {len(batches)} batches of "
              f"InputData {many:6.1f} ns/inference: x{many / one:.3f}")  # fmt: skip


def _setup_s(data, shared: str | None, duration_s: float) -> float:
    start = time.perf_counter()
    (report,) = npf.cpu.benchmark(NoopModel, data, duration=duration_s, n_models=2,
                                  workers_per_model=1, multiinterpreter=True, verbosity=0,
                                  shared_memory=shared)  # fmt: skip
    assert report["status"] == "finished", report["error"]
    return time.perf_counter() - start - duration_s


def shared_memory(repeats: int) -> None:
    data = load_input_data("random", [TensorSpec("IMAGE", "FP32", (3, 224, 224))], batch_size=64)
    nbytes = data.batches(64)[0][0].nbytes
    runs: dict[str, list[float]] = {"pickled": [], "system": []}
    for _ in range(repeats):
        runs["pickled"].append(_setup_s(data, None, 0.2))
        runs["system"].append(_setup_s(data, "system", 0.2))
    pickled, system = (statistics.median(runs[k]) for k in ("pickled", "system"))
    print(f"shared memory, 2 copies in fresh interpreters, one {nbytes / 1e6:.1f} MB batch, "
          f"median of {repeats}:")  # fmt: skip
    print(f"  setup pickled {pickled:.3f} s, shared_memory='system' {system:.3f} s: "
          f"saved {pickled - system:.3f} s (x{pickled / system:.2f})")  # fmt: skip


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    selection(seconds, repeats)
    shared_memory(repeats)


if __name__ == "__main__":
    main()
