"""Packaging: typed package with stubs for the compiled engine, license, metadata, public names."""

import ast
import importlib.metadata
from pathlib import Path

import neuronperf_native
from neuronperf_native import _engine

PACKAGE = Path(neuronperf_native.__file__).parent
STUB = Path(__file__).parents[1] / "src" / "neuronperf_native" / "_engine.pyi"


def test_the_installed_package_is_typed_and_carries_the_engine_stubs():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_engine.pyi").read_text() == STUB.read_text()


def test_the_stubs_name_what_the_compiled_module_defines():
    """A binding added without regenerating the stubs fails here (CI also diffs them)."""
    tree = ast.parse(STUB.read_text())
    (declared,) = [
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "__all__"
    ]
    stub_names = {ast.literal_eval(element) for element in declared.elts}
    runtime = {name for name in vars(_engine) if not name.startswith("_")}
    assert stub_names == runtime
    histogram = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Histogram")
    stub_methods = {n.name for n in histogram.body if isinstance(n, ast.FunctionDef)}
    assert stub_methods >= {m for m in vars(_engine.Histogram) if not m.startswith("_")}


def test_metadata_license_and_classifiers():
    meta = importlib.metadata.metadata("neuronperf-native")
    classifiers = meta.get_all("Classifier")
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert "Typing :: Typed" in classifiers
    assert "Apache-2.0" in (meta.get("License") or meta.get("License-Expression") or "")
    license_text = (Path(__file__).parents[1] / "LICENSE").read_text()
    assert license_text.lstrip().startswith("Apache License") and "Version 2.0" in license_text


def test_dir_shows_only_public_names():
    names = dir(neuronperf_native)
    lazy = {"torch", "tensorflow", "mxnet", "inputs", "devices", "launcher", "serving"}
    assert names == sorted(set(neuronperf_native.__all__) | lazy)
    assert [n for n in names if n.startswith("_")] == ["__version__"]
    assert "importlib" not in names and "Any" not in names and "annotations" not in names
    for name in names:
        if name not in ("torch", "tensorflow", "mxnet"):  # lazily imported frameworks
            assert getattr(neuronperf_native, name) is not None
