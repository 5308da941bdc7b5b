"""npf.tensorflow end to end with the real TensorFlow (CPU build), Neuron paths with stand-ins.

The Neuron packages (tensorflow-neuron, tensorflow-neuronx) cannot run here: their
paths are tested with stand-in objects, clearly named as such, that record what they
were called with; TensorFlow's own package cannot be modified, so the tests swap
``npf_tf._neuron_api`` (the one place the compile path looks the Neuron API up).
"""

from __future__ import annotations

import json
import os
import shutil
import types
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from neuronperf_native import model_index  # noqa: E402
from neuronperf_native import tensorflow as npf_tf  # noqa: E402
from neuronperf_native._frameworks import (  # noqa: E402
    FrameworkNotInstalledError,
    import_framework,
)

BATCH_SIZES = [1, 2, 4]
FAST = {"duration": 0.3, "n_models": 1, "verbosity": 0}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _dense_model() -> Any:
    tf.keras.utils.set_random_seed(0)
    return tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(4)], name="dense84")


def _inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((b, 8)).astype(np.float32) for b in BATCH_SIZES]


def _configs(index_file: str) -> list[dict[str, Any]]:
    return model_index.load(index_file)["model_configs"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[str, list[np.ndarray], Any]:
    """A Dense 8->4 Keras model compiled (plain SavedModels) at batch sizes 1, 2, 4."""
    root = tmp_path_factory.mktemp("tf_index")
    model = _dense_model()
    inputs = _inputs()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        index = npf_tf.compile(model, inputs, batch_sizes=BATCH_SIZES, filename="dense.json")
    finally:
        os.chdir(cwd)
    return str(root / index), inputs, model


def test_compile_writes_savedmodels_per_batch_size(compiled):
    index_file, inputs, model = compiled
    index = model_index.load(index_file)
    assert index["model_name"] == "dense84"
    configs = index["model_configs"]
    assert [c["batch_size"] for c in configs] == BATCH_SIZES
    root = os.path.dirname(index_file)
    for config, x in zip(configs, inputs, strict=True):
        assert config["status"] == "finished"
        assert config["compiler"] == "tf.saved_model.save"
        path = os.path.join(root, config["filename"])
        assert os.path.isfile(os.path.join(path, "saved_model.pb"))
        # the artifact computes what the Keras model computes
        loaded = npf_tf._Loader()(path)
        out = loaded(*loaded.prepare((x,)))
        (value,) = out.values()
        np.testing.assert_allclose(value.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_benchmark_whole_index(compiled):
    index_file, inputs, _ = compiled
    os.chdir(os.path.dirname(index_file))
    reports = npf_tf.benchmark(
        index_file, inputs, batch_sizes=BATCH_SIZES, workers_per_model=1, **FAST
    )
    assert [r["batch_size"] for r in reports] == BATCH_SIZES
    filenames = {c["filename"] for c in _configs(index_file)}
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["model_filename"] in filenames
        assert r["model_name"] == "dense84"
        assert r["device_type"] == "cpu"
        assert r["multiinterpreter"] is True
        assert r["total_infs"] > 0 and r["total_infs"] % r["batch_size"] == 0
        assert r["throughput_avg"] > 0
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p100"]


def test_benchmark_filtered_part_of_index(compiled):
    index_file, inputs, _ = compiled
    os.chdir(os.path.dirname(index_file))
    reports = npf_tf.benchmark(
        index_file, inputs, batch_sizes=[2], workers_per_model=[1, 2], **FAST
    )
    assert [(r["batch_size"], r["workers_per_model"]) for r in reports] == [(2, 1), (2, 2)]
    b2 = next(c["filename"] for c in _configs(index_file) if c["batch_size"] == 2)
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["model_filename"] == b2


def test_benchmark_input_of_wrong_shape_names_the_cause(compiled):
    index_file, _, _ = compiled
    os.chdir(os.path.dirname(index_file))
    b1 = next(c["filename"] for c in _configs(index_file) if c["batch_size"] == 1)
    wrong = np.zeros((1, 5), np.float32)
    (report,) = npf_tf.benchmark(b1, wrong, workers_per_model=1, **FAST)
    assert report["status"] == "error"
    assert "shape" in report["error"].lower() or "incompatible" in report["error"].lower()


def test_dict_inputs_compile_and_benchmark():
    a = tf.keras.Input((3,), name="a")
    b = tf.keras.Input((5,), name="b")
    out = tf.keras.layers.Dense(2)(tf.keras.layers.Concatenate()([a, b]))
    model = tf.keras.Model({"a": a, "b": b}, out, name="two_inputs")
    x = {"a": np.ones((2, 3), np.float32), "b": np.full((2, 5), 0.5, np.float32)}
    index = npf_tf.compile(model, x, batch_sizes=2, filename="two.json")
    (config,) = _configs(index)
    assert config["status"] == "finished", config.get("error")

    loaded = npf_tf._Loader()(config["filename"])
    (args,) = [loaded.prepare((x,))]
    assert all(tf.is_tensor(v) for v in args[0].values())
    result = loaded(*args)  # one dict -> keyword call of serving_default
    (value,) = result.values()
    assert tf.is_tensor(value)  # outputs stay TF tensors: no copy in the timed call
    np.testing.assert_allclose(value.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)

    (report,) = npf_tf.benchmark(index, x, workers_per_model=1, **FAST)
    assert report["status"] == "finished", report.get("error")
    assert report["batch_size"] == 2
    assert report["total_infs"] > 0


# Neuron stand-ins -----------------------------------------------------------------------


class StandInSavedModelApi:
    """Stand-in for tensorflow-neuron (inf1): saved_model.compile records its call.

    It copies the SavedModel (so the artifact loads on CPU) and returns what
    tensorflow-neuron's compile returns (OnNeuronRatio) plus operator counts.
    """

    __name__ = "tensorflow.neuron"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.saved_model = types.SimpleNamespace(compile=self._compile)

    def _compile(self, model_dir: str, new_model_dir: str, **options: Any) -> dict[str, Any]:
        self.calls.append({"model_dir": model_dir, "new_model_dir": new_model_dir, **options})
        shutil.copytree(model_dir, new_model_dir)
        return {"OnNeuronRatio": 0.75, "ops_total": 12, "ops_optimized": 5, "ops_on_neuron": 4}


class StandInTraceApi:
    """Stand-in for tensorflow-neuronx (inf2/trn): trace records its call and NEURON_CC_FLAGS."""

    __name__ = "tensorflow_neuronx"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def trace(self, func: Any, example_inputs: Any, **options: Any) -> Any:
        self.calls.append(
            {
                "func": func,
                "example_inputs": example_inputs,
                "flags": os.environ.get("NEURON_CC_FLAGS"),
                **options,
            }
        )
        func.on_neuron_ratio = 0.5
        return func


def _saved_model_dir() -> str:
    model = _dense_model()
    tf.saved_model.save(model, "original")
    return "original"


def test_tensorflow_neuron_saved_model_compile_gets_every_option(monkeypatch):
    api = StandInSavedModelApi()
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: api)
    source = _saved_model_dir()
    options = {
        "model_shape_feed_dict": {"input_1:0": [1, 8]},
        "model_feed_dict": {"input_1:0": np.zeros((1, 8), np.float32)},
        "tags": ["serve"],
        "signature_def_key": "serving_default",
        "minimum_segment_size": 2,
        "no_fuse_ops": ["dense/MatMul"],
        "compiler_workdir": "workdir",
        "dynamic_batch_size": True,
    }
    index = npf_tf.compile(
        source,
        [np.zeros((1, 8), np.float32), np.zeros((2, 8), np.float32)],
        batch_sizes=[1, 2],
        pipeline_sizes=2,
        compiler_args=["--verbose", "35"],
        filename="neuron.json",
        **options,
    )
    configs = _configs(index)
    assert [c["status"] for c in configs] == ["finished", "finished"]
    assert len(api.calls) == 2
    for call, config, batch in zip(api.calls, configs, [1, 2], strict=True):
        assert call["model_dir"] == source
        assert call["new_model_dir"] == config["filename"]
        assert call["batch_size"] == batch
        assert call["compiler_args"] == ["--neuroncore-pipeline-cores", "2", "--verbose", "35"]
        for key, value in options.items():
            assert call[key] is value
        assert config["compiler"] == "tensorflow.neuron.saved_model.compile"
        assert config["on_neuron_ratio"] == 0.75
        assert config["neuron_compile_stats"] == {
            "OnNeuronRatio": 0.75,
            "ops_total": 12,
            "ops_optimized": 5,
            "ops_on_neuron": 4,
        }
    # the compiled artifact is a SavedModel that the benchmark loader runs
    loaded = npf_tf._Loader()(configs[0]["filename"])
    x = np.ones((1, 8), np.float32)
    assert next(iter(loaded(*loaded.prepare((x,))).values())).shape == (1, 4)


def test_saved_model_compile_feeds_dict_examples_when_no_feed_dict_given(monkeypatch):
    api = StandInSavedModelApi()
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: api)
    x = {"input_1:0": np.zeros((4, 8), np.float32)}
    npf_tf.compile(_saved_model_dir(), x, batch_sizes=4, filename="feed.json")
    (call,) = api.calls
    assert call["model_feed_dict"] == x
    assert call["batch_size"] == 4


