"""engine.run / Runner / RunResult: stop conditions, errors, watchdog, inputs, accuracy."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from neuronperf_native import engine
from neuronperf_native.engine import Histogram


def noop(*args):
    return args


def test_python_model_counts_and_stages():
    r = engine.run(noop, [(1,), (2,)], max_iterations=1000, warmup=3)
    assert r.status == "finished"
    assert r.stop_reason == "max_iterations"
    assert r.error is None
    assert r.iterations == 1000
    assert r.per_worker_iterations == [1000]
    assert r.latency.count == 1000
    assert r.stage("infer").count == 1000
    assert r.stage("gil_wait").count == 1000
    assert r.stage("input").count == 0  # round-robin lists are not timed
    assert r.stage("preprocess").count == 0
    assert r.warmup.count == 3
    assert sum(r.windows) == 1000
    assert r.start_ns <= r.end_ns


def test_round_robin_inputs_reach_the_model_in_order():
    seen = []
    engine.run(seen.append, [(i,) for i in range(5)], max_iterations=12, warmup=0)
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


def test_non_tuple_items_are_single_arguments_and_tuples_are_spread():
    calls = []
    engine.run(lambda *a: calls.append(a), [np.int64(7), (1, 2)], max_iterations=2, warmup=0)
    assert calls == [(np.int64(7),), (1, 2)]


def test_no_inputs_calls_the_model_without_arguments():
    calls = []
    engine.run(lambda: calls.append(1), max_iterations=5, warmup=0)
    assert len(calls) == 5


def test_preprocess_and_postprocess_are_timed_stages():
    outputs = []
    r = engine.run(
        lambda x, y: x * y,
        [(3,)],
        preprocess=lambda x: (x, x + 1),
        postprocess=outputs.append,
        max_iterations=50,
        warmup=0,
    )
    assert outputs == [12] * 50
    for stage in ("preprocess", "infer", "postprocess", "e2e"):
        assert r.stage(stage).count == 50
    # e2e covers every stage of an iteration
    assert r.latency.value_at_percentile(100) >= r.stage("infer").value_at_percentile(100)


def test_iterator_exhaustion_ends_the_run_cleanly():
    seen = []
    r = engine.run(seen.append, iter(range(100)), workers=3, warmup=0)
    assert r.status == "finished"
    assert r.stop_reason == "inputs_exhausted"
    assert r.iterations == 100
    assert sorted(seen) == list(range(100))  # each item served exactly once
    assert r.stage("input").count == 100


def test_iterables_are_served_once_through_and_warmup_consumes_items():
    seen = []
    r = engine.run(seen.append, range(10), warmup=2)
    assert r.iterations == 8
    assert seen == list(range(10))


def test_generator_that_releases_the_gil_is_served_safely_to_many_workers():
    def slow_items():
        for i in range(60):
            time.sleep(0.0002)  # drops the GIL inside next()
            yield i

    seen = []
    r = engine.run(seen.append, slow_items(), workers=4, warmup=0)
    assert r.status == "finished"
    assert sorted(seen) == list(range(60))


def test_model_exception_stops_the_run_with_type_message_and_traceback():
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] == 40:
            return 1 / 0
        return x

    r = engine.run(flaky, [(1,)], max_iterations=10_000, warmup=0)
    assert r.status == "error"
    assert r.stop_reason == "error"
    assert r.iterations == 39
    assert r.latency.count == 39
    assert r.error_info["type"] == "ZeroDivisionError"
    assert r.error_info["stage"] == "infer"
    assert r.error.startswith("ZeroDivisionError: division by zero (worker 0, stage infer)")
    assert "Traceback (most recent call last)" in r.error
    assert "return 1 / 0" in r.error


def test_errors_in_each_python_stage_name_the_stage():
    def boom(*_):
        raise KeyError("nope")

    cases = {
        "preprocess": {"preprocess": boom},
        "postprocess": {"postprocess": boom},
    }
    for stage, kwargs in cases.items():
        r = engine.run(noop, [(1,)], max_iterations=10, warmup=0, **kwargs)
        assert r.status == "error"
        assert r.error_info["stage"] == stage
        assert r.error_info["type"] == "KeyError"

    def bad_items():
        yield 1
        raise RuntimeError("dataset broke")

    r = engine.run(noop, bad_items(), warmup=0)
    assert r.error_info["stage"] == "input"
    assert r.iterations == 1


def test_error_during_warmup_is_reported():
    r = engine.run(lambda: 1 / 0, max_iterations=5, warmup=1)
    assert r.status == "error"
    assert r.error_info["stage"] == "warmup"
    assert r.iterations == 0


def test_custom_exception_type_is_qualified():
    class ModelFailure(Exception):
        pass

    def fail():
        raise ModelFailure("bad weights")

    r = engine.run(fail, max_iterations=3, warmup=0)
    assert r.error_info["type"].endswith("ModelFailure")
    assert "bad weights" in r.error


def test_watchdog_marks_a_hung_call_as_timeout_and_keeps_results():
    release = threading.Event()
    returned = threading.Event()
    calls = {"n": 0}

    def hangs_on_20th():
        calls["n"] += 1
        if calls["n"] == 20:
            release.wait(60)
            returned.set()

    # The timeout is long enough that no other call takes as long on a loaded machine
    # (the watchdog would rightly abandon that one instead).
    r = engine.run(hangs_on_20th, max_iterations=1_000_000, warmup=0, call_timeout_s=1.0)
    assert not returned.is_set()  # the run returned while the call still hangs
    release.set()
    assert r.status == "timeout"
    assert r.abandoned_workers == 1
    assert r.error_info["type"] == "Timeout"
    assert "call_timeout_s" in r.error
    assert r.iterations == 19
    assert returned.wait(10)


def test_stop_from_another_thread():
    runner = engine.Runner(engine.native_model("spin", latency_ns=50_000), duration_s=60)
    runner.start()

    def stop_once_measuring():
        while runner.live_iterations == 0 and not runner.done:
            time.sleep(0.01)
        runner.stop()

    stopper = threading.Thread(target=stop_once_measuring)
    stopper.start()
    r = runner.wait()
    stopper.join()
    assert r.status == "stopped"
    assert r.stop_reason == "stop_requested"
    assert r.iterations > 0
    assert runner.done


@pytest.mark.usefixtures("sigint_raises")
def test_keyboard_interrupt_stops_the_run_and_keeps_measurements():
    calls = iter(range(1_000_000_000))

    def interrupts_on_20th_call():
        # each worker warms up with one call: the 20th is timed, whatever the load
        if next(calls) == 19:
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.001)

    r = engine.run(interrupts_on_20th_call, workers=2, duration_s=60)
    assert r.wall_s < 60
    assert r.status == "stopped"
    assert r.stop_reason == "interrupted"
    assert r.error_info["type"] == "KeyboardInterrupt"
    assert r.iterations > 0


def test_duration_and_windows():
    spin_ns = 100_000
    r = engine.run(
        engine.native_model("spin", latency_ns=spin_ns),
        duration_s=0.5,
        window_s=0.1,
        record_timestamps=True,
    )
    assert r.status == "finished"
    assert r.stop_reason == "duration"
    assert r.wall_s >= 0.5
    assert r.window_s == pytest.approx(0.1)
    window_ns = round(r.window_s * 1e9)
    assert sum(r.windows) == r.iterations == len(r.boundaries)
    # Each completion is counted in the window its own end timestamp falls in ...
    ends = r.boundaries[:, 5]
    assert r.windows == np.bincount((ends - r.start_ns) // window_ns).tolist()
    # ... the windows span the run, and none holds more completions than one worker
    # can finish in a window at the run's own fastest latency (a spin is never faster).
    assert len(r.windows) <= (r.end_ns - r.start_ns) // window_ns + 1
    assert r.latency.min >= spin_ns * 0.999
    assert max(r.windows) <= window_ns // r.latency.min + 1


def _spin_latencies_ns(model: engine.NativeModel, iterations: int) -> np.ndarray:
    """Each call's spin (its infer stage, exact ns) in a one-worker run."""
    r = engine.run(model, max_iterations=iterations, record_timestamps=True)
    infer = r.timestamps("infer")
    assert len(infer) == iterations
    return infer[:, 1] - infer[:, 0]


