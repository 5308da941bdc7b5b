"""Tests for the native streaming JSON reader (_engine.read_json) and the input
loader's use of it: agreement with json.loads on random documents, robustness
against corrupted ones, error messages, and the numpy fast path of _from_list."""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronperf_native import _engine
from neuronperf_native.inputs import InputDataError, TensorSpec, load_input_data
from neuronperf_native.inputs.decoding import _from_list
from neuronperf_native.inputs.json_files import _read_json
from neuronperf_native.inputs.specs import _Loc

_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _read(tmp_path, data: bytes):
    path = tmp_path / "doc.json"
    path.write_bytes(data)
    return _engine.read_json(os.fsencode(path), min_typed_array=1)


def _same_number(got, want) -> bool:
    """Exact equality that tells int from float, -0.0 from 0.0 and NaN from NaN."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        if math.isnan(want):
            return math.isnan(got)
        return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)
    return got == want


def _assert_agrees(got, want, where="doc"):
    """got (the native reader's result) matches want (json.loads's) exactly."""
    if isinstance(got, np.ndarray):
        # Only non-empty arrays of all-int (within int64) or all-float literals.
        assert isinstance(want, list) and want, where
        assert got.ndim == 1 and len(got) == len(want), where
        if got.dtype == np.int64:
            assert all(type(v) is int for v in want), where
        else:
            assert all(type(v) is float for v in want), where
            exact32 = all(map(_is_float32, want))
            assert got.dtype == (np.float32 if exact32 else np.float64), where
        for i, (g, w) in enumerate(zip(got.tolist(), want, strict=True)):
            assert _same_number(g, w), f"{where}[{i}]: {g!r} != {w!r}"
    elif isinstance(want, list):
        assert type(got) is list and len(got) == len(want), where
        kinds = {type(v) for v in want}
        assert not (want and (kinds == {float} or (kinds == {int} and _fit_int64(want)))), (
            f"{where}: a numeric list should have been an array"
        )
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_agrees(g, w, f"{where}[{i}]")
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want), where
        for key in want:
            _assert_agrees(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert _same_number(got, want), f"{where}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def _is_float32(v: float) -> bool:
    """Whether float32 holds v exactly (NaN and infinities included)."""
    if math.isnan(v) or math.isinf(v):
        return True
    if abs(v) > 3.4028234663852886e38:
        return False
    return struct.unpack("<f", struct.pack("<f", v))[0] == v


def _fit_int64(values) -> bool:
    return all(-(2**63) <= v < 2**63 for v in values)


_texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["\ud800", "a\udfffb", "\udc00\ud800", '"\\/\b\f\n\r\t', "\x00\x1f\x7f"]),
)
_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**80), 2**80),
    st.floats(),
)
_numeric_lists = st.one_of(
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6),
    st.lists(st.floats(), min_size=1, max_size=6),
    st.lists(_numbers, max_size=6),
)
_values = st.recursive(
    st.none() | st.booleans() | _numbers | _texts | _numeric_lists,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_texts, children, max_size=4),
    max_leaves=16,
)


@st.composite
def _encoded(draw):
    """A random document and one of json.dumps's ways of writing it."""
    value = draw(_values)
    ensure_ascii = draw(st.booleans())
    indent = draw(st.sampled_from([None, 0, 2, "\t"]))
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return value, text.replace("\n", newline).encode("utf-8", "surrogatepass")


def _python_reading(data: bytes):
    """What the loader did before the native reader: decode in text mode, json.loads."""
    text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return json.loads(text)


@_SETTINGS
@given(doc=_encoded())
def test_agrees_with_json_loads(tmp_path, doc):
    _, data = doc
    try:
        want = _python_reading(data)
    except UnicodeDecodeError:  # a lone surrogate written raw (ensure_ascii=False)
        with pytest.raises(_engine.JsonError, match="not valid UTF-8"):
            _read(tmp_path, data)
        return
    _assert_agrees(_read(tmp_path, data), want)


