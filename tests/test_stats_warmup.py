"""Warm-up detection: MSER-5 known answers and a seeded slow start."""

import numpy as np
import pytest

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import WarmupCut, detect_warmup, mser5_truncation
from neuronperf_native.stats import simulation as sim
from neuronperf_native.stats.warmup import consistent_cut

WINDOW_S = 0.1


def test_mser5_known_answer():
    # Batch means 10, 4, then 1, 2, 1, 2, 1, 2: cutting 2 batches leaves the smallest
    # statistic, 1.5 / 6**2 = 0.042 (1 batch: 6.86 / 7**2 = 0.14; 3: 1.2 / 5**2 = 0.048).
    series = [10] * 5 + [4] * 5 + [1] * 5 + [2] * 5 + [1] * 5 + [2] * 5 + [1] * 5 + [2] * 5
    assert mser5_truncation(series) == 10


def test_mser5_is_limited_to_the_first_half():
    series = list(np.linspace(100, 1, 40))  # a trend: MSER would cut nearly all of it
    assert mser5_truncation(series) == 20  # 4 of 8 batches


def test_mser5_needs_four_batches():
    assert mser5_truncation([10] * 5 + [1] * 10) == 0
    assert mser5_truncation([]) == 0


def test_constant_and_stationary_series_are_not_cut():
    assert mser5_truncation([7.0] * 50) == 0
    noise = np.random.default_rng(3).normal(100, 1, 200)
    assert consistent_cut(noise) == 0


def test_consistent_cut_stops_at_the_end_of_the_transient():
    rng = np.random.default_rng(4)
    series = rng.normal(100, 1, 200)
    series[:10] -= 30  # two batches of warm-up
    assert consistent_cut(series) == 10
    assert mser5_truncation(series) >= 10


def test_a_one_second_slow_start_is_found():
    run = sim.simulate_runs(
        51,
        1,
        duration_s=10.0,
        window_s=WINDOW_S,
        median_ns=2e5,
        sigma=0.25,
        slow_start_s=1.0,
        slow_factor=2.0,
    )[0]
    cut = detect_warmup(run.windows(), WINDOW_S)
    assert cut.by == "throughput"
    # Window 0 plus whole batches of 5 covering the slow second (windows 0-9 and the
    # one where it ends).
    assert cut == WarmupCut(11, pytest.approx(1.1), "throughput")
    with_latency = detect_warmup(run.windows(), WINDOW_S, window_histograms=run.window_histograms())
    assert with_latency.windows == 11


def test_a_stationary_run_is_not_cut():
    run = sim.simulate_runs(51, 1, duration_s=10.0, window_s=WINDOW_S, median_ns=2e5, sigma=0.25)[0]
    assert detect_warmup(run.windows(), WINDOW_S, window_histograms=run.window_histograms()) == (
        WarmupCut(0, 0.0, "none")
    )


def test_a_latency_only_warmup_is_found_from_the_histograms():
    """Open-loop style: completions follow the arrival rate, latency starts high."""
    rng = np.random.default_rng(5)
    windows = [1000] * 100
    histograms = []
    for i in range(100):
        h = Histogram()
        h.record_many(rng.lognormal(np.log(3e5 if i < 15 else 1e5), 0.2, size=1000))
        histograms.append(h)
    assert detect_warmup(windows, WINDOW_S) == WarmupCut(0, 0.0, "none")
    cut = detect_warmup(windows, WINDOW_S, window_histograms=histograms)
    assert cut.by == "latency" and cut.windows == 16


def test_cut_is_rounded_up_to_whole_histograms():
    rng = np.random.default_rng(6)
    counts = np.rint(rng.normal(1000, 5, 100)).tolist()
    counts[:12] = [500] * 12
    histograms = [Histogram() for _ in range(25)]
    for h in histograms:
        h.record_many(rng.lognormal(np.log(1e5), 0.1, size=400))
    cut = detect_warmup(counts, WINDOW_S, window_histograms=histograms, windows_per_histogram=4)
    assert cut.windows == 16 and cut.seconds == pytest.approx(1.6)


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"windows": "abc"}, TypeError, "windows"),
        ({"windows": [1, -1]}, ValueError, "windows"),
        ({"window_s": -1.0}, ValueError, "window_s"),
        ({"windows_per_histogram": 0}, ValueError, "windows_per_histogram"),
        ({"window_histograms": [object()]}, TypeError, "window_histograms"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, name):
    arguments = {"windows": [1, 2, 3], "window_s": 0.1, **kwargs}
    with pytest.raises(error, match=name):
        detect_warmup(**arguments)
