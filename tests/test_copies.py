"""Model copies: loaded once per copy group and reused, and never outliving the parent."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest
from helpers import no_model_processes

import neuronperf_native as npf


class CountsLoads:
    """Appends a line per load (its pid) to $NPF_TEST_LOADS; a no-op model after that."""

    def __init__(self):
        with open(os.environ["NPF_TEST_LOADS"], "a") as f:
            f.write(f"{os.getpid()}\n")

    def __call__(self, x):
        return x


class FailsAlways:
    def __init__(self):
        CountsLoads()

    def __call__(self, x):
        raise RuntimeError("broken model")


def _load_counting(path, device_id):
    return CountsLoads()


def _loads(path):
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize("mode", ["fork", "spawn", "thread"])
def test_copies_load_once_per_model_config_and_n_models(tmp_path, monkeypatch, mode):
    loads = tmp_path / "loads.txt"
    monkeypatch.setenv("NPF_TEST_LOADS", str(loads))
    options = {
        "fork": {"start_method": "fork"},
        "spawn": {"multiinterpreter": True},
        "thread": {"multiprocess": False},
    }[mode]
    reports = npf.cpu.benchmark(
        CountsLoads,
        [np.ones((1, 2)), np.ones((2, 2))],
        batch_sizes=[1, 2],
        n_models=[1, 2],
        workers_per_model=[1, 3],
        duration=0.2,
        warmup_iterations=2,
        allow_oversubscription=True,
        verbosity=0,
        **options,
    )
    # 2 model configs x 2 copies (n_models=1 runs copy 0 of the 2), not x 4 configurations
    assert len(_loads(loads)) == 2 * 2
    if mode == "fork":
        assert len(set(_loads(loads))) == 4  # new processes per model config
    if mode == "spawn":
        assert len(set(_loads(loads))) == 2  # fresh interpreters load the next model config
    assert [(r["batch_size"], r["n_models"], r["workers_per_model"]) for r in reports] == [
        (1, 1, 1),
        (1, 1, 3),
        (1, 2, 1),
        (1, 2, 3),
        (2, 1, 1),
        (2, 1, 3),
        (2, 2, 1),
        (2, 2, 3),
    ]
    pairs = npf.benchmark(
        _load_counting,
        "model",
        np.ones((1, 2)),
        n_models=[2],
        workers_per_model=[1, 3],
        duration=0.2,
        warmup_iterations=2,
        return_timers=True,
        device_type="cpu",
        allow_oversubscription=True,
        verbosity=0,
        **options,
    )
    for config, results in pairs:
        workers = config["workers_per_model"]
        assert results["status"] == "finished", results["error"]
        for copy in results["copies"]:
            # each configuration is measured on its own, re-warmed with its own workers
            assert len(copy["per_worker_iterations"]) == workers
            assert sum(copy["per_worker_iterations"]) == copy["iterations"]
            warm = npf.engine.Histogram.decode(copy["warmup_histogram"])
            assert warm.count == 2 * workers
        assert results["n_infs"] == sum(c["iterations"] for c in results["copies"])
        assert sum(len(t) for t in results["timers"]["e2e"]) == results["n_infs"]
    # the copies of the second run started timing after the first run ended
    first_end = max(c["end_ns"] for c in pairs[0][1]["copies"])
    assert min(c["start_ns"] for c in pairs[1][1]["copies"]) > first_end


def test_without_reuse_every_configuration_loads_its_copies(tmp_path, monkeypatch):
    loads = tmp_path / "loads.txt"
    monkeypatch.setenv("NPF_TEST_LOADS", str(loads))
    npf.cpu.benchmark(
        CountsLoads,
        np.ones(2),
        n_models=[1, 2],
        workers_per_model=[1, 2, 3],
        duration=0.2,
        reuse_copies=False,
        allow_oversubscription=True,
        verbosity=0,
    )
    assert len(_loads(loads)) == 3 * (1 + 2)
    assert len(set(_loads(loads))) == 9


def test_a_failed_configuration_gets_fresh_copies_for_the_next(tmp_path, monkeypatch):
    loads = tmp_path / "loads.txt"
    monkeypatch.setenv("NPF_TEST_LOADS", str(loads))
    reports = npf.cpu.benchmark(
        FailsAlways, np.ones(2), n_models=[1], workers_per_model=[1, 2], duration=0.2, verbosity=0
    )
    assert [r["status"] for r in reports] == ["error", "error"]
    assert all("broken model" in r["error"] for r in reports)
    assert len(_loads(loads)) == 2


def test_fresh_interpreters_need_picklable_functions():
    with pytest.raises(TypeError, match=r"fresh interpreters .* by pickling, which failed"):
        npf.benchmark(
            lambda path, device_id: CountsLoads(),
            "model",
            np.ones(2),
            multiinterpreter=True,
            duration=0.2,
            device_type="cpu",
            verbosity=0,
        )


# No copy outlives its parent --------------------------------------------------------

_PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    import numpy as np
    import neuronperf_native as npf

    class Model:
        def __init__(self):
            self.child = subprocess.Popen(["sleep", "120"])  # a process the model starts
            if sys.argv[2] == "load":
                time.sleep(120)

        def __call__(self, x):
            time.sleep(0.001)
            return x

    if __name__ == "__main__":
        npf.cpu.benchmark(
            Model, np.ones((1, 2), np.float32), n_models=2, workers_per_model=1, duration=120,
            verbosity=0, multiinterpreter=sys.argv[1] == "spawn", allow_oversubscription=True,
            input_data="random", shared_memory="system",
        )
    """
)


