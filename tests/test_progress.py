"""The progress line and its time-left estimate, on a fake clock."""

import logging

import pytest

from neuronperf_native.planning import Host, ModelConfig, plan
from neuronperf_native.run import progress as _progress
from neuronperf_native.settings import BenchmarkSettings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_progress.time, "monotonic", fake)
    return fake


def _plan(n_workers=4, duration_s=5.0):
    settings = BenchmarkSettings(
        duration_s=duration_s, n_models=(1,), workers_per_model=tuple(range(1, n_workers + 1))
    )
    return plan(settings, [ModelConfig("m.pt", batch_size=2)], Host({1: 2}))


def test_time_left_corrects_itself_with_the_set_up_measured_so_far(clock):
    the_plan = _plan()
    progress = _progress.Progress(the_plan, verbosity=0)
    assert progress.remaining_s() == pytest.approx(the_plan.estimate_s())
    c0 = the_plan[0]
    clock.now += 3.0  # copies loading
    progress.started(c0, 0)
    clock.now += 5.0
    progress.finished(c0, measured_s=5.0)
    # 8 s spent for a 5 s configuration: 3 s of set-up per configuration so far
    assert progress.remaining_s() == pytest.approx(3 * (5.0 + 3.0))
    progress.started(the_plan[1], 0)
    clock.now += 2.0
    assert progress.remaining_s() == pytest.approx(3 * (5.0 + 3.0) - 2.0)


def test_the_live_line_names_the_configuration_and_live_throughput(clock):
    the_plan = _plan()
    progress = _progress.Progress(the_plan, verbosity=1)
    progress.started(the_plan[1], 0)
    clock.now += 2.0
    progress.progress(the_plan[1], 0, 500, [])
    line = progress._line()
    assert line.startswith("[1/4] batch 2, 1 x 2 workers: 2.0/5 s, 500 inf/s;")
    assert line.endswith("s left")


def test_without_a_terminal_a_log_line_at_most_every_10_s(clock, caplog):
    the_plan = _plan()
    progress = _progress.Progress(the_plan, verbosity=1)
    assert not progress.live  # pytest captures stderr: no terminal
    progress.started(the_plan[0], 0)
    with caplog.at_level(logging.INFO, logger="neuronperf_native"):
        for _ in range(100):  # 25 s of ticks every 0.25 s
            clock.now += 0.25
            progress.tick()
    assert len(caplog.records) == 2
    quiet = _progress.Progress(the_plan, verbosity=0)
    with caplog.at_level(logging.INFO, logger="neuronperf_native"):
        clock.now += 60
        quiet.tick()
    assert len(caplog.records) == 2
