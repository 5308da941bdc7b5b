"""npf.benchmark end to end, in real model copies: copies, faults, interrupts, timers.

Orchestration alone (order, failures, interruption, stopping) is tested on the fake
executor in test_orchestration.py."""

import faulthandler
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import NEURONPERF_CONFIG_KEYS, model_processes, no_model_processes

import neuronperf_native as npf
from neuronperf_native import benchmarking, devices, model_index, planning


class Doubler:
    def __call__(self, x):
        return x * 2


class EnvRecorder:
    """Writes the pinning variables its process sees, then behaves as a no-op model."""

    def __init__(self):
        out = os.environ["NPF_TEST_OUT"]
        with open(os.path.join(out, f"copy-{os.getpid()}.json"), "w") as f:
            json.dump({k: v for k, v in os.environ.items() if k.startswith(("NEURON", "CUDA"))}, f)

    def __call__(self, x):
        return x


class CrashesInSecondCopy:
    def __init__(self):
        self.crash = os.environ.get("NEURON_RT_VISIBLE_CORES") == "1"
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.crash and self.calls > 50:
            os._exit(3)
        return x


class Aborts:
    def __call__(self, x):
        faulthandler.disable()  # pytest's handler would dump every thread into the log
        os.abort()


class Raises:
    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls > 10:
            raise RuntimeError("weights are corrupt")
        return x


class Sleeps:
    def __call__(self, x):
        time.sleep(0.001)
        return x


class InterruptsTheBenchmark:
    """Sleeps like Sleeps, and on its 20th call sends SIGINT to the benchmarking process
    (NPF_TEST_BENCHMARK_PID): the run is timing then, however slowly the copy started."""

    def __init__(self):
        self.benchmark_pid = int(os.environ["NPF_TEST_BENCHMARK_PID"])
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 20:
            os.kill(self.benchmark_pid, signal.SIGINT)
        time.sleep(0.001)
        return x


def test_cpu_benchmark_default_configurations_in_processes():
    reports = npf.cpu.benchmark(
        Doubler, [np.ones(4)], duration=0.5, n_models=[1, 2], workers_per_model=[1, 2], verbosity=0
    )
    assert len(reports) == 4
    seen = {(r["n_models"], r["workers_per_model"]) for r in reports}
    assert seen == {(1, 1), (1, 2), (2, 1), (2, 2)}
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["throughput_avg"] > 0
        assert r["total_infs"] > 0
        assert r["model_name"] == "Doubler"
        assert r["device_type"] == "cpu"
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p99"] <= r["latency_ms_p100"]
    assert no_model_processes()


def test_workers_and_copies_defaults():
    assert planning.default_workers(1) == [1, 2]
    assert planning.default_workers(4) == [1, 3]
    assert planning.default_workers(2) == [1]
    most = len(os.sched_getaffinity(0))
    expected = [1] if most == 1 else [1, most]
    assert planning.default_n_models(devices.max_model_copies("cpu", 1)) == expected


def test_fresh_interpreter_per_copy():
    reports = npf.cpu.benchmark(
        Doubler,
        np.ones(4),
        duration=0.3,
        n_models=2,
        workers_per_model=1,
        multiinterpreter=True,
        verbosity=0,
    )
    assert reports[0]["status"] == "finished", reports[0]["error"]
    assert reports[0]["multiinterpreter"] is True
    assert no_model_processes()


def test_copies_are_pinned_with_neuron_visible_cores(tmp_path, monkeypatch):
    monkeypatch.setenv("NPF_TEST_OUT", str(tmp_path))
    monkeypatch.delenv("NEURONCORE_GROUP_SIZES", raising=False)
    reports = npf.cpu.benchmark(
        EnvRecorder,
        np.ones(2),
        duration=0.2,
        n_models=3,
        workers_per_model=1,
        device_type="neuron",
        verbosity=0,
    )
    assert reports[0]["status"] == "finished"
    seen = sorted(json.loads(p.read_text())["NEURON_RT_VISIBLE_CORES"] for p in tmp_path.iterdir())
    assert seen == ["0", "1", "2"]


def test_crashing_copy_is_reported_and_the_next_configuration_runs():
    reports = npf.cpu.benchmark(
        CrashesInSecondCopy,
        np.ones(2),
        duration=1.0,
        n_models=[2, 1],
        workers_per_model=1,
        device_type="neuron",
        verbosity=0,
    )
    assert len(reports) == 2
    crashed, survivor = reports
    assert crashed["status"] == "error"
    assert "model copy 1" in crashed["error"]
    assert "exited with code 3" in crashed["error"]
    assert survivor["status"] == "finished"
    assert survivor["throughput_avg"] > 0
    assert no_model_processes()


