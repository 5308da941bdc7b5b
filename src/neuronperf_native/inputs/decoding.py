"""Decoding one tensor value (flat list, b64, raw bytes, content object) into numpy.

Every value is checked against its TensorSpec: element types, the type's range,
the element count of the step's shape. Stored arrays are read-only: the same data
is reused for every inference, so a model must not be able to change it in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
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
    bf16_to_float32,
    float32_to_bf16,
)

# Keys a step may hold besides tensor names (perf_analyzer allows "model").
_STEP_EXTRA_KEYS = frozenset({"model"})
_MISSING = object()


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


# The little-endian dtype raw data of each numeric type is read as.
_LITTLE_ENDIAN = {
    name: dtype.newbyteorder("<") for name, dtype in _TRITON_TO_NUMPY.items() if name != "BYTES"
}


def _size_error(
    loc: _Loc, what: str, size: int, spec: TensorSpec, shape: tuple[int, ...]
) -> InputDataError:
    """Raw data of the wrong size for a fixed-size type."""
    count, itemsize = _count(shape), spec.numpy_dtype.itemsize
    return loc.error(
        f"{what} has {size} bytes, expected {count * itemsize} "
        f"({count} {spec.dtype} elements of {itemsize} bytes for shape {list(shape)})"
    )


def _from_raw(raw: bytes, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc, what: str):
    """Decode raw little-endian row-major bytes (or length-prefixed BYTES)."""
    count = _count(shape)
    if spec.dtype == "BYTES":
        return _bytes_array(_split_length_prefixed(raw, count, loc, what), shape)
    if len(raw) != count * spec.numpy_dtype.itemsize:
        raise _size_error(loc, what, len(raw), spec, shape)
    if spec.dtype == "BOOL":
        return _readonly(np.frombuffer(raw, dtype=np.uint8).astype(np.bool_).reshape(shape))
    arr = np.frombuffer(raw, dtype=_LITTLE_ENDIAN[spec.dtype])
    if not arr.dtype.isnative:
        arr = arr.astype(spec.numpy_dtype)
    # A view of immutable bytes is read-only already.
    return arr.reshape(shape) if isinstance(raw, bytes) else _readonly(arr.reshape(shape))


def _from_b64(obj: dict, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    """A {"b64": ...} tensor; the JSON reader hands over valid base64 decoded (bytes)."""
    encoded = obj["b64"]
    if isinstance(encoded, bytes):
        return _from_raw(encoded, spec, shape, loc, "b64 data")
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


# The one range rule for JSON numbers: a number fits a numeric type when the type
# holds it (integers: exactly, within the type's bounds; floats: rounded to
# nearest, to a finite value). NaN and +-Infinity (Python's json accepts them)
# fit the float types; a literal beyond double's range (1e400, which the reader
# hands over as a Decimal rather than json.load's inf) fits none.

# Largest finite value of each float type, for messages.
_FLOAT_MAX = {
    "FP16": float(np.finfo(np.float16).max),
    "BF16": float(bf16_to_float32(np.uint16(0x7F7F))[0]),
    "FP32": float(np.finfo(np.float32).max),
    "FP64": float(np.finfo(np.float64).max),
}


def _float_tensor(floats: np.ndarray, spec: TensorSpec, shape: tuple[int, ...]) -> np.ndarray:
    """float64 or float32 values rounded to spec's float type (BF16: bit patterns);
    values beyond its range become infinite here, for _first_overflow to find."""
    with np.errstate(over="ignore"):
        if spec.dtype == "BF16":
            held = float32_to_bf16(floats.astype(np.float32, copy=False))
        else:
            held = floats.astype(spec.numpy_dtype, copy=False)
    return _readonly(held.reshape(shape))


def _first_overflow(floats: np.ndarray, tensor: np.ndarray, spec: TensorSpec) -> int:
    """Index of the first finite value that spec's type holds as infinite, else -1."""
    flat = tensor.reshape(-1)
    infinite = (flat & 0x7FFF) == 0x7F80 if spec.dtype == "BF16" else np.isinf(flat)
    if not infinite.any():  # one reduction settles the common case
        return -1
    overflow = infinite & np.isfinite(floats.reshape(-1))
    return int(np.argmax(overflow)) if overflow.any() else -1


