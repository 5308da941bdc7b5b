"""perf_analyzer JSON input files: {"data": [...]}, streams, "validation_data".

Files are parsed by the native streaming reader; each step is decoded as soon as
it is read and its parsed JSON released.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronperf_native import _engine
from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.decoding import _decode_step
from neuronperf_native.inputs.specs import InputDataError, _json_kind, _json_text, _Loc

# Numeric arrays shorter than this stay lists: a numpy array per tiny array costs
# more memory than json.load's list (a document of 30 M "[1]" would take 9 GB).
_MIN_TYPED_ARRAY = 16
# Reader threads converting large numeric arrays ahead of the parser (-1: automatic).
_PREFETCH_THREADS = -1


def _read_json(path: str) -> Any:
    """Parse a JSON file with the native streaming reader (never read whole).

    The result is what json.load gives, except that tensor values that are
    all-integer or all-float arrays stay numpy arrays and their valid "b64"
    strings arrive decoded, as bytes (see _lists_outside_tensors).
    """
    try:
        doc = _engine.read_json(
            os.fsencode(path),
            min_typed_array=_MIN_TYPED_ARRAY,
            decode_b64=True,
            huge_floats_as_decimal=True,
            prefetch_threads=_PREFETCH_THREADS,
        )
    except FileNotFoundError:
        raise InputDataError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read the file: {exc.strerror}") from None
    except ValueError as exc:  # JsonError, or an integer beyond sys.get_int_max_str_digits()
        raise InputDataError(f"{path}: malformed JSON: {exc}") from None
    return _lists_outside_tensors(doc)


def _as_lists(value: Any) -> Any:
    """json.load's form of a natively parsed value: numpy arrays become lists and
    decoded b64 bytes base64 text again (without any whitespace the file had).

    Iterative, so a deeply nested document cannot hit the recursion limit.
    """
    if isinstance(value, (np.ndarray, bytes)):
        return _as_json_scalar(value)
    pending = [value] if isinstance(value, (list, dict)) else []
    while pending:
        container = pending.pop()
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in items:
            if isinstance(item, (np.ndarray, bytes)):
                container[key] = _as_json_scalar(item)
            elif isinstance(item, (list, dict)):
                pending.append(item)
    return value


def _as_json_scalar(value: np.ndarray | bytes) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value.tolist()


def _lists_outside_tensors(doc: Any) -> Any:
    """Keep numpy arrays only where a step's tensor values go; lists elsewhere.

    The native reader returns long all-integer or all-float arrays as numpy
    arrays and valid "b64" members as bytes. Tensor values (``"NAME": [...]``,
    ``"NAME": {"content": [...]}``, ``"NAME": {"b64": ...}`` in a step of "data" or
    "validation_data") keep that form for the fast paths; everywhere else the
    loader's checks and messages see json.load's values (``ndarray.tolist()`` is
    exactly that list).
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
                if not _is_tensor_payload(key, item):
                    value[key] = _as_lists(item)
        elif isinstance(value, list):
            step[name] = _as_lists(value)
    return step


def _is_tensor_payload(key: str, item: Any) -> bool:
    """Whether a tensor object's member is a natively parsed value to keep."""
    if key == "b64":
        return isinstance(item, bytes)
    if key != "content":
        return False
    if isinstance(item, dict):
        return set(item) == {"b64"} and isinstance(item["b64"], bytes)
    return isinstance(item, np.ndarray)


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
            f'{path}: the JSON must be an object with a "data" array, got {_json_kind(doc)}'
        )
    if "data" not in doc:
        raise InputDataError(f'{path}: the JSON object has no "data" field')
    data = doc["data"]
    if not isinstance(data, list):
        raise InputDataError(f'{path}: "data" must be an array, got {_json_kind(data)}')
    if not data:
        raise InputDataError(f'{path}: "data" is empty')
    valid = doc.get("validation_data")
    if "validation_data" in doc:
        if not isinstance(valid, list):
            raise InputDataError(
                f'{path}: "validation_data" must be an array, got {_json_kind(valid)}'
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
                f'entry {index} of "data" must be an object (one step) or an array (one stream), '
                f"got {_json_kind(entry)} {_json_text(entry)}"
            )
        nested = isinstance(entry, list)
        if state.nested is None:
            state.nested = nested
        elif state.nested != nested:
            raise InputDataError(
                f'{path}: entry {index} of "data" is {"an array" if nested else "an object"} but '
                f"earlier entries are {'arrays' if state.nested else 'objects'}: mixed nested "
                "(per-stream arrays) and unnested (steps) entries are not allowed"
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
                        '"validation_data" does not align with "data": expected an array of '
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


def _load_json_files(paths: list[str], inputs, outputs, shapes) -> InputData:
    state = _JsonState()
    for path in paths:
        _load_json_file(path, inputs, outputs, shapes, state)
    label = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} more)"
    return InputData(inputs, outputs, state.streams, state.expected, label)