@_SETTINGS
@given(
    doc=_encoded(),
    position=st.integers(0, 10**6),
    byte=st.integers(0, 255),
    mode=st.sampled_from(["flip", "set", "cut", "drop", "insert"]),
)
def test_corrupted_documents_agree_or_raise_json_error(tmp_path, doc, position, byte, mode):
    _, data = doc
    pos = position % len(data)
    if mode == "flip":
        data = data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1 :]
    elif mode == "set":
        data = data[:pos] + bytes([byte]) + data[pos + 1 :]
    elif mode == "cut":
        data = data[:pos]
    elif mode == "drop":
        data = data[:pos] + data[pos + 1 :]
    else:
        data = data[:pos] + bytes([byte]) + data[pos:]
    try:
        want = _python_reading(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        with pytest.raises(_engine.JsonError):
            _read(tmp_path, data)
        return
    _assert_agrees(_read(tmp_path, data), want)


def test_short_numeric_arrays_stay_lists_by_default(tmp_path):
    path = tmp_path / "d.json"
    path.write_bytes(b"[[1, 2], " + json.dumps(list(range(16))).encode() + b"]")
    got = _engine.read_json(os.fsencode(path))
    assert type(got[0]) is list and got[1].dtype == np.int64


def test_numeric_arrays_are_numpy(tmp_path):
    got = _read(
        tmp_path,
        b'{"i": [1, -2, 9223372036854775807], "f": [0.5, NaN, -Infinity], "d": [0.5, 0.1]}',
    )
    assert got["i"].dtype == np.int64 and got["i"].tolist() == [1, -2, 2**63 - 1]
    assert got["f"].dtype == np.float32  # float32 holds every value exactly
    assert got["f"][0] == 0.5 and math.isnan(got["f"][1]) and got["f"][2] == -math.inf
    assert got["d"].dtype == np.float64 and got["d"].tolist() == [0.5, 0.1]
    mixed = _read(tmp_path, b"[[1, 2.5], [2.5, 1], [9223372036854775808], []]")
    assert mixed == [[1, 2.5], [2.5, 1], [2**63], []]
    assert [type(v) for v in mixed[0]] == [int, float]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Expecting value at line 1 column 1"),
        (b'{"data": [1, 2}', "Expecting ',' delimiter at line 1 column 15"),
        (b'{"a": 1,\n "b" 2}', "Expecting ':' delimiter at line 2 column 6"),
        (b'["\xc3\xa9", x]', "Expecting value at line 1 column 7"),
        (b'"abc', "Unterminated string starting at line 1 column 1"),
        (b"[1] [2]", "Extra data at line 1 column 5"),
        (b'"\xff"', "not valid UTF-8 (invalid start byte)"),
        (b'"\xe2\x82', "not valid UTF-8 (unexpected end of data)"),
        (b"[" * 600 + b"]" * 600, "nested too deeply"),
    ],
)
def test_json_error_messages(tmp_path, data, message):
    with pytest.raises(_engine.JsonError) as info:
        _read(tmp_path, data)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_unreadable_files_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        _engine.read_json(os.fsencode(tmp_path / "missing.json"))
    with pytest.raises(IsADirectoryError):
        _engine.read_json(os.fsencode(tmp_path))


# --- the loader's messages ---

_SPEC = [TensorSpec("X", "INT32", [2])]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"data": [{"X": [1, 2}]}',
            "malformed JSON: Expecting ',' delimiter at line 1 column 22",
        ),
        (b'{"data": "\xff"}', r"malformed JSON: not valid UTF-8 \(invalid start byte\)"),
        (b"\xef\xbb\xbf{}", r"malformed JSON: Unexpected UTF-8 BOM \(decode using utf-8-sig\)"),
        (b'{"data": ' + b"[" * 600 + b"]" * 600 + b"}", "malformed JSON: nested too deeply"),
        (b'{"data": [' + b"1" * 5000 + b"]}", "malformed JSON: Exceeds the limit"),
    ],
)
def test_loader_reports_malformed_json(tmp_path, data, message):
    path = tmp_path / "m.json"
    path.write_bytes(data)
    with pytest.raises(InputDataError, match=r"m\.json: " + message):
        load_input_data(str(path), _SPEC)


def test_loader_reports_missing_file(tmp_path):
    missing = str(tmp_path / "gone.json")
    with pytest.raises(InputDataError, match=r"gone\.json: no such file"):
        load_input_data([missing], _SPEC)


def test_numeric_lists_outside_tensors_are_lists(tmp_path):
    long = list(range(20))
    doc = {
        "data": [{"X": {"content": long, "shape": [20]}, "B": {"b64": "AAECAw=="}}],
        "validation_data": [{"Y": [0.5] * 16}],
        "other": [long, {"k": [3.5] * 16}, {"b64": "AAECAw=="}],
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc))
    got = _read_json(str(path))
    assert isinstance(got["data"][0]["X"]["content"], np.ndarray)
    assert got["data"][0]["X"]["shape"] == [20] and type(got["data"][0]["X"]["shape"]) is list
    assert got["data"][0]["B"]["b64"] == bytes([0, 1, 2, 3])  # decoded by the reader
    assert isinstance(got["validation_data"][0]["Y"], np.ndarray)
    assert got["other"] == [long, {"k": [3.5] * 16}, {"b64": "AAECAw=="}]
    assert type(got["other"][0]) is list and type(got["other"][1]["k"]) is list
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"data": [long]}))
    assert _read_json(str(bad)) == {"data": [long]}


