"""Input data for benchmarks, compatible with perf_analyzer's ``--input-data``.

Sources: ``"random"`` (default), ``"zero"``, a directory of raw tensor files, one
JSON file or a list of JSON files in perf_analyzer's format (``{"data": [...]}``,
optional ``"validation_data"``). Everything is decoded and checked once, up front,
so the measurement loop only indexes a precomputed list of batches.

Data types are Triton names (BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32,
FP64, BYTES; STRING is accepted as an alias of BYTES) or numpy dtypes. numpy has
no bfloat16, so BF16 tensors are held as ``uint16`` arrays of bfloat16 bit
patterns (``ml_dtypes`` is not used even when installed, so results do not
depend on the environment); :func:`bf16_to_float32` and
:func:`float32_to_bf16` convert. BYTES tensors are numpy object arrays of
``bytes``. Stored arrays are read-only: the same data is reused for every
inference, so a model must not be able to change it in place.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronperf_native import _engine

__all__ = [
    "InputData",
    "InputDataError",
    "TensorSpec",
    "ValidationTally",
    "bf16_to_float32",
    "compare_outputs",
    "float32_to_bf16",
    "load_input_data",
    "parse_shape_arg",
]


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
_STRING_CHARS = np.frombuffer(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8
)
# Keys a step may hold besides tensor names (perf_analyzer allows "model").
_STEP_EXTRA_KEYS = frozenset({"model"})


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


@dataclass
class _Loc:
    """Where a value came from, for error messages."""

    file: str
    stream: int | None = None
    step: int | None = None
    tensor: str | None = None
    section: str = "data"

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


def _resolve_shape(
    spec: TensorSpec, own_shape: Any, shapes: Mapping[str, list[int]], loc: _Loc
) -> tuple[int, ...]:
    """The step's shape: its own ``shape`` field, else ``shapes``, else the model's."""
    if own_shape is None and not spec.is_variable:
        return spec.shape  # the common case, checked once when the spec was made
    if own_shape is not None:
        if not isinstance(own_shape, list) or not all(_is_int(d) for d in own_shape):
            raise loc.error(f"non-integer shape {own_shape!r}: 'shape' must be a list of integers")
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
    return shape


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


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
        raise loc.error(f"the 'b64' value must be a string, got {type(encoded).__name__}")
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


def _from_list(values: list, spec: TensorSpec, shape: tuple[int, ...], loc: _Loc):
    """Decode a flat row-major JSON list, checking element types and ranges."""
    if isinstance(values, np.ndarray):
        return _from_numbers(values, spec, shape, loc)
    count = _count(shape)
    types = set(map(type, values))
    if list in types or dict in types:
        bad = _first_not(values, (str, int, float, bool))
        raise loc.error(
            f"element {bad} is a {type(values[bad]).__name__}: tensor values must be a flat "
            "row-major list (nested lists are not accepted, as in perf_analyzer)"
        )
    if len(values) != count:
        raise loc.error(f"has {len(values)} elements, expected {count} for shape {list(shape)}")
    dtype = spec.dtype
    if dtype == "BYTES":
        if types - {str}:
            bad = _first_not(values, (str,))
            raise loc.error(f"element {bad} is {values[bad]!r}, expected a string for BYTES")
        return _bytes_array([v.encode("utf-8", "surrogatepass") for v in values], shape)
    if dtype == "BOOL":
        if types - {bool}:
            bad = _first_not(values, (bool,))
            raise loc.error(f"element {bad} is {values[bad]!r}, expected true or false for BOOL")
        return _readonly(np.array(values, dtype=np.bool_).reshape(shape))
    if dtype in _FLOAT_TYPES:
        if types - {int, float}:
            bad = _first_not(values, (int, float))
            raise loc.error(f"element {bad} is {values[bad]!r}, expected a number for {dtype}")
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
        raise loc.error(f"element {bad} is {values[bad]!r}, expected an integer for {dtype}")
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
                raise loc.error("non-integer shape None: 'shape' must be a list of integers")
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
            f"expected a list, {{'b64': ...}} or {{'content': ..., 'shape': [...]}}, "
            f"got {type(value).__name__} {_short(value)}"
        )
    shape = _resolve_shape(spec, own_shape, shapes, loc)
    if isinstance(content, (list, np.ndarray)):
        return _from_list(content, spec, shape, loc)
    if isinstance(content, dict) and "b64" in content and content is value:
        return _from_b64(content, spec, shape, loc)
    if isinstance(content, dict) and set(content) == {"b64"}:
        return _from_b64(content, spec, shape, loc)
    raise loc.error(
        f"'content' must be a list or {{'b64': ...}}, got {type(content).__name__} "
        f"{_short(content)}"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
            f"got {type(step).__name__} {_short(step)}"
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


class InputData:
    """Decoded input (and expected output) tensors, by stream and step.

    A stream is a sequence of steps (one per request); sequence models get one
    stream per sequence. ``batches(n)`` precomputes full batches once.
    """

    def __init__(
        self,
        inputs: Sequence[TensorSpec],
        outputs: Sequence[TensorSpec],
        streams: list[list[dict[str, np.ndarray]]],
        expected: list[list[dict[str, np.ndarray] | None]],
        source: str,
    ) -> None:
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        self._streams = streams
        self._expected = expected
        self._source = source
        self._batches: dict[int, list[tuple]] = {}

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """The model inputs, in the order of each batch tuple."""
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The model outputs validation data may refer to."""
        return self._outputs

    @property
    def source(self) -> str:
        """A description of where the data came from."""
        return self._source

    @property
    def num_streams(self) -> int:
        """Number of data streams (1 unless the JSON nests steps in per-stream lists)."""
        return len(self._streams)

    @property
    def total_steps(self) -> int:
        """Steps over all streams."""
        return sum(len(s) for s in self._streams)

    @property
    def has_validation_data(self) -> bool:
        """True when at least one step has an expected output."""
        return any(e for stream in self._expected for e in stream)

    def num_steps(self, stream: int) -> int:
        """Number of steps in ``stream``."""
        self._check_stream(stream)
        return len(self._streams[stream])

    def _check_stream(self, stream: int) -> None:
        if not _is_int(stream) or not 0 <= stream < len(self._streams):
            raise InputDataError(
                f"stream {stream!r} out of range: the data has {len(self._streams)} stream(s)"
            )

    def _check_step(self, stream: int, step: int) -> None:
        self._check_stream(stream)
        n = len(self._streams[stream])
        if not _is_int(step) or not 0 <= step < n:
            raise InputDataError(f"step {step!r} out of range: stream {stream} has {n} step(s)")

    def get(self, stream: int, step: int, name: str) -> np.ndarray | None:
        """Input ``name`` at (stream, step), in the step's shape; None for an absent optional."""
        self._check_step(stream, step)
        if name not in {s.name for s in self._inputs}:
            raise InputDataError(
                f"unknown input '{name}' (inputs: {[s.name for s in self._inputs]})"
            )
        return self._streams[stream][step].get(name)

    def get_output(self, stream: int, step: int, name: str) -> np.ndarray | None:
        """Expected output ``name`` at (stream, step), or None when none was given."""
        self._check_step(stream, step)
        if name not in {s.name for s in self._outputs}:
            raise InputDataError(
                f"unknown output '{name}' (outputs: {[s.name for s in self._outputs]})"
            )
        expected = self._expected[stream][step]
        return None if expected is None else expected.get(name)

    def step_order(self) -> list[tuple[int, int]]:
        """(stream, step) pairs in the order batches consume them."""
        return [(i, k) for i, stream in enumerate(self._streams) for k in range(len(stream))]

    def batches(self, batch_size: int) -> list[tuple]:
        """Full batches: tuples of inputs (in ``inputs`` order), batch dim first.

        Steps are consumed in order (stream by stream) and wrap round-robin so
        that every batch is full; there are ceil(total_steps / batch_size)
        batches, and the runner cycles over the list. Computed once per size.
        An optional input absent from every step of a batch is None.
        """
        cached = self._batches.get(batch_size)
        if cached is not None:
            return cached
        result = [
            tuple(self._stack(spec, picks) for spec in self._inputs)
            for picks in self.batch_steps(batch_size)
        ]
        self._batches[batch_size] = result
        return result

    def batch_steps(self, batch_size: int) -> list[list[tuple[int, int]]]:
        """The (stream, step) of each row of each batch of ``batches(batch_size)``."""
        if not _is_int(batch_size) or batch_size < 1:
            raise InputDataError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        order = self.step_order()
        n_batches = -(-len(order) // batch_size)
        return [
            [order[(b * batch_size + j) % len(order)] for j in range(batch_size)]
            for b in range(n_batches)
        ]

    def _stack(self, spec: TensorSpec, picks: list[tuple[int, int]]) -> np.ndarray | None:
        arrays = [self._streams[i][k].get(spec.name) for i, k in picks]
        present = [a is not None for a in arrays]
        if not any(present):
            return None
        if not all(present):
            i, k = picks[present.index(False)]
            raise InputDataError(
                f"{self._source}: stream {i}, step {k}, input '{spec.name}': optional input is "
                "absent here but present in other steps of the same batch; cannot batch them"
            )
        if len(arrays) == 1:
            return _readonly(arrays[0][np.newaxis])
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            first = arrays[0].shape
            j = next(j for j, a in enumerate(arrays) if a.shape != first)
            (i0, k0), (i1, k1) = picks[0], picks[j]
            raise InputDataError(
                f"{self._source}: input '{spec.name}': stream {i1}, step {k1} has shape "
                f"{list(arrays[j].shape)} but stream {i0}, step {k0} in the same batch has "
                f"{list(first)}; steps of different shapes cannot be batched"
            )
        return _readonly(np.stack(arrays))

    def __repr__(self) -> str:
        return (
            f"InputData(source={self._source!r}, streams={self.num_streams}, "
            f"steps={self.total_steps}, inputs={[s.name for s in self._inputs]})"
        )


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
    for spec in inputs:
        loc = _Loc(f"'{label}' input data", 0, 0, spec.name)
        if spec.is_variable and spec.name not in shapes:
            raise loc.error(
                f"variable-sized shape {list(spec.shape)} needs its dims for {label} data: "
                f"pass shapes={{'{spec.name}': [...]}} (--shape {spec.name}:d1,d2)"
            )
        shape = _resolve_shape(spec, None, shapes, loc)
        step[spec.name] = _generate(spec, shape, zero, string_length, string_data, seed)
    return InputData(inputs, outputs, [[step]], [[None]], label)


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
        try:
            with open(file, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise loc.error(f"cannot read the file: {exc.strerror}") from None
        shape = _resolve_shape(spec, None, shapes, loc)
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


def _read_json(path: str) -> Any:
    """Parse a JSON file with the native streaming reader (never read whole).

    The result is what json.load gives, except that tensor values that are
    all-integer or all-float arrays stay numpy arrays (see _lists_outside_tensors).
    """
    try:
        doc = _engine.read_json(os.fsencode(path))
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the file: {exc.strerror}") from None
    except ValueError as exc:  # JsonError, or an integer beyond sys.get_int_max_str_digits()
        raise InputDataError(f"{path}: malformed JSON: {exc}") from None
    return _lists_outside_tensors(doc)


def _as_lists(value: Any) -> Any:
    """json.load's form of a natively parsed value: numpy arrays become lists.

    Iterative, so a deeply nested document cannot hit the recursion limit.
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    pending = [value] if isinstance(value, (list, dict)) else []
    while pending:
        container = pending.pop()
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in items:
            if isinstance(item, np.ndarray):
                container[key] = item.tolist()
            elif isinstance(item, (list, dict)):
                pending.append(item)
    return value


def _lists_outside_tensors(doc: Any) -> Any:
    """Keep numpy arrays only where a step's tensor values go; lists elsewhere.

    The native reader returns every all-integer or all-float array as a numpy
    array. Tensor values (``"NAME": [...]`` and ``"NAME": {"content": [...]}`` in a
    step of "data" or "validation_data") keep that form for _from_list's fast
    path; everywhere else the loader's checks and messages see json.load's lists
    (``ndarray.tolist()`` is exactly that list).
    """
    if not isinstance(doc, dict):
        return _as_lists(doc)
    for section, entries in doc.items():
        if section not in ("data", "validation_data") or not isinstance(entries, list):
            doc[section] = _as_lists(entries)
            continue
        for i, entry in enumerate(entries):
            if isinstance(entry, list):  # one stream of steps
                for k, step in enumerate(entry):
                    entry[k] = _tensor_arrays_only(step)
            else:
                entries[i] = _tensor_arrays_only(entry)
    return doc


def _tensor_arrays_only(step: Any) -> Any:
    """A step whose numpy arrays are kept only as tensor values."""
    if not isinstance(step, dict):
        return _as_lists(step)
    for name, value in step.items():
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "content" or not isinstance(item, np.ndarray):
                    value[key] = _as_lists(item)
        elif isinstance(value, list):
            step[name] = _as_lists(value)
    return step


@dataclass
class _JsonState:
    """Streams accumulated over several JSON files (perf_analyzer appends them)."""

    nested: bool | None = None
    streams: list[list[dict[str, np.ndarray]]] = field(default_factory=list)
    expected: list[list[dict[str, np.ndarray] | None]] = field(default_factory=list)


def _load_json_file(path: str, inputs, outputs, shapes, state: _JsonState) -> None:
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise InputDataError(
            f'{path}: the JSON must be an object with a "data" list, got {type(doc).__name__}'
        )
    if "data" not in doc:
        raise InputDataError(f'{path}: the JSON object has no "data" field')
    data = doc["data"]
    if not isinstance(data, list):
        raise InputDataError(f'{path}: "data" must be a list, got {type(data).__name__}')
    if not data:
        raise InputDataError(f'{path}: "data" is empty')
    valid = doc.get("validation_data")
    if "validation_data" in doc:
        if not isinstance(valid, list):
            raise InputDataError(
                f'{path}: "validation_data" must be a list, got {type(valid).__name__}'
            )
        if len(valid) != len(data):
            raise InputDataError(
                f'{path}: "validation_data" has {len(valid)} entries but "data" has '
                f"{len(data)}; they must align"
            )
    in_specs = {s.name: s for s in inputs}
    out_specs = {s.name: s for s in outputs}
    for index, entry in enumerate(data):
        if not isinstance(entry, (list, dict)):
            stream = len(state.streams) if state.nested else 0
            raise _Loc(path, stream, None if state.nested else index).error(
                f'entry {index} of "data" must be an object (one step) or a list (one stream), '
                f"got {type(entry).__name__} {_short(entry)}"
            )
        nested = isinstance(entry, list)
        if state.nested is None:
            state.nested = nested
        elif state.nested != nested:
            raise InputDataError(
                f'{path}: entry {index} of "data" is a {"list" if nested else "object"} but '
                f"earlier entries are {'lists' if state.nested else 'objects'}: mixed nested "
                "(per-stream lists) and unnested (steps) entries are not allowed"
            )

    def take(steps: list, vsteps: list | None, stream: int, first_step: int) -> None:
        for k, step in enumerate(steps):
            loc = _Loc(path, stream, first_step + k)
            state.streams[stream].append(_decode_step(step, in_specs, shapes, loc, True))
            if vsteps is None:
                state.expected[stream].append(None)
            else:
                vloc = loc.at(section="validation_data")
                state.expected[stream].append(
                    _decode_step(vsteps[k], out_specs, shapes, vloc, False)
                )
            steps[k] = None  # release the parsed JSON as soon as it is decoded

    if state.nested:
        for index, steps in enumerate(data):
            stream = len(state.streams)
            if not steps:
                raise _Loc(path, stream).error("the stream is empty")
            vsteps = None
            if valid is not None:
                vsteps = valid[index]
                if not isinstance(vsteps, list) or len(vsteps) != len(steps):
                    raise _Loc(path, stream, section="validation_data").error(
                        '"validation_data" does not align with "data": expected a list of '
                        f"{len(steps)} steps for this stream"
                    )
            state.streams.append([])
            state.expected.append([])
            take(steps, vsteps, stream, 0)
            data[index] = None
    else:
        if not state.streams:
            state.streams.append([])
            state.expected.append([])
        take(data, valid, 0, len(state.streams[0]))


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


def _load_json_files(paths: list[str], inputs, outputs, shapes) -> InputData:
    state = _JsonState()
    for path in paths:
        _load_json_file(path, inputs, outputs, shapes, state)
    label = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    return InputData(inputs, outputs, state.streams, state.expected, label)


def _scalar(value: Any) -> Any:
    """A JSON-friendly Python value for reports."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def compare_outputs(
    expected: Any, got: Any, rtol: float = 1e-5, atol: float = 1e-8, datatype: str | None = None
) -> dict | None:
    """Compare a model output with its expected value; None if they match.

    Integers, booleans and BYTES compare exactly, floats with ``allclose``
    tolerances (NaN equals NaN). Shapes must have the same element count
    (a leading batch dim of 1 is fine). The first mismatch is returned as
    ``{"index": flat index, "expected": ..., "got": ...}``; a size mismatch
    has ``index`` -1 and the two shapes. ``datatype="BF16"`` decodes uint16
    bit patterns before comparing.
    """
    exp = np.asarray(expected)
    res = np.asarray(got)
    if datatype is not None and _normalize_dtype(datatype) == "BF16":
        exp = bf16_to_float32(exp) if exp.dtype == np.uint16 else exp
        res = bf16_to_float32(res) if res.dtype == np.uint16 else res
    if exp.size != res.size:
        return {"index": -1, "expected": list(exp.shape), "got": list(res.shape)}
    e = exp.reshape(-1)
    g = res.reshape(-1)
    if e.dtype == object or g.dtype == object or e.dtype.kind in "SU" or g.dtype.kind in "SU":
        for i, (a, b) in enumerate(zip(e, g, strict=True)):
            a_b = a.encode("utf-8") if isinstance(a, str) else a
            b_b = b.encode("utf-8") if isinstance(b, str) else b
            if a_b != b_b:
                return {"index": i, "expected": _scalar(a_b), "got": _scalar(b_b)}
        return None
    if e.dtype.kind in "fc" or g.dtype.kind in "fc":
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.isclose(g.astype(np.float64), e.astype(np.float64), rtol, atol, equal_nan=True)
    else:
        ok = e == g
    if ok.all():
        return None
    i = int(np.argmin(ok))
    return {"index": i, "expected": _scalar(e[i]), "got": _scalar(g[i])}


@dataclass
class ValidationTally:
    """Counts validated steps and mismatching steps; keeps the first mismatch.

    Each worker keeps its own tally and ``merge``s once at the end; ``to_dict``
    is what a benchmark report stores in its ``validation`` field.
    """

    rtol: float = 1e-5
    atol: float = 1e-8
    steps_checked: int = 0
    mismatches: int = 0
    first_mismatch: dict | None = None

    def check_step(
        self,
        stream: int,
        step: int,
        expected: Mapping[str, Any],
        got: Mapping[str, Any],
        datatypes: Mapping[str, str] | None = None,
    ) -> bool:
        """Compare one step's outputs; True when every expected output matched.

        ``expected`` maps output names to expected arrays (None entries are
        skipped); a name missing from ``got`` counts as a mismatch. Steps
        with no expected value at all are not counted.
        """
        checked = False
        ok = True
        for name, exp in expected.items():
            if exp is None:
                continue
            checked = True
            if name not in got:
                mismatch: dict | None = {"index": -1, "expected": "output", "got": "missing"}
            else:
                dt = None if datatypes is None else datatypes.get(name)
                mismatch = compare_outputs(exp, got[name], self.rtol, self.atol, dt)
            if mismatch is not None:
                if ok and self.first_mismatch is None:
                    self.first_mismatch = {"stream": stream, "step": step, "tensor": name}
                    self.first_mismatch.update(mismatch)
                ok = False
        if checked:
            self.steps_checked += 1
            if not ok:
                self.mismatches += 1
        return ok

    def merge(self, other: ValidationTally) -> None:
        """Add another tally's counts; keep our first mismatch if we have one."""
        self.steps_checked += other.steps_checked
        self.mismatches += other.mismatches
        if self.first_mismatch is None and other.first_mismatch is not None:
            self.first_mismatch = dict(other.first_mismatch)

    def to_dict(self) -> dict:
        """JSON-friendly summary for a report's ``validation`` field."""
        return {
            "steps_checked": self.steps_checked,
            "mismatches": self.mismatches,
            "first_mismatch": None if self.first_mismatch is None else dict(self.first_mismatch),
        }
