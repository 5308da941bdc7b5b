"""Time a benchmark spends outside its requested durations, printed from one run.

    python benchmarks/orchestration.py [--skip-torch]

- the CPU default configurations (n_models [1, 2] x workers [1, 2], 2 s each) of a
  no-op model in forked copies and in fresh interpreters, with copies reused (the
  default) and reloaded per configuration (reuse_copies=False, NeuronPerf's way),
  interleaved, median of 3; with the plan's estimate beside the wall time;
- the torch pipeline of docs/api.md (examples/torch_pipeline.py: compile 3 batch sizes, then
  6 configurations of 5 s in fresh interpreters): whole-script wall time against the
  30 s measured (target: at most 1.25x, compile included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import neuronperf_native as npf

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "torch_pipeline.py")


class NoopModel:
    def __call__(self, x):
        return x


def outside_s(duration_s: float, **options: object) -> tuple[float, float]:
    """(seconds outside the durations, the plan's estimate of them) for 4 configs."""
    keywords = dict(n_models=[1, 2], workers_per_model=[1, 2], duration=duration_s, verbosity=0)
    keywords.update(options)
    plan = npf.cpu.benchmark(NoopModel, np.zeros(4), dry_run=True, **keywords)
    t0 = time.perf_counter()
    reports = npf.cpu.benchmark(NoopModel, np.zeros(4), **keywords)
    elapsed = time.perf_counter() - t0
    assert all(r["status"] == "finished" for r in reports), [r["error"] for r in reports]
    return elapsed - duration_s * len(reports), plan.setup_s()


def cpu_defaults(duration_s: float = 2.0, repeats: int = 3) -> None:
    variants = {
        "fork, reused copies": {},
        "fork, reuse_copies=False": {"reuse_copies": False},
        "fresh interpreters, reused": {"multiinterpreter": True},
        "fresh interpreters, reuse_copies=False": {"multiinterpreter": True, "reuse_copies": False},
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit all variants
        for name, options in variants.items():
            samples[name].append(outside_s(duration_s, **options))
    print(f"CPU default configurations (4 x {duration_s:g} s), seconds outside the durations:")
    for name, runs in samples.items():
        outside = statistics.median(o for o, _ in runs)
        estimate = runs[0][1]
        spread = ", ".join(f"{o:.2f}" for o, _ in runs)
        print(
            f"  {name:40s} median {outside:5.2f} s (runs {spread}); plan estimate {estimate:.2f} s"
        )


def torch_pipeline(duration_s: float = 5.0) -> None:
    measured = 6 * duration_s
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, EXAMPLE, str(duration_s)],
            cwd=work,
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - t0
    print(
        f"docs/api.md torch pipeline: {wall:.1f} s wall for {measured:g} s measured: "
        f"x{wall / measured:.2f} (target <= 1.25, compile included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-torch", action="store_true", help="skip the torch pipeline")
    args = parser.parse_args()
    cpu_defaults()
    if not args.skip_torch:
        torch_pipeline()


if __name__ == "__main__":
    main()
