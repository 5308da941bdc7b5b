"""Tests for neuronperf_native.compiling.compile: variants, flags, index writes, failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from neuronperf_native import compiling, model_index


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own empty working directory (artifacts and index are relative)."""
    monkeypatch.chdir(tmp_path)


class FakeCompiler:
    """A compile_fn that writes a small artifact and records every call."""

    def __init__(self, fail_on: set[int] | None = None, returns: Any = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on or set()
        self.returns = returns

    def __call__(self, model, example_inputs, filename, compiler_args, **kwargs):
        self.calls.append(
            {
                "model": model,
                "example": example_inputs,
                "filename": filename,
                "compiler_args": compiler_args,
                "kwargs": kwargs,
            }
        )
        n = len(self.calls)
        Path(filename).write_text(f"artifact {n}", encoding="utf-8")
        if n in self.fail_on:
            raise RuntimeError(f"compiler exploded on call {n}")
        return self.returns


def _configs(index_file: str) -> list[dict[str, Any]]:
    return model_index.load(index_file)["model_configs"]


def test_variants_and_flags_exact():
    fake = FakeCompiler()
    index_file = compiling.compile(
        fake,
        "net",
        ["x1", "x4"],
        batch_sizes=[1, 4],
        pipeline_sizes=[1, 2],
        performance_levels=[0, 3],
        model_name="net",
        compiler_args={"model-type": "transformer"},
        artifact_ext="pt",
        custom_option=7,
    )
    got = [(c["example"], c["compiler_args"], c["kwargs"], c["model"]) for c in fake.calls]
    user = ["--model-type", "transformer"]
    fm0 = ["--fast-math", "none"]
    fm3 = ["--fast-math", "all"]
    pipe2 = ["--neuroncore-pipeline-cores", "2"]
    kw = {"custom_option": 7}
    assert got == [
        ("x1", fm0 + user, kw, "net"),
        ("x1", fm3 + user, kw, "net"),
        ("x1", pipe2 + fm0 + user, kw, "net"),
        ("x1", pipe2 + fm3 + user, kw, "net"),
        ("x4", fm0 + user, kw, "net"),
        ("x4", fm3 + user, kw, "net"),
        ("x4", pipe2 + fm0 + user, kw, "net"),
        ("x4", pipe2 + fm3 + user, kw, "net"),
    ]
    configs = _configs(index_file)
    assert [
        (c["input_idx"], c["batch_size"], c["pipeline_size"], c["performance_level"])
        for c in configs
    ] == [
        (0, 1, 1, 0),
        (0, 1, 1, 3),
        (0, 1, 2, 0),
        (0, 1, 2, 3),
        (1, 4, 1, 0),
        (1, 4, 1, 3),
        (1, 4, 2, 0),
        (1, 4, 2, 3),
    ]
    assert all(c["status"] == "finished" for c in configs)
    assert [c["filename"] for c in configs] == [call["filename"] for call in fake.calls]
    assert [c["compiler_args"] for c in configs] == [call["compiler_args"] for call in fake.calls]
    for c in configs:
        assert c["filename"].startswith("models" + os.sep + f"net_b{c['batch_size']}_")
        assert c["filename"].endswith(".pt")
        assert os.path.isfile(c["filename"])
    assert len({c["filename"] for c in configs}) == len(configs)


def test_fast_math_values_for_every_performance_level():
    fake = FakeCompiler()
    compiling.compile(fake, "net", "x", performance_levels=[0, 1, 2, 3])
    assert [c["compiler_args"] for c in fake.calls] == [
        ["--fast-math", "none"],
        ["--fast-math", "fp32-cast-matmult", "no-fast-relayout"],
        ["--fast-math", "fp32-cast-matmult"],
        ["--fast-math", "all"],
    ]


def test_cast_modes_map_to_auto_cast_flags():
    fake = FakeCompiler()
    index_file = compiling.compile(
        fake, "net", "x", cast_modes=["none", "matmult", "matmul-fp16", "all-bf16", "all-fp8_e4m3"]
    )
    assert [c["compiler_args"] for c in fake.calls] == [
        ["--auto-cast", "none"],
        ["--auto-cast", "matmult"],
        ["--auto-cast", "matmult", "--auto-cast-type", "fp16"],
        ["--auto-cast", "all", "--auto-cast-type", "bf16"],
        ["--auto-cast", "all", "--auto-cast-type", "fp8_e4m3"],
    ]
    assert [c["cast_mode"] for c in _configs(index_file)] == [
        "none",
        "matmult",
        "matmul-fp16",
        "all-bf16",
        "all-fp8_e4m3",
    ]


def test_defaults_single_input_one_variant():
    fake = FakeCompiler()
    index_file = compiling.compile(fake, "net", ("a", "b"))
    assert len(fake.calls) == 1
    assert fake.calls[0]["example"] == ("a", "b")  # a tuple is one multi-argument input
    assert fake.calls[0]["compiler_args"] == []
    data = model_index.load(index_file)
    assert os.path.dirname(index_file) == ""  # generated in the working directory
    assert data["model_name"] == "net"  # from the model path
    (config,) = data["model_configs"]
    assert config["batch_size"] == 1
    assert config["pipeline_size"] == 1
    assert config["performance_level"] is None
    assert config["cast_mode"] is None
    assert config["compile_s"] >= 0


def test_inputs_without_batch_sizes_default_to_one_each():
    fake = FakeCompiler()
    index_file = compiling.compile(fake, "net", ["a", "b", "c"])
    assert [(c["input_idx"], c["batch_size"]) for c in _configs(index_file)] == [
        (0, 1),
        (1, 1),
        (2, 1),
    ]


def test_model_name_from_path_and_class():
    class TinyNet:
        pass

    assert model_index.load(compiling.compile(FakeCompiler(), TinyNet(), "x"))["model_name"] == (
        "TinyNet"
    )
    assert (
        model_index.load(compiling.compile(FakeCompiler(), "dir/resnet.pb", "x"))["model_name"]
        == "resnet"
    )


def test_compiler_args_list_and_dict_forms():
    assert compiling.compiler_args_list(None) == []
    assert compiling.compiler_args_list(["--a", "1"]) == ["--a", "1"]
    assert compiling.compiler_args_list(
        {"O": 2, "--verbose": "info", "flag": None, "on": True, "off": False, "multi": ["x", "y"]}
    ) == ["-O", "2", "--verbose", "info", "--flag", "--on", "--multi", "x", "y"]


def test_returned_fields_go_into_the_index():
    np = pytest.importorskip("numpy")
    fake = FakeCompiler(returns={"ops_total": 120, "ops_on_neuron": np.int64(118)})
    (config,) = _configs(compiling.compile(fake, "net", "x", filename="idx.json"))
    assert config["ops_total"] == 120
    assert config["ops_on_neuron"] == 118  # numpy scalars become plain JSON numbers

    fake = FakeCompiler(returns={"handle": object()})
    (config,) = _configs(compiling.compile(fake, "net", "x", filename="idx2.json"))
    assert config["status"] == "error"
    assert "field 'handle' that is not JSON data" in config["error"]


def test_filename_and_models_dir_are_used(tmp_path):
    index_file = compiling.compile(
        FakeCompiler(), "net", "x", models_dir=tmp_path / "out", filename="sub/my_index.json"
    )
    assert index_file == "sub/my_index.json"
    (config,) = _configs(index_file)
    assert Path(config["filename"]).parent == tmp_path / "out"


def test_failures_recorded_and_compile_continues():
    fake = FakeCompiler(fail_on={2})
    index_file = compiling.compile(fake, "net", ["a", "b", "c"], batch_sizes=[1, 2, 3])
    assert len(fake.calls) == 3
    configs = _configs(index_file)
    assert [c["status"] for c in configs] == ["finished", "error", "finished"]
    assert configs[1]["error"] == "RuntimeError: compiler exploded on call 2"
    assert "error" not in configs[0]
    # The partial artifact of the failed compile is removed; the others stay.
    assert not os.path.exists(configs[1]["filename"])
    assert os.path.isfile(configs[0]["filename"])
    assert os.path.isfile(configs[2]["filename"])


def test_bad_return_value_and_missing_artifact_are_errors():
    fake = FakeCompiler(returns="not a dict")
    (config,) = _configs(compiling.compile(fake, "net", "x"))
    assert config["status"] == "error"
    assert "compile_fn returned str" in config["error"]

    (config,) = _configs(compiling.compile(lambda *a, **k: None, "net", "x"))
    assert config["status"] == "error"
    assert "did not write" in config["error"]

    fake = FakeCompiler(returns={"status": "fine"})
    (config,) = _configs(compiling.compile(fake, "net", "x"))
    assert config["status"] == "error"
    assert "reserved index field 'status'" in config["error"]


def test_index_written_after_each_compile():
    seen: list[int] = []

    def compile_fn(model, example, filename, compiler_args):
        # The index on disk already holds every variant compiled before this one.
        if os.path.exists("idx.json"):
            seen.append(len(_configs("idx.json")))
        else:
            seen.append(0)
        Path(filename).write_text("x", encoding="utf-8")

    compiling.compile(
        compile_fn, "net", ["a", "b", "c"], batch_sizes=[1, 2, 3], filename="idx.json"
    )
    assert seen == [0, 1, 2]
    assert len(_configs("idx.json")) == 3


def test_crash_keeps_what_was_done(tmp_path):
    """A process killed during the third compile leaves an index with the first two."""
    script = tmp_path / "crash.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            from neuronperf_native import compiling

            calls = []

            def compile_fn(model, example, filename, compiler_args):
                calls.append(filename)
                if len(calls) == 3:
                    os._exit(17)  # no cleanup, no finally blocks
                with open(filename, "w") as f:
                    f.write("artifact")

            compiling.compile(
                compile_fn, "net", ["a", "b", "c", "d"], batch_sizes=[1, 2, 4, 8],
                filename="crash_index.json",
            )
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 17, proc.stderr
    configs = _configs(str(tmp_path / "crash_index.json"))
    assert [(c["batch_size"], c["status"]) for c in configs] == [(1, "finished"), (2, "finished")]
    assert all(os.path.isfile(tmp_path / c["filename"]) for c in configs)
    # No temporary files are left next to the index.
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "crash.py",
        "crash_index.json",
    ]


