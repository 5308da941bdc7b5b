"""engine.run in open loop: schedules, coordinated omission, saturation, bad values."""

import json
import pickle
import threading
import time

import numpy as np
import pytest
from scipy import stats

from neuronperf_native import engine
from neuronperf_native.engine import Histogram


def _scheduled_ns(r: engine.RunResult) -> np.ndarray:
    """The scheduled start (b0) of every request, in schedule order."""
    return np.sort(r.boundaries[:, 0])


def test_poisson_gaps_pass_a_kolmogorov_smirnov_test_against_the_exponential():
    rate = 20_000
    r = engine.run(
        engine.native_model("noop"),
        max_iterations=5000,
        request_rate=rate,
        arrival="poisson",
        seed=7,
        record_timestamps=True,
    )
    assert r.load_mode == "open"
    assert r.arrival == "poisson"
    gaps = np.diff(_scheduled_ns(r))
    assert stats.kstest(gaps, "expon", args=(0, 1e9 / rate)).pvalue > 0.01
    assert gaps.mean() == pytest.approx(1e9 / rate, rel=0.05)
    # the same seed replays the same schedule; another seed draws another one
    again = engine.run(
        engine.native_model("noop"),
        max_iterations=5000,
        request_rate=rate,
        arrival="poisson",
        seed=7,
        record_timestamps=True,
    )
    other = engine.run(
        engine.native_model("noop"),
        max_iterations=5000,
        request_rate=rate,
        arrival="poisson",
        seed=8,
        record_timestamps=True,
    )
    assert np.array_equal(np.diff(_scheduled_ns(again)), gaps)
    assert not np.array_equal(np.diff(_scheduled_ns(other)), gaps)


def test_a_constant_schedule_is_exact():
    rate = 7_000
    r = engine.run(lambda: None, max_iterations=700, request_rate=rate, record_timestamps=True)
    expected = r.start_ns + np.round(np.arange(700) * 1e9 / rate).astype(np.int64)
    assert np.array_equal(_scheduled_ns(r), expected)
    assert r.requests_due == 700
    assert r.achieved_rate == pytest.approx(rate)
    assert r.request_rate_target == pytest.approx(rate)
    assert r.backlog_end == 0
    assert not r.saturated


def test_request_intervals_replay_in_order_and_loop():
    intervals_us = [100, 2.5, 1000, 40]
    r = engine.run(
        engine.native_model("noop"),
        workers=2,
        max_iterations=41,
        request_intervals_us=intervals_us,
        record_timestamps=True,
    )
    assert r.arrival == "intervals"
    scheduled = _scheduled_ns(r)
    assert scheduled[0] - r.start_ns == 100_000  # one interval after the start
    gaps = np.diff(scheduled)
    assert gaps.tolist() == [round(intervals_us[(i + 1) % 4] * 1000) for i in range(40)]
    assert r.request_rate_target == pytest.approx(4 / (sum(intervals_us) * 1e-6))


def test_request_intervals_send_when_perf_analyzer_does():
    # perf_analyzer's --request-intervals of 100000, 200000, 500000 us sends at 0.1,
    # 0.3, 0.8, 0.9, 1.1 and 1.6 s: the first request one interval after the start.
    r = engine.run(
        engine.native_model("noop"),
        duration_s=1.7,
        request_intervals_us=[100_000, 200_000, 500_000],
        record_timestamps=True,
    )
    sent_s = (_scheduled_ns(r) - r.start_ns) / 1e9
    due_s = [0.1, 0.3, 0.8, 0.9, 1.1, 1.6]
    assert r.requests_due == len(due_s)
    # A worker that a loaded machine wakes after the 1.7 s deadline sends no more: the
    # requests it missed are the backlog left at the end.
    assert sent_s.tolist() == due_s[: len(sent_s)]
    assert len(sent_s) + r.backlog_end == len(due_s)


def test_shares_of_a_trace_replay_it_together():
    trace = engine.IntervalTrace.of([30, 70, 50])
    whole = engine.run(
        engine.native_model("noop"),
        max_iterations=30,
        request_intervals_us=trace,
        record_timestamps=True,
    )
    merged = []
    for i in range(3):
        share = engine.run(
            engine.native_model("noop"),
            max_iterations=10,
            request_intervals_us=trace,
            share_index=i,
            share_count=3,
            record_timestamps=True,
        )
        assert share.request_rate_target == pytest.approx(whole.request_rate_target / 3)
        merged += (_scheduled_ns(share) - share.start_ns).tolist()
    assert sorted(merged) == (_scheduled_ns(whole) - whole.start_ns).tolist()


def test_an_open_loop_at_a_low_rate_runs_its_whole_duration():
    t0 = time.monotonic()
    r = engine.run(
        engine.native_model("noop"), workers=2, duration_s=0.5, window_s=0.1, request_rate=4
    )
    assert time.monotonic() - t0 >= 0.5
    assert r.status == "finished" and r.stop_reason == "duration"
    assert r.iterations == 2  # at 0 and 0.25 s
    assert r.wall_s == pytest.approx(0.5, abs=0.01)
    assert len(r.windows) == 5 and sum(r.windows) == 2
    assert r.achieved_rate == pytest.approx(4.0)