def test_aborting_copy_names_the_signal():
    reports = npf.cpu.benchmark(
        Aborts, np.ones(2), duration=0.5, n_models=1, workers_per_model=1, verbosity=0
    )
    assert reports[0]["status"] == "error"
    assert "SIGABRT" in reports[0]["error"]
    assert no_model_processes()


def test_model_exception_is_reported_with_its_message():
    reports = npf.cpu.benchmark(
        Raises, np.ones(2), duration=5, n_models=1, workers_per_model=1, verbosity=0
    )
    r = reports[0]
    assert r["status"] == "error"
    assert "RuntimeError: weights are corrupt" in r["error"]
    assert r["total_infs"] > 0  # what ran before the error is kept


@pytest.mark.usefixtures("sigint_raises")
def test_keyboard_interrupt_returns_partial_reports_and_leaves_no_process(monkeypatch):
    monkeypatch.setenv("NPF_TEST_BENCHMARK_PID", str(os.getpid()))
    reports = npf.cpu.benchmark(
        InterruptsTheBenchmark,
        np.ones(2),
        duration=30,
        n_models=[1, 2],
        workers_per_model=1,
        verbosity=0,
    )
    assert len(reports) == 1
    assert reports[0]["status"] == "stopped"
    assert reports[0]["total_s"] < 30
    assert reports[0]["total_infs"] >= 18  # the timed calls before the 20th
    assert no_model_processes()


def test_setup_functions_run_in_each_copy(tmp_path):
    def env_setup(copy_id, config):
        (tmp_path / f"env-{copy_id}").write_text(str(config["n_models"]))

    def setup(copy_id, config, model):
        (tmp_path / f"setup-{copy_id}").write_text(type(model).__name__)

    seen = []
    reports = npf.cpu.benchmark(
        Doubler,
        np.ones(2),
        duration=0.2,
        n_models=2,
        workers_per_model=1,
        env_setup_fn=env_setup,
        setup_fn=setup,
        preprocess_fn=lambda x: x + 1,
        postprocess_fn=seen.append,
        multiprocess=False,
        verbosity=0,
    )
    assert reports[0]["status"] == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env-0", "env-1", "setup-0", "setup-1"]
    assert (tmp_path / "setup-1").read_text() == "Doubler"
    assert (tmp_path / "env-0").read_text() == "2"
    assert np.array_equal(seen[0], (np.ones(2) + 1) * 2)
    assert reports[0]["preprocess_avg_ms"] > 0