def _binomial_floor(n: int, p: float) -> float:
    """Fewer of n seeded draws of probability p than this is 5 standard deviations off."""
    return n * p - 5 * math.sqrt(n * p * (1 - p))


# A spin never ends before its drawn latency, whatever the load: lower bounds are exact,
# and so are lower bounds on how many calls reach each part of the distribution. A
# preempted call ends late, so an upper bound holds only for undisturbed calls: it is
# asserted on the quickest call of those that could meet it, which needs one of them
# to run undisturbed. (The draws' shape, upper side included, is checked without
# timing in tests/cpp/test_native_models.cpp.)


def test_native_spin_fixed_latency_accuracy():
    for latency_ns, iterations in ((100_000, 2000), (2_000_000, 100)):
        model = engine.native_model("spin", latency_ns=latency_ns)
        # Never early, in any round. Close to the latency in its quickest call, which needs
        # one call the scheduler did not preempt: a loaded machine may preempt every 2 ms
        # call of a round, so up to five rounds; a model that overshoots fails them all.
        quickest_ns = []
        for _ in range(5):
            latencies = _spin_latencies_ns(model, iterations)
            assert latencies.min() >= latency_ns
            quickest_ns.append(latencies.min())
            if quickest_ns[-1] <= latency_ns * 1.05:
                break
        assert min(quickest_ns) <= latency_ns * 1.05, quickest_ns