def test_latency_counts_from_the_scheduled_start_and_lag_is_its_own_stage():
    r = engine.run(
        lambda: time.sleep(0.002),
        workers=1,
        max_iterations=40,
        request_rate=2000,  # 4x what one worker can serve: requests wait
        record_timestamps=True,
    )
    b = r.boundaries
    assert np.array_equal(r.timestamps("e2e")[:, 0], b[:, 0])
    lag = b[:, 1] - b[:, 0]
    assert (lag >= 0).all()
    assert r.stage("schedule_lag").count == 40
    assert r.stage("schedule_lag").max >= int(lag.max())  # bucket precision rounds up
    e2e = b[:, 6] - b[:, 0]
    assert (e2e >= lag).all()
    assert r.latency.max >= int(e2e.max())
    assert r.backlog_max > 0


@pytest.mark.slow
def test_coordinated_omission_open_loop_sees_the_stall_closed_loop_hides_it():
    # A model that stalls 1 s once, at 100 requests/s with 1 worker, for 6 s.
    def make_model():
        calls = {"n": 0}

        def model():
            calls["n"] += 1
            time.sleep(1.0 if calls["n"] == 200 else 0.001)

        return model

    open_loop = engine.run(make_model(), duration_s=6, request_rate=100, warmup=0)
    closed = engine.run(make_model(), duration_s=6, warmup=0)
    assert open_loop.status == closed.status == "finished"
    # ~100 requests wait behind the stall in the open loop, over 5% of the 600; in the
    # closed loop it is one call of thousands (whose p95 is a 1 ms call, however late)
    assert closed.latency.value_at_percentile(95) < 300_000_000
    assert open_loop.latency.value_at_percentile(95) >= 300_000_000
    assert open_loop.backlog_max >= 50  # ~100 requests arrived during the stall
    assert not open_loop.saturated  # the backlog was worked off afterwards


def test_ten_times_capacity_is_saturated_with_a_growing_backlog_and_ends_on_time():
    r = engine.run(
        engine.native_model("spin", latency_ns=1_000_000),
        workers=1,
        duration_s=1.0,
        window_s=0.1,
        request_rate=10_000,
    )
    assert r.status == "finished"
    assert r.stop_reason == "duration"
    assert r.saturated
    assert r.backlog_end == r.requests_due - r.iterations > 0
    half = len(r.window_backlog) // 2
    assert max(r.window_backlog[:half]) < max(r.window_backlog[half:])  # growing
    assert r.backlog_max >= r.backlog_end
    assert r.achieved_rate < r.request_rate_target / 2
    # the duration, not the backlog, decides when it ends: serving the backlog left
    # (1 ms a request) would take longer than the whole run took
    assert r.wall_s - 1.0 < r.backlog_end * 0.001


def test_open_loop_windows_and_live_polling_equal_the_final_result():
    runner = engine.Runner(
        engine.native_model("spin", latency_ns=20_000),
        workers=2,
        duration_s=0.3,
        window_s=0.01,
        request_rate=20_000,
        arrival="poisson",
        seed=1,
    )
    seen = []

    def poll():
        while not runner.done:
            seen.extend(runner.poll_windows())
            time.sleep(0.005)

    poller = threading.Thread(target=poll)
    runner.start()
    poller.start()
    poller.join()
    r = runner.wait()
    seen += runner.poll_windows()
    assert [w.count for w in seen] == r.windows
    assert [w.histogram for w in seen] == r.window_histograms
    assert sum(r.windows) == r.iterations == runner.live_iterations
    total = Histogram()
    for h in r.window_histograms:
        total += h
    assert total == r.latency


def test_open_loop_results_round_trip_and_closed_loop_reports_no_schedule():
    r = engine.run(engine.native_model("noop"), max_iterations=100, request_rate=50_000)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["load_mode"] == "open"
    back = engine.RunResult.from_dict(d)
    for name in (
        "load_mode",
        "arrival",
        "request_rate_target",
        "achieved_rate",
        "requests_due",
        "backlog_max",
        "backlog_end",
        "saturated",
        "window_backlog",
    ):
        assert getattr(back, name) == getattr(r, name), name
    assert back.stage("schedule_lag") == r.stage("schedule_lag")

    closed = engine.run(engine.native_model("noop"), max_iterations=100)
    assert closed.load_mode == "closed"
    assert (closed.arrival, closed.request_rate_target, closed.achieved_rate) == (None, None, None)
    assert (closed.backlog_max, closed.backlog_end, closed.saturated) == (0, 0, False)
    assert closed.stage("schedule_lag").count == 0
    legacy = closed.to_dict()
    del legacy["histograms"]["schedule_lag"]
    assert engine.RunResult.from_dict(legacy).stage("schedule_lag").count == 0