def test_keyboard_interrupt_propagates_after_writing_done_work():
    calls = []

    def compile_fn(model, example, filename, compiler_args):
        calls.append(filename)
        if len(calls) == 2:
            raise KeyboardInterrupt
        Path(filename).write_text("x", encoding="utf-8")

    with pytest.raises(KeyboardInterrupt):
        compiling.compile(compile_fn, "net", ["a", "b"], batch_sizes=[1, 2], filename="i.json")
    assert [c["batch_size"] for c in _configs("i.json")] == [1]


def test_logs_progress_per_compile(caplog):
    caplog.set_level("INFO", logger="neuronperf_native")
    compiling.compile(FakeCompiler(fail_on={2}), "net", ["a", "b"], batch_sizes=[1, 2])
    messages = [r.getMessage() for r in caplog.records if r.name == "neuronperf_native"]
    assert any(m.startswith("[1/2] compiled input 0, batch_size=1") for m in messages)
    assert any(m.startswith("[2/2] failed to compile input 1, batch_size=2") for m in messages)


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"compile_fn": "nope"}, TypeError, "compile_fn"),
        ({"model": None}, ValueError, "model"),
        ({"inputs": []}, ValueError, "inputs"),
        ({"batch_sizes": [1, 2]}, ValueError, "batch_sizes has 2 value(s)"),
        ({"batch_sizes": 0}, ValueError, "batch_sizes values must be >= 1, got 0"),
        ({"batch_sizes": "1"}, TypeError, "batch_sizes must be an int"),
        ({"batch_sizes": True}, TypeError, "batch_sizes"),
        ({"pipeline_sizes": []}, ValueError, "pipeline_sizes must not be empty"),
        ({"pipeline_sizes": [1, 1]}, ValueError, "pipeline_sizes lists 1 more than once"),
        ({"performance_levels": 4}, ValueError, "performance_levels values must be in [0, 3]"),
        ({"performance_levels": [1.5]}, TypeError, "performance_levels"),
        ({"cast_modes": "fast"}, ValueError, "cast_modes value 'fast'"),
        ({"cast_modes": "all-int4"}, ValueError, "cast_modes value 'all-int4'"),
        ({"cast_modes": "none-bf16"}, ValueError, "'none' takes no data type"),
        ({"cast_modes": [3]}, TypeError, "cast_modes"),
        ({"models_dir": 5}, TypeError, "models_dir"),
        ({"models_dir": ""}, ValueError, "models_dir"),
        ({"model_name": ""}, TypeError, "model_name"),
        ({"filename": 1.5}, TypeError, "filename"),
        ({"compiler_args": "--fast"}, TypeError, "compiler_args must be a dict"),
        ({"compiler_args": [1]}, TypeError, "compiler_args list items must be str"),
        ({"compiler_args": {"x": object()}}, TypeError, "compiler_args['x']"),
        (
            {"compiler_args": ["--neuroncore-pipeline-cores", "4"], "pipeline_sizes": [1, 2]},
            ValueError,
            "compiler_args sets --neuroncore-pipeline-cores, which pipeline_sizes controls",
        ),
        (
            {"compiler_args": {"fast-math": "all"}, "performance_levels": 1},
            ValueError,
            "which performance_levels controls",
        ),
        (
            {"compiler_args": ["--auto-cast-type=fp16"], "cast_modes": "all"},
            ValueError,
            "compiler_args sets --auto-cast-type, which cast_modes controls",
        ),
        ({"verbosity": 3}, ValueError, "verbosity must be 0"),
        ({"artifact_ext": 1}, TypeError, "artifact_ext"),
    ],
)
def test_argument_validation_names_the_parameter(kwargs, exc, words):
    fake = FakeCompiler()
    args = {"compile_fn": fake, "model": "net", "inputs": "x", **kwargs}
    with pytest.raises(exc) as info:
        compiling.compile(**args)
    assert words in str(info.value)
    # Nothing was compiled or written.
    assert fake.calls == []
    assert not os.path.exists("models")
    assert not [p for p in os.listdir(".") if p.endswith(".json")]


