"""benchmark()'s ``inputs`` and ``input_data`` arguments -> the InputData it feeds."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native.engine import _as_args
from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.loading import load_input_data
from neuronperf_native.inputs.specs import TensorSpec


def as_numpy(value: Any) -> np.ndarray:
    """A model output as numpy: torch (detach, to CPU), TensorFlow, MXNet or array-like."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "asnumpy"):
        return value.asnumpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return value.numpy()
    return np.asarray(value)


def _example_specs(inputs: Any, names: Sequence[str] | None) -> list[TensorSpec]:
    """TensorSpecs from example inputs (one array, a tuple or a dict, or a list of them
    per batch size): dtype and shape without the leading batch dim of the first one."""
    example = inputs[0] if isinstance(inputs, list) and inputs else inputs
    if isinstance(example, Mapping):
        keys = list(example)
        values = list(example.values())
    else:
        values = list(_as_args(example))
        keys = list(names) if names is not None else [f"INPUT{i}" for i in range(len(values))]
    if names is not None and len(names) != len(values):
        raise ValueError(
            f"input_names has {len(names)} names but the example inputs hold {len(values)} tensors"
        )
    specs = []
    for key, value in zip(keys, values, strict=True):
        array = as_numpy(value)
        if array.ndim == 0:
            raise ValueError(
                f"input {key!r}: the example input is a scalar; input_data needs example "
                "inputs with a leading batch dimension"
            )
        dtype = "BYTES" if array.dtype.kind in "OSU" else array.dtype
        specs.append(TensorSpec(str(key), dtype, tuple(array.shape[1:])))
    return specs


def resolve_input_data(
    inputs: Any, input_data: Any, input_names: Sequence[str] | None
) -> InputData | None:
    """The InputData a benchmark feeds, or None for plain inputs.

    ``inputs`` may itself be an InputData. ``input_data`` is an InputData or a source
    for load_input_data ("random", "zero", a directory, JSON file(s)); a source's
    tensors are described by the example ``inputs`` (dtypes and per-sample shapes),
    named by ``input_names`` (or the example dict's keys, or INPUT0, INPUT1, ...).
    """
    if input_names is not None:
        if isinstance(input_names, str) or not all(isinstance(n, str) for n in input_names):
            raise TypeError(f"input_names must be a list of str, got {input_names!r}")
        input_names = list(input_names)
        if len(set(input_names)) != len(input_names):
            raise ValueError(f"input_names has duplicates: {input_names}")
    if isinstance(inputs, InputData):
        if input_data is not None:
            raise ValueError("give input data either as inputs or as input_data=, not both")
        return inputs
    if input_data is None:
        return None
    if isinstance(input_data, InputData):
        return input_data
    if isinstance(input_data, (str, os.PathLike, list, tuple)):
        if inputs is None or (isinstance(inputs, list) and not inputs):
            raise ValueError(
                "input_data given as a source needs example inputs (one batch) to describe "
                "the tensors' dtypes and shapes"
            )
        specs = _example_specs(inputs, input_names)
        return load_input_data(input_data, specs)
    raise TypeError(
        "input_data must be an InputData or a source ('random', 'zero', a directory, JSON "
        f"file paths), got {type(input_data).__name__}"
    )
