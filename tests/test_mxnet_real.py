"""npf.mxnet with the REAL MXNet (CPU): checkpoint -> compile -> index -> benchmark -> reports.

MXNet 1.9.1 needs numpy<1.24, so these tests run only in an environment of their own
(.ci/run's MXNet step; docs/development.md); elsewhere they are skipped. Without
MXNet-Neuron, compile saves the checkpoint unchanged (the CPU fallback) and the
model copies bind it on mx.cpu().
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings

import numpy as np
import pytest

from neuronperf_native import model_index
from neuronperf_native import mxnet as npf_mx

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mxnet") is None, reason="MXNet is not installed here"
)

FAST = {"duration": 0.3, "n_models": 1, "workers_per_model": 1, "verbosity": 0}


@pytest.fixture
def mx(tmp_path, monkeypatch):
    """The real mxnet module, imported on first use (test_mxnet.py swaps in a stand-in)."""
    monkeypatch.chdir(tmp_path)
    try:
        with warnings.catch_warnings():  # MXNet 1.9 uses numpy aliases deprecated in 1.20
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module("mxnet")
    except (ImportError, AttributeError) as error:  # numpy >= 1.24 removed those aliases
        pytest.skip(f"mxnet does not import here: {error!r}")
    if not hasattr(module, "sym"):
        pytest.skip(f"{module.__name__} is a stand-in, not MXNet")
    return module


def _checkpoint(mx, prefix: str = "ckpt/fc", epoch: int = 3):
    """A relu(FullyConnected 8 -> 4) checkpoint with seeded weights."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 8)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    data = mx.sym.var("data")
    sym = mx.sym.relu(mx.sym.FullyConnected(data, num_hidden=4, name="fc"), name="relu")
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    args = {"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(b)}
    mx.model.save_checkpoint(prefix, epoch, sym, args, {})
    return prefix, w, b


def test_real_mxnet_cpu_pipeline(mx):
    prefix, w, b = _checkpoint(mx)
    xs = [np.random.default_rng(n).standard_normal((n, 8)).astype(np.float32) for n in (1, 2, 4)]
    index = npf_mx.compile(prefix, xs, batch_sizes=[1, 2, 4], epoch=3, verbosity=0)
    loaded_index = model_index.load(index)
    assert loaded_index["model_name"] == "fc"
    configs = loaded_index["model_configs"]
    assert [(c["batch_size"], c["status"]) for c in configs] == [
        (1, "finished"),
        (2, "finished"),
        (4, "finished"),
    ]
    for c in configs:
        assert c["compiler"] == "save_checkpoint" and c["input_names"] == ["data"]
        assert os.path.isfile(os.path.join(c["filename"], "model-symbol.json"))
        assert os.path.isfile(os.path.join(c["filename"], "model-0000.params"))

    # the saved artifact computes relu(x W^T + b)
    loaded = npf_mx._Loader()(configs[1]["filename"])
    (out,) = loaded(*loaded.prepare((xs[1],)))
    np.testing.assert_allclose(out.asnumpy(), np.maximum(xs[1] @ w.T + b, 0), rtol=1e-5)

    reports = npf_mx.benchmark(index, xs, **FAST)
    assert [r["batch_size"] for r in reports] == [1, 2, 4]
    for r in reports:
        assert r["status"] == "finished", r.get("error")
        assert r["device_type"] == "cpu"
        assert r["total_infs"] > 0 and r["total_infs"] % r["batch_size"] == 0
        assert r["latency_ms_p0"] <= r["latency_ms_p50"] <= r["latency_ms_p100"]

    (part,) = npf_mx.benchmark(index, xs, batch_sizes=[2], **FAST)
    assert (part["batch_size"], part["status"]) == (2, "finished")
    assert part["model_filename"] == configs[1]["filename"]


def test_real_mxnet_checkpoint_prefix_and_wrong_shape(mx):
    prefix, _, _ = _checkpoint(mx)
    x = np.ones((2, 8), np.float32)
    (report,) = npf_mx.benchmark(prefix, x, batch_sizes=[2], epoch=3, **FAST)
    assert report["status"] == "finished", report.get("error")
    assert report["batch_size"] == 2 and report["total_infs"] % 2 == 0

    (bad,) = npf_mx.benchmark(prefix, np.ones((2, 3), np.float32), epoch=3, **FAST)
    assert bad["status"] == "error"
    assert "model copy 0 failed in warmup" in bad["error"]
    assert "expected [4,8], got [4,3]" in bad["error"]  # the weight shape vs the input's
