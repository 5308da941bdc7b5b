"""Figures of the NeuronPerf-compatible API path, printed from one run.

    python benchmarks/api_targets.py

- start skew: with multiprocess=True and 4 copies, how far apart the copies'
  first timed iterations start (they share one start time on the monotonic clock);
- time outside the requested durations for 4 default configurations of a CPU model
  (process start, load, warm-up, merge, report);
- memory: peak RSS of the parent and of each model process for a short and a long
  duration (it must not grow with duration unless return_timers=True).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

import neuronperf_native as npf


class NoopModel:
    def __call__(self, x):
        return x


class SleepModel:
    def __call__(self, x):
        time.sleep(0.0005)
        return x


def start_skew_ms(model: type) -> float:
    """Spread of the copies' first timed iteration starts (the copies share one
    start_ns by construction; this measures when each actually began)."""
    (pair,) = npf.cpu.benchmark(
        model,
        np.zeros(4),
        duration=1.0,
        n_models=4,
        workers_per_model=1,
        return_timers=True,
        max_iterations=2000,
        verbosity=0,
    )
    _, results = pair
    firsts = [t.timestamps("ns")[0][0] for t in results["timers"]["e2e"]]
    return (max(firsts) - min(firsts)) / 1e6


def outside_duration_s(duration: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    reports = npf.cpu.benchmark(
        NoopModel,
        np.zeros(4),
        duration=duration,
        n_models=[1, 2],
        workers_per_model=[1, 2],
        verbosity=0,
    )
    elapsed = time.perf_counter() - t0
    return elapsed - duration * len(reports), len(reports)


_RSS_CHILD = """
import resource, sys
import numpy as np
import neuronperf_native as npf
sys.path.insert(0, sys.argv[2])
from api_targets import NoopModel
(report,) = npf.cpu.benchmark(NoopModel, np.zeros(4), duration=float(sys.argv[1]), n_models=1,
                              workers_per_model=1, verbosity=0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10, report["model_peak_rss_mb"])
"""


def peak_rss_mib(duration: float) -> tuple[float, float]:
    """Peak RSS of a fresh parent process and of its model process."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(duration), here],
        capture_output=True,
        text=True,
        check=True,
    )
    parent, child = out.stdout.split()[-2:]
    return float(parent), float(child)


def main() -> None:
    for model, what in ((SleepModel, "sleeping 0.5 ms"), (NoopModel, "CPU-bound no-op")):
        skews = sorted(start_skew_ms(model) for _ in range(3))
        print(
            f"first-iteration skew of 4 copies ({what}, multiprocess): median "
            f"{skews[1]:.3f} ms (runs: {', '.join(f'{s:.3f}' for s in skews)}; target < 5 ms)"
        )
    outside, n = outside_duration_s(2.0)
    print(
        f"{n} default configurations x 2 s: {outside:.2f} s outside the durations (target <= 2 s)"
    )
    for duration in (2.0, 20.0):
        parent, child = peak_rss_mib(duration)
        print(
            f"duration {duration:4.0f} s: parent peak RSS {parent:.1f} MiB, "
            f"model process peak RSS {child:.1f} MiB"
        )


if __name__ == "__main__":
    main()
