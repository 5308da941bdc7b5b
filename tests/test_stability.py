"""Statistical stopping in npf.benchmark: stop once the numbers are known, else say so."""

import logging
import time

import numpy as np

import neuronperf_native as npf


class Sleeps1ms:
    def __call__(self, x):
        time.sleep(0.001)
        return x


class Drifts:
    """Its latency grows 1% every 0.1 s window, from 0.5 ms."""

    def __init__(self):
        self.start = time.monotonic()

    def __call__(self, x):
        windows = (time.monotonic() - self.start) / 0.1
        time.sleep(0.0005 * 1.01**windows)
        return x


def _run(model, stability, **options):
    return npf.cpu.benchmark(
        model,
        np.ones(2),
        n_models=1,
        workers_per_model=1,
        stability=stability,
        verbosity=0,
        **options,
    )


def test_a_stationary_model_stops_early_and_is_stable():
    rule = {"rel_ci": 0.25, "percentile": 50, "min_s": 1.0, "max_s": 30.0}
    (report,) = _run(Sleeps1ms, rule)
    assert report["status"] == "finished", report["error"]
    assert report["stable"] is True
    assert 1.0 <= report["measured_s"] < 30.0
    low, high = report["throughput_ci"]
    assert low <= report["throughput_avg"] <= high
    assert (high - low) / 2 <= 0.25 * report["throughput_avg"]
    low, high = report["latency_ms_p50_ci"]
    assert low <= report["latency_ms_p50"] <= high and low >= 1.0
    assert report["stability"] == {**rule, "confidence": 0.95}
    assert report["window_s"] == 0.1
    stopping = report["stopping"]  # the live decision that ended the run, as reported
    assert stopping["stable"] is True and stopping["reason"] == "within_target"
    assert 1.0 <= stopping["at_s"] < 30.0


def test_a_drifting_model_runs_to_max_s_and_is_reported_unstable(caplog):
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        (report,) = _run(Drifts, {"rel_ci": 0.02, "max_s": 3.0, "min_s": 1.0})
    assert report["status"] == "finished"
    assert report["stable"] is False
    assert report["total_s"] >= 3.0
    assert report["stopping"]["stable"] is False and report["stopping"]["reason"] != "within_target"
    (warning,) = [r.message for r in caplog.records]
    assert warning.startswith("Config 1/1 (batch_size=1 n_models=1 workers_per_model=1")
    assert "not stable after 3 s" in warning and "target +-2.0% at 95% confidence" in warning


def test_every_report_carries_intervals_even_at_a_fixed_duration():
    (report,) = npf.cpu.benchmark(
        Sleeps1ms,
        np.ones(2),
        n_models=1,
        workers_per_model=1,
        duration=1.0,
        window_s=0.1,
        verbosity=0,
    )
    assert report["stability"] is None and report["ci_confidence"] == 0.95
    assert "stopping" not in report  # no rule ran live: `stable` is judged after the run
    assert isinstance(report["stable"], bool)  # judged by the default rule, nothing cut
    assert report["warmup_dropped_s"] == 0.0
    for p in (50, 90, 95, 99):
        interval = report[f"latency_ms_p{p}_ci"]
        if interval is None:  # a machine loaded enough makes windows too unlike to bound it
            assert report["ci_flags"][f"latency_ms_p{p}_ci"] == "too_few_samples"
        else:
            low, high = interval
            assert low <= report[f"latency_ms_p{p}"] <= high
    # p0 and p100 have no distribution-free interval; p99.9 of ~900 samples cannot be bounded
    assert report["latency_ms_p0_ci"] is None and report["latency_ms_p100_ci"] is None
    assert report["ci_flags"]["latency_ms_p100_ci"] == "extreme_percentile"
    assert report["ci_flags"]["latency_ms_p99.9_ci"] == "too_few_samples"
