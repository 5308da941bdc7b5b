"""The GIL between the engine's workers and the other threads of their process.

A worker used to give the GIL up after every 200 us slice and take it straight back
even when no other worker waited. CPython forces a switch to a waiting thread only
after a whole switch interval (5 ms) without one, and each voluntary release starts
that interval again, so on an idle core any other thread (the copy's progress, a
user's thread) starved: a 10 ms ticker ran 4 times in 12 s (issue 21). Each test
compares how often a ticker thread runs beside a one-worker run of a GIL-holding
model with how often it runs alone, measured just before under the same conditions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from neuronperf_native import _engine, engine

pytestmark = pytest.mark.slow

_SECONDS = 3.0


def _noop(x):
    return x


def _busy(x):
    end = time.perf_counter() + 200e-6
    while time.perf_counter() < end:
        pass
    return x


def _ticks(wait: Callable[[], object], seconds: float, model: Callable | None = None) -> int:
    """How many times a thread that waits with `wait` and then takes the GIL ran in
    `seconds`, beside a one-worker engine run of `model` (or alone)."""
    ticks = 0
    stop = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            wait()
            ticks += 1

    thread = threading.Thread(target=tick)
    thread.start()
    try:
        if model is None:
            time.sleep(seconds)
        else:
            result = engine.run(model, [(np.zeros(4),)], workers=1, duration_s=seconds)
            assert result.status == "finished", result.error
    finally:
        stop.set()
        thread.join()
    return ticks


@pytest.mark.parametrize("model", [_noop, _busy, len], ids=["noop", "busy", "no-bytecode"])
def test_a_plain_thread_gets_the_gil_beside_a_worker_that_holds_it(model):
    """A thread the engine does not know about waits at most a few switch intervals
    (CPython's forced switch; for a model that runs no bytecode, the worker's
    courtesy release)."""
    alone = _ticks(lambda: time.sleep(0.01), 1.0) / 1.0
    beside = _ticks(lambda: time.sleep(0.01), _SECONDS, model) / _SECONDS
    assert beside >= 0.25 * alone


@pytest.mark.parametrize("model", [_noop, _busy, len], ids=["noop", "busy", "no-bytecode"])
def test_a_thread_waiting_in_the_engine_gets_the_gil_at_the_next_iteration(model):
    """The harness's waits (a copy's pipe, the parent's pump) retake the GIL announced:
    the worker hands it over at its next iteration boundary."""
    alone = _ticks(lambda: _engine.wait_readable([], 0.01), 1.0) / 1.0
    beside = _ticks(lambda: _engine.wait_readable([], 0.01), _SECONDS, model) / _SECONDS
    assert beside >= 0.5 * alone
