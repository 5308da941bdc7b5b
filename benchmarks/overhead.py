"""Per-iteration harness overhead of the engine, printed side by side from one run.

    python benchmarks/overhead.py [seconds-per-run] [repeats]

A no-op model costs (almost) nothing, so wall time / iterations of a 1-worker
run is the harness's own cost per inference. Each configuration runs `repeats`
times; the median is printed (machines are noisy). The primitive costs (one
clock read, one histogram record) are measured in C++ for reference.
"""

from __future__ import annotations

import statistics
import sys

import numpy as np

from neuronperf_native import _engine, engine


def _python_noop(x):
    return x


def _ns_per_iteration(model, inputs, seconds: float) -> float:
    r = engine.run(model, inputs, workers=1, duration_s=seconds)
    assert r.status == "finished", r.error
    return (r.end_ns - r.start_ns) / r.iterations


def measure(seconds: float, repeats: int) -> dict[str, float]:
    """Median ns per iteration for each configuration."""
    configs = {
        "python no-op callable": (_python_noop, [(np.zeros(4),)]),
        "native no-op": (engine.native_model("noop"), None),
    }
    return {
        name: statistics.median(_ns_per_iteration(m, i, seconds) for _ in range(repeats))
        for name, (m, i) in configs.items()
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    clock = statistics.median(_engine.clock_read_cost_ns(5_000_000) for _ in range(repeats))
    record = statistics.median(_engine.histogram_record_cost_ns(20_000_000) for _ in range(repeats))
    print(f"primitives (C++): clock read {clock:.1f} ns, histogram record {record:.1f} ns")
    targets = {"python no-op callable": 150.0, "native no-op": 40.0}
    print(f"engine, 1 worker, median of {repeats} x {seconds:g} s runs:")
    for name, ns in measure(seconds, repeats).items():
        print(
            f"  {name:24s} {ns:7.1f} ns/iteration  ({1e9 / ns / 1e6:5.1f} M it/s)  "
            f"target <= {targets[name]:.0f} ns: {'ok' if ns <= targets[name] else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
