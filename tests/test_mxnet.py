"""npf.mxnet against a STAND-IN mxnet package, and the not-installed error.

MXNet 1.9.1 needs numpy<1.24, so it cannot share this test environment: the real
MXNet flow is NOT exercised here. The tests write a small stand-in package named
``mxnet`` (with ``mxnet.contrib.neuron``) into a temporary directory, put it on
sys.path, and check what npf.mxnet calls: load/save_checkpoint, neuron.compile's
arguments, Module binding on the inputs' shapes and context, forward. The stand-in
logs its calls as JSON lines (MXNET_STANDIN_LOG), so the fresh interpreters of the
benchmark's model copies are checked too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

from neuronperf_native import model_index
from neuronperf_native import mxnet as npf_mx
from neuronperf_native._frameworks import FrameworkNotInstalledError

FAST = {"duration": 0.3, "n_models": 1, "workers_per_model": 1, "verbosity": 0}

# A stand-in for MXNet: a relu(FullyConnected) symbol, checkpoints as JSON + npz,
# mx.mod.Module, mx.io.DataBatch, mx.nd.array, contexts, and contrib.neuron.compile.
_STANDIN_INIT = '''
"""STAND-IN mxnet for neuronperf_native's tests; not MXNet."""
import json
import os

import numpy as np

__version__ = "0.0-standin"


def _record(event, **data):
    path = os.environ.get("MXNET_STANDIN_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"event": event, "pid": os.getpid(), **data}) + "\\n")


class Context:
    def __init__(self, kind):
        self.kind = kind


def cpu(device_id=0):
    return Context("cpu")


def neuron(device_id=0):
    return Context("neuron")


class NDArray:
    def __init__(self, value):
        self.value = np.asarray(value, dtype=np.float32)
        self.shape = self.value.shape
        self.waited = False

    def asnumpy(self):
        return self.value

    def wait_to_read(self):
        self.waited = True


class _Nd:
    @staticmethod
    def array(value, ctx=None):
        return NDArray(value.value if isinstance(value, NDArray) else value)


nd = _Nd()


class Symbol:
    def __init__(self, graph):
        self.graph = graph

    def tojson(self):
        return json.dumps(self.graph)

    def list_arguments(self):
        return [n["name"] for n in self.graph["nodes"] if n["op"] == "null"]

    def compute(self, x, args):
        w, b = args["fc_weight"].value, args["fc_bias"].value
        return np.maximum(x @ w.T + b, 0.0)


def fc_relu_symbol():
    return Symbol({"nodes": [
        {"op": "null", "name": "data"},
        {"op": "null", "name": "fc_weight"},
        {"op": "null", "name": "fc_bias"},
        {"op": "FullyConnected", "name": "fc"},
        {"op": "Activation", "name": "relu"},
    ]})


class _Model:
    @staticmethod
    def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params):
        _record("save_checkpoint", prefix=prefix, epoch=epoch)
        with open(f"{prefix}-symbol.json", "w") as f:
            f.write(symbol.tojson())
        with open(f"{prefix}-{epoch:04d}.params", "wb") as f:
            np.savez(f, **{k: v.value for k, v in arg_params.items()})

    @staticmethod
    def load_checkpoint(prefix, epoch):
        _record("load_checkpoint", prefix=prefix, epoch=epoch)
        with open(f"{prefix}-symbol.json") as f:
            sym = Symbol(json.load(f))
        with np.load(f"{prefix}-{epoch:04d}.params") as params:
            args = {k: NDArray(params[k]) for k in params.files}
        return sym, args, {}


model = _Model()


class DataBatch:
    def __init__(self, data, label=None):
        self.data = data


class _Io:
    DataBatch = DataBatch


io = _Io()


class Module:
    def __init__(self, symbol, data_names=("data",), label_names=None, context=None):
        self.symbol = symbol
        self.data_names = list(data_names)
        self.context = context
        self.outputs = None
        self.forwards = 0
        _record("module", context=context.kind, data_names=self.data_names,
                label_names=label_names,
                visible_cores=os.environ.get("NEURON_RT_VISIBLE_CORES"))

    def bind(self, data_shapes, for_training=True, **kwargs):
        _record("bind", data_shapes=[[n, list(s)] for n, s in data_shapes],
                for_training=for_training)

    def set_params(self, arg_params, aux_params, allow_missing=False):
        self.args = arg_params
        _record("set_params", names=sorted(arg_params))

    def forward(self, data_batch, is_train=None):
        assert is_train is False
        self.forwards += 1
        self.outputs = [NDArray(self.symbol.compute(data_batch.data[0].value, self.args))]

    def get_outputs(self):
        return self.outputs