def test_start_at_ns_lines_up_the_schedule():
    start = engine.now_ns() + 30_000_000
    r = engine.run(
        engine.native_model("noop"),
        max_iterations=10,
        request_rate=1000,
        start_at_ns=start,
        record_timestamps=True,
    )
    assert r.start_ns == start
    assert _scheduled_ns(r)[0] == start


def test_stop_ends_an_open_loop_run_waiting_for_a_distant_request():
    runner = engine.Runner(
        engine.native_model("noop"), max_iterations=3, request_intervals_us=[1000, 60e6]
    )
    runner.start()

    def stop_after_the_first_request():
        while runner.live_iterations == 0 and not runner.done:
            time.sleep(0.01)
        runner.stop()

    stopper = threading.Thread(target=stop_after_the_first_request)
    t0 = time.monotonic()
    stopper.start()
    r = runner.wait()
    stopper.join()
    assert time.monotonic() - t0 < 60  # the second request was due a minute after start
    assert r.status == "stopped"
    assert r.iterations == 1  # request 0 after 1 ms; request 1 was a minute away


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"request_rate": 0}, ValueError, "request_rate"),
        ({"request_rate": -5}, ValueError, "request_rate"),
        ({"request_rate": float("nan")}, ValueError, "request_rate"),
        ({"request_rate": float("inf")}, ValueError, "request_rate"),
        ({"request_rate": 1e9}, ValueError, "request_rate"),
        ({"request_rate": "100"}, TypeError, "request_rate"),
        ({"request_rate": True}, TypeError, "request_rate"),
        ({"request_rate": 100, "arrival": "bursty"}, ValueError, "arrival"),
        ({"request_rate": 100, "arrival": 1}, TypeError, "arrival"),
        ({"arrival": "poisson"}, ValueError, "needs request_rate"),
        ({"request_rate": 100, "seed": -1}, ValueError, "seed"),
        ({"request_rate": 100, "seed": 1.5}, TypeError, "seed"),
        ({"request_intervals_us": []}, ValueError, "must not be empty"),
        ({"request_intervals_us": [10, 0]}, ValueError, r"request_intervals_us\[1\]"),
        ({"request_intervals_us": [-1]}, ValueError, r"request_intervals_us\[0\]"),
        ({"request_intervals_us": [float("nan")]}, ValueError, r"request_intervals_us\[0\]"),
        ({"request_intervals_us": ["10"]}, TypeError, r"request_intervals_us\[0\]"),
        ({"request_intervals_us": "10 20"}, TypeError, "request_intervals_us"),
        ({"request_intervals_us": [1e30]}, ValueError, r"request_intervals_us\[0\]"),
        ({"request_intervals_us": [10], "share_index": 2, "share_count": 2}, ValueError, "share"),
        ({"request_intervals_us": [10], "share_count": 1.5}, TypeError, "share_count"),
        ({"request_rate": 100, "share_count": 2}, ValueError, "share_count applies to replayed"),
        ({"request_rate": 100, "learn_wakeup": 1}, TypeError, "learn_wakeup"),
        ({"request_trace": "/no/such/trace"}, ValueError, "cannot read trace /no/such/trace"),
        ({"request_trace": 3}, TypeError, "request_trace must be a file name"),
        ({"request_rate": 100, "request_intervals_us": [10]}, ValueError, "not both"),
        ({"workers": 5000, "request_rate": 100}, ValueError, "workers"),
        ({"request_rate": 100, "spin_wait_us": -1}, ValueError, "spin_wait_us"),
        ({"request_rate": 100, "spin_wait_us": "5"}, TypeError, "spin_wait_us"),
    ],
)
def test_bad_open_loop_values_name_the_parameter(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        engine.run(engine.native_model("noop"), max_iterations=10, **kwargs)


def test_an_interval_trace_is_read_natively_bounded_and_named_in_errors(tmp_path):
    path = tmp_path / "trace.txt"
    path.write_text("100\n\n250.5\n1e3\n")
    trace = engine.IntervalTrace.read(path)
    assert len(trace) == 3 and trace.source == str(path)
    assert trace.intervals_us().tolist() == [100.0, 250.5, 1000.0]
    assert trace.cycle_s == pytest.approx(1350.5e-6)
    assert trace.arrival_s(3) == pytest.approx(1450.5e-6)  # looped
    assert trace == engine.IntervalTrace.of([100, 250.5, 1000])
    assert trace != engine.IntervalTrace.of([100, 250.5])
    assert pickle.loads(pickle.dumps(trace)) == trace
    written = tmp_path / "trace.bin"
    trace.write(str(written))
    assert engine.IntervalTrace.map(str(written)) == trace

    path.write_text("100\nfast\n")
    with pytest.raises(ValueError, match=rf"{path} line 2 \('fast'\) is not a number"):
        engine.IntervalTrace.read(path)
    path.write_text("1\n2\n3\n")
    with pytest.raises(ValueError, match="holds more than 2 intervals"):
        engine.IntervalTrace.read(path, max_intervals=2)
    with pytest.raises(ValueError, match="line 1 is longer than 64 characters"):
        engine.IntervalTrace.read("/dev/zero")
