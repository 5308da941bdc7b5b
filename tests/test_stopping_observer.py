"""StabilityObserver: windows merged over copies, decisions spaced as a run grows."""

from types import SimpleNamespace

import pytest

from neuronperf_native.run import stopping as _stopping
from neuronperf_native.stats import StabilityMonitor, parse_stability
from neuronperf_native.stats import simulation as sim

WINDOW_S = 0.1


def _configuration(n_models=1):
    settings = SimpleNamespace(window_s=WINDOW_S)
    return SimpleNamespace(index=0, n_models=n_models, batch_size=1, settings=settings)


def _run(seconds):
    (run,) = sim.simulate_runs(
        7, 1, duration_s=seconds, window_s=WINDOW_S, median_ns=200e3, sigma=0.25
    )
    return list(zip(run.windows(), run.window_histograms(), strict=True))


def _feed(observer, configuration, windows, copies=1):
    """Hands each window to the observer (split evenly over the copies) and asks it
    whether to stop after each; returns the window count it stopped at, or None."""
    observer.started(configuration, 0)
    for index, (count, histogram) in enumerate(windows):
        for copy_id in range(copies):
            share = count // copies + (copy_id < count % copies)
            encoded = histogram.encode() if copy_id == 0 else type(histogram)().encode()
            observer.progress(configuration, copy_id, 0, [(index, share, encoded)])
        if observer.should_stop(configuration):
            return index + 1
    return None


def test_decisions_are_spaced_once_a_run_has_many_windows(monkeypatch):
    calls = []
    decide = StabilityMonitor.decide
    monkeypatch.setattr(StabilityMonitor, "decide", lambda self: calls.append(1) or decide(self))
    rule = parse_stability({"rel_ci": 0.0001, "min_s": 1.0, "max_s": 100.0})  # never met
    observer = _stopping.StabilityObserver(rule)
    configuration = _configuration()
    assert _feed(observer, configuration, _run(30.0)) is None
    # every window until 50, then once each 2% of the windows so far: 164, not 300
    assert len(calls) == 164
    verdict = observer.verdict(configuration)  # judged once more on all 300 windows
    assert len(calls) == 165 and verdict["at_s"] == pytest.approx(30.0)
    assert verdict["stable"] is False and verdict["reason"] == "collecting"


def _decision_points(n_windows):
    """The window counts after which the observer decides: each until 50, then every
    2% of the windows so far."""
    points, at = [], 1
    while at <= n_windows:
        points.append(at)
        at += 1 if at < 50 else max(1, int(at * 0.02))
    return points


@pytest.mark.parametrize("rel_ci", [0.003, 0.002])
def test_a_spaced_stop_is_the_first_decision_point_where_the_rule_holds(rel_ci):
    rule = parse_stability({"rel_ci": rel_ci, "percentile": 50, "min_s": 1.0, "max_s": 100.0})
    windows = _run(40.0)
    monitor, met = StabilityMonitor(rule, WINDOW_S), []
    for count, histogram in windows:
        monitor.add([count], [histogram])
        met.append(monitor.decide().reason == "within_target")
    first = met.index(True) + 1
    assert first > 50  # the spacing applies
    expected = next(n for n in _decision_points(len(windows)) if met[n - 1])
    observer = _stopping.StabilityObserver(rule)
    configuration = _configuration(n_models=2)  # each window complete once both copies sent
    assert _feed(observer, configuration, windows, copies=2) == expected >= first
    assert observer.verdict(configuration)["reason"] == "within_target"
