"""StoppingRule validation and parsing; the rule on stationary and drifting series."""

import math

import pytest

from neuronperf_native.stats import (
    StabilityMonitor,
    StoppingRule,
    evaluate_stopping,
    parse_stability,
)
from neuronperf_native.stats import simulation as sim

WINDOW_S = 0.1


def test_defaults():
    rule = StoppingRule()
    assert rule.to_dict() == {
        "rel_ci": 0.02,
        "percentile": 99.0,
        "confidence": 0.95,
        "min_s": 1.0,
        "max_s": None,
    }
    assert parse_stability(rule.to_dict()) == rule
    ttft = parse_stability({"metric": "ttft", "percentile": 90})
    assert ttft.metric == "ttft" and ttft.to_dict()["metric"] == "ttft"
    with pytest.raises(ValueError, match="stability metric must be one of e2e, ttft, itl, tpot"):
        StoppingRule(metric="latency")


@pytest.mark.parametrize(
    "key,value,error",
    [
        ("rel_ci", 0, ValueError),
        ("rel_ci", 1.0, ValueError),
        ("rel_ci", -0.1, ValueError),
        ("rel_ci", 1.5, ValueError),
        ("rel_ci", math.nan, ValueError),
        ("rel_ci", "0.02", TypeError),
        ("rel_ci", True, TypeError),
        ("confidence", 0.0, ValueError),
        ("confidence", 1.0, ValueError),
        ("confidence", math.nan, ValueError),
        ("percentile", 0, ValueError),
        ("percentile", 100, ValueError),
        ("percentile", -5, ValueError),
        ("min_s", -1.0, ValueError),
        ("min_s", math.inf, ValueError),
        ("min_s", math.nan, ValueError),
        ("max_s", 0, ValueError),
        ("max_s", -2.0, ValueError),
        ("max_s", math.inf, ValueError),
        ("max_s", math.nan, ValueError),
    ],
)
def test_bad_values_are_rejected_naming_the_key(key, value, error):
    with pytest.raises(error, match=key):
        StoppingRule(**{key: value})
    with pytest.raises(error, match=key):
        parse_stability({key: value})


def test_min_s_above_max_s_is_rejected():
    with pytest.raises(ValueError, match=r"min_s \(5\) must be <= max_s \(2\)"):
        StoppingRule(min_s=5, max_s=2)
    with pytest.raises(ValueError, match="min_s"):
        parse_stability({"min_s": 2.0}, max_s=0.5)  # the duration as max_s


def test_parse_forms():
    assert parse_stability(None) is None and parse_stability(False) is None
    assert parse_stability(True) == StoppingRule()
    assert parse_stability(True, max_s=30) == StoppingRule(max_s=30.0)
    assert parse_stability(0.05) == StoppingRule(rel_ci=0.05)
    rule = parse_stability({"rel_ci": 0.01, "percentile": 99.9, "max_s": 20}, max_s=60)
    assert rule == StoppingRule(rel_ci=0.01, percentile=99.9, max_s=20.0)
    # A short duration lowers the default min_s rather than rejecting it.
    assert parse_stability(True, max_s=0.5) == StoppingRule(min_s=0.5, max_s=0.5)
    given = StoppingRule(rel_ci=0.1)
    assert parse_stability(given) is given


def test_parse_rejects_unknown_keys_naming_them():
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'max_trials', 'rel'"):
        parse_stability({"rel": 0.02, "max_trials": 3, "rel_ci": 0.02})


@pytest.mark.parametrize("value", ["0.02", [0.02], object()])
def test_parse_rejects_other_types(value):
    with pytest.raises(TypeError, match="stability must be"):
        parse_stability(value)


def test_a_whole_number_is_a_relative_width_too():
    with pytest.raises(ValueError, match="rel_ci"):
        parse_stability(1)  # 1 = 100%: not a target


