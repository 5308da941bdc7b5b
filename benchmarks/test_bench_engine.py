"""pytest-benchmark microbenchmarks of the engine's hot path.

    python -m pytest benchmarks/ --benchmark-only

Each benchmark stores the per-operation cost in extra_info; nothing is asserted
about time (see benchmarks/overhead.py for the targets).
"""

import numpy as np

from neuronperf_native import _engine, engine

ITERATIONS = 200_000


def test_clock_read_cpp(benchmark):
    cost = benchmark(_engine.clock_read_cost_ns, 1_000_000)
    benchmark.extra_info["ns_per_clock_read"] = cost


def test_clock_read_from_python(benchmark):
    benchmark(engine.now_ns)


def test_histogram_record_cpp(benchmark):
    cost = benchmark(_engine.histogram_record_cost_ns, 5_000_000)
    benchmark.extra_info["ns_per_record"] = cost


def _iteration_cost(benchmark, model, inputs):
    def run():
        r = engine.run(model, inputs, max_iterations=ITERATIONS, warmup=1)
        return (r.end_ns - r.start_ns) / r.iterations

    benchmark.extra_info["ns_per_iteration"] = benchmark.pedantic(run, rounds=5, iterations=1)


def test_engine_iteration_python_noop(benchmark):
    _iteration_cost(benchmark, lambda x: x, [(np.zeros(4),)])


def test_engine_iteration_native_noop(benchmark):
    _iteration_cost(benchmark, engine.native_model("noop"), None)
