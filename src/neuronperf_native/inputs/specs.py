"""Tensor specs and data types: TensorSpec, Triton dtype names, shapes, error locations.

Data types are Triton names (BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32,
FP64, BYTES; STRING is accepted as an alias of BYTES) or numpy dtypes. numpy has
no bfloat16, so BF16 tensors are held as ``uint16`` arrays of bfloat16 bit
patterns (``ml_dtypes`` is not used even when installed, so results do not
depend on the environment); :func:`bf16_to_float32` and
:func:`float32_to_bf16` convert. BYTES tensors are numpy object arrays of
``bytes``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np


class InputDataError(ValueError):
    """Bad input data or bad arguments: the message says where and what."""


# Triton data type name -> numpy dtype used to hold it (BF16: bit patterns).
_TRITON_TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "BF16": np.dtype(np.uint16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_ALIASES = {"STRING": "BYTES", "TYPE_STRING": "BYTES"}
_NUMPY_TO_TRITON = {v: k for k, v in _TRITON_TO_NUMPY.items() if k not in ("BF16", "BYTES")}
_FLOAT_TYPES = ("FP16", "BF16", "FP32", "FP64")


def _normalize_dtype(dtype: Any) -> str:
    """Map a Triton name or numpy dtype to the canonical Triton name."""
    if isinstance(dtype, str):
        upper = dtype.strip().upper()
        upper = upper[5:] if upper.startswith("TYPE_") and upper != "TYPE_STRING" else upper
        upper = _ALIASES.get(upper, upper)
        if upper in _TRITON_TO_NUMPY:
            return upper
    if dtype in (bytes, str, object):
        return "BYTES"
    try:
        np_dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise InputDataError(
            f"unknown data type {dtype!r}: use a Triton name "
            f"({', '.join(_TRITON_TO_NUMPY)}) or a numpy dtype"
        ) from None
    if np_dtype.kind in "OSU":
        return "BYTES"
    name = _NUMPY_TO_TRITON.get(np_dtype.newbyteorder("="))
    if name is None:
        raise InputDataError(f"unsupported numpy data type {np_dtype} for input data")
    return name


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, data type, shape without the batch dim.

    ``-1`` in ``shape`` marks a variable dimension. ``dtype`` is normalised to
    the Triton name (e.g. ``np.float32`` -> ``"FP32"``). ``optional`` tensors
    may be left out of a JSON step.
    """

    name: str
    dtype: Any
    shape: tuple[int, ...]
    optional: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputDataError(f"TensorSpec name must be a non-empty string, got {self.name!r}")
        object.__setattr__(self, "dtype", _normalize_dtype(self.dtype))
        if isinstance(self.shape, (str, bytes)) or not isinstance(self.shape, Sequence):
            raise InputDataError(
                f"TensorSpec '{self.name}': shape must be a sequence of ints, got {self.shape!r}"
            )
        dims = []
        for dim in self.shape:
            if not _is_int(dim) or int(dim) < -1:
                raise InputDataError(
                    f"TensorSpec '{self.name}': shape {list(self.shape)!r} must hold "
                    "integers >= 0 or -1 (variable)"
                )
            dims.append(int(dim))
        object.__setattr__(self, "shape", tuple(dims))
        if not _fits_numpy(self.shape, self.numpy_dtype.itemsize):
            raise InputDataError(f"TensorSpec '{self.name}': {_too_large(self.shape)}")
        if not isinstance(self.optional, bool):
            raise InputDataError(f"TensorSpec '{self.name}': optional must be a bool")

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype that holds this tensor (uint16 for BF16, object for BYTES)."""
        return _TRITON_TO_NUMPY[self.dtype]

    @property
    def is_variable(self) -> bool:
        """True when the shape has a variable (-1) dimension."""
        return -1 in self.shape


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def float32_to_bf16(values: Any) -> np.ndarray:
    """Round float values to bfloat16 (nearest even) and return the uint16 bit patterns."""
    f32 = np.ascontiguousarray(values, dtype=np.float32)
    bits = f32.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(f32)
    if nan.any():
        out[nan] = 0x7FC0
    return out


def bf16_to_float32(bits: Any) -> np.ndarray:
    """Expand bfloat16 bit patterns (uint16) to float32 values."""
    b = np.ascontiguousarray(bits, dtype=np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)


def parse_shape_arg(arg: str) -> tuple[str, list[int]]:
    """Parse the CLI's ``--shape NAME:d1,d2`` into ``(name, [d1, d2])``."""
    if not isinstance(arg, str):
        raise InputDataError(f"--shape expects a string NAME:d1,d2, got {arg!r}")
    name, sep, dims_text = arg.rpartition(":")
    if not sep or not name.strip():
        raise InputDataError(f"--shape {arg!r}: expected NAME:d1,d2 (e.g. IMAGE:3,224,224)")
    if not dims_text.strip():
        raise InputDataError(f"--shape {arg!r}: no dimensions after ':' for '{name}'")
    dims = []
    for part in dims_text.split(","):
        text = part.strip()
        if not text.isdigit():
            raise InputDataError(
                f"--shape {arg!r}: dimension {part!r} of '{name}' is not a non-negative integer"
            )
        dims.append(int(text))
    return name.strip(), dims