def feed(monitor, run, span=1):
    """Feeds the run window by window (a histogram every `span` windows); returns the
    first decision to stop, or the last one."""
    windows, histograms = run.windows(), run.window_histograms(span)
    decision = None
    for i, count in enumerate(windows):
        done = (i + 1) % span == 0
        monitor.add([count], [histograms[i // span]] if done else [])
        decision = monitor.decide()
        if decision.stop:
            break
    return decision


def spin_like(seed, duration_s, **kwargs):
    """Like the native lognormal spin model: median 200 us, sigma 0.25."""
    return sim.simulate_runs(
        seed, 1, duration_s=duration_s, window_s=WINDOW_S, median_ns=2e5, sigma=0.25, **kwargs
    )[0]


def test_stationary_series_stops_early_and_stable():
    rule = StoppingRule(rel_ci=0.02, min_s=1.0, max_s=10.0)
    decision = feed(StabilityMonitor(rule, WINDOW_S), spin_like(41, 10.0))
    assert decision.stop and decision.stable and decision.reason == "within_target"
    assert 1.0 <= decision.elapsed_s <= 4.0
    assert decision.throughput.rel_half_width <= 0.02
    assert decision.latency.rel_half_width <= 0.02
    assert decision.latency.percentile == 99.0 and decision.latency.batches >= 5


def test_windows_spanning_histograms_work_too():
    rule = StoppingRule(rel_ci=0.02, max_s=10.0)
    decision = feed(
        StabilityMonitor(rule, WINDOW_S, windows_per_histogram=5), spin_like(42, 10.0), 5
    )
    assert decision.stable and decision.elapsed_s <= 6.0


def test_drifting_series_never_stabilizes():
    rule = StoppingRule(rel_ci=0.02, max_s=10.0)
    run = spin_like(43, 10.0, drift_per_window=0.01)  # latency grows 1% per window
    windows = run.windows()
    assert windows[-2] / windows[1] < 0.45  # the drift is there: 1.01**-98 = 0.38
    decision = feed(StabilityMonitor(rule, WINDOW_S), run)
    assert decision.stop and not decision.stable and decision.reason == "max_s"
    assert decision.elapsed_s == pytest.approx(10.0)
    assert max(decision.throughput.rel_half_width, decision.latency.rel_half_width) > 0.02


def test_nothing_is_judged_before_min_s():
    rule = StoppingRule(rel_ci=0.5, min_s=3.0, max_s=10.0)
    run = spin_like(44, 10.0)
    monitor = StabilityMonitor(rule, WINDOW_S)
    monitor.add(run.windows()[:29], run.window_histograms()[:29])
    early = monitor.decide()
    assert (early.stop, early.reason, early.throughput, early.latency) == (
        False,
        "min_s",
        None,
        None,
    )
    monitor.add(run.windows()[29:30], run.window_histograms()[29:30])
    assert monitor.decide().reason == "within_target"


def test_without_max_s_the_rule_keeps_collecting():
    run = spin_like(45, 3.0, drift_per_window=0.01)
    decision = feed(StabilityMonitor(StoppingRule(), WINDOW_S), run)
    assert not decision.stop and decision.reason == "collecting"


def test_incremental_monitor_matches_the_one_shot_evaluation():
    rule = StoppingRule(rel_ci=0.001, max_s=30.0)  # never met: judge the same data twice
    run = spin_like(46, 4.0, slow_start_s=1.0, slow_factor=1.5)
    incremental = feed(StabilityMonitor(rule, WINDOW_S), run)
    at_once = evaluate_stopping(rule, run.windows(), run.window_histograms(), WINDOW_S)
    assert incremental == at_once
    assert at_once.warmup.windows > 0  # the cut moved while feeding: rebuilt, not stale


@pytest.mark.parametrize(
    "call,error,name",
    [
        (lambda: StabilityMonitor({"rel_ci": 0.02}, 0.1), TypeError, "rule"),
        (lambda: StabilityMonitor(StoppingRule(), 0), ValueError, "window_s"),
        (lambda: StabilityMonitor(StoppingRule(), 0.1, batch_size=0), ValueError, "batch_size"),
        (lambda: StabilityMonitor(StoppingRule(), 0.1).add([-1]), ValueError, "window count"),
        (lambda: StabilityMonitor(StoppingRule(), 0.1).add([1], [3]), TypeError, "histograms"),
    ],
)
def test_monitor_rejects_bad_arguments(call, error, name):
    with pytest.raises(error, match=name):
        call()
