"""Coverage of the intervals on seeded synthetic runs with known true values.

Each series is a fixed set of seeded simulated runs (one closed-loop worker, lognormal
latencies, iid or AR(1) rho = 0.8, put into histograms window by window), so the
counts below are deterministic. The bound: if an interval method covered with the
nominal 95%, fewer than `BOUND` of `RUNS` covered runs would happen with probability
< 0.1% (binomial), so a correct method passes with any seed and a method that covers
much less (the unwidened interval on correlated data covers ~77%) cannot.
benchmarks/stability.py prints the same figures over 400 runs of 10 s.
"""

import numpy as np
import pytest
from scipy import stats

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import percentile_interval, summarize, throughput_interval
from neuronperf_native.stats import simulation as sim

RUNS = 100
BOUND = int(stats.binom.ppf(0.001, RUNS, 0.95))  # 87 of 100
DURATION_S, WINDOW_S, SPAN = 6.0, 0.1, 3
MEDIAN_NS, SIGMA = 1e6, 0.5


def merged(histograms):
    total = Histogram()
    for h in histograms:
        total.merge(h)
    return total


@pytest.fixture(scope="module", params=[0.0, 0.8], ids=["iid", "ar1"])
def series(request):
    runs = sim.simulate_runs(
        31 + int(request.param * 10),
        RUNS,
        duration_s=DURATION_S,
        window_s=WINDOW_S,
        median_ns=MEDIAN_NS,
        sigma=SIGMA,
        rho=request.param,
    )
    prepared = []
    for run in runs:
        parts = run.window_histograms(SPAN)
        prepared.append((run.windows(), parts, merged(parts)))
    return request.param, prepared


def covered(interval, truth):
    return interval is not None and interval.low_ns <= truth <= interval.high_ns


def test_bound_rejects_a_method_that_misses_a_fifth_more_often():
    assert BOUND == 87
    assert stats.binom.cdf(BOUND - 1, RUNS, 0.95) < 0.001
    assert stats.binom.sf(BOUND - 1, RUNS, 0.80) < 0.001  # 80% coverage passes < 0.1%


def test_p99_interval_covers_the_true_p99(series):
    rho, runs = series
    truth = sim.true_percentile_ns(MEDIAN_NS, SIGMA, 99)
    hits = sum(
        covered(percentile_interval(total, 99, window_histograms=parts), truth)
        for _, parts, total in runs
    )
    assert hits >= BOUND, (rho, hits)


def test_unwidened_interval_fails_on_correlated_samples(series):
    """The check above has power: ignoring dependence misses the bound on AR(1) data."""
    rho, runs = series
    truth = sim.true_percentile_ns(MEDIAN_NS, SIGMA, 99)
    hits = sum(covered(percentile_interval(total, 99), truth) for _, _, total in runs)
    if rho:
        assert hits < BOUND - 5, hits
    else:
        assert hits >= BOUND, hits


def test_throughput_interval_covers_the_true_throughput(series):
    rho, runs = series
    truth = sim.true_throughput(MEDIAN_NS, SIGMA)
    hits = 0
    for windows, _, _ in runs:
        interval = throughput_interval(windows, WINDOW_S)
        hits += interval.low <= truth <= interval.high
    assert hits >= BOUND, (rho, hits)


def test_summary_intervals_cover_p50_p90_p99(series):
    """The stability path: summarize() with the warm-up cut on."""
    rho, runs = series
    truth = {p: sim.true_percentile_ns(MEDIAN_NS, SIGMA, p) for p in (50, 90, 99)}
    hits = dict.fromkeys(truth, 0)
    for windows, parts, total in runs:
        summary = summarize(
            total,
            windows,
            WINDOW_S,
            window_histograms=parts,
            windows_per_histogram=SPAN,
            percentiles=list(truth),
            drop_warmup=True,
        )
        for p in truth:
            hits[p] += covered(summary.latency[p], truth[p])
    assert min(hits.values()) >= BOUND, (rho, hits)
    assert np.mean([h.count for _, _, h in runs]) > 5000
