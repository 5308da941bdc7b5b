"""`bench MODEL`: which framework runs it, and how its inputs are declared.

MODEL is a TorchScript file, a model index, a SavedModel directory, or
`module:Class` / `path/to/file.py:Class`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Any

from neuronperf_native.cli._args import _check_sample_size, parse_input_arg
from neuronperf_native.cli._common import UsageError

#: Model file extensions benchmarked with npf.torch.
TORCH_EXTENSIONS = (".pt", ".pth", ".ts", ".torchscript")
#: --framework choices.
FRAMEWORKS = ("torch", "tensorflow", "cpu")
#: Input name used when a model class is benchmarked without --input.
DEFAULT_INPUT_NAME = "INPUT0"


def _is_class_spec(model: str) -> bool:
    head, sep, tail = model.rpartition(":")
    return bool(sep and head and tail.isidentifier() and not os.path.exists(model))


def _import_class(spec: str) -> type:
    """`module:Class` or `path/to/file.py:Class` -> the class (the module is imported)."""
    target, _, class_name = spec.rpartition(":")
    if target.endswith(".py"):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise UsageError(f"model file {target!r} not found")
        directory = os.path.dirname(path)
        # Children started by spawn re-import the module by name: keep it on sys.path.
        if directory not in sys.path:
            sys.path.insert(0, directory)
        module_name = os.path.splitext(os.path.basename(path))[0]
        loaded = sys.modules.get(module_name)
        if loaded is None or os.path.abspath(getattr(loaded, "__file__", "") or "") != path:
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise UsageError(f"cannot import {target!r} as a Python module")
            loaded = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = loaded
            module_spec.loader.exec_module(loaded)
        module = loaded
    else:
        # As `python -m` does: modules in the current directory import by name.
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise UsageError(f"cannot import module {target!r}: {error}") from None
    model_class = getattr(module, class_name, None)
    if not isinstance(model_class, type):
        raise UsageError(f"{target!r} has no class {class_name!r}")
    return model_class


def _index_framework(index: dict[str, Any], path: str) -> str:
    """Framework of an index's artifacts, from their extensions (or SavedModel dirs)."""
    kinds = set()
    for config in index["model_configs"]:
        filename = str(config["filename"])
        if filename.lower().endswith(TORCH_EXTENSIONS):
            kinds.add("torch")
        elif os.path.isdir(filename) or not os.path.splitext(filename)[1]:
            kinds.add("tensorflow")
    if len(kinds) != 1:
        raise UsageError(
            f"cannot infer the framework of model index {path} from its artifacts "
            f"({', '.join(sorted(kinds)) or 'no known extension'}): pass --framework"
        )
    return kinds.pop()


def _resolve_model(model: str, framework: str | None) -> tuple[str, Any, str]:
    """(kind, model argument, framework) with kind one of "class", "index", "file"."""
    if _is_class_spec(model):
        return "class", _import_class(model), framework or "cpu"
    if not os.path.exists(model):
        raise UsageError(
            f"model {model!r} not found: give a model file, a model index (.json), a "
            "SavedModel directory, or module:Class / file.py:Class"
        )
    if framework == "cpu":
        raise UsageError("--framework cpu benchmarks a model class: give MODEL as module:Class")
    if model.endswith(".json"):
        from neuronperf_native import model_index

        index = model_index.load(model)
        return "index", index, framework or _index_framework(index, model)
    if os.path.isdir(model):
        if framework is None and not os.path.isfile(os.path.join(model, "saved_model.pb")):
            raise UsageError(
                f"{model} is a directory without saved_model.pb: pass --framework if it is a model"
            )
        return "file", model, framework or "tensorflow"
    if framework is None:
        if not model.lower().endswith(TORCH_EXTENSIONS):
            raise UsageError(
                f"cannot infer the framework of {model} from its extension: pass "
                "--framework (torch for .pt/.pth/.ts)"
            )
        framework = "torch"
    return "file", model, framework


def _framework_benchmark(framework: str) -> Any:
    """The benchmark function of a framework submodule, with a clear error if missing."""
    if framework == "cpu":
        from neuronperf_native import cpu

        return cpu.benchmark
    try:
        module = importlib.import_module(f"neuronperf_native.{framework}")
    except ImportError as error:
        raise UsageError(
            f"framework {framework!r} is not available (neuronperf_native.{framework}: "
            f"{error}); install it with: pip install 'neuronperf-native[{framework}]'"
        ) from None
    return module.benchmark


def _input_specs(args: argparse.Namespace, shapes: dict[str, list[int]]) -> list[Any]:
    """The declared model inputs; a model class without --input gets one FP32 input."""
    from neuronperf_native.inputs import TensorSpec

    if args.input:
        specs = [parse_input_arg(text) for text in args.input]
        for spec in specs:
            if spec.name in shapes:
                _check_sample_size("--shape", spec, shapes[spec.name])
        return specs
    if len(shapes) == 1:
        name, dims = next(iter(shapes.items()))
        spec = TensorSpec(name, "FP32", tuple(dims))
        _check_sample_size("--shape", spec, spec.shape)
        return [spec]
    raise UsageError(
        "declare the model inputs with --input NAME:DTYPE:d1,d2 (repeat per input), or "
        "for a single FP32 input give only its shape with --shape NAME:d1,d2"
    )
