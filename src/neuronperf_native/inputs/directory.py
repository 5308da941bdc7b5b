"""Directory input data: one raw little-endian file per input (BYTES: text lines)."""

from __future__ import annotations

import os

import numpy as np

from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.decoding import _bytes_array, _from_raw, _size_error
from neuronperf_native.inputs.memory import BYTES_OBJECT_OVERHEAD, check_fits
from neuronperf_native.inputs.specs import InputDataError, TensorSpec, _count, _Loc, _resolve_shape


def _load_directory(path: str, inputs, outputs, shapes) -> InputData:
    """One step from a directory holding one raw file per input (and output)."""
    known = {s.name: s for s in (*inputs, *outputs)}
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise InputDataError(f"{path}: cannot list the directory: {exc.strerror}") from None
    for entry in entries:
        if entry.startswith("."):
            continue
        if entry not in known:
            raise InputDataError(
                f"{path}: file '{entry}' does not correspond to a model input or output "
                f"(known: {sorted(known)})"
            )
        if not os.path.isfile(os.path.join(path, entry)):
            raise InputDataError(f"{path}: '{entry}' is not a regular file")

    def read(spec: TensorSpec, is_input: bool) -> np.ndarray | None:
        file = os.path.join(path, spec.name)
        loc = _Loc(file, 0, 0, spec.name, "data" if is_input else "validation_data")
        if not os.path.exists(file):
            if is_input and not spec.optional:
                raise InputDataError(
                    f"{path}: no file for input '{spec.name}': the directory needs one raw "
                    f"file per input, named as the input (has: {entries})"
                )
            return None
        shape = _resolve_shape(spec, None, shapes, loc)
        try:
            with open(file, "rb") as f:
                # Sizes are checked before reading: a wrong (or sparse, huge) file is
                # refused without reading it.
                size = os.fstat(f.fileno()).st_size
                if spec.dtype != "BYTES" and size != _count(shape) * spec.numpy_dtype.itemsize:
                    raise _size_error(loc, "the file", size, spec, shape)
                if spec.dtype == "BYTES":
                    # The text, its lines and one bytes object per line.
                    needed = 2 * size + _count(shape) * BYTES_OBJECT_OVERHEAD
                    check_fits(f"{file}: reading the text file", needed)
                raw = f.read()
        except OSError as exc:
            raise loc.error(f"cannot read the file: {exc.strerror}") from None
        if spec.dtype != "BYTES":
            return _from_raw(raw, spec, shape, loc, "the file")
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if len(lines) != _count(shape):
            raise loc.error(
                f"the text file has {len(lines)} lines (one element per line), expected "
                f"{_count(shape)} for shape {list(shape)}"
            )
        return _bytes_array(lines, shape)

    step = {}
    for spec in inputs:
        value = read(spec, True)
        if value is not None:
            step[spec.name] = value
    expected = {}
    for spec in outputs:
        value = read(spec, False)
        if value is not None:
            expected[spec.name] = value
    return InputData(inputs, outputs, [[step]], [[expected or None]], path)