def test_user_flags_pass_through_when_no_dimension_controls_them():
    fake = FakeCompiler()
    compiling.compile(fake, "net", "x", compiler_args=["--fast-math", "none"])
    assert fake.calls[0]["compiler_args"] == ["--fast-math", "none"]


def test_index_is_plain_json_with_version():
    index_file = compiling.compile(FakeCompiler(), "net", "x", model_name="m", filename="m.json")
    with open(index_file, encoding="utf-8") as f:
        data = json.load(f)
    assert data["model_name"] == "m"
    assert isinstance(data["version"], str)


# torch 2.10+ deprecates TorchScript; SPEC section 5 still saves CPU artifacts with it.
@pytest.mark.filterwarnings(r"ignore:.*torch\.jit.*deprecated:DeprecationWarning")
def test_real_torch_trace_save_and_load(tmp_path):
    torch = pytest.importorskip("torch")

    def trace_and_save(model, example, filename, compiler_args):
        # Stands in for torch-neuronx's trace on a CPU-only machine; compiler_args
        # would go to neuronx-cc and are unused here.
        traced = torch.jit.trace(model, example)
        torch.jit.save(traced, filename)
        return {"framework": "torch.jit", "torch_version": torch.__version__}

    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3).eval()
    batch_sizes = [1, 2, 4]
    inputs = [torch.randn(b, 8) for b in batch_sizes]
    index_file = compiling.compile(
        trace_and_save,
        model,
        inputs,
        batch_sizes=batch_sizes,
        models_dir=tmp_path / "models",
        artifact_ext=".pt",
    )
    configs = _configs(index_file)
    assert [c["batch_size"] for c in configs] == batch_sizes
    assert model_index.load(index_file)["model_name"] == "Linear"
    for config, example in zip(configs, inputs, strict=True):
        assert config["status"] == "finished"
        assert config["framework"] == "torch.jit"
        loaded = torch.jit.load(config["filename"])
        with torch.no_grad():
            torch.testing.assert_close(loaded(example), model(example))
        assert loaded(example).shape == (config["batch_size"], 3)