def _fits_float(value: int | float | Decimal, spec: TensorSpec) -> bool:
    """The range rule for one number and a float type (the slow, exact path)."""
    if type(value) is Decimal:
        return False
    try:
        f64 = np.array([float(value)])
    except OverflowError:  # an integer beyond double's range
        return False
    return not np.isfinite(f64[0]) or _first_overflow(f64, _float_tensor(f64, spec, (1,)), spec) < 0


def _range_error(loc: _Loc, values: list, bad: int, dtype: str) -> InputDataError:
    if dtype in _FLOAT_TYPES:
        bounds = f"its largest finite value is {_FLOAT_MAX[dtype]:.9g}"
    else:
        info = np.iinfo(_TRITON_TO_NUMPY[dtype])
        bounds = f"[{info.min}, {info.max}]"
    return loc.error(
        f"element {bad} ({_json_text(values[bad])}) is out of range for {dtype} ({bounds})"
    )


def _float_values(values: list, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    """A list of numbers (int, float, Decimal) as spec's float type, range-checked."""
    huge = Decimal in set(map(type, values))
    try:
        f64 = None if huge else np.array(values, dtype=np.float64)
    except OverflowError:
        f64 = None
    if f64 is not None:
        tensor = _float_tensor(f64, spec, shape)
        if _first_overflow(f64, tensor, spec) < 0:
            return tensor
    bad = next(i for i, v in enumerate(values) if not _fits_float(v, spec))
    raise _range_error(loc, values, bad, spec.dtype)


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
            tensor = _float_tensor(floats, spec, shape)
            # A float32 (float64) holds no finite value beyond FP32 (FP64).
            wider = ("FP32", "FP64") if floats.dtype == np.float32 else ("FP64",)
            if spec.dtype in wider or _first_overflow(floats, tensor, spec) < 0:
                return tensor
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
        bad = _first_not(values, (str, int, float, bool, Decimal))
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
        if types - {int, float, Decimal}:
            bad = _first_not(values, (int, float, Decimal))
            raise _element_error(loc, values, bad, f"a number for {dtype}")
        return _float_values(values, spec, shape, loc)
    # Integer types.
    if types - {int, Decimal}:
        bad = _first_not(values, (int, Decimal))
        raise _element_error(loc, values, bad, f"an integer for {dtype}")
    info = np.iinfo(spec.numpy_dtype)
    if Decimal in types or (values and (min(values) < info.min or max(values) > info.max)):
        bad = next(
            i for i, v in enumerate(values) if type(v) is Decimal or not info.min <= v <= info.max
        )
        raise _range_error(loc, values, bad, dtype)
    return _readonly(np.array(values, dtype=spec.numpy_dtype).reshape(shape))


# The reader's arrays that already hold a type's values exactly, with no check due.
_HELD_AS_IS = {
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "INT64": np.dtype(np.int64),
}


def _fast_tensor(value: Any, spec: TensorSpec) -> np.ndarray | None:
    """The common forms of a fixed-shape tensor, decoded without checks that cannot
    fail; None for anything else (decoded by _decode_tensor)."""
    if spec.is_variable:
        return None
    if type(value) is np.ndarray:
        held = _HELD_AS_IS.get(spec.dtype)  # (a dtype compares equal to None: float64)
        if held is not None and value.dtype == held and value.size == _count(spec.shape):
            return _readonly(value.reshape(spec.shape))
    elif type(value) is dict and len(value) == 1:
        raw = value.get("b64")
        if type(raw) is bytes and spec.dtype not in ("BYTES", "BOOL"):
            dtype = _LITTLE_ENDIAN[spec.dtype]
            if dtype.isnative and len(raw) == _count(spec.shape) * dtype.itemsize:
                # A view of immutable bytes: read-only.
                return np.frombuffer(raw, dtype=dtype).reshape(spec.shape)
    return None


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
        value = step.get(name, _MISSING)
        fast = None if value is _MISSING else _fast_tensor(value, spec)
        if fast is not None:
            tensors[name] = fast
            continue
        tloc = _Loc(loc.file, loc.stream, loc.step, name, loc.section)
        if value is _MISSING:
            if require_all and not spec.optional:
                raise tloc.error("missing tensor: the step has no value for it")
            continue
        tensors[name] = _decode_tensor(value, spec, shapes, tloc)
    return tensors