def test_native_spin_bimodal_percentiles():
    model = engine.native_model(
        "spin",
        distribution="bimodal",
        latency_ns=30_000,
        second_latency_ns=300_000,
        second_fraction=0.1,
        seed=3,
    )
    assert "second_latency_ns=300000, second_fraction=0.1" in repr(model)
    latencies = _spin_latencies_ns(model, 4000)
    assert latencies.min() >= 30_000
    slow = latencies[latencies >= 300_000]  # every call that drew the second latency
    assert len(slow) >= _binomial_floor(4000, 0.1)
    assert latencies.min() <= 30_000 * 1.05
    assert slow.min() <= 300_000 * 1.05


def test_native_spin_uniform_and_lognormal_shapes():
    uniform = engine.native_model("spin", distribution="uniform", low_ns=10_000, high_ns=50_000)
    latencies = _spin_latencies_ns(uniform, 4000)
    assert latencies.min() >= 10_000
    for quantile in (0.25, 0.5, 0.75):
        above = 10_000 + 40_000 * quantile
        assert np.count_nonzero(latencies >= above) >= _binomial_floor(4000, 1 - quantile)
    assert latencies.min() <= 11_000  # 2.5% of the draws could meet it
    lognormal = engine.native_model("spin", distribution="lognormal", latency_ns=20_000, sigma=0.5)
    latencies = _spin_latencies_ns(lognormal, 4000)
    # ln(latency / median) is normal(0, sigma): 50% lie above the median, 15.9% above
    # median * e^sigma, and 15.9% below median / e^sigma
    assert np.count_nonzero(latencies >= 20_000) >= _binomial_floor(4000, 0.5)
    assert np.count_nonzero(latencies >= 20_000 * math.exp(0.5)) >= _binomial_floor(4000, 0.1587)
    assert latencies.min() < 20_000 * math.exp(-0.5)


def test_native_model_with_python_preprocess():
    seen = []
    r = engine.run(
        engine.native_model("noop"),
        [(1,)],
        preprocess=lambda x: seen.append(x) or (x,),
        max_iterations=10,
        warmup=0,
    )
    assert r.status == "finished"
    assert seen == [1] * 10
    assert r.stage("preprocess").count == 10


