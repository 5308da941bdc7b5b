"""Tests for neuronperf_native.timing (NeuronPerf-compatible Timer)."""

from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest

from neuronperf_native import timing
from neuronperf_native.timing import Timer, timestamp_convert

SLEEP_S = 0.02
SLEEP_NS = int(SLEEP_S * 1e9)


# timestamp_convert ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        (1, "s", "ns", 1_000_000_000),
        (1, "s", "us", 1_000_000),
        (1, "s", "ms", 1_000),
        (3, "ms", "us", 3_000),
        (7, "us", "ns", 7_000),
        (1_500, "ns", "us", 1.5),
        (2_500_000, "ns", "ms", 2.5),
        (1_250_000_000, "ns", "s", 1.25),
        (250, "ms", "s", 0.25),
        (42, "ms", "ms", 42),
    ],
)
def test_timestamp_convert_scalars_exact(value, src, dst, expected):
    assert timestamp_convert(value, src, dst) == expected


def test_timestamp_convert_integers_stay_integers_to_finer_units():
    out = timestamp_convert(np.array([1, 2, 3], dtype=np.int64), "ms", "ns")
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [1_000_000, 2_000_000, 3_000_000])


def test_timestamp_convert_to_coarser_unit_is_correctly_rounded():
    ns = np.array([1, 999, 123_456_789], dtype=np.int64)
    out = timestamp_convert(ns, "ns", "s")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1 / 1e9, 999 / 1e9, 123_456_789 / 1e9])


def test_timestamp_convert_round_trip():
    ns = np.array([0, 5, 1_000_001, 2**40], dtype=np.int64)
    back = timestamp_convert(timestamp_convert(ns, "ns", "us"), "us", "ns")
    np.testing.assert_array_equal(back, ns)


def test_timestamp_convert_same_unit_does_not_copy():
    arr = np.arange(6, dtype=np.int64)
    assert timestamp_convert(arr, "us", "us") is arr


def test_timestamp_convert_accepts_lists():
    assert timestamp_convert([1, 2], "s", "ms").tolist() == [1000, 2000]


@pytest.mark.parametrize(("src", "dst", "bad"), [("min", "s", "min"), ("s", "sec", "sec")])
def test_timestamp_convert_bad_unit_names_it(src, dst, bad):
    with pytest.raises(ValueError, match=repr(bad)):
        timestamp_convert(1, src, dst)


def test_timestamp_convert_non_numeric():
    with pytest.raises(TypeError, match="numeric"):
        timestamp_convert(["a"], "s", "ms")


# Timer recording -------------------------------------------------------------


def test_context_manager_records_one_interval_at_least_sleep():
    timer = Timer()
    with timer as t:
        time.sleep(SLEEP_S)
    assert t is timer
    assert len(timer) == 1
    start, end = timer[0]
    assert isinstance(start, int)
    assert end - start >= SLEEP_NS
    assert timer.durations("ns")[0] == end - start
    assert timer.durations("s")[0] >= SLEEP_S


def test_timestamps_come_from_monotonic_clock():
    before = time.monotonic_ns()
    timer = Timer()
    with timer:
        pass
    after = time.monotonic_ns()
    start, end = timer[0]
    assert before <= start <= end <= after


def test_start_stop_many_ordering_and_units():
    timer = Timer()
    for _ in range(3):
        timer.start()
        time.sleep(SLEEP_S)
        timer.stop()
    ts = timer.timestamps("ns")
    assert ts.shape == (3, 2)
    assert ts.dtype == np.int64
    assert np.all(ts[:, 1] >= ts[:, 0] + SLEEP_NS)
    assert np.all(ts[1:, 0] >= ts[:-1, 1])  # intervals do not overlap
    durations_ns = timer.durations("ns")
    np.testing.assert_array_equal(durations_ns, ts[:, 1] - ts[:, 0])
    np.testing.assert_array_equal(timer.durations("us"), durations_ns / 1_000)
    np.testing.assert_array_equal(timer.durations("ms"), durations_ns / 1_000_000)
    np.testing.assert_array_equal(timer.durations(), durations_ns / 1_000_000_000)
    np.testing.assert_array_equal(timer.timestamps("ms"), ts / 1_000_000)
    total_ns = int(durations_ns.sum())
    assert timer.total_duration("ns") == total_ns
    assert timer.total_duration("s") == total_ns / 1e9
    assert timer.total_duration("s") >= 3 * SLEEP_S
    assert timer.avg("ns") == total_ns / 3
    assert timer.avg("ms") == total_ns / 3e6


def test_next_makes_contiguous_intervals():
    timer = Timer()
    timer.start()
    time.sleep(SLEEP_S)
    timer.next()
    time.sleep(SLEEP_S)
    timer.next()
    timer.stop()
    ts = timer.timestamps("ns")
    assert len(timer) == 3
    assert ts[1, 0] == ts[0, 1]
    assert ts[2, 0] == ts[1, 1]
    assert np.all(timer.durations("ns")[:2] >= SLEEP_NS)


