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


class _NoopModel:
    def __call__(self, x):
        return x


def _api_ns_per_inference(seconds: float) -> float:
    """The full API path: npf.cpu.benchmark of a no-op class in this process."""
    import neuronperf_native as npf

    (report,) = npf.cpu.benchmark(
        _NoopModel,
        np.zeros(4),
        duration=seconds,
        n_models=1,
        workers_per_model=1,
        multiprocess=False,
        verbosity=0,
    )
    assert report["status"] == "finished", report["error"]
    return report["total_s"] / report["total_infs"] * 1e9


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
    engine_ns = measure(seconds, repeats)
    for name, ns in engine_ns.items():
        print(
            f"  {name:24s} {ns:7.1f} ns/iteration  ({1e9 / ns / 1e6:5.1f} M it/s)  "
            f"target <= {targets[name]:.0f} ns: {'ok' if ns <= targets[name] else 'MISSED'}"
        )
    api = statistics.median(_api_ns_per_inference(seconds) for _ in range(repeats))
    ratio = api / engine_ns["python no-op callable"]
    print(
        f"  {'npf.cpu.benchmark no-op':24s} {api:7.1f} ns/inference  (x{ratio:.2f} of the bare "
        f"engine loop; target <= 1.5: {'ok' if ratio <= 1.5 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