class _Loc:
    """Where a value came from, for error messages (one per decoded tensor: slots)."""

    __slots__ = ("file", "section", "step", "stream", "tensor")

    def __init__(
        self,
        file: str,
        stream: int | None = None,
        step: int | None = None,
        tensor: str | None = None,
        section: str = "data",
    ) -> None:
        self.file = file
        self.stream = stream
        self.step = step
        self.tensor = tensor
        self.section = section

    def error(self, what: str) -> InputDataError:
        parts = [self.file]
        if self.stream is not None:
            parts.append(f"stream {self.stream}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        if self.tensor is not None:
            kind = "output" if self.section == "validation_data" else "input"
            parts.append(f"{kind} '{self.tensor}'")
        return InputDataError(", ".join(parts) + ": " + what)

    def at(self, **changes: Any) -> _Loc:
        values = {
            "file": self.file,
            "stream": self.stream,
            "step": self.step,
            "tensor": self.tensor,
            "section": self.section,
        }
        values.update(changes)
        return _Loc(**values)


def _json_kind(value: Any) -> str:
    """JSON's word for the type of a parsed JSON value, with its article."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if isinstance(value, (int, float, np.number, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, np.ndarray)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _json_text(value: Any, limit: int = 60) -> str:
    """A parsed JSON value written back as (at most ``limit`` characters of) JSON."""

    def shown(item: Any) -> Any:  # numpy arrays from the native reader, cut short
        if isinstance(item, np.ndarray):
            return item[: limit // 2].tolist()
        if isinstance(item, bytes):  # a "b64" member the reader decoded
            return base64.b64encode(item[:limit]).decode("ascii")
        return repr(item)

    if isinstance(value, Decimal):  # a number literal beyond double's range
        return str(value)
    try:
        text = json.dumps(value, default=shown, ensure_ascii=False)
    except ValueError:  # a circular value cannot come from JSON; show it as Python does
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve_shape(
    spec: TensorSpec, own_shape: Any, shapes: Mapping[str, list[int]], loc: _Loc
) -> tuple[int, ...]:
    """The step's shape: its own ``shape`` field, else ``shapes``, else the model's."""
    if own_shape is None and not spec.is_variable:
        return spec.shape  # the common case, checked once when the spec was made
    if own_shape is not None:
        if not isinstance(own_shape, list) or not all(_is_int(d) for d in own_shape):
            raise loc.error(
                f"non-integer shape {_json_text(own_shape)}: 'shape' must be an array of integers"
            )
        shape = tuple(own_shape)
        origin = "the 'shape' field"
    elif spec.name in shapes and spec.is_variable:
        shape = tuple(shapes[spec.name])
        origin = "shapes"
    else:
        shape = spec.shape
        origin = "the model shape"
    if any(d < 0 for d in shape):
        raise loc.error(
            f"variable-sized shape {list(spec.shape)} needs its dims: give a 'shape' field "
            f"or shapes={{'{spec.name}': [...]}} (--shape {spec.name}:d1,d2)"
            if origin == "the model shape"
            else f"shape {list(shape)} from {origin} has a negative dimension"
        )
    if len(shape) != len(spec.shape) or any(
        m != -1 and m != d for m, d in zip(spec.shape, shape, strict=False)
    ):
        raise loc.error(
            f"shape {list(shape)} from {origin} disagrees with the model shape {list(spec.shape)}"
        )
    if not _fits_numpy(shape, spec.numpy_dtype.itemsize):
        raise loc.error(f"{_too_large(shape)} (from {origin})")
    return shape


# numpy's limit: an array's dims multiplied together (zeros as ones) times its
# itemsize must fit a signed pointer-sized integer.
_NUMPY_MAX_BYTES = int(np.iinfo(np.intp).max)


def _fits_numpy(shape: tuple[int, ...], itemsize: int) -> bool:
    """Whether numpy can make an array of this shape at all (-1 and 0 count as 1)."""
    return math.prod(max(d, 1) for d in shape) * itemsize <= _NUMPY_MAX_BYTES


def _too_large(shape: tuple[int, ...]) -> str:
    return f"shape {list(shape)} is too large for any array (numpy's limit is 2**63 bytes)"


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _check_specs(specs: Any, what: str) -> tuple[TensorSpec, ...]:
    if isinstance(specs, TensorSpec):
        specs = (specs,)
    if isinstance(specs, (str, bytes, Mapping)) or not isinstance(specs, Sequence):
        raise InputDataError(f"{what} must be a sequence of TensorSpec, got {type(specs).__name__}")
    names = set()
    for spec in specs:
        if not isinstance(spec, TensorSpec):
            raise InputDataError(f"{what} must hold TensorSpec objects, got {spec!r}")
        if spec.name in names:
            raise InputDataError(f"{what}: tensor name '{spec.name}' appears twice")
        names.add(spec.name)
    return tuple(specs)


def _check_shapes(shapes: Any, known: Mapping[str, TensorSpec]) -> dict[str, list[int]]:
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise InputDataError(
            f"shapes must map tensor names to lists of ints, got {type(shapes).__name__}"
        )
    out = {}
    for name, dims in shapes.items():
        if name not in known:
            raise InputDataError(f"shapes names unknown tensor '{name}' (known: {sorted(known)})")
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence):
            raise InputDataError(f"shapes['{name}'] must be a list of ints, got {dims!r}")
        if not all(_is_int(d) and d >= 0 for d in dims):
            raise InputDataError(
                f"shapes['{name}'] = {list(dims)!r} must hold non-negative integers"
            )
        out[name] = [int(d) for d in dims]
        spec = known[name]
        if len(dims) != len(spec.shape) or any(
            m != -1 and m != d for m, d in zip(spec.shape, dims, strict=False)
        ):
            raise InputDataError(
                f"shapes['{name}'] = {out[name]} disagrees with the model shape {list(spec.shape)}"
            )
    return out