def test_stop_without_start_raises():
    timer = Timer()
    with pytest.raises(RuntimeError, match="start"):
        timer.stop()
    with pytest.raises(RuntimeError, match="start"):
        timer.next()
    assert len(timer) == 0


def test_start_twice_restarts_interval():
    timer = Timer()
    timer.start()
    time.sleep(SLEEP_S)
    restart_after_ns = time.monotonic_ns()
    timer.start()
    timer.stop()
    assert len(timer) == 1
    assert timer[0][0] >= restart_after_ns


def test_reset_clears_everything():
    timer = Timer.from_timestamps(np.array([[1, 5]], dtype=np.int64))
    with timer:
        pass
    assert len(timer) == 2
    timer.reset()
    assert len(timer) == 0
    assert timer.timestamps("ns").shape == (0, 2)
    with pytest.raises(RuntimeError):
        timer.stop()


def test_empty_timer_statistics():
    timer = Timer()
    assert len(timer) == 0
    assert list(timer) == []
    assert timer.durations().shape == (0,)
    assert timer.total_duration("ms") == 0.0
    assert math.isnan(timer.avg())


@pytest.mark.parametrize("method", ["durations", "timestamps", "total_duration", "avg"])
def test_bad_unit_raises_value_error_naming_unit(method):
    timer = Timer.from_timestamps(np.array([[0, 1]], dtype=np.int64))
    with pytest.raises(ValueError, match="'minutes'"):
        getattr(timer, method)("minutes")


# Iteration, indexing ---------------------------------------------------------


def test_iter_and_getitem():
    arr = np.array([[10, 15], [20, 32], [40, 41]], dtype=np.int64)
    timer = Timer.from_timestamps(arr)
    assert list(timer) == [(10, 15), (20, 32), (40, 41)]
    assert timer[1] == (20, 32)
    assert timer[-1] == (40, 41)
    sub = timer[1:]
    assert isinstance(sub, Timer)
    assert sub.durations("ns").tolist() == [12, 1]
    assert np.shares_memory(sub.timestamps("ns"), arr)
    with pytest.raises(IndexError):
        timer[3]
    with pytest.raises(TypeError, match="int or slice"):
        timer["0"]


# Wrapping engine buffers ------------------------------------------------------


def test_from_timestamps_shares_memory():
    arr = np.array([[100, 250], [300, 1300]], dtype=np.int64)
    timer = Timer.from_timestamps(arr)
    assert timer.timestamps("ns") is arr
    assert np.shares_memory(timer.timestamps("ns"), arr)
    assert timer.durations("ns").tolist() == [150, 1000]
    assert timer.total_duration("us") == 1.15
    assert timer.avg("ns") == 575.0
    arr[0, 1] = 200  # the engine may still be filling its buffer
    assert timer.durations("ns").tolist() == [100, 1000]


def test_constructor_path_wraps_without_copy():
    arr = np.zeros((4, 2), dtype=np.int64)
    timer = Timer(arr)
    assert np.shares_memory(timer.timestamps("ns"), arr)
    assert len(timer) == 4


def test_recording_after_wrapping_appends():
    arr = np.array([[1, 2]], dtype=np.int64)
    timer = Timer.from_timestamps(arr)
    with timer:
        pass
    ts = timer.timestamps("ns")
    assert ts.shape == (2, 2)
    assert ts[0].tolist() == [1, 2]
    assert arr.tolist() == [[1, 2]]  # the wrapped buffer is never written


@pytest.mark.parametrize(
    ("bad", "exc", "match"),
    [
        ([[1, 2]], TypeError, "numpy.ndarray"),
        (np.array([[1.0, 2.0]]), TypeError, "int64"),
        (np.array([1, 2], dtype=np.int64), ValueError, r"\(n, 2\)"),
        (np.zeros((2, 3), dtype=np.int64), ValueError, r"\(n, 2\)"),
    ],
)
def test_from_timestamps_validates(bad, exc, match):
    with pytest.raises(exc, match=match):
        Timer.from_timestamps(bad)


# Pickling -----------------------------------------------------------------------


def test_pickle_round_trip_preserves_intervals():
    timer = Timer.from_timestamps(np.array([[5, 9], [11, 20]], dtype=np.int64))
    with timer:
        time.sleep(0.001)
    clone = pickle.loads(pickle.dumps(timer))
    assert isinstance(clone, Timer)
    np.testing.assert_array_equal(clone.timestamps("ns"), timer.timestamps("ns"))
    assert clone.total_duration("ns") == timer.total_duration("ns")
    assert list(clone) == list(timer)


def test_pickle_keeps_pending_start():
    timer = Timer()
    timer.start()
    clone = pickle.loads(pickle.dumps(timer))
    clone.stop()
    assert len(clone) == 1
    assert clone.durations("ns")[0] >= 0


def test_time_units_constant():
    assert timing.TIME_UNITS == ("ns", "us", "ms", "s")
