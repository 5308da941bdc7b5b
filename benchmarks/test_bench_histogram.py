"""Microbenchmarks of Histogram recording (pytest-benchmark).

Run: pytest benchmarks/test_bench_histogram.py --benchmark-only
The cost per value is reported in each benchmark's extra_info["ns_per_value"].
"""

import numpy as np
import pytest

from neuronperf_native._engine import Histogram

N_VALUES = 1_000_000


@pytest.fixture(scope="module")
def latencies_ns() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.rint(rng.lognormal(mean=np.log(2e6), sigma=0.8, size=N_VALUES)).astype(np.int64)


def test_bench_record_many(benchmark, latencies_ns):
    h = Histogram()
    benchmark(h.record_many, latencies_ns)
    benchmark.extra_info["values_per_call"] = N_VALUES
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.mean * 1e9 / N_VALUES
    assert h.count >= N_VALUES
    assert h.count % N_VALUES == 0


def test_bench_record_single(benchmark):
    h = Histogram()
    benchmark(h.record, 1_234_567)
    # Dominated by the Python call overhead, not by the histogram.
    benchmark.extra_info["ns_per_value"] = benchmark.stats.stats.mean * 1e9
    assert h.count >= 1