def test_trace_api_gets_model_inputs_and_flags(monkeypatch):
    api = StandInTraceApi()
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: api)
    monkeypatch.setenv("NEURON_CC_FLAGS", "--workdir ./artifacts")
    model = _dense_model()
    x = np.ones((2, 8), np.float32)
    index = npf_tf.compile(
        model, x, batch_sizes=2, performance_levels=3, filename="trace.json", extra_option=7
    )
    (config,) = _configs(index)
    assert config["status"] == "finished", config.get("error")
    assert config["compiler"] == "tensorflow_neuronx.trace"
    assert config["on_neuron_ratio"] == 0.5
    (call,) = api.calls
    assert call["func"] is model
    assert tf.is_tensor(call["example_inputs"])
    np.testing.assert_array_equal(call["example_inputs"].numpy(), x)
    assert call["flags"] == "--workdir ./artifacts --fast-math all"
    assert call["extra_option"] == 7
    assert os.environ["NEURON_CC_FLAGS"] == "--workdir ./artifacts"  # restored
    assert os.path.isfile(os.path.join(config["filename"], "saved_model.pb"))


def test_savedmodel_dir_with_trace_only_api_fails_with_reason(monkeypatch):
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: StandInTraceApi())
    index = npf_tf.compile(_saved_model_dir(), np.ones((1, 8), np.float32), filename="t.json")
    (config,) = _configs(index)
    assert config["status"] == "error"
    assert "trace()" in config["error"] and "load_model" in config["error"]


