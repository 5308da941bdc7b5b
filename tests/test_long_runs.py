"""Runs as long as users run them, for models that hold the GIL (marker `long`).

A light Python model used to be declared hung after 10 s: the copy's progress went
through a Python thread that the model's worker starved of the GIL (issue 21). Each
case runs 25 s and checks that the configuration finishes, that the live windows the
parent received add up to the report's count, and that no copy went silent for
anywhere near the hung-copy rule's 10 s. The six cases cover every pair of model (a
no-op, a 200 us pure-Python busy loop) x copy mode (fork, spawn, thread) x loop
(closed, open at a rate above capacity) x stability (off, on with a target no run
meets, so it runs the whole 25 s with live histograms); they run one after another,
since a busy machine hides the starvation they guard against.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

import neuronperf_native as npf
from neuronperf_native.run import progress as _progress

pytestmark = pytest.mark.long

_DURATION_S = 25.0
# Far below the hung-copy rule's 10 s, far above the 0.2 s between progress messages.
_LONGEST_SILENCE_S = 3.0


class Noop:
    def __call__(self, x):
        return x


class Busy:
    """Holds the GIL for 200 us per call, in bytecode."""

    def __call__(self, x):
        end = time.perf_counter() + 200e-6
        while time.perf_counter() < end:
            pass
        return x


# (model, capacity of one worker in calls/s, rough), for open-loop rates above it
_MODELS = {"noop": (Noop, 1e6), "busy": (Busy, 5e3)}

_CASES = [
    ("noop", "fork", "closed", False),
    ("noop", "spawn", "open", True),
    ("noop", "thread", "closed", True),
    ("busy", "fork", "open", True),
    ("busy", "spawn", "closed", False),
    ("busy", "thread", "open", False),
]


class _Watch:
    """What the live progress showed: per copy, when its count last grew."""

    def __init__(self) -> None:
        self.silences: list[float] = []
        self.window_counts = 0
        self.messages = 0
        self._last: dict[int, tuple[int, float]] = {}

    def progress(self, copy_id: int, iterations: int, windows: list) -> None:
        now = time.monotonic()
        self.messages += 1
        self.window_counts += sum(count for _, count, _ in windows)
        before, since = self._last.get(copy_id, (0, now))
        if iterations > before:
            self.silences.append(now - since)
            self._last[copy_id] = (iterations, now)


@pytest.mark.parametrize(("model", "mode", "loop", "stable"), _CASES)
def test_a_long_run_of_a_gil_holding_model_finishes(monkeypatch, caplog, model, mode, loop, stable):
    watch = _Watch()
    original = _progress.Progress.progress

    def progress(self, configuration, copy_id, iterations, windows):
        watch.progress(copy_id, iterations, windows)
        original(self, configuration, copy_id, iterations, windows)

    monkeypatch.setattr(_progress.Progress, "progress", progress)
    model_class, capacity = _MODELS[model]
    options: dict = {"multiprocess": False} if mode == "thread" else {"start_method": mode}
    if loop == "open":
        options.update(load_mode="rate", request_rate=3 * capacity)
    if stable:  # a target no run meets: the rule judges live histograms for 25 s
        options["stability"] = {"rel_ci": 1e-6, "min_s": 1.0}
    with caplog.at_level(logging.INFO, logger="neuronperf_native"):
        (report,) = npf.cpu.benchmark(
            model_class, [np.zeros(4)], batch_sizes=[1], duration=_DURATION_S, n_models=1,
            workers_per_model=1, verbosity=1, **options,
        )  # fmt: skip
    assert report["status"] == "finished", report["error"]
    assert report["total_infs"] > 0
    # every window reached the parent live, and they add up to the report
    assert watch.window_counts == report["total_infs"]
    timeline = report["throughput_timeline"]
    assert sum(timeline) * report["window_s"] == pytest.approx(report["total_infs"])
    assert report["total_s"] == pytest.approx(_DURATION_S, rel=0.1)
    assert len(timeline) == pytest.approx(_DURATION_S / report["window_s"], abs=1)
    # the copy's count kept growing while it ran: never near the hung rule's 10 s
    assert watch.messages >= _DURATION_S / 1.0
    assert max(watch.silences) < _LONGEST_SILENCE_S
    progress_lines = [r.getMessage() for r in caplog.records if "inf/s" in r.getMessage()]
    assert progress_lines, "no progress line was logged"
    assert not [line for line in progress_lines if " 0 inf/s" in line]
