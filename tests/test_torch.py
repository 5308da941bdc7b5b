"""npf.torch end to end with the real CPU PyTorch; Neuron paths against a stand-in package."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import neuronperf_native.torch as npt  # noqa: E402
from neuronperf_native import model_index  # noqa: E402

FAST = {"duration": 0.3, "n_models": 1, "workers_per_model": 1, "verbosity": 0}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEURON_RT_VISIBLE_CORES", raising=False)
    monkeypatch.delenv("NEURONCORE_GROUP_SIZES", raising=False)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def _inputs(sizes=(1, 2, 4), features=8):
    return [torch.randn(b, features) for b in sizes]


def _configs(index_filename):
    return model_index.load(index_filename)["model_configs"]


class MLP(nn.Module):
    """A model class for benchmark(ModelClass, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _mlp()

    def forward(self, x):
        return self.net(x)


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, a, b):
        return self.linear(a) + b


class IntUntraceable(nn.Module):
    """Traceable for float inputs; returns a str (untraceable) for integer inputs."""

    def forward(self, x):
        if x.dtype == torch.int64:
            return "not a tensor"
        return x * 2


# Compile and benchmark ------------------------------------------------------------------


def test_compile_index_and_benchmark_all_and_filtered():
    inputs = _inputs()
    index = npt.compile(_mlp(), inputs, batch_sizes=[1, 2, 4], models_dir="m", verbosity=0)
    configs = _configs(index)
    assert [c["batch_size"] for c in configs] == [1, 2, 4]
    assert all(c["status"] == "finished" for c in configs)
    assert all(c["filename"].endswith(".pt") and os.path.isfile(c["filename"]) for c in configs)
    assert {c["tracer"] for c in configs} == {"torch.jit.trace"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates jit.load
        loaded = torch.jit.load(configs[1]["filename"])
    assert loaded(inputs[1]).shape == (2, 4)

    reports = npt.benchmark(index, inputs, **FAST)
    assert [r["batch_size"] for r in reports] == [1, 2, 4]
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["device_type"] == "cpu"
        assert r["throughput_avg"] > 0
        assert r["latency_ms_p0"] <= r["latency_ms_p50"] <= r["latency_ms_p99"]
        assert r["latency_ms_p99"] <= r["latency_ms_p100"]

    part = npt.benchmark(index, inputs, batch_sizes=[2], **FAST)
    assert [(r["batch_size"], r["status"]) for r in part] == [(2, "finished")]
    assert part[0]["model_filename"] == configs[1]["filename"]


def test_benchmark_single_file_and_model_class():
    index = npt.compile(_mlp(), torch.randn(2, 8), batch_sizes=2, verbosity=0)
    path = _configs(index)[0]["filename"]
    [report] = npt.benchmark(path, torch.randn(2, 8), batch_sizes=[2], **FAST)
    assert report["status"] == "finished" and report["batch_size"] == 2
    assert report["total_infs"] > 0 and report["total_infs"] % 2 == 0

    reports = npt.benchmark(MLP, torch.randn(1, 8), duration=0.3, n_models=[1, 2], verbosity=0,
                            workers_per_model=1)  # fmt: skip
    assert [r["n_models"] for r in reports] == [1, 2]
    assert all(r["status"] == "finished" and r["throughput_avg"] > 0 for r in reports)
    assert reports[0]["model_name"] == "MLP"


def test_multi_input_model_with_tuple_inputs():
    example = (torch.randn(2, 8), torch.randn(2, 4))
    index = npt.compile(TwoInputs(), [example], batch_sizes=[2], verbosity=0)
    assert _configs(index)[0]["status"] == "finished"
    [report] = npt.benchmark(index, [example], **FAST)
    assert report["status"] == "finished", report.get("error")


def test_shape_mismatch_is_a_config_error():
    index = npt.compile(_mlp(), _inputs((1, 2)), batch_sizes=[1, 2], verbosity=0)
    reports = npt.benchmark(index, _inputs((1, 2), features=3), **FAST)
    assert [r["status"] for r in reports] == ["error", "error"]
    # each report is its configuration (model file, batch size) with the copy, phase and cause
    assert [(r["model_filename"], r["batch_size"]) for r in reports] == [
        (c["filename"], c["batch_size"]) for c in _configs(index)
    ]
    for r, shapes in zip(reports, ("1x3 and 8x16", "2x3 and 8x16"), strict=True):
        assert r["error"].startswith("model copy 0 failed in warmup: RuntimeError: ")
        assert f"mat1 and mat2 shapes cannot be multiplied ({shapes})" in r["error"]


def test_untraceable_variant_is_recorded_and_the_next_compiles(caplog):
    inputs = [torch.zeros(1, 8, dtype=torch.int64), torch.zeros(2, 8)]
    index = npt.compile(IntUntraceable(), inputs, batch_sizes=[1, 2], verbosity=0)
    first, second = _configs(index)
    assert first["status"] == "error" and first["batch_size"] == 1
    assert "RuntimeError" in first["error"] and "traced functions" in first["error"]
    (logged,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert logged.startswith("[1/2] failed to compile input 0, batch_size=1, pipeline_size=1: ")
    assert first["error"] in logged
    assert not os.path.exists(first["filename"])
    assert second["status"] == "finished" and os.path.isfile(second["filename"])


def test_missing_torch_is_a_clear_error_before_any_work(monkeypatch):
    real_find_spec = npt.importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "torch" else real_find_spec(name, *args)

    model, inputs = _mlp(), _inputs((1,))
    monkeypatch.setattr(npt.importlib.util, "find_spec", find_spec)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ModuleNotFoundError
    for call in (
        lambda: npt.compile(model, inputs, verbosity=0),
        lambda: npt.benchmark("model.pt", [1.0], **FAST),
        lambda: npt.evaluate("model.pt", [(1.0, 0)]),
        lambda: npt._import_torch(),
    ):
        with pytest.raises(npt.FrameworkNotInstalledError, match="PyTorch is not installed") as e:
            call()
        assert isinstance(e.value, ImportError)
        assert "pip install torch" in str(e.value)
    assert not os.path.exists("models")  # nothing was compiled or recorded


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"device_type='gpu'.*CUDA is not available"):
        npt.benchmark(MLP, torch.randn(1, 8), device_type="gpu", **FAST)


MODES: list[bool] = []


class ModeRecorder(nn.Module):
    """Records whether each call runs in inference mode (threads share MODES)."""

    def forward(self, x):
        MODES.append(torch.is_inference_mode_enabled())
        return x * 2


def test_inference_mode_is_entered_once_per_worker_thread_not_per_call(monkeypatch):
    """Entering torch.inference_mode() per call cost ~6 us, a third of a 256x256 linear
    layer's latency (benchmarks/torch_overhead.py): the harness must not pay it per call."""
    entered = []

    class CountingInferenceMode(torch.inference_mode):
        def __enter__(self):
            entered.append(threading.get_ident())
            return super().__enter__()

    monkeypatch.setattr(torch, "inference_mode", CountingInferenceMode)
    MODES.clear()
    [report] = npt.benchmark(ModeRecorder, torch.randn(1, 8), duration=30, n_models=1,
                             workers_per_model=2, max_iterations=200, warmup_iterations=3,
                             multiprocess=False, verbosity=0)  # fmt: skip
    assert report["status"] == "finished", report.get("error")
    assert len(MODES) == 200 + 2 * 3 and all(MODES)
    assert len(entered) == 2 * 2  # the 2 worker threads of the warm-up run, then of the timed run
    assert threading.get_ident() not in entered


# Datasets ------------------------------------------------------------------------------

SEEN: list[int] = []


class Items(torch.utils.data.Dataset):
    """Item i is (a 1x4 tensor filled with i, its label i % 3)."""

    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return (torch.full((1, 4), float(i)), i % 3)


class Recorder(nn.Module):
    """Records the item number of each call (threads share SEEN)."""

    def forward(self, x):
        SEEN.append(int(x[0, 0]))
        return x.sum()


class RecordFirst(nn.Module):
    def forward(self, x, label):
        SEEN.append(int(x[0, 0]))
        return x


def test_dataset_once_through_serves_every_item_once():
    SEEN.clear()
    [report] = npt.benchmark(RecordFirst, Items(10), duration=0, n_models=2, workers_per_model=2,
                             multiprocess=False, warmup_iterations=0, verbosity=0)  # fmt: skip
    assert report["status"] == "finished", report.get("error")
    assert sorted(SEEN) == list(range(10))
    assert report["total_infs"] == 10


def test_dataset_looped_for_the_duration():
    SEEN.clear()
    [report] = npt.benchmark(RecordFirst, Items(5), duration=0.3, n_models=1, workers_per_model=1,
                             multiprocess=False, loop_dataset=True, verbosity=0)  # fmt: skip
    assert report["status"] == "finished", report.get("error")
    assert len(SEEN) > 5 and set(SEEN) == set(range(5))


# Neuron stand-in ------------------------------------------------------------------------

_STAND_IN = '''\
"""STAND-IN for torch_neuronx, written by tests/test_torch.py; not the real package.

trace() appends its arguments to $NPF_TEST_TRACE_LOG and traces with torch.jit.trace.
"""
import json
import os

import torch


def trace(func, example_inputs, *_, compiler_workdir=None, compiler_args=None, **kwargs):
    tensors = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    record = {"compiler_args": compiler_args, "shapes": [list(t.shape) for t in tensors],
              "training": func.training, "grad": torch.is_grad_enabled()}
    with open(os.environ["NPF_TEST_TRACE_LOG"], "a") as f:
        f.write(json.dumps(record) + "\\n")
    return torch.jit.trace(func, example_inputs)
'''


@pytest.fixture
def fake_torch_neuronx(tmp_path, monkeypatch):
    """Installs the stand-in torch_neuronx on sys.path; returns its trace log path."""
    root = tmp_path / "standin"
    (root / "torch_neuronx").mkdir(parents=True)
    (root / "torch_neuronx" / "__init__.py").write_text(textwrap.dedent(_STAND_IN))
    log = tmp_path / "trace_log.jsonl"
    monkeypatch.setenv("NPF_TEST_TRACE_LOG", str(log))
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield log
    sys.modules.pop("torch_neuronx", None)


def record_env(copy_id, config, model):
    """setup_fn: runs in each model process; records its Neuron pinning."""
    with open(f"env_{copy_id}.json", "w") as f:
        json.dump(
            {
                "cores": os.environ.get("NEURON_RT_VISIBLE_CORES"),
                "neuron_loaded": "torch_neuronx" in sys.modules,
                "wrapped": type(model).__name__,
            },
            f,
        )


def test_neuron_stand_in_compile_args_and_core_pinning(fake_torch_neuronx):
    model = _mlp().train()
    index = npt.compile(
        model,
        _inputs((1, 2)),
        batch_sizes=[1, 2],
        pipeline_sizes=[2],
        performance_levels=[1],
        compiler_args={"verbose": "info"},
        verbosity=0,
    )
    calls = [json.loads(line) for line in fake_torch_neuronx.read_text().splitlines()]
    expected = [
        "--neuroncore-pipeline-cores",
        "2",
        "--fast-math",
        "fp32-cast-matmult",
        "no-fast-relayout",
        "--verbose",
        "info",
    ]
    assert [c["compiler_args"] for c in calls] == [expected, expected]
    assert [c["shapes"] for c in calls] == [[[1, 8]], [[2, 8]]]
    assert not any(c["training"] or c["grad"] for c in calls)  # eval mode, no grad
    configs = _configs(index)
    assert {c["tracer"] for c in configs} == {"torch_neuronx.trace"}
    assert [c["pipeline_size"] for c in configs] == [2, 2]

    reports = npt.benchmark(index, _inputs((1, 2)), batch_sizes=[2], duration=0.2, n_models=2,
                            workers_per_model=1, setup_fn=record_env, verbosity=0)  # fmt: skip
    assert [(r["status"], r["device_type"], r["n_models"]) for r in reports] == [
        ("finished", "neuron", 2)
    ]
    envs = []
    for i in range(2):
        with open(f"env_{i}.json") as f:
            envs.append(json.load(f))
    assert [e["cores"] for e in envs] == ["0-1", "2-3"]
    assert all(e["neuron_loaded"] and e["wrapped"] == "_TorchModel" for e in envs)


# Evaluate ------------------------------------------------------------------------------

# Logits and labels: top-1 right for rows 0 and 3 (0.5), top-2 also for row 1 (0.75).
LOGITS = [[3.0, 2.0, 1.0], [1.0, 3.0, 2.0], [2.0, 1.0, 3.0], [1.0, 2.0, 3.0]]
LABELS = [0, 2, 1, 2]


def _scored(batched: bool):
    """Dataset items (logits, label): one batch of 1 per item, or single samples."""
    if batched:
        return [
            (torch.tensor([row]), torch.tensor([y])) for row, y in zip(LOGITS, LABELS, strict=True)
        ]
    return [(torch.tensor(row), y) for row, y in zip(LOGITS, LABELS, strict=True)]


class Passthrough(nn.Module):
    def forward(self, x):
        return x * 1.0


class Argmax(nn.Module):
    def forward(self, x):
        return x.argmax(dim=-1)


def test_topk_metric_by_hand():
    top1, top2 = npt.TopK(k=1), npt.TopK(k=2)
    for metric in (top1, top2):
        metric.process_record(torch.tensor(LOGITS[:2]), torch.tensor(LABELS[:2]))
        metric.process_record(torch.tensor(LOGITS[2:]), torch.tensor(LABELS[2:]))
    assert (top1.aggregate(), top2.aggregate()) == (0.5, 0.75)
    with pytest.raises(ValueError, match="k must be"):
        npt.TopK(k=0)


class _StandInRegistry:
    """Test double for neuronperf_native.metrics: only get_metric, for two topk variants."""

    @staticmethod
    def get_metric(name):
        return {"top1": npt.TopK(k=1), "top2": npt.TopK(k=2)}[name]


@pytest.mark.parametrize(("batched", "batch_size"), [(True, None), (False, 3)])
def test_evaluate_with_stand_in_registry(monkeypatch, batched, batch_size):
    monkeypatch.setattr(npt, "_metrics", _StandInRegistry)
    values = npt.evaluate(Passthrough(), _scored(batched), metrics=["top1", "top2"],
                          batch_size=batch_size)  # fmt: skip
    assert values == {"top1": 0.5, "top2": 0.75}
    swapped = [(y, x) for x, y in _scored(batched)]
    assert npt.evaluate(Passthrough, swapped, ["top2"], eval_target_col=0,
                        batch_size=batch_size) == {"top2": 0.75}  # fmt: skip


def test_evaluate_index_and_benchmark_eval_metrics(monkeypatch):
    monkeypatch.setattr(npt, "_metrics", _StandInRegistry)
    index = npt.compile(Passthrough(), [torch.randn(1, 3), torch.randn(2, 3)], batch_sizes=[1, 2],
                        verbosity=0)  # fmt: skip
    per_config = npt.evaluate(index, _scored(False), metrics=["top1"], batch_size=2)
    assert [(e["batch_size"], e["top1"]) for e in per_config] == [(1, 0.5), (2, 0.5)]

    [report] = npt.benchmark(Passthrough, _scored(True), eval_metrics=["top1", "top2"],
                             duration=0, n_models=1, workers_per_model=1, verbosity=0)  # fmt: skip
    assert report["status"] == "finished", report.get("error")
    assert report["eval"] == {"top1": 0.5, "top2": 0.75}
    assert report["total_infs"] == 4


def test_evaluate_with_metric_registry():
    metrics = pytest.importorskip(
        "neuronperf_native.metrics", reason="metric registry (metrics.py) not in this branch"
    )
    assert "topk" in metrics.list_metrics()
    metrics.register_metric_from_existing("topk", "top2_test", k=2)
    values = npt.evaluate(Passthrough(), _scored(True), metrics=["topk", "top2_test"])
    assert values == {"topk": 1.0, "top2_test": 0.75}  # k=5 covers all 3 classes
    assert npt.evaluate(Argmax(), _scored(True), metrics=["Accuracy"]) == {"Accuracy": 0.5}


# Input data (perf_analyzer formats) ------------------------------------------------------


@pytest.mark.parametrize("shared_memory", [None, "system"])
def test_input_data_json_validated_at_each_batch_size(tmp_path, shared_memory):
    import numpy as np

    from neuronperf_native.inputs import TensorSpec, load_input_data

    model = MLP().eval()  # benchmark(MLP, ...) builds the same weights in each copy
    xs = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    with torch.no_grad():
        ys = model(torch.from_numpy(xs)).numpy()
    expected = [{"y": y.tolist()} for y in ys]
    expected[4]["y"][2] += 1.0
    path = tmp_path / "data.json"
    path.write_text(
        json.dumps({"data": [{"x": x.tolist()} for x in xs], "validation_data": expected})
    )
    data = load_input_data(
        str(path), [TensorSpec("x", "FP32", (8,))], [TensorSpec("y", "FP32", (4,))]
    )
    reports = npt.benchmark(
        MLP, data, batch_sizes=[1, 4], atol=1e-5, shared_memory=shared_memory, **FAST
    )
    assert [r["batch_size"] for r in reports] == [1, 4]
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        validation = r["validation"]
        assert (validation["steps_checked"], validation["mismatches"]) == (6, 1)
        first = validation["first_mismatch"]
        assert (first["step"], first["tensor"], first["index"]) == (4, "y", 2)
        assert first["expected"] == pytest.approx(float(ys[4][2]) + 1.0, rel=1e-6)
        assert first["got"] == pytest.approx(float(ys[4][2]), rel=1e-5, abs=1e-5)


def test_copies_default_to_fresh_interpreters():
    """A forked copy inherits a broken OpenMP runtime once this process has run
    parallel work (its calls hang or slow down), so copies start fresh by default."""
    torch.randn(256, 256) @ torch.randn(256, 256)  # intra-op parallel work here
    (spawned,) = npt.benchmark(MLP, torch.randn(4, 8), **FAST)
    assert spawned["status"] == "finished", spawned.get("error")
    assert (spawned["multiprocess"], spawned["multiinterpreter"]) == (True, True)
    (threads,) = npt.benchmark(MLP, torch.randn(4, 8), multiprocess=False, **FAST)
    assert (threads["multiprocess"], threads["multiinterpreter"]) == (False, False)


UNGUARDED_SCRIPT = """
import os

import torch

import neuronperf_native as npf

with open("runs.txt", "a") as f:
    f.write(f"{os.getpid()}\\n")
index = npf.torch.compile(torch.nn.Linear(8, 4), [torch.randn(1, 8)], batch_sizes=[1])
(report,) = npf.torch.benchmark(index, [torch.randn(1, 8)], duration=0.2, n_models=1,
                                workers_per_model=1, verbosity=0)
print(report["status"], report["multiinterpreter"])
"""

GUARDED_NEURONPERF_SCRIPT = """
import torch

import neuronperf as npf
import neuronperf.torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.linear(x)


if __name__ == "__main__":
    (report,) = npf.torch.benchmark(Net, [torch.randn(1, 8)], duration=0.2, n_models=1,
                                    workers_per_model=1, verbosity=0)
    print(report["status"], report["multiinterpreter"], report["error"])
"""


def test_unguarded_script_is_not_rerun_by_its_fresh_interpreter_copies(tmp_path):
    """Nothing of the job comes from __main__, so the copies skip re-running it."""
    (tmp_path / "script.py").write_text(UNGUARDED_SCRIPT)
    out = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["finished", "True"]
    assert len((tmp_path / "runs.txt").read_text().split()) == 1


def test_launcher_serves_neuronperf_to_copies_that_rerun_the_script(tmp_path):
    """A model class from the script: each copy re-runs it (guarded) and imports neuronperf."""
    (tmp_path / "np_script.py").write_text(GUARDED_NEURONPERF_SCRIPT)
    out = subprocess.run([sys.executable, "-m", "neuronperf_native", "run", "np_script.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["finished", "True", "None"]
    assert "a neuronperf package is installed" not in out.stderr
