"""summarize(): the report fields the reporting layer adds to each configuration."""

import json

import numpy as np
import pytest

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import REPORT_PERCENTILES, StoppingRule, ci_key, summarize
from neuronperf_native.stats import simulation as sim

WINDOW_S = 0.1


def run_of(seed, duration_s=6.0, **kwargs):
    return sim.simulate_runs(
        seed, 1, duration_s=duration_s, window_s=WINDOW_S, median_ns=2e5, sigma=0.25, **kwargs
    )[0]


def summary_of(run, **kwargs):
    return summarize(
        run.histogram(),
        run.windows(),
        WINDOW_S,
        window_histograms=run.window_histograms(),
        **kwargs,
    )


def test_report_fields_without_a_rule():
    run = run_of(61)
    fields = summary_of(run).report_fields()
    keys = [ci_key(p) for p in REPORT_PERCENTILES]
    assert keys[-2:] == ["latency_ms_p99.9_ci", "latency_ms_p100_ci"]
    assert set(fields) == {
        *keys,
        "throughput_ci",
        "ci_confidence",
        "ci_flags",
        "ci_dependence",
        "stable",
        "measured_s",
        "warmup_dropped_s",
        "warmup_dropped_windows",
    }
    assert fields["ci_flags"] == {
        "latency_ms_p0_ci": "extreme_percentile",
        "latency_ms_p100_ci": "extreme_percentile",
    }
    assert fields["latency_ms_p0_ci"] is None and fields["latency_ms_p100_ci"] is None
    assert fields["ci_confidence"] == 0.95 and fields["ci_dependence"] == "estimated"
    assert fields["stable"] is None
    assert fields["measured_s"] == pytest.approx(6.0)
    assert (fields["warmup_dropped_s"], fields["warmup_dropped_windows"]) == (0.0, 0)
    json.dumps(fields, allow_nan=False)  # JSON-safe as is


def test_intervals_bracket_the_reported_figures():
    run = run_of(62)
    histogram, windows = run.histogram(), run.windows()
    fields = summary_of(run).report_fields()
    for p in REPORT_PERCENTILES[1:-1]:
        low, high = fields[ci_key(p)]
        assert low <= histogram.value_at_percentile(p) / 1e6 <= high  # the report's latency_ms_pXX
    throughput_avg = np.mean(windows[1:-1]) / WINDOW_S  # reporting's definition
    low, high = fields["throughput_ci"]
    assert low < throughput_avg < high


def test_too_few_samples_are_flagged():
    run = run_of(63, duration_s=1.0)  # ~4,800 samples: p99.99 needs 36,887
    summary = summary_of(run, percentiles=[50, 99.99])
    fields = summary.report_fields()
    assert fields["latency_ms_p99.99_ci"] is None
    assert fields["ci_flags"] == {"latency_ms_p99.99_ci": "too_few_samples"}
    assert fields["latency_ms_p50_ci"] is not None


def test_too_few_windows_for_throughput():
    run = sim.simulate_runs(64, 1, duration_s=0.3, window_s=WINDOW_S, median_ns=2e5)[0]
    fields = summary_of(run).report_fields()
    assert fields["throughput_ci"] is None
    assert fields["ci_flags"]["throughput_ci"] == "too_few_windows"


def test_rule_verdicts():
    rule = StoppingRule(rel_ci=0.02, max_s=10.0)
    assert summary_of(run_of(65), rule=rule).stable is True
    drifting = run_of(66, duration_s=10.0, drift_per_window=0.01)
    assert summary_of(drifting, rule=rule).stable is False


def test_warmup_cut_replaces_the_whole_run_figures():
    run = run_of(67, duration_s=8.0, slow_start_s=1.0, slow_factor=2.0)
    summary = summary_of(run, rule=StoppingRule(), wall_s=8.05)
    fields = summary.report_fields()
    assert fields["warmup_dropped_windows"] == 11
    assert fields["warmup_dropped_s"] == pytest.approx(1.1)
    assert fields["measured_s"] == pytest.approx(8.05 - 1.1)
    windows = run.windows()
    assert fields["throughput_avg"] == pytest.approx(np.mean(windows[11:-1]) / WINDOW_S)
    assert fields["throughput_avg"] > np.mean(windows[1:-1]) / WINDOW_S
    kept = Histogram()
    for h in run.window_histograms()[11:]:
        kept.merge(h)
    for p in REPORT_PERCENTILES:
        assert fields[f"latency_ms_p{p:g}"] == kept.value_at_percentile(p) / 1e6
    assert fields["latency_ms_p50"] < run.histogram().value_at_percentile(50) / 1e6
    # Without the cut (or without window histograms to cut), the run is taken whole.
    assert summary_of(run, rule=StoppingRule(), drop_warmup=False).warmup.windows == 0
    whole = summarize(run.histogram(), windows, WINDOW_S, rule=StoppingRule())
    assert whole.warmup.windows == 0 and whole.dependence() == "unchecked"
    assert "latency_ms_p50" not in whole.report_fields()


def test_windows_spanning_histograms():
    run = run_of(68)
    summary = summarize(
        run.histogram(),
        run.windows(),
        WINDOW_S,
        window_histograms=run.window_histograms(4),
        windows_per_histogram=4,
    )
    assert summary.latency[99.0].batches == 15


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"percentiles": [50, 101]}, ValueError, "percentiles"),
        ({"confidence": 1.2}, ValueError, "confidence"),
        ({"rule": {"rel_ci": 0.02}}, TypeError, "rule"),
        ({"wall_s": -1.0}, ValueError, "wall_s"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"window_histograms": "abc"}, TypeError, "window_histograms"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, name):
    with pytest.raises(error, match=name):
        summarize(Histogram(), [1, 2, 3], WINDOW_S, **kwargs)
