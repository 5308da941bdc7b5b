"""Generated input data: "random" (seeded) and "zero" tensors, one step."""

from __future__ import annotations

import zlib

import numpy as np

from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.decoding import _bytes_array
from neuronperf_native.inputs.memory import BYTES_OBJECT_OVERHEAD, check_fits
from neuronperf_native.inputs.specs import (
    TensorSpec,
    _count,
    _Loc,
    _readonly,
    _resolve_shape,
    float32_to_bf16,
)

_STRING_CHARS = np.frombuffer(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8
)


# Peak bytes per element while generating a type, temporaries included (FP16 and
# BF16 go through float32; BF16's rounding through uint64); others: the itemsize.
_PEAK_BYTES_PER_ELEMENT = {"BOOL": 2, "FP16": 6, "BF16": 23}


def _generation_bytes(
    spec: TensorSpec, count: int, zero: bool, string_length: int, string_data: bytes | None
) -> int:
    """What generating one tensor of ``count`` elements takes at its peak."""
    if spec.dtype == "BYTES":
        if string_data is not None:  # one bytes object, referenced count times
            return count * 8 + len(string_data) + BYTES_OBJECT_OVERHEAD
        # int64 codes and uint8 characters per character, then the bytes objects.
        return count * (9 * string_length + string_length + BYTES_OBJECT_OVERHEAD)
    itemsize = spec.numpy_dtype.itemsize
    return count * (itemsize if zero else _PEAK_BYTES_PER_ELEMENT.get(spec.dtype, itemsize))


def _generate(
    spec: TensorSpec,
    shape: tuple[int, ...],
    zero: bool,
    string_length: int,
    string_data: bytes | None,
    seed: int,
) -> np.ndarray:
    """One synthetic tensor: zeros or seeded random values (BYTES: strings)."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode("utf-8"))])
    count = _count(shape)
    if spec.dtype == "BYTES":
        # perf_analyzer sends --string-data, else random strings, in both modes.
        if string_data is not None:
            return _bytes_array([string_data] * count, shape)
        codes = _STRING_CHARS[rng.integers(0, len(_STRING_CHARS), size=(count, string_length))]
        return _bytes_array([row.tobytes() for row in codes], shape)
    if zero:
        return _readonly(np.zeros(shape, dtype=spec.numpy_dtype))
    if spec.dtype == "BOOL":
        return _readonly(rng.integers(0, 2, size=shape, dtype=np.uint8).astype(np.bool_))
    if spec.dtype in ("FP32", "FP64"):
        return _readonly(rng.random(shape, dtype=spec.numpy_dtype))
    if spec.dtype == "FP16":
        return _readonly(rng.random(shape, dtype=np.float32).astype(np.float16))
    if spec.dtype == "BF16":
        return _readonly(float32_to_bf16(rng.random(shape, dtype=np.float32)))
    info = np.iinfo(spec.numpy_dtype)
    return _readonly(
        rng.integers(info.min, info.max, size=shape, dtype=spec.numpy_dtype, endpoint=True)
    )


def _load_synthetic(inputs, outputs, shapes, zero, string_length, string_data, seed, label):
    step = {}
    planned = []
    for spec in inputs:
        loc = _Loc(f"'{label}' input data", 0, 0, spec.name)
        if spec.is_variable and spec.name not in shapes:
            raise loc.error(
                f"variable-sized shape {list(spec.shape)} needs its dims for {label} data: "
                f"pass shapes={{'{spec.name}': [...]}} (--shape {spec.name}:d1,d2)"
            )
        planned.append((spec, _resolve_shape(spec, None, shapes, loc)))
    needed = 0
    for i, (spec, shape) in enumerate(planned):  # every tensor fits before any is made
        needed += _generation_bytes(spec, _count(shape), zero, string_length, string_data)
        what = f"'{label}' input data for input '{spec.name}' (shape {list(shape)} {spec.dtype})"
        check_fits(what + (" with the inputs before it" if i else ""), needed)
    for spec, shape in planned:
        step[spec.name] = _generate(spec, shape, zero, string_length, string_data, seed)
    return InputData(inputs, outputs, [[step]], [[None]], label)