def _segments_of(pid):
    """The shared-memory segments created by process pid (their names carry it)."""
    return [name for name in os.listdir("/dev/shm") if re.match(rf"npf_\d+_{pid}_", name)]


def _descendants(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _alive(processes):
    alive = []
    for p in processes:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("mode", ["fork", "spawn"])
@pytest.mark.parametrize("phase", ["load", "run"])
@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM])
def test_copies_and_what_they_started_die_with_the_parent(tmp_path, mode, phase, kill):
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), mode, phase], cwd=tmp_path)
    try:
        # wait for 2 copies, each with its `sleep` child, to exist
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sleeps = [p for p in _descendants(parent.pid) if p.name() == "sleep"]
            if len(sleeps) == 2:
                break
            time.sleep(0.1)
        assert len(sleeps) == 2, "the copies did not start"
        if phase == "run":
            time.sleep(1.0)  # the copies are past loading: measuring
        descendants = _descendants(parent.pid)
        segments = _segments_of(parent.pid)
        assert len(segments) == 1  # the input batches, mapped by both copies
        parent.send_signal(kill)
        parent.wait(10)
        gone_by = time.monotonic() + 30.0  # the copies' own run would last 120 s
        while (_alive(descendants) or _segments_of(parent.pid)) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert _alive(descendants) == []
        assert _segments_of(parent.pid) == []
    finally:
        parent.kill()
        parent.wait()
        for p in _alive(_descendants(parent.pid)):
            p.kill()


class HangsAfter50Calls:
    """Completes 50 calls of 1 ms, then its next call never returns."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        time.sleep(3600 if self.calls > 50 else 0.001)
        return x


class HangsInItsFiftiethCall:
    """Completes 49 calls of 1 ms; its 50th never returns. Appends when it began (the
    shared monotonic clock) to the file NPF_TEST_HANG_FILE names."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 50:
            with open(os.environ["NPF_TEST_HANG_FILE"], "a") as marks:
                marks.write(f"{time.monotonic()}\n")
            time.sleep(3600)
        time.sleep(0.001)
        return x


class GrowsMemory:
    """Holds 64 MiB more on every call (first touched, so resident)."""

    def __init__(self):
        self.held = []

    def __call__(self, x):
        self.held.append(np.ones(8 * 2**20))
        time.sleep(0.05)
        return x


@pytest.mark.slow
def test_a_hung_copy_ends_its_configuration_as_timeout_naming_it():
    started = time.monotonic()
    (report,) = npf.cpu.benchmark(
        HangsAfter50Calls, np.ones(2), n_models=1, workers_per_model=1, duration=60, verbosity=0
    )
    elapsed = time.monotonic() - started
    assert report["status"] == "timeout"
    assert report["error"].startswith("model copy 0 hung: no iteration completed for 1")
    # detected after max(10 s, 20 x p99) of silence, not at the end of the 60 s duration
    assert elapsed < 60
    assert no_model_processes()


@pytest.mark.slow
def test_a_hung_copy_ends_its_configuration_within_15_s_of_its_call(tmp_path, monkeypatch):
    """10 s of silence make it hung; then a copy that has been silent longer than the
    stop's grace period is not waited for (it used to be: 16.3 s)."""
    marks = tmp_path / "hung"
    monkeypatch.setenv("NPF_TEST_HANG_FILE", str(marks))
    (report,) = npf.cpu.benchmark(
        HangsInItsFiftiethCall, np.ones(2), n_models=2, workers_per_model=1, duration=2,
        verbosity=0,
    )  # fmt: skip
    ended = time.monotonic()
    hung_at = [float(line) for line in marks.read_text().split()]
    assert len(hung_at) == 2  # both copies hung
    assert report["status"] == "timeout"
    assert report["error"].startswith("model copy ")
    assert ended - min(hung_at) <= 15.0
    assert no_model_processes()


def test_a_copy_over_max_rss_mb_is_stopped_naming_its_memory():
    (report,) = npf.cpu.benchmark(
        GrowsMemory,
        np.ones(2),
        n_models=1,
        workers_per_model=1,
        duration=30,
        max_rss_mb=200,
        verbosity=0,
    )
    assert report["status"] == "error"
    assert re.match(
        r"model copy 0 uses \d+ MiB of resident memory, over max_rss_mb=200", report["error"]
    )
    assert no_model_processes()
