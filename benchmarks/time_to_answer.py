"""How long statistical stopping takes to answer, next to a fixed duration, from one run.

    python benchmarks/time_to_answer.py [--fixed-s 20]

- npf.cpu.benchmark of the native lognormal spin model (median 200 us, sigma 0.25) with
  stability=0.02, n_models [1, 2] x workers [1]: seconds per configuration until stable
  (target <= 3 s), next to a fixed --fixed-s run of the same configurations (NeuronPerf
  would run 120 s each): throughput and p99 of both, and whether the fixed run's
  figures fall inside the stable run's intervals;
- the CLI default run (stability stopping) of docs/statistics.md's 4-configuration example
  (`bench my_models.py:Model --shape X:256`: n_models [1, MAX] x workers [1, 2] on this
  2-core machine): total wall time (target <= 20 s; NeuronPerf: 4 x 120 s = 480 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import neuronperf_native as npf
from neuronperf_native import engine

_MODEL = """
import numpy as np


class Model:
    def __init__(self):
        self.weights = np.random.default_rng(0).random((256, 256), dtype=np.float32)

    def __call__(self, x):
        return x @ self.weights
"""


def load_spin(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    return engine.native_model(
        "spin", latency_ns=200_000, distribution="lognormal", sigma=0.25, seed=device_id
    )


def _spin_reports(**options: object) -> list[dict]:
    return npf.benchmark(
        load_spin, "spin", None, device_type="cpu", n_models=[1, 2], workers_per_model=[1],
        verbosity=0, **options,
    )  # fmt: skip


def _inside(value: float, interval: list[float] | None) -> str:
    if interval is None:
        return "n/a"
    return "yes" if interval[0] <= value <= interval[1] else "no"


def spin_model(fixed_s: float) -> None:
    stable = _spin_reports(stability=0.02, duration=60)
    fixed = _spin_reports(duration=fixed_s)
    print(f"native lognormal spin (200 us), stability=0.02 vs a fixed {fixed_s:g} s:")
    for s, f in zip(stable, fixed, strict=True):
        low, high = s["throughput_ci"] or (float("nan"), float("nan"))
        throughput_inside = _inside(f["throughput_avg"], s["throughput_ci"])
        p99_inside = _inside(f["latency_ms_p99"], s["latency_ms_p99_ci"])
        print(
            f"  n_models={s['n_models']}: stopped after {s['total_s']:.2f} s "
            f"(stable={s['stable']}, target <= 3 s); throughput {s['throughput_avg']:.0f} "
            f"[{low:.0f}, {high:.0f}] vs fixed {f['throughput_avg']:.0f} (inside: "
            f"{throughput_inside}); p99 {s['latency_ms_p99'] * 1e3:.1f} us vs fixed "
            f"{f['latency_ms_p99'] * 1e3:.1f} us (inside: {p99_inside})"
        )


def cli_default() -> None:
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "my_models.py"), "w") as f:
            f.write(_MODEL)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "neuronperf_native", "bench", "my_models.py:Model",
             "--shape", "X:256", "-q"],
            cwd=work, capture_output=True, text=True, check=True,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    rows = out.stdout.strip().splitlines()[1:]
    stable = sum(row.split()[-2] == "True" for row in rows)
    print(
        f"CLI default run (docs/statistics.md): {len(rows)} configurations in {wall:.1f} s "
        f"({stable} stable; target <= 20 s; NeuronPerf's fixed 120 s: {120 * len(rows)} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixed-s", type=float, default=20.0, help="the fixed duration")
    args = parser.parse_args()
    spin_model(args.fixed_s)
    cli_default()


if __name__ == "__main__":
    main()
