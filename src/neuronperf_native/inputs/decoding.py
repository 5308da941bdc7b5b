"""Decoding one tensor value (flat list, b64, raw bytes, content object) into numpy.

Every value is checked against its TensorSpec: element types, the type's range,
the element count of the step's shape. Stored arrays are read-only: the same data
is reused for every inference, so a model must not be able to change it in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from neuronperf_native import _engine
from neuronperf_native.inputs.specs import (
    _FLOAT_TYPES,
    _TRITON_TO_NUMPY,
    InputDataError,
    TensorSpec,
    _count,
    _json_kind,
    _json_text,
    _Loc,
    _readonly,
    _resolve_shape,
    float32_to_bf16,
)

# Keys a step may hold besides tensor names (perf_analyzer allows "model").
_STEP_EXTRA_KEYS = frozenset({"model"})


def _bytes_array(elements: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
    arr = np.empty(len(elements), dtype=object)
    arr[:] = elements
    return _readonly(arr.reshape(shape))


def _split_length_prefixed(raw: bytes, count: int, loc: _Loc, what: str) -> list[bytes]:
    """Split BYTES data serialised as (4-byte LE length, bytes) pairs."""
    elements = []
    pos, end = 0, len(raw)
    while pos < end:
        if end - pos < 4:
            raise loc.error(
                f"{what}: element {len(elements)} is cut short: {end - pos} byte(s) left "
                "where a 4-byte length prefix was expected"
            )
        size = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if end - pos < size:
            raise loc.error(
                f"{what}: element {len(elements)} declares {size} bytes but only {end - pos} remain"
            )
        elements.append(raw[pos : pos + size])
        pos += size
    if len(elements) != count:
        raise loc.error(f"{what} holds {len(elements)} string elements, expected {count}")
    return elements


def _from_raw(raw: bytes, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc, what: str):
    """Decode raw little-endian row-major bytes (or length-prefixed BYTES)."""
    count = _count(shape)
    if spec.dtype == "BYTES":
        return _bytes_array(_split_length_prefixed(raw, count, loc, what), shape)
    itemsize = spec.numpy_dtype.itemsize
    if len(raw) != count * itemsize:
        raise loc.error(
            f"{what} has {len(raw)} bytes, expected {count * itemsize} "
            f"({count} {spec.dtype} elements of {itemsize} bytes for shape {list(shape)})"
        )
    if spec.dtype == "BOOL":
        return _readonly(np.frombuffer(raw, dtype=np.uint8).astype(np.bool_).reshape(shape))
    arr = np.frombuffer(raw, dtype=spec.numpy_dtype.newbyteorder("<"))
    if not arr.dtype.isnative:
        arr = arr.astype(spec.numpy_dtype)
    return _readonly(arr.reshape(shape))


def _from_b64(obj: dict, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    encoded = obj["b64"]
    if not isinstance(encoded, str):
        raise loc.error(f"the 'b64' value must be a string, got {_json_kind(encoded)}")
    try:
        raw = _engine.b64decode(encoded)
    except ValueError as exc:
        raise loc.error(f"bad b64 data: {exc}") from None
    return _from_raw(raw, spec, shape, loc, "b64 data")


def _first_not(values: list, allowed: tuple[type, ...]) -> int:
    for i, v in enumerate(values):
        if type(v) not in allowed:
            return i
    return -1


# Largest finite value of each float type (BF16 has float32's exponent range).
_FLOAT_MAX = {
    name: float(np.finfo(np.float32 if name == "BF16" else _TRITON_TO_NUMPY[name]).max)
    for name in _FLOAT_TYPES
}


def _first_out_of_float_range(floats: np.ndarray, spec: TensorSpec) -> int:
    """Index of the first finite value beyond the largest of spec's float type, else -1."""
    limit = _FLOAT_MAX[spec.dtype]
    # Two reductions settle the common case; NaN or infinity fails them and
    # takes the exact elementwise check.
    if floats.size == 0 or (float(floats.max()) <= limit and float(floats.min()) >= -limit):
        return -1
    f64 = floats.astype(np.float64, copy=False)
    too_big = np.isfinite(f64) & (np.abs(f64) > limit)
    return int(np.argmax(too_big)) if too_big.any() else -1


def _float_tensor(floats: np.ndarray, spec: TensorSpec, shape: tuple[int, ...]) -> np.ndarray:
    """Checked float64 or float32 values as spec's float type (BF16: bit patterns)."""
    if spec.dtype == "BF16":
        return _readonly(float32_to_bf16(floats.astype(np.float32, copy=False)).reshape(shape))
    return _readonly(floats.astype(spec.numpy_dtype, copy=False).reshape(shape))


