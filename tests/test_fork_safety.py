"""_fork_safety: what makes forking model copies unsafe, and the start method chosen.

Each detection runs in a fresh interpreter: the test process itself holds whatever
threads earlier tests left (torch's pool, engine threads, ...).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import pytest

from neuronperf_native import _fork_safety
from neuronperf_native._fork_safety import choose_start_method, fork_warning_suppressed

# CPython 3.12+'s own words when os.fork() runs with other threads alive.
FORK_WARNING = (
    "This process (pid=1234) is multi-threaded, use of fork() may lead to deadlocks in the child."
)


def _probe(body: str, env: dict[str, str] | None = None, timeout: float = 120) -> dict:
    """Runs ``body`` in a fresh interpreter, where ``report(key, value)`` records a
    result; returns the results."""
    code = textwrap.dedent(
        """
        import json, sys
        from neuronperf_native._fork_safety import choose_start_method, fork_hazards
        results = {}
        def report(key, value):
            results[key] = value
        """
    )
    code += textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_running_python_thread_is_a_hazard_until_it_ends():
    results = _probe(
        """
        import threading, time
        report("alone", fork_hazards())
        release = threading.Event()
        worker = threading.Thread(target=release.wait, name="worker")
        worker.start()
        report("running", fork_hazards())
        report("auto_running", choose_start_method("auto"))
        report("fork_running", choose_start_method("fork"))
        release.set()
        worker.join()
        deadline = time.monotonic() + 10  # the kernel drops an ended thread a moment later
        while fork_hazards() and time.monotonic() < deadline:
            time.sleep(0.01)
        report("ended", fork_hazards())
        report("auto_ended", choose_start_method("auto"))
        """
    )
    assert results["alone"] == []
    assert results["running"] == ["1 other thread (python: 'worker')"]
    assert results["auto_running"] == ["spawn", results["running"]]
    assert results["fork_running"] == ["fork", results["running"]]
    assert results["ended"] == []
    assert results["auto_ended"] == ["fork", []]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_native_threads_of_torchs_pool_are_found_in_proc():
    results = _probe(
        """
        import torch
        torch.set_num_threads(2)
        torch.ones(1000, 1000) @ torch.ones(1000, 1000)  # starts OpenMP's pool
        report("hazards", fork_hazards())
        report("method", choose_start_method("auto")[0])
        """
    )
    (reason,) = results["hazards"]
    assert "native: " in reason and "python:" not in reason
    assert results["method"] == "spawn"


def test_openblas_pool_alone_is_no_hazard():
    results = _probe(
        """
        import os
        import numpy as np
        np.ones((300, 300)) @ np.ones((300, 300))
        report("threads", len(os.listdir("/proc/self/task")))
        report("hazards", fork_hazards())
        """,
        env={"OPENBLAS_NUM_THREADS": "2"},
    )
    if results["threads"] < 2:
        pytest.skip("numpy's OpenBLAS started no thread pool here")
    assert results["hazards"] == []


@pytest.mark.skipif(importlib.util.find_spec("grpc") is None, reason="needs grpcio")
def test_grpc_threads_are_named():
    results = _probe(
        """
        import time
        import grpc
        channel = grpc.insecure_channel("127.0.0.1:1")  # starts gRPC's core; sends nothing
        deadline = time.monotonic() + 10
        while len(fork_hazards()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        report("hazards", fork_hazards())
        channel.close()
        """
    )
    assert any(r.startswith("gRPC is running in this process") for r in results["hazards"])
    assert "'grpc_global_tim'" in results["hazards"][0]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs ray (pip install ray)")
def test_a_local_ray_driver_is_a_hazard_and_leaves_no_process():
    # A short path: Ray's socket paths under it must fit AF_UNIX's 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="npfray", dir="/tmp")
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        results = _probe(
            f"""
            import ray
            ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1",
                     _temp_dir={temp_dir!r}, log_to_driver=False, configure_logging=False)
            try:
                report("hazards", fork_hazards())
                report("method", choose_start_method("auto")[0])
            finally:
                ray.shutdown()
            report("after_shutdown", fork_hazards())
            """,
            env=env,
            timeout=300,
        )
        assert "ray is initialized in this process (ray.init)" in results["hazards"]
        assert results["method"] == "spawn"
        assert "ray is initialized in this process (ray.init)" not in results["after_shutdown"]
        deadline = time.monotonic() + 30
        while _processes_mentioning(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(temp_dir) == []
    finally:
        for pid in _processes_mentioning(temp_dir):
            os.kill(pid, 9)
        subprocess.run(["rm", "-rf", temp_dir], check=False)


def test_an_open_device_file_names_its_runtime(monkeypatch):
    monkeypatch.setattr(_fork_safety.os, "listdir", lambda path: ["3", "4"])
    links = {"/proc/self/fd/3": "/dev/neuron0", "/proc/self/fd/4": "/dev/nvidiactl"}
    monkeypatch.setattr(_fork_safety.os, "readlink", links.__getitem__)
    assert _fork_safety._open_devices() == [
        "the Neuron runtime is initialized in this process (/dev/neuron0 is open)",
        "CUDA is initialized in this process (/dev/nvidiactl is open)",
    ]


def test_spawn_needs_no_check_and_bad_values_name_the_parameter():
    assert choose_start_method("spawn") == ("spawn", [])
    for bad in ("forkserver", "", "Fork"):
        with pytest.raises(ValueError, match=r"start_method must be 'fork', 'spawn' or 'auto'"):
            choose_start_method(bad)
    with pytest.raises(TypeError, match="start_method must be a str, got NoneType"):
        choose_start_method(None)  # type: ignore[arg-type]


def test_the_fork_deprecation_warning_is_hidden_only_inside_the_block():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fork_warning_suppressed():
            warnings.warn(FORK_WARNING, DeprecationWarning, stacklevel=1)
            with pytest.raises(DeprecationWarning, match="something else"):
                warnings.warn("something else", DeprecationWarning, stacklevel=1)
        with pytest.raises(DeprecationWarning, match="is multi-threaded"):
            warnings.warn(FORK_WARNING, DeprecationWarning, stacklevel=1)


def _fork_and_reap() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python < 3.12 does not warn on fork")
def test_a_real_fork_with_a_thread_does_not_warn_inside_the_block():
    import threading

    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fork_warning_suppressed():
                _fork_and_reap()
            assert not [w for w in caught if "multi-threaded" in str(w.message)]
            _fork_and_reap()  # outside the block CPython does warn
            assert [w for w in caught if "multi-threaded" in str(w.message)]
    finally:
        release.set()
        worker.join()
