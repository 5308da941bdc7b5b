"""load_input_data: checks the arguments and dispatches to a loader by source."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.directory import _load_directory
from neuronperf_native.inputs.generated import _load_synthetic
from neuronperf_native.inputs.json_files import _load_json_files
from neuronperf_native.inputs.specs import (
    InputDataError,
    TensorSpec,
    _check_shapes,
    _check_specs,
    _is_int,
)


def load_input_data(
    source: Any = "random",
    inputs: Sequence[TensorSpec] = (),
    outputs: Sequence[TensorSpec] = (),
    batch_size: int = 1,
    shapes: Mapping[str, Sequence[int]] | None = None,
    string_length: int = 128,
    string_data: str | bytes | None = None,
    seed: int = 0,
) -> InputData:
    """Load and check input data from a perf_analyzer-style source, once, up front.

    ``source``: "random", "zero", a directory, a JSON file, or a list of JSON
    files (loaded in order, steps appended). ``shapes`` gives the dims of
    variable-sized tensors (a step's own ``shape`` field wins). The batches for
    ``batch_size`` are precomputed so the first ``batches()`` call is free.
    """
    input_specs = _check_specs(inputs, "inputs")
    output_specs = _check_specs(outputs, "outputs")
    if not input_specs:
        raise InputDataError("inputs is empty: give a TensorSpec for each model input")
    clash = {s.name for s in input_specs} & {s.name for s in output_specs}
    if clash:
        raise InputDataError(f"tensor name(s) {sorted(clash)} appear in both inputs and outputs")
    known = {s.name: s for s in (*input_specs, *output_specs)}
    shape_map = _check_shapes(shapes, known)
    if not _is_int(batch_size) or batch_size < 1:
        raise InputDataError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not _is_int(string_length) or string_length < 0:
        raise InputDataError(f"string_length must be an integer >= 0, got {string_length!r}")
    if string_data is not None and not isinstance(string_data, (str, bytes)):
        raise InputDataError(f"string_data must be a str, bytes or None, got {string_data!r}")
    if isinstance(string_data, str):
        string_data = string_data.encode("utf-8")
    if not _is_int(seed):
        raise InputDataError(f"seed must be an integer, got {seed!r}")

    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and source in ("random", "zero"):
        data = _load_synthetic(
            input_specs,
            output_specs,
            shape_map,
            source == "zero",
            int(string_length),
            string_data,
            int(seed),
            source,
        )
    elif isinstance(source, str):
        if os.path.isdir(source):
            data = _load_directory(source, input_specs, output_specs, shape_map)
        elif os.path.exists(source):
            data = _load_json_files([source], input_specs, output_specs, shape_map)
        else:
            raise InputDataError(
                f"source {source!r} is not 'random', 'zero', an existing directory or a JSON file"
            )
    elif isinstance(source, (list, tuple)):
        if not source:
            raise InputDataError("source is an empty list: give at least one JSON file")
        paths = []
        for item in source:
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            if not isinstance(item, str):
                raise InputDataError(f"source list must hold JSON file paths, got {item!r}")
            if os.path.isdir(item):
                raise InputDataError(f"source list item {item!r} is a directory, not a JSON file")
            paths.append(item)
        data = _load_json_files(paths, input_specs, output_specs, shape_map)
    else:
        raise InputDataError(
            "source must be 'random', 'zero', a directory, a JSON file path or a list of JSON "
            f"file paths, got {type(source).__name__}"
        )
    data.batches(int(batch_size))
    return data