def test_short_numeric_arrays_are_lists(tmp_path):
    """Below 16 elements a numeric array stays a list, as json.load's (memory)."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"data": [{"X": list(range(15))}, {"X": list(range(16))}]}))
    got = _read_json(str(path))
    assert type(got["data"][0]["X"]) is list
    assert isinstance(got["data"][1]["X"], np.ndarray)


# --- _from_list: the numpy fast path matches the list path exactly ---

_ALL_DTYPES = [
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "BF16",
    "FP32",
    "FP64",
    "BYTES",
]
_edge_floats = st.sampled_from(
    [0.0, -0.0, 1.5, 65504.0, 65520.0, 3.4028234663852886e38, 3.5e38, 1e300, math.inf, math.nan]
) | st.floats(width=32)
_edge_ints = st.sampled_from(
    [0, 1, -1, 127, 128, -129, 255, 256, 65535, 65536, 2**31, -(2**31) - 1, 2**32, 2**63 - 1]
)


def _decode(values, dtype: str, count: int):
    spec = TensorSpec("X", dtype, [count])
    loc = _Loc("f.json", 0, 0, "X")
    try:
        return _from_list(values, spec, (count,), loc)
    except InputDataError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from(_ALL_DTYPES),
    values=st.one_of(
        st.lists(st.integers(-(2**63), 2**63 - 1) | _edge_ints, min_size=1, max_size=5),
        st.lists(st.floats() | _edge_floats, min_size=1, max_size=5),
    ),
    extra=st.integers(-1, 1),
)
def test_fast_path_matches_list_path(dtype, values, extra):
    if type(values[0]) is int:
        array = np.array(values, dtype=np.int64)
    elif all(map(_is_float32, values)):
        array = np.array(values, dtype=np.float32)  # as the reader gives exact float32 data
    else:
        array = np.array(values, dtype=np.float64)
    count = max(len(values) + extra, 0)
    fast = _decode(array, dtype, count)
    slow = _decode(list(values), dtype, count)
    if isinstance(slow, str):
        assert fast == slow
        return
    assert isinstance(fast, np.ndarray)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert not fast.flags.writeable
    assert fast.tobytes() == slow.tobytes()


def test_list_data_loads_through_the_fast_path(tmp_path):
    doc = {
        "data": [
            {"F": [0.5, -1.25, 3.0], "H": {"content": [1.0, 2.0, 65504.0], "shape": [3]}},
            {"F": [1e-3, 2.0, math.nan], "H": [0.0, -0.0, 1.5]},
        ],
        "validation_data": [{"O": [1, 2]}, {"O": [-3, 4]}],
    }
    path = tmp_path / "f.json"
    path.write_text(json.dumps(doc))
    specs = [TensorSpec("F", "FP32", [3]), TensorSpec("H", "FP16", [3])]
    data = load_input_data(str(path), specs, outputs=[TensorSpec("O", "INT8", [2])])
    assert data.get(0, 0, "F").dtype == np.float32
    assert data.get(0, 0, "F").tolist() == [0.5, -1.25, 3.0]
    assert data.get(0, 1, "H").tolist() == [0.0, -0.0, 1.5]
    assert math.isnan(data.get(0, 1, "F")[2])
    assert data.get_output(0, 1, "O").dtype == np.int8
    assert data.get_output(0, 1, "O").tolist() == [-3, 4]
    doc["data"][1]["H"] = [1.0, 2.0, 70000.0]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputDataError, match=r"step 1, input 'H': element 2 \(70000.0\) is out"):
        load_input_data(str(path), specs, outputs=[TensorSpec("O", "INT8", [2])])


_PEAK_CHILD = """
import json, os, sys
from neuronperf_native import _engine

def rss(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field)) * 1024

path, how = sys.argv[1], sys.argv[2]
before = rss("VmRSS:")
doc = _engine.read_json(os.fsencode(path)) if how == "native" else json.load(open(path))
print(rss("VmHWM:") - before)
"""


@pytest.mark.parametrize("element", ["[]", "{}", "[1]", "[[[[[[[[]]]]]]]]"])
def test_wide_documents_take_no_more_memory_than_json_load(tmp_path, element):
    """300,000 small containers: the reader builds Python objects as it parses (no
    intermediate tree), so its peak is json.load's (issue 9.4: 3.7 GB vs 2.2 GB)."""
    import subprocess
    import sys

    path = tmp_path / "wide.json"
    path.write_text("[" + ",".join([element] * 300_000) + "]")
    peaks = {
        how: int(
            subprocess.run(
                [sys.executable, "-c", _PEAK_CHILD, str(path), how],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for how in ("native", "json")
    }
    assert peaks["json"] > 10 << 20, peaks  # the measurement sees the objects
    assert peaks["native"] <= peaks["json"] + (2 << 20), peaks


def test_prefetch_threads_change_no_value(tmp_path):
    """A 9 MB file of numeric arrays (the prefetch threshold is 8 MB) parses the same with
    worker threads converting arrays ahead of the parser as without."""
    rng = np.random.default_rng(3)
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        f.write('{"data": [')
        for k in range(450):
            values = rng.random(1024, dtype=np.float32) if k % 3 else rng.random(1024)
            ints = rng.integers(-(2**40), 2**40, 64)
            sep = ",\n" if k % 2 else ", "
            f.write(
                ("," if k else "")
                + json.dumps({"X": values.tolist(), "i": ints.tolist()}, separators=(sep, ": "))
            )
        f.write("]}")
    assert path.stat().st_size > 8 << 20

    def load(threads):
        doc = _engine.read_json(os.fsencode(path), prefetch_threads=threads)
        return [(s["X"].dtype, s["X"].tolist(), s["i"].tolist()) for s in doc["data"]]

    serial = load(0)
    assert {dtype for dtype, _, _ in serial} == {np.dtype(np.float32), np.dtype(np.float64)}
    assert load(2) == serial