def test_timestamps_are_zero_copy_views_in_stage_order():
    r = engine.run(noop, [(1,)], workers=2, max_iterations=300, record_timestamps=True)
    e2e = r.timestamps("e2e")
    infer = r.timestamps("infer")
    assert e2e.shape == (300, 2)
    assert e2e.dtype == np.int64
    assert np.shares_memory(e2e, r.timestamps("schedule_lag"))  # both views hold column 0
    assert r.boundaries.shape == (300, 7)
    assert np.array_equal(r.boundaries[:, 0], r.boundaries[:, 1])  # closed loop: no lag
    assert np.all(e2e[:, 1] >= e2e[:, 0])
    assert np.all(infer[:, 0] >= e2e[:, 0])
    assert np.all(infer[:, 1] <= e2e[:, 1])
    assert np.all(e2e[:, 0] >= r.start_ns)
    assert np.all(e2e[:, 1] <= r.end_ns)
    # the histogram and the raw timestamps agree on the largest latency
    raw_max = int((e2e[:, 1] - e2e[:, 0]).max())
    assert raw_max <= r.latency.max <= raw_max * 1.001


def test_timestamps_require_recording():
    r = engine.run(noop, [(1,)], max_iterations=3)
    with pytest.raises(ValueError, match="record_timestamps"):
        r.timestamps()
    with pytest.raises(ValueError, match="stage must be one of"):
        r.stage("bogus")


def test_to_dict_is_json_and_round_trips():
    r = engine.run(noop, [(1,)], workers=2, max_iterations=500)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["schema"] == engine.RESULT_SCHEMA
    assert d["iterations"] == 500
    assert d["latency"]["count"] == 500
    assert d["latency"]["p99_ns"] == r.latency.value_at_percentile(99)
    back = engine.RunResult.from_dict(d)
    assert back.iterations == r.iterations
    assert back.per_worker_iterations == r.per_worker_iterations
    assert back.latency == r.latency
    assert back.stage("infer") == r.stage("infer")
    assert back.windows == r.windows
    with pytest.raises(ValueError, match="schema"):
        engine.RunResult.from_dict({**d, "schema": 99})
    with pytest.raises(ValueError, match="missing key"):
        engine.RunResult.from_dict({k: v for k, v in d.items() if k != "windows"})


def test_start_at_ns_aligns_the_timing_start():
    start = engine.now_ns() + 50_000_000
    r = engine.run(noop, [(1,)], max_iterations=10, start_at_ns=start)
    assert r.start_ns == start
    assert engine.now_ns() >= start


def test_now_ns_is_clock_monotonic():
    a = engine.now_ns()
    b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    c = engine.now_ns()
    assert a <= b <= c