def _from_numbers(values: np.ndarray, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    """_from_list for the native reader's int64 / float64 / float32 arrays, with
    no Python object per element (float32 ones hold their values exactly, and
    an FP32 tensor keeps the reader's array without a copy).

    Values the checks would reject go through _from_list as ``values.tolist()``,
    which is exactly the list json.load gives, so every error reads the same.
    """
    if len(values) == _count(shape):
        if spec.dtype in _FLOAT_TYPES:
            floats = values if values.dtype.kind == "f" else values.astype(np.float64)
            # No finite float32 (float64) exceeds FP32 or BF16 (FP64): skip the check.
            held = "FP32" if floats.dtype == np.float32 else "FP64"
            cannot_overflow = _FLOAT_MAX[held] <= _FLOAT_MAX[spec.dtype]
            if cannot_overflow or _first_out_of_float_range(floats, spec) < 0:
                return _float_tensor(floats, spec, shape)
        elif spec.dtype not in ("BOOL", "BYTES") and values.dtype == np.int64:
            info = np.iinfo(spec.numpy_dtype)
            if info.min <= int(values.min()) and int(values.max()) <= info.max:
                return _readonly(values.astype(spec.numpy_dtype, copy=False).reshape(shape))
    return _from_list(values.tolist(), spec, shape, loc)


def _element_error(loc: _Loc, values: list, bad: int, expected: str) -> InputDataError:
    return loc.error(f"element {bad} is {_json_text(values[bad])}, expected {expected}")


def _from_list(values: list, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    """Decode a flat row-major JSON list, checking element types and ranges."""
    if isinstance(values, np.ndarray):
        return _from_numbers(values, spec, shape, loc)
    count = _count(shape)
    types = set(map(type, values))
    if list in types or dict in types:
        bad = _first_not(values, (str, int, float, bool))
        raise loc.error(
            f"element {bad} is {_json_kind(values[bad])}: tensor values must be a flat "
            "row-major array (nested arrays are not accepted, as in perf_analyzer)"
        )
    if len(values) != count:
        raise loc.error(f"has {len(values)} elements, expected {count} for shape {list(shape)}")
    dtype = spec.dtype
    if dtype == "BYTES":
        if types - {str}:
            bad = _first_not(values, (str,))
            raise _element_error(loc, values, bad, "a string for BYTES")
        return _bytes_array([v.encode("utf-8", "surrogatepass") for v in values], shape)
    if dtype == "BOOL":
        if types - {bool}:
            bad = _first_not(values, (bool,))
            raise _element_error(loc, values, bad, "true or false for BOOL")
        return _readonly(np.array(values, dtype=np.bool_).reshape(shape))
    if dtype in _FLOAT_TYPES:
        if types - {int, float}:
            bad = _first_not(values, (int, float))
            raise _element_error(loc, values, bad, f"a number for {dtype}")
        try:
            f64 = np.array(values, dtype=np.float64)
        except OverflowError:
            bad = next(i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > 1e308)
            raise loc.error(f"element {bad} is out of range for {dtype}") from None
        bad = _first_out_of_float_range(f64, spec)
        if bad >= 0:
            raise loc.error(f"element {bad} ({values[bad]!r}) is out of range for {dtype}")
        return _float_tensor(f64, spec, shape)
    # Integer types.
    if types - {int}:
        bad = _first_not(values, (int,))
        raise _element_error(loc, values, bad, f"an integer for {dtype}")
    info = np.iinfo(spec.numpy_dtype)
    if values and (min(values) < info.min or max(values) > info.max):
        bad = next(i for i, v in enumerate(values) if not info.min <= v <= info.max)
        raise loc.error(
            f"element {bad} ({values[bad]}) is out of range for {dtype} [{info.min}, {info.max}]"
        )
    return _readonly(np.array(values, dtype=spec.numpy_dtype).reshape(shape))


def _decode_tensor(value: Any, spec: TensorSpec, shapes: Mapping[str, list[int]], loc: _Loc):
    """Decode one tensor of one step from its JSON value."""
    own_shape = None
    if isinstance(value, (list, np.ndarray)):
        content = value
    elif isinstance(value, dict):
        unknown = set(value) - {"b64", "content", "shape"}
        if unknown:
            raise loc.error(
                f"unknown field(s) {sorted(unknown)}: a tensor object holds 'content' "
                "(or 'b64') and an optional 'shape'"
            )
        if "shape" in value:
            own_shape = value["shape"]
            if own_shape is None:
                raise loc.error("non-integer shape null: 'shape' must be an array of integers")
        if "b64" in value:
            if "content" in value:
                raise loc.error("has both 'b64' and 'content' fields; give one")
            content = value
        elif "content" in value:
            content = value["content"]
        else:
            raise loc.error("missing 'content' field (a tensor object needs 'content' or 'b64')")
    else:
        raise loc.error(
            'expected an array, {"b64": ...} or {"content": ..., "shape": [...]}, '
            f"got {_json_kind(value)} {_json_text(value)}"
        )
    shape = _resolve_shape(spec, own_shape, shapes, loc)
    if isinstance(content, (list, np.ndarray)):
        return _from_list(content, spec, shape, loc)
    if isinstance(content, dict) and "b64" in content and content is value:
        return _from_b64(content, spec, shape, loc)
    if isinstance(content, dict) and set(content) == {"b64"}:
        return _from_b64(content, spec, shape, loc)
    raise loc.error(
        "'content' must be an array or {\"b64\": ...}, got "
        f"{_json_kind(content)} "
        f"{_json_text(content)}"
    )


def _decode_step(
    step: Any,
    specs: Mapping[str, TensorSpec],
    shapes: Mapping[str, list[int]],
    loc: _Loc,
    require_all: bool,
) -> dict[str, np.ndarray]:
    """Decode every tensor of one step; unknown names and missing tensors are errors."""
    if not isinstance(step, dict):
        raise loc.error(
            f"each entry of '{loc.section}' must be an object mapping tensor names to values, "
            f"got {_json_kind(step)} {_json_text(step)}"
        )
    unknown = [k for k in step if k not in specs and k not in _STEP_EXTRA_KEYS]
    if unknown:
        kind = "output" if loc.section == "validation_data" else "input"
        raise loc.at(tensor=unknown[0]).error(
            f"unknown tensor name: the model has no {kind} '{unknown[0]}' (known: {sorted(specs)})"
        )
    tensors = {}
    for name, spec in specs.items():
        tloc = _Loc(loc.file, loc.stream, loc.step, name, loc.section)
        if name not in step:
            if require_all and not spec.optional:
                raise tloc.error("missing tensor: the step has no value for it")
            continue
        tensors[name] = _decode_tensor(step[name], spec, shapes, tloc)
    return tensors