def test_savedmodel_dir_without_neuron_is_copied(monkeypatch):
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: None)
    index = npf_tf.compile(_saved_model_dir(), np.ones((1, 8), np.float32), filename="c.json")
    (config,) = _configs(index)
    assert config["status"] == "finished"
    assert config["compiler"] == "copy"
    assert os.path.isfile(os.path.join(config["filename"], "saved_model.pb"))


def test_uncallable_model_is_recorded_as_error(monkeypatch):
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: None)
    index = npf_tf.compile(
        object(), np.ones((1, 8), np.float32), model_name="bad", filename="b.json"
    )
    (config,) = _configs(index)
    assert config["status"] == "error"
    assert "must be a Keras model" in config["error"]


def test_tf1_savedmodel_loads_through_contrib_predictor(monkeypatch):
    """TF 1.x (tensorflow-neuron 1.15): a stand-in tf module with tf.contrib.predictor."""
    seen: dict[str, Any] = {}

    def from_saved_model(path: str, signature_def_key: str) -> Any:
        seen.update(path=path, key=signature_def_key)

        def predictor(feed: dict[str, Any]) -> dict[str, Any]:
            return {"out": feed["x:0"] + feed["y:0"]}

        predictor.feed_tensors = {"x:0": None, "y:0": None}
        return predictor

    stand_in_tf1 = types.SimpleNamespace(
        __version__="1.15.5",
        contrib=types.SimpleNamespace(
            predictor=types.SimpleNamespace(from_saved_model=from_saved_model)
        ),
    )
    monkeypatch.setattr(npf_tf, "_tf", lambda: stand_in_tf1)
    monkeypatch.setattr(npf_tf, "_neuron_api", lambda: None)
    model = npf_tf._Loader("sig")("compiled_dir")
    assert seen == {"path": "compiled_dir", "key": "sig"}
    assert model(1, 2) == {"out": 3}
    assert model({"x:0": 3, "y:0": 4}) == {"out": 7}