class _Mod:
    Module = Module


mod = _Mod()
'''

_STANDIN_NEURON = '''
"""STAND-IN mxnet.contrib.neuron: compile records its call and wraps the ops in a subgraph."""
import json
import os

if os.environ.get("MXNET_STANDIN_NO_NEURON"):
    raise ImportError("stand-in: no MXNet-Neuron")

from mxnet import Symbol, _record


def compile(sym, args, aux, inputs, **compile_args):
    _record("neuron.compile", inputs={k: list(v.shape) for k, v in inputs.items()},
            compile_args=compile_args, arg_names=sorted(args))
    nodes = json.loads(sym.tojson())["nodes"]
    ops = [n for n in nodes if n["op"] != "null"]
    params = [n for n in nodes if n["op"] == "null"]
    compiled = Symbol({"nodes": params + [
        {"op": "_neuron_subgraph_op", "name": "neuron0", "subgraphs": [{"nodes": ops}]}]})
    return compiled, args, aux
'''


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """Puts the stand-in mxnet on sys.path (inherited by spawned model copies)."""
    root = tmp_path / "standin_site"
    (root / "mxnet" / "contrib").mkdir(parents=True)
    (root / "mxnet" / "__init__.py").write_text(textwrap.dedent(_STANDIN_INIT))
    (root / "mxnet" / "contrib" / "__init__.py").write_text("")
    (root / "mxnet" / "contrib" / "neuron.py").write_text(textwrap.dedent(_STANDIN_NEURON))
    log = tmp_path / "standin_calls.jsonl"
    monkeypatch.setenv("MXNET_STANDIN_LOG", str(log))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(tmp_path)
    _forget_mxnet()

    def events(name: str | None = None) -> list[dict[str, Any]]:
        if not log.exists():
            return []
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        return [r for r in rows if name is None or r["event"] == name]

    yield events
    _forget_mxnet()


def _forget_mxnet() -> None:
    for name in [m for m in sys.modules if m == "mxnet" or m.startswith("mxnet.")]:
        del sys.modules[name]


def _checkpoint(prefix: str = "ckpt/fc") -> tuple[str, np.ndarray, np.ndarray]:
    """An original fc+relu checkpoint (8 -> 4) written with the stand-in's save_checkpoint."""
    import mxnet as mx  # the stand-in

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 8)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    args = {"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(b)}
    mx.model.save_checkpoint(prefix, 3, mx.fc_relu_symbol(), args, {})
    return prefix, w, b


def test_neuron_compile_benchmark_flow(standin):
    prefix, w, b = _checkpoint()
    xs = [np.ones((n, 8), np.float32) for n in (1, 2)]
    index = npf_mx.compile(
        prefix,
        [{"data": x} for x in xs],
        batch_sizes=[1, 2],
        epoch=3,
        pipeline_sizes=2,
        compiler_args=["--verbose", "35"],
        filename="fc.json",
        excl_node_names=["relu"],
    )
    configs = model_index.load(index)["model_configs"]
    assert model_index.load(index)["model_name"] == "fc"
    assert [c["status"] for c in configs] == ["finished", "finished"]
    assert [e["epoch"] for e in standin("load_checkpoint")] == [3, 3]
    calls = standin("neuron.compile")
    assert [c["inputs"] for c in calls] == [{"data": [1, 8]}, {"data": [2, 8]}]
    for call, config in zip(calls, configs, strict=True):
        assert call["compile_args"] == {
            "excl_node_names": ["relu"],
            "flags": ["--neuroncore-pipeline-cores", "2", "--verbose", "35"],
        }
        assert call["arg_names"] == ["fc_bias", "fc_weight"]
        assert config["compiler"] == "mxnet.contrib.neuron.compile"
        assert config["input_names"] == ["data"]
        assert (config["ops_original"], config["ops_compiled"]) == (2, 1)
        assert (config["neuron_subgraphs"], config["ops_on_neuron"]) == (1, 2)
        with open(os.path.join(config["filename"], "model-symbol.json")) as f:
            assert "_neuron_subgraph_op" in f.read()
        assert os.path.isfile(os.path.join(config["filename"], "model-0000.params"))

    # the compiled checkpoint computes relu(x W^T + b), outputs waited on
    loaded = npf_mx._Loader()(configs[1]["filename"])
    x = np.arange(16, dtype=np.float32).reshape(2, 8) / 10
    (out,) = loaded(*loaded.prepare((x,)))
    assert out.waited
    np.testing.assert_allclose(out.asnumpy(), np.maximum(x @ w.T + b, 0), rtol=1e-6)

    before = len(standin("module"))
    reports = npf_mx.benchmark(index, xs, batch_sizes=[1, 2], pipeline_sizes=2, **FAST)
    assert [r["batch_size"] for r in reports] == [1, 2]
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["device_type"] == "neuron"
        assert r["total_infs"] > 0
    modules = standin("module")[before:]
    assert len(modules) == 2
    assert {m["pid"] for m in modules}.isdisjoint({os.getpid()})  # fresh interpreters
    assert [m["context"] for m in modules] == ["neuron", "neuron"]
    assert [m["visible_cores"] for m in modules] == ["0-1", "0-1"]
    assert [m["label_names"] for m in modules] == [None, None]
    binds = standin("bind")[-2:]
    assert [b["data_shapes"] for b in binds] == [[["data", [1, 8]]], [["data", [2, 8]]]]
    assert all(b["for_training"] is False for b in binds)


def test_cpu_flow_without_neuron_from_sym_args_aux(standin, monkeypatch):
    monkeypatch.setenv("MXNET_STANDIN_NO_NEURON", "1")
    prefix, w, b = _checkpoint()
    import mxnet as mx  # the stand-in

    sym_args_aux = mx.model.load_checkpoint(prefix, 3)
    x = np.ones((2, 8), np.float32)
    index = npf_mx.compile(sym_args_aux, x, batch_sizes=2, filename="cpu.json")
    (config,) = model_index.load(index)["model_configs"]
    assert config["status"] == "finished", config.get("error")
    assert config["compiler"] == "save_checkpoint"
    assert "ops_on_neuron" not in config
    assert model_index.load(index)["model_name"] == "mxnet_model"
    assert standin("neuron.compile") == []

    # a bare checkpoint prefix benchmarks too (epoch given), on the CPU context
    (report,) = npf_mx.benchmark(prefix, x, epoch=3, **FAST)
    assert report["status"] == "finished", report.get("error")
    assert report["device_type"] == "cpu"
    assert standin("module")[-1]["context"] == "cpu"

    loaded = npf_mx._Loader()(config["filename"])
    (out,) = loaded(*loaded.prepare(({"data": x},)))
    np.testing.assert_allclose(out.asnumpy(), np.maximum(x @ w.T + b, 0), rtol=1e-6)


def test_bad_inputs_are_reported(standin):
    prefix, _, _ = _checkpoint()
    index = npf_mx.compile(prefix, (np.ones((1, 8)),), epoch=3, filename="t.json")
    (config,) = model_index.load(index)["model_configs"]
    assert config["status"] == "error"
    assert "dict {input name: array}" in config["error"]
    loaded = npf_mx._Loader(epoch=3)(prefix)
    with pytest.raises(ValueError, match=r"takes 1 input\(s\) \['data'\], got 2"):
        loaded.prepare((np.ones((1, 8)), np.ones((1, 8))))
    loaded.prepare((np.ones((1, 8)),))
    with pytest.raises(ValueError, match="differ from the bound"):
        loaded.prepare((np.ones((2, 8)),))
    with pytest.raises(ValueError, match="checkpoint prefix"):
        npf_mx.benchmark("nowhere/fc", np.ones((1, 8)), duration=0.1)
    with pytest.raises(ValueError, match="epoch"):
        npf_mx.compile(prefix, np.ones((1, 8)), epoch=-1)
    with pytest.raises(ValueError, match=r"device_type='cuda'\) of 'ckpt/fc'.*GPU contexts"):
        npf_mx.benchmark(prefix, np.ones((1, 8)), epoch=3, device_type="cuda", **FAST)


def test_without_mxnet_every_call_says_it_is_not_installed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _forget_mxnet()
    if importlib.util.find_spec("mxnet") is not None:
        pytest.skip("an mxnet package is installed in this environment")
    for call in (
        lambda: npf_mx.compile("ckpt/fc", np.ones((1, 8))),
        lambda: npf_mx.benchmark("ckpt/fc", np.ones((1, 8))),
        lambda: npf_mx._Loader()("ckpt/fc"),
    ):
        with pytest.raises(FrameworkNotInstalledError, match="MXNet is not installed") as e:
            call()
        assert isinstance(e.value, ImportError)
        assert "pip install mxnet" in str(e.value)
