"""Coverage of the intervals on seeded synthetic runs with known true values.

Each series is a fixed set of seeded simulated runs (one closed-loop worker, lognormal
latencies, iid or AR(1) rho = 0.8, put into histograms window by window), so the
counts below are deterministic. The bound: if an interval method covered with the
nominal 95%, fewer than `BOUND` of `RUNS` covered runs would happen with probability
< 0.1% (binomial), so a correct method passes with any seed, while the unwidened
interval on correlated data (~77% coverage) would pass with probability < 1%.
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
PERCENTILES = (50.0, 90.0, 99.0)


def merged(histograms):
    total = Histogram()
    for h in histograms:
        total.merge(h)
    return total


@pytest.fixture(scope="module", params=[0.0, 0.8], ids=["iid", "ar1"])
def series(request):
    """(rho, runs): per run its windows, merged histogram and two summaries (p50, p90,
    p99), without and with the warm-up cut of the stability path."""
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
        windows, parts = run.windows(), run.window_histograms(SPAN)
        total = merged(parts)
        summaries = [
            summarize(
                total,
                windows,
                WINDOW_S,
                window_histograms=parts,
                windows_per_histogram=SPAN,
                percentiles=PERCENTILES,
                drop_warmup=cut,
            )
            for cut in (False, True)
        ]
        prepared.append((windows, total, summaries))
    return request.param, prepared


def covered(interval, truth):
    return interval is not None and interval.low_ns <= truth <= interval.high_ns


def test_bound_separates_correct_from_unwidened_methods():
    assert BOUND == 87
    assert stats.binom.cdf(BOUND - 1, RUNS, 0.95) < 0.001  # a 95% method fails < 0.1%
    assert stats.binom.sf(BOUND - 1, RUNS, 0.77) < 0.01  # a 77% one passes < 1%


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "warmup_cut"])
def test_percentile_intervals_cover_the_true_percentiles(series, cut):
    rho, runs = series
    for p in PERCENTILES:
        truth = sim.true_percentile_ns(MEDIAN_NS, SIGMA, p)
        hits = sum(covered(summaries[cut].latency[p], truth) for _, _, summaries in runs)
        assert hits >= BOUND, (rho, p, hits)


def test_unwidened_interval_fails_on_correlated_samples(series):
    """The check above has power: ignoring dependence misses the bound on AR(1) data."""
    rho, runs = series
    truth = sim.true_percentile_ns(MEDIAN_NS, SIGMA, 99)
    hits = sum(covered(percentile_interval(total, 99), truth) for _, total, _ in runs)
    if rho:
        assert hits < BOUND - 5, hits
    else:
        assert hits >= BOUND, hits


@pytest.mark.parametrize("cut", [False, True], ids=["whole", "warmup_cut"])
def test_throughput_interval_covers_the_true_throughput(series, cut):
    rho, runs = series
    truth = sim.true_throughput(MEDIAN_NS, SIGMA)
    hits = 0
    for windows, _, summaries in runs:
        interval = summaries[cut].throughput
        hits += interval.low <= truth <= interval.high
        if not cut:
            assert interval == throughput_interval(windows, WINDOW_S)
    assert hits >= BOUND, (rho, hits)


def test_runs_are_as_large_as_stated(series):
    _, runs = series
    assert 5000 < np.mean([total.count for _, total, _ in runs]) < 5500
