"""How model copies start: fork only when this process holds nothing a fork breaks."""

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

import neuronperf_native as npf
from neuronperf_native import engine


def load_spin(model_filename, device_id=0):
    """A native spin model: 200 us per call, whatever the harness around it."""
    return engine.native_model("spin", latency_ns=200_000)


def _benchmark(load_fn=load_spin, inputs=None, **options):
    keywords = {"n_models": 1, "workers_per_model": 1, "duration": 0.5, "verbosity": 0}
    return npf.benchmark(load_fn, "spin", inputs, device_type="cpu", **{**keywords, **options})


def _p50_ms(**options):
    (report,) = _benchmark(**options)
    assert report["status"] == "finished", report["error"]
    return report["start_method"], report["latency_ms_p50"]


def _quickest_ms(**options):
    """The start method and the quickest call's latency: a spin's on a loaded machine
    too, as one call of many runs undisturbed (a preempted one runs long)."""
    (report,) = _benchmark(**options)
    assert report["status"] == "finished", report["error"]
    return report["start_method"], report["latency_ms_p0"]


@pytest.fixture
def extra_thread():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="user-thread")
    thread.start()
    yield thread
    stop.set()
    thread.join()


def test_a_parent_with_another_thread_spawns_its_copies(caplog):
    method, forked_ms = _quickest_ms(start_method="fork")
    assert method == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="user-thread")
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="neuronperf_native"):
            method, spawned_ms = _quickest_ms(verbosity=1)
    finally:
        stop.set()
        thread.join()
    assert method == "spawn"
    assert any(
        "fresh interpreters" in r.message and "user-thread" in r.message for r in caplog.records
    )
    # the same model, forked from this parent without the thread, measures the same:
    # never under its 0.2 ms (to the histogram's 3 digits), within 5% of it undisturbed
    assert 0.2 * 0.999 <= spawned_ms <= 0.21
    assert 0.2 * 0.999 <= forked_ms <= 0.21


def test_forcing_fork_on_an_unsafe_parent_warns_naming_the_threads(extra_thread, caplog):
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        method, _ = _p50_ms(start_method="fork")
    assert method == "fork"
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "start_method='fork'" in warning.message and "user-thread" in warning.message


def test_an_unpicklable_workload_forks_anyway_with_a_warning(extra_thread, caplog):
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        (report,) = _benchmark(lambda path, device_id: load_spin(path), duration=0.2)
    assert report["status"] == "finished" and report["start_method"] == "fork"
    assert any("cannot be pickled" in r.message for r in caplog.records)


def test_spawn_and_threads_are_taken_as_asked():
    assert _p50_ms(start_method="spawn")[0] == "spawn"
    assert _p50_ms(multiinterpreter=True)[0] == "spawn"
    assert _p50_ms(multiprocess=False)[0] == "thread"


def test_thread_copies_leave_no_thread_behind():
    before = {t.ident for t in threading.enumerate()}
    _p50_ms(multiprocess=False)
    deadline = time.monotonic() + 2
    while {t.ident for t in threading.enumerate()} - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t.ident for t in threading.enumerate()} - before == set()


_RAY_DRIVER = textwrap.dedent(
    """
    import ray
    from test_start_method import _benchmark

    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1",
             _temp_dir={temp_dir!r}, log_to_driver=False, configure_logging=False)
    try:
        reports = _benchmark(
            inputs=[None, None], batch_sizes=[1, 2], n_models=[1, 2], workers_per_model=[1, 2],
            duration=0.3,
        )
    finally:
        ray.shutdown()
    print(len(reports), sorted({{r["status"] for r in reports}}),
          sorted({{r["start_method"] for r in reports}}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray (pip install ray)")
def test_a_connected_ray_driver_runs_eight_configurations_in_spawned_copies(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="npfray", dir="/tmp")  # short: AF_UNIX paths
    env = {
        **os.environ,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.path.dirname(__file__),
    }
    try:
        out = subprocess.run(
            [sys.executable, "-c", _RAY_DRIVER.format(temp_dir=temp_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.split("\n")[-2] == "8 ['finished'] ['spawn']"
        assert "logging.cc" not in out.stderr
    finally:
        subprocess.run(["pkill", "-9", "-f", temp_dir], check=False)
        subprocess.run(["rm", "-rf", temp_dir], check=False)