# Argument checks and the missing-framework error ----------------------------------------


def test_benchmark_rejects_bad_model_filename():
    with pytest.raises(ValueError, match="neither a SavedModel directory"):
        npf_tf.benchmark("missing_dir", np.ones((1, 8)), duration=0.1)
    with pytest.raises(TypeError, match="model_filename"):
        npf_tf.benchmark(42, np.ones((1, 8)), duration=0.1)
    os.mkdir("sm")
    with pytest.raises(TypeError, match="input_transform_fn"):
        npf_tf.benchmark("sm", np.ones((1, 8)), duration=0.1, input_transform_fn=3)


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="this machine has a GPU")
def test_gpu_request_without_a_gpu_is_a_clear_error(compiled):
    index_file, inputs, _ = compiled
    with pytest.raises(RuntimeError, match=r"device_type='gpu'\) of .*dense\.json.*sees no GPU"):
        npf_tf.benchmark(index_file, inputs, device_type="gpu", **FAST)


def test_missing_tensorflow_is_a_clear_error(monkeypatch):
    real_find_spec = npf_tf.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "tensorflow" else real_find_spec(name, *args)

    monkeypatch.setattr(npf_tf.importlib.util, "find_spec", find_spec)
    for call in (
        lambda: npf_tf.compile(_dense_model(), np.ones((1, 8))),
        lambda: npf_tf.benchmark("index.json", np.ones((1, 8))),
    ):
        with pytest.raises(FrameworkNotInstalledError, match="TensorFlow is not installed") as e:
            call()
        assert isinstance(e.value, ImportError)
        assert "pip install tensorflow-cpu" in str(e.value)


def test_import_framework_names_the_missing_package():
    with pytest.raises(FrameworkNotInstalledError, match="Frobnicator is not installed"):
        import_framework("no_such_framework_pkg.sub", "Frobnicator", "pip install frob")
    assert import_framework("json", "JSON", "-").dumps([1]) == "[1]"


def test_input_data_fed_by_signature_name_and_validated(compiled, tmp_path):
    from neuronperf_native.inputs import TensorSpec, load_input_data

    index_file, _, model = compiled
    xs = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    ys = model(xs).numpy()
    expected = [{"output_0": y.tolist()} for y in ys]
    expected[1]["output_0"][3] = 100.0
    path = tmp_path / "data.json"
    path.write_text(
        json.dumps({"data": [{"input_0": x.tolist()} for x in xs], "validation_data": expected})
    )
    data = load_input_data(
        str(path), [TensorSpec("input_0", "FP32", (8,))], [TensorSpec("output_0", "FP32", (4,))]
    )
    os.chdir(os.path.dirname(index_file))
    reports = npf_tf.benchmark(
        index_file, data, batch_sizes=[1, 2], workers_per_model=1, atol=1e-5, **FAST
    )
    assert [r["batch_size"] for r in reports] == [1, 2]
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        first = r["validation"]["first_mismatch"]
        assert (r["validation"]["steps_checked"], r["validation"]["mismatches"]) == (4, 1)
        assert (first["step"], first["tensor"], first["index"], first["expected"]) == (
            1,
            "output_0",
            3,
            100.0,
        )