def test_return_timers_gives_config_results_pairs_with_timers():
    pairs = npf.cpu.benchmark(
        Doubler,
        np.ones(2),
        duration=0.3,
        n_models=2,
        workers_per_model=1,
        return_timers=True,
        verbosity=0,
    )
    assert len(pairs) == 1
    config, results = pairs[0]
    for key in (*NEURONPERF_CONFIG_KEYS, "start_dts", "stop_dts"):
        assert key in config
    for key in (
        "workers_per_model",
        "status",
        "n_infs",
        "total_s",
        "cpu_percents",
        "mem_percents",
        "timers",
    ):
        assert key in results
    e2e = results["timers"]["e2e"]
    assert len(e2e) == 2
    assert sum(len(t) for t in e2e) == results["n_infs"]
    assert len(results["timers"]["load"]) == 2
    # both copies started timing at the same shared instant
    starts = {c["start_ns"] for c in results["copies"]}
    assert len(starts) == 1
    first = [t.timestamps("ns")[0][0] for t in e2e]
    assert max(first) - min(first) < 50_000_000
    reports = npf.get_reports(pairs)
    assert reports[0]["total_infs"] == results["n_infs"]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"duration": -1}, ValueError, "duration"),
        ({"duration": "10"}, TypeError, "duration"),
        ({"n_models": 0}, ValueError, "n_models"),
        ({"n_models": [1, "2"]}, TypeError, "n_models"),
        ({"workers_per_model": 0}, ValueError, "workers_per_model"),
        ({"batch_sizes": [1, 2]}, ValueError, "batch_sizes"),
        ({"device_type": "tpu"}, ValueError, "device_type"),
        ({"stats_interval": 0}, ValueError, "stats_interval"),
        ({"verbosity": 5}, ValueError, "verbosity"),
        ({"multiprocess": "yes"}, TypeError, "multiprocess"),
        ({"setup_fn": 3}, TypeError, "setup_fn"),
        ({"cost_per_hour": -1.0}, ValueError, "cost_per_hour"),
        ({"percentiles": [101]}, ValueError, "percentiles"),
        ({"no_such_option": 1}, TypeError, "no_such_option"),
        ({"load_mode": "rate"}, ValueError, "load_mode"),
        ({"request_rate": 0}, ValueError, "request_rate"),
        ({"eval_metrics": ["accuracy"]}, NotImplementedError, "eval_metrics"),
    ],
)
def test_bad_arguments_fail_before_any_process_starts(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        npf.cpu.benchmark(Doubler, np.ones(2), **kwargs)
    assert model_processes() == []


def test_index_without_matching_configs(tmp_path):
    index = model_index.create(str(tmp_path / "m.bin"), batch_size=1)
    filename = model_index.save(index, str(tmp_path / "i.json"))
    with pytest.raises(ValueError, match="no finished config"):
        npf.benchmark(lambda p, device_id: p, filename, [np.ones(1)], batch_sizes=[8])
    with pytest.raises(model_index.ModelIndexError):
        npf.benchmark(lambda p, device_id: p, str(tmp_path / "missing.json"), [np.ones(1)])


def test_cpu_benchmark_rejects_non_model_classes():
    with pytest.raises(TypeError, match="model_class"):
        npf.cpu.benchmark(Doubler(), np.ones(2))
    with pytest.raises(TypeError, match="__call__"):
        npf.cpu.benchmark(object, np.ones(2))


def test_benchmarker_drives_one_copy_by_hand():
    b = benchmarking.Benchmarker(
        0,
        0,
        lambda path, device_id: Sleeps(),
        "sleeper",
        [np.ones(2)],
        workers_per_model=2,
        duration=60,
    )
    assert b.status == "ready"
    b.start()
    time.sleep(0.5)
    assert b.status == "running"
    b.stop()
    b.join(10)
    assert not b.is_alive()
    assert b.status == "finished"
    assert len(b.n_infs) == 2 and all(n > 0 for n in b.n_infs)
    results = b.results()
    assert results["n_infs"] == sum(b.n_infs)
    assert sum(len(t) for t in results["timers"]["e2e"]) == sum(b.n_infs)
    assert results["result"]["status"] == "stopped"


def test_benchmarker_reports_load_errors():
    def bad_load(path, device_id):
        raise FileNotFoundError(path)

    b = benchmarking.Benchmarker(1, 0, bad_load, "missing.pt", np.ones(2), duration=1)
    b.start()
    b.join(10)
    assert b.status == "error"
    assert "FileNotFoundError" in b.error
    with pytest.raises(RuntimeError, match="has not finished"):
        benchmarking.Benchmarker(2, 0, bad_load, "x", np.ones(2)).results()


class _Dataset:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return (i,)


def test_dataset_once_through_is_split_across_copies_and_workers_without_duplicates():
    seen = []

    def load(path, device_id):
        return seen.append

    reports = npf.benchmark(
        load,
        "dataset-model",
        _Dataset(101),
        duration=0,
        dataset=True,
        n_models=2,
        workers_per_model=2,
        multiprocess=False,
        warmup_iterations=0,
        device_type="cpu",
        verbosity=0,
    )
    assert reports[0]["status"] == "finished", reports[0]["error"]
    assert sorted(seen) == list(range(101))
    assert reports[0]["total_infs"] == 101


def test_loop_dataset_with_a_loader_and_an_input_transform():
    seen = []

    def loader(dataset, copy_id, n_copies):
        return [(x,) for x in dataset if x % n_copies == copy_id]

    reports = npf.benchmark(
        lambda path, device_id: seen.append,
        "looped",
        [10, 11, 12],
        duration=0.3,
        dataset_loader_fn=loader,
        loop_dataset=True,
        input_transform_fn=lambda model, args: (args[0] * 100,),
        n_models=1,
        workers_per_model=1,
        multiprocess=False,
        device_type="cpu",
        verbosity=0,
    )
    assert reports[0]["status"] == "finished"
    assert len(seen) > 3  # looped
    assert set(seen) == {1000, 1100, 1200}


def test_duration_zero_needs_a_dataset():
    with pytest.raises(ValueError, match="duration"):
        npf.cpu.benchmark(Doubler, np.ones(2), duration=0)


_FAILING_SCRIPT = """
import sys
import numpy as np
import neuronperf_native as npf
from test_benchmarking import Raises

npf.cpu.benchmark(Raises, np.ones(2), duration=2, n_models=1, workers_per_model=1,
                  verbosity=int(sys.argv[1]))
"""


@pytest.mark.parametrize("verbosity", [1, 2])
def test_a_failing_configuration_logs_one_line_and_its_traceback_only_at_verbosity_2(
    tmp_path, verbosity
):
    out = subprocess.run(
        [sys.executable, "-c", _FAILING_SCRIPT, str(verbosity)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.path.dirname(__file__)},
    )
    assert out.returncode == 0, out.stderr
    failures = [line for line in out.stderr.splitlines() if "ERROR" in line]
    assert len(failures) == 1
    assert "Config 1/1 (batch_size=1 n_models=1 workers_per_model=1" in failures[0]
    assert "RuntimeError: weights are corrupt" in out.stderr
    assert ("Traceback" in out.stderr) == (verbosity == 2)