def test_gil_is_released_while_native_models_run():
    # A Python thread keeps running while two workers spin natively.
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    engine.run(engine.native_model("spin", latency_ns=200_000), workers=2, duration_s=0.3)
    stop.set()
    t.join()
    assert len(ticks) > 50


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"workers": 0, "max_iterations": 1}, ValueError, "workers"),
        ({"workers": 1.5, "max_iterations": 1}, TypeError, "workers"),
        ({"duration_s": 0}, ValueError, "duration_s"),
        ({"duration_s": -1}, ValueError, "duration_s"),
        ({"duration_s": "5"}, TypeError, "duration_s"),
        ({"max_iterations": 0}, ValueError, "max_iterations"),
        ({"max_iterations": 5, "warmup": -1}, ValueError, "warmup"),
        ({"max_iterations": 5, "window_s": 0.0001}, ValueError, "window_s"),
        ({"max_iterations": 5, "window_s": float("nan")}, ValueError, "window_s"),
        ({"max_iterations": 5, "call_timeout_s": 0}, ValueError, "call_timeout_s"),
        ({"max_iterations": 5, "record_timestamps": 1}, TypeError, "record_timestamps"),
        ({"max_iterations": 5, "preprocess": 3}, TypeError, "preprocess"),
        ({}, ValueError, "no stop condition"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        engine.run(noop, [(1,)], **kwargs)


def test_bad_model_and_inputs():
    with pytest.raises(TypeError, match="model must be callable"):
        engine.run(42, [(1,)], max_iterations=1)
    with pytest.raises(ValueError, match="inputs must not be empty"):
        engine.run(noop, [], max_iterations=1)
    with pytest.raises(TypeError, match="inputs must be a list"):
        engine.run(noop, np.zeros(3), max_iterations=1)
    with pytest.raises(TypeError, match="inputs must be a list"):
        engine.run(noop, 5, max_iterations=1)


def test_native_model_arguments():
    with pytest.raises(ValueError, match="kind"):
        engine.native_model("sleep")
    with pytest.raises(ValueError, match="latency_ns"):
        engine.native_model("spin")
    with pytest.raises(ValueError, match="distribution"):
        engine.native_model("spin", latency_ns=5, distribution="normal")
    with pytest.raises(ValueError, match="high_ns"):
        engine.native_model("spin", distribution="uniform", low_ns=10, high_ns=5)
    with pytest.raises(ValueError, match="second_fraction"):
        engine.native_model(
            "spin", distribution="bimodal", latency_ns=1, second_latency_ns=2, second_fraction=2
        )
    with pytest.raises(ValueError, match="latency_ns"):
        engine.native_model("spin", latency_ns=-5)
    with pytest.raises(ValueError, match="noop model takes no parameters"):
        engine.native_model("noop", latency_ns=5)
    assert "spin(fixed, latency_ns=5)" in repr(engine.native_model("spin", latency_ns=5))


def test_histogram_is_exported():
    h = Histogram()
    h.record(1000)
    assert h.count == 1


def test_callable_instances_are_called_through_their_bound_call():
    class Model:
        def __init__(self):
            self.calls = []

        def __call__(self, x):
            self.calls.append(x)
            return x

    model = Model()
    r = engine.run(model, [(1,), (2,)], max_iterations=4, warmup=0)
    assert r.status == "finished"
    assert model.calls == [1, 2, 1, 2]
    assert engine._fast_callable(model) == model.__call__
    assert engine._fast_callable(len) is len


class _ThreadFlag:
    """A per-thread context that logs (event, thread) and sets a thread-local flag."""

    def __init__(self, log: list, local: threading.local) -> None:
        self.log = log
        self.local = local

    def __enter__(self):
        self.local.active = True
        self.log.append(("enter", threading.get_ident()))

    def __exit__(self, *exc):
        self.local.active = False
        self.log.append(("exit", threading.get_ident()))


def test_thread_context_is_entered_once_per_worker_thread_and_left_there():
    log, local, calls = [], threading.local(), []

    def model(x):
        calls.append((threading.get_ident(), getattr(local, "active", False)))
        return x

    wrapped = engine.WithThreadContext(model, lambda: _ThreadFlag(log, local))
    r = engine.run(wrapped, [(1,)], workers=2, max_iterations=60, warmup=3, postprocess=noop)
    assert r.status == "finished", r.error
    assert len(calls) == 60 + 2 * 3
    assert all(active for _, active in calls)  # warm-up and timed calls ran inside it
    enters = [t for event, t in log if event == "enter"]
    exits = [t for event, t in log if event == "exit"]
    assert len(enters) == 2 and sorted(enters) == sorted(exits)  # once per worker, same thread
    assert {t for t, _ in calls} <= set(enters)
    assert threading.get_ident() not in enters


def test_thread_context_model_called_directly_enters_per_call():
    log, local = [], threading.local()
    wrapped = engine.WithThreadContext(lambda x: (x, local.active), lambda: _ThreadFlag(log, local))
    assert wrapped(5) == (5, True)
    assert [event for event, _ in log] == ["enter", "exit"]


def test_thread_context_error_fails_the_run_with_its_cause():
    def broken():
        raise RuntimeError("no context here")

    r = engine.run(engine.WithThreadContext(noop, broken), [(1,)], workers=2, max_iterations=10)
    assert r.status == "error"
    assert r.error_info["type"] == "RuntimeError"
    assert "no context here" in r.error
    assert r.iterations == 0


def test_thread_context_arguments_are_checked():
    with pytest.raises(TypeError, match="context must be a callable"):
        engine.WithThreadContext(noop, None)
    with pytest.raises(TypeError, match="model must be callable"):
        engine.WithThreadContext(42, threading.Lock)


def _collect_windows_while_running(runner: engine.Runner) -> tuple[list[engine.Window], int]:
    """Polls from a second thread during the run; returns (all windows, polled live)."""
    seen: list[engine.Window] = []
    live_counts: list[int] = []

    def poll() -> None:
        while not runner.done:
            seen.extend(runner.poll_windows())
            live_counts.append(runner.live_iterations)
            time.sleep(0.003)

    poller = threading.Thread(target=poll)
    runner.start()
    poller.start()
    poller.join()
    during = len(seen)
    assert live_counts == sorted(live_counts)  # progress never goes backwards
    return seen, during


def test_poll_windows_from_another_thread_sums_to_the_final_result():
    runner = engine.Runner(
        engine.native_model("spin", latency_ns=20_000), workers=3, duration_s=0.4, window_s=0.01
    )
    assert runner.poll_windows() == []
    assert runner.live_iterations == 0
    seen, during = _collect_windows_while_running(runner)
    r = runner.wait()
    seen += runner.poll_windows()
    assert runner.poll_windows() == []
    assert during > 0
    assert runner.live_iterations == r.iterations
    assert [w.index for w in seen] == list(range(len(r.windows)))
    assert [w.count for w in seen] == r.windows
    assert [w.start_ns for w in seen] == [
        r.start_ns + i * round(r.window_s * 1e9) for i in range(len(seen))
    ]
    assert r.window_histogram_span == 1
    assert [w.histogram for w in seen] == r.window_histograms
    assert all(w.histogram.count == w.count for w in seen)
    total = Histogram()
    for w in seen:
        total += w.histogram
    assert total == r.latency


def test_window_histograms_hold_the_latencies_completed_in_each_window():
    # A model whose latency grows with time: each window's histogram must hold exactly
    # the e2e latencies of the iterations whose end falls in it.
    t0 = time.monotonic()

    def slower_over_time():
        time.sleep(0.0005 + (time.monotonic() - t0) * 0.01)

    r = engine.run(slower_over_time, duration_s=0.3, window_s=0.02, record_timestamps=True)
    ts = r.timestamps("e2e")
    window_ns = round(r.window_s * 1e9)
    expected = [Histogram() for _ in r.windows]
    for start, end in ts:
        expected[(end - r.start_ns) // window_ns].record(int(end - start))
    assert r.window_histograms == expected
    assert [h.count for h in r.window_histograms] == r.windows
    # later windows hold the slower calls: no window's fastest call beats the sleep its
    # earliest possible start asked for (a loaded machine only makes calls slower)
    t0_ns = round(t0 * 1e9)
    for i, histogram in enumerate(r.window_histograms):
        if histogram.count:
            earliest_start_ns = ts[(ts[:, 1] - r.start_ns) // window_ns == i, 0].min()
            asked_ns = 500_000 + (earliest_start_ns - t0_ns) * 0.01
            assert histogram.min >= asked_ns * 0.999


def test_window_histograms_round_trip_and_schema_1_still_loads():
    r = engine.run(noop, [(1,)], max_iterations=200, window_s=0.001)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["schema"] == engine.RESULT_SCHEMA
    assert len(d["window_histograms"]) == len(d["windows"])
    back = engine.RunResult.from_dict(d)
    assert back.window_histograms == r.window_histograms
    assert back.window_histogram_span == 1
    old = {k: v for k, v in d.items() if k not in ("window_histograms", "window_histogram_span")}
    old["schema"] = 1
    legacy = engine.RunResult.from_dict(old)
    assert legacy.windows == r.windows
    assert legacy.window_histograms == []
    assert legacy.latency == r.latency


def test_more_than_1024_windows_merge_histograms_pairwise():
    r = engine.run(engine.native_model("noop"), duration_s=2.2, window_s=0.001)
    span = r.window_histogram_span
    assert len(r.windows) > 2048
    assert span == 4
    assert len(r.window_histograms) == -(-len(r.windows) // span) <= 1024
    for j, h in enumerate(r.window_histograms):
        assert h.count == sum(r.windows[j * span : (j + 1) * span])


_LIMITED_MEMORY_CHILD = """
import resource, sys
from neuronperf_native import engine
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
limit = vm + int(float(sys.argv[1]) * 2**30)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    r = engine.run(engine.native_model("noop"), workers=4096, max_iterations=1000)
    print(r.status, r.error_info["type"] if r.error_info else None, r.error)
except MemoryError as e:
    print("MemoryError", e)
"""


@pytest.mark.parametrize(
    ("address_space_gb", "expected"),
    [
        (0.3, ("MemoryError", "not enough memory for workers=4096")),
        (11.0, ("error ThreadError", "could not start worker thread")),
    ],
)
def test_running_out_of_memory_or_threads_is_a_clear_error(address_space_gb, expected):
    # Too little address space for 4,096 workers' histograms is a MemoryError naming
    # workers; enough for the histograms but not every thread's stack ends the run with
    # status "error" naming the thread that could not start (no crash, no hang).
    out = subprocess.run(
        [sys.executable, "-c", _LIMITED_MEMORY_CHILD, str(address_space_gb)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(expected[0])
    assert expected[1] in out.stdout
    assert "workers=4096" in out.stdout


def test_workers_are_capped_with_the_limit_named():
    with pytest.raises(ValueError, match=rf"workers must be in \[1, {engine.MAX_WORKERS}\]"):
        engine.run(noop, [(1,)], workers=engine.MAX_WORKERS + 1, max_iterations=1)


# RunOptions: one type for how a run goes, the C++ RunSettings field for field ----------


def test_run_options_mirror_the_engine_settings_field_for_field():
    import dataclasses

    from neuronperf_native import _engine

    names = tuple(f.name for f in dataclasses.fields(engine.RunOptions))
    assert names == _engine.RUN_SETTINGS_FIELDS
    assert engine.STAGES == _engine.STAGES and engine.ARRIVALS == ("constant", "poisson", "gamma")
    assert (engine.MAX_WORKERS, engine.MAX_REQUEST_RATE) == (4096, 1e8)


def test_run_options_are_validated_when_made_and_cross_a_pipe_as_plain_data():
    with pytest.raises(ValueError, match=r"window_s must be a finite number of seconds"):
        engine.RunOptions(window_s=0.0001)
    with pytest.raises(TypeError, match="workers must be an int"):
        engine.RunOptions(workers=2.0)
    with pytest.raises(ValueError, match="workers is out of the engine's range"):
        engine.RunOptions(workers=2**40)
    options = engine.RunOptions(workers=3, request_intervals_us=[10, 20], duration_s=2)
    assert options.request_intervals_us == (10.0, 20.0) and options.duration_s == 2.0
    data = json.loads(json.dumps(options.to_dict()))
    assert engine.RunOptions.from_dict(data) == options
    with pytest.raises(ValueError, match="not both"):
        options.replace(request_rate=100.0)


def test_run_takes_options_and_keywords_override_them():
    options = engine.RunOptions(workers=2, max_iterations=10)
    result = engine.run(noop, [(1,)], options, max_iterations=6, warmup=0)
    assert result.iterations == 6 and len(result.per_worker_iterations) == 2
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*wokers"):
        engine.run(noop, [(1,)], options, wokers=2)
    with pytest.raises(TypeError, match="options must be a RunOptions"):
        engine.run(noop, [(1,)], {"workers": 2})
