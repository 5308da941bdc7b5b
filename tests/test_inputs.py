"""Tests for neuronperf_native.inputs (perf_analyzer-compatible input data)."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronperf_native import inputs
from neuronperf_native.inputs import InputDataError, TensorSpec, load_input_data

DATA = Path(__file__).parent / "data" / "perf_analyzer"


def _write(path: Path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _int32x2(shape=(4, 4)):
    return [TensorSpec("INPUT0", "INT32", shape), TensorSpec("INPUT1", "INT32", shape)]


# --- perf_analyzer docs/input_data.md examples, re-typed under tests/data ---


def test_doc_example_arrays():
    """Four steps, INPUT0/INPUT1 INT32 [4, 4], flattened row-major lists of 1."""
    data = load_input_data(str(DATA / "arrays.json"), _int32x2())
    assert data.num_streams == 1
    assert data.num_steps(0) == 4
    for step in range(4):
        for name in ("INPUT0", "INPUT1"):
            arr = data.get(0, step, name)
            assert arr.dtype == np.int32
            assert arr.shape == (4, 4)
            assert arr.tolist() == [[1, 1, 1, 1]] * 4
    assert not data.has_validation_data


def test_doc_example_b64_decodes_little_endian_bytes():
    """'YmFzZTY0IGRlY29kZXI=' is the 14 bytes of 'base64 decoder'."""
    specs = [TensorSpec("INPUT0", "UINT8", [14]), TensorSpec("INPUT1", "UINT8", [14])]
    data = load_input_data(str(DATA / "b64.json"), specs)
    assert data.num_steps(0) == 3
    # b=98 a=97 s=115 e=101 6=54 4=52 ' '=32 d=100 e=101 c=99 o=111 d=100 e=101 r=114
    expected = [98, 97, 115, 101, 54, 52, 32, 100, 101, 99, 111, 100, 101, 114]
    for step in range(3):
        assert data.get(0, step, "INPUT0").tolist() == expected
        assert data.get(0, step, "INPUT1").tolist() == expected
    # As INT16 [7], the same bytes read little-endian: 'b' | 'a' << 8 = 98 + 97 * 256.
    specs16 = [TensorSpec("INPUT0", "INT16", [7]), TensorSpec("INPUT1", "INT16", [7])]
    data16 = load_input_data(str(DATA / "b64.json"), specs16)
    assert data16.get(0, 0, "INPUT0")[0] == 98 + 97 * 256
    assert data16.get(0, 2, "INPUT1")[6] == 101 + 114 * 256


def test_doc_example_b64_with_docs_int32_model_is_a_size_error():
    """The doc's b64 string is 14 bytes, not the 64 an INT32 [4, 4] tensor needs."""
    with pytest.raises(InputDataError, match=r"step 0, input 'INPUT0'.*14 bytes, expected 64"):
        load_input_data(str(DATA / "b64.json"), _int32x2())


def test_doc_example_streams():
    """Three STRING streams of lengths 4, 3 and 2."""
    data = load_input_data(str(DATA / "streams.json"), [TensorSpec("INPUT", "STRING", [1])])
    assert data.num_streams == 3
    assert [data.num_steps(i) for i in range(3)] == [4, 3, 2]
    assert [data.get(0, k, "INPUT")[0] for k in range(4)] == [b"1", b"2", b"3", b"4"]
    assert [data.get(1, k, "INPUT")[0] for k in range(3)] == [b"1"] * 3
    assert [data.get(2, k, "INPUT")[0] for k in range(2)] == [b"1"] * 2
    arr = data.get(0, 1, "INPUT")
    assert arr.dtype == object
    assert arr.shape == (1,)
    assert data.inputs[0].dtype == "BYTES"


def test_doc_example_content_and_shape():
    """Shapes [2,8], [8,2], (default from --shape) and [4,4] for an INT32 [-1,-1] input."""
    spec = [TensorSpec("INPUT", "INT32", [-1, -1])]
    data = load_input_data(str(DATA / "content_shape.json"), spec, shapes={"INPUT": [4, 4]})
    assert [data.get(0, k, "INPUT").shape for k in range(4)] == [(2, 8), (8, 2), (4, 4), (4, 4)]
    for k in range(4):
        assert data.get(0, k, "INPUT").sum() == 16
    # The step's own shape wins over shapes; a 1 x 16 default applies to step 2 only.
    data2 = load_input_data(str(DATA / "content_shape.json"), spec, shapes={"INPUT": [1, 16]})
    assert data2.get(0, 0, "INPUT").shape == (2, 8)
    assert data2.get(0, 2, "INPUT").shape == (1, 16)


def test_doc_example_content_and_shape_needs_shape_for_step_without_one():
    spec = [TensorSpec("INPUT", "INT32", [-1, -1])]
    with pytest.raises(InputDataError, match=r"step 2, input 'INPUT': variable-sized.*--shape"):
        load_input_data(str(DATA / "content_shape.json"), spec)


def test_doc_example_content_b64_with_shape():
    """A JPEG header as UINT8 [-1]: FF D8 FF E0 00 10 'J' 'F' 'I' 'F' 00 01."""
    data = load_input_data(
        str(DATA / "content_b64_shape.json"), [TensorSpec("INPUT", "UINT8", [-1])]
    )
    expected = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 74, 70, 73, 70, 0x00, 0x01]
    for k in range(2):
        assert data.get(0, k, "INPUT").tolist() == expected


def test_doc_example_content_b64_elided_is_bad_b64():
    """The doc elides the JPEG as '(...)', which is not base64."""
    with pytest.raises(InputDataError, match=r"step 0, input 'INPUT': bad b64"):
        load_input_data(
            str(DATA / "content_b64_shape_elided.json"), [TensorSpec("INPUT", "UINT8", [-1])]
        )


def test_doc_string_b64_is_length_prefixed():
    """BYTES in b64: 4-byte LE length then bytes; the same strings as a plain list."""
    spec = [TensorSpec("INPUT", "BYTES", [-1])]
    data = load_input_data(str(DATA / "string_b64.json"), spec, shapes={"INPUT": [2]})
    # AgAAAGFiAwAAAHh5eg== is 02 00 00 00 'a' 'b' 03 00 00 00 'x' 'y' 'z'
    assert data.get(0, 0, "INPUT").tolist() == [b"ab", b"xyz"]
    assert data.get(0, 1, "INPUT").tolist() == [b"ab", b"xyz"]
    # step 1 has no shape field, and without shapes its [-1] dim is unknown
    with pytest.raises(InputDataError, match=r"step 1, input 'INPUT': variable-sized"):
        load_input_data(str(DATA / "string_b64.json"), spec)


def test_doc_example_validation_data():
    outs = [TensorSpec("OUTPUT0", "INT32", [4, 4]), TensorSpec("OUTPUT1", "INT32", [4, 4])]
    data = load_input_data(str(DATA / "validation.json"), _int32x2(), outputs=outs)
    assert data.num_steps(0) == 1
    assert data.get(0, 0, "INPUT0").tolist() == [[1] * 4] * 4
    assert data.get_output(0, 0, "OUTPUT0").tolist() == [[0] * 4] * 4
    assert data.get_output(0, 0, "OUTPUT1").tolist() == [[2] * 4] * 4
    assert data.has_validation_data


def test_doc_example_shape_option():
    """`-b 4 --shape IMAGE:3,224,224` for an IMAGE [3, N, M] input."""
    name, dims = inputs.parse_shape_arg("IMAGE:3,224,224")
    assert (name, dims) == ("IMAGE", [3, 224, 224])
    spec = [TensorSpec("IMAGE", "FP32", [3, -1, -1])]
    data = load_input_data("random", spec, batch_size=4, shapes={name: dims})
    (batch,) = data.batches(4)
    assert batch[0].shape == (4, 3, 224, 224)
    assert batch[0].dtype == np.float32


# --- JSON variations ---


def test_multiple_files_append_steps(tmp_path):
    a = _write(tmp_path / "a.json", {"data": [{"X": [1, 2]}, {"X": [3, 4]}]})
    b = _write(tmp_path / "b.json", {"data": [{"X": [5, 6]}]})
    data = load_input_data([a, b], [TensorSpec("X", "INT64", [2])])
    assert data.num_streams == 1
    assert [data.get(0, k, "X").tolist() for k in range(3)] == [[1, 2], [3, 4], [5, 6]]


def test_multiple_files_append_streams(tmp_path):
    a = _write(tmp_path / "a.json", {"data": [[{"X": [1]}], [{"X": [2]}, {"X": [3]}]]})
    b = _write(tmp_path / "b.json", {"data": [[{"X": [4]}]]})
    data = load_input_data([a, Path(b)], [TensorSpec("X", "INT8", [1])])
    assert data.num_streams == 3
    assert data.get(2, 0, "X").tolist() == [4]
    assert data.get(1, 1, "X").tolist() == [3]


def test_nested_validation_data(tmp_path):
    doc = {
        "data": [[{"X": [1.5]}, {"X": [2.5]}], [{"X": [3.5]}]],
        "validation_data": [[{"Y": [3.0]}, {"Y": [5.0]}], [{"Y": [7.0]}]],
    }
    path = _write(tmp_path / "v.json", doc)
    data = load_input_data(
        path, [TensorSpec("X", "FP32", [1])], outputs=[TensorSpec("Y", "FP64", [1])]
    )
    assert data.get(0, 1, "X").tolist() == [2.5]
    assert data.get_output(1, 0, "Y").tolist() == [7.0]
    assert data.get_output(0, 1, "Y").dtype == np.float64


def test_optional_input_may_be_absent(tmp_path):
    path = _write(tmp_path / "o.json", {"data": [{"A": [1]}, {"A": [2], "B": [9]}]})
    specs = [TensorSpec("A", "INT32", [1]), TensorSpec("B", "INT32", [1], optional=True)]
    data = load_input_data(path, specs)
    assert data.get(0, 0, "B") is None
    assert data.get(0, 1, "B").tolist() == [9]
    assert data.batches(1)[0][1] is None
    with pytest.raises(InputDataError, match=r"step 0, input 'B'.*optional"):
        data.batches(2)


def test_all_datatypes_from_lists(tmp_path):
    doc = {
        "data": [
            {
                "b": [True, False],
                "u8": [0, 255],
                "u64": [0, 2**64 - 1],
                "i8": [-128, 127],
                "i64": [-(2**63), 2**63 - 1],
                "f16": [0.5, -2],
                "bf": [1.0, -3.5],
                "f64": [0.1, 1e300],
                "s": ["héllo", ""],
            }
        ]
    }
    specs = [
        TensorSpec("b", "BOOL", [2]),
        TensorSpec("u8", np.uint8, [2]),
        TensorSpec("u64", "UINT64", [2]),
        TensorSpec("i8", "int8", [2]),
        TensorSpec("i64", "INT64", [2]),
        TensorSpec("f16", "FP16", [2]),
        TensorSpec("bf", "BF16", [2]),
        TensorSpec("f64", np.float64, [2]),
        TensorSpec("s", "BYTES", [2]),
    ]
    data = load_input_data(_write(tmp_path / "t.json", doc), specs)
    assert data.get(0, 0, "b").tolist() == [True, False]
    assert data.get(0, 0, "u8").tolist() == [0, 255]
    assert data.get(0, 0, "u64").tolist() == [0, 2**64 - 1]
    assert data.get(0, 0, "i8").tolist() == [-128, 127]
    assert data.get(0, 0, "i64").tolist() == [-(2**63), 2**63 - 1]
    assert data.get(0, 0, "f16").tolist() == [0.5, -2.0]
    # bfloat16 bit patterns: 1.0 = 0x3F80, -3.5 = 0xC060
    assert data.get(0, 0, "bf").tolist() == [0x3F80, 0xC060]
    assert inputs.bf16_to_float32(data.get(0, 0, "bf")).tolist() == [1.0, -3.5]
    assert data.get(0, 0, "f64").tolist() == [0.1, 1e300]
    assert data.get(0, 0, "s").tolist() == ["héllo".encode(), b""]


def test_b64_float32_little_endian(tmp_path):
    raw = struct.pack("<3f", 1.0, -2.5, 3.25)
    doc = {"data": [{"X": {"b64": base64.b64encode(raw).decode()}}]}
    data = load_input_data(_write(tmp_path / "f.json", doc), [TensorSpec("X", "FP32", [3])])
    assert data.get(0, 0, "X").tolist() == [1.0, -2.5, 3.25]


def test_b64_with_shape_at_same_level(tmp_path):
    raw = struct.pack("<4h", 1, -2, 3, -4)
    doc = {"data": [{"X": {"b64": base64.b64encode(raw).decode(), "shape": [2, 2]}}]}
    data = load_input_data(_write(tmp_path / "f.json", doc), [TensorSpec("X", "INT16", [-1, 2])])
    assert data.get(0, 0, "X").tolist() == [[1, -2], [3, -4]]


def test_model_key_is_ignored(tmp_path):
    doc = {"data": [{"model": "m", "X": [1]}]}
    data = load_input_data(_write(tmp_path / "m.json", doc), [TensorSpec("X", "INT32", [1])])
    assert data.get(0, 0, "X").tolist() == [1]


def test_arrays_are_read_only():
    data = load_input_data(str(DATA / "arrays.json"), _int32x2())
    with pytest.raises(ValueError, match="read-only"):
        data.get(0, 0, "INPUT0")[0, 0] = 5


# --- JSON error paths ---


ERROR_CASES = [
    ({"data": [{"X": [1, 2]}, {}]}, r"step 1, input 'X': missing tensor"),
    ({"data": [{"X": [1, 2], "Z": [1]}]}, r"step 0, input 'Z': unknown tensor name"),
    ({"data": [{"X": [1, 2, 3]}]}, r"step 0, input 'X': has 3 elements, expected 2"),
    ({"data": [{"X": [1, 2]}, {"X": [[1, 2]]}]}, r"step 1, input 'X': element 0 is an array"),
    ({"data": [{"X": [1, "2"]}]}, r'step 0, input .X.: element 1 is "2", expected an integer'),
    ({"data": [{"X": [1, 2.5]}]}, r"step 0, input 'X': element 1 is 2.5"),
    ({"data": [{"X": [1, 2**40]}]}, r"step 0, input 'X': element 1 .* out of range for INT32"),
    ({"data": [{"X": {"b64": "!!!"}}]}, r"step 0, input 'X': bad b64"),
    ({"data": [{"X": {"b64": "AAAA"}}]}, r"step 0, input 'X': b64 data has 3 bytes, expected 8"),
    ({"data": [{"X": {"b64": 5}}]}, r"step 0, input 'X': the 'b64' value must be a string"),
    ({"data": [{"X": {"content": [1, 2], "shape": [2.0]}}]}, r"step 0, input 'X': non-integer"),
    ({"data": [{"X": {"content": [1, 2], "shape": "2"}}]}, r"step 0, input 'X': non-integer"),
    (
        {"data": [{"X": {"content": [1, 2], "shape": [1, 2]}}]},
        r"step 0, input 'X': shape \[1, 2\] .*disagrees",
    ),
    (
        {"data": [{"X": {"content": [1, 2], "shape": [3]}}]},
        r"step 0, input 'X': shape \[3\] .*disagrees",
    ),
    ({"data": [{"X": {"shape": [2]}}]}, r"step 0, input 'X': missing 'content'"),
    ({"data": [{"X": {"content": [1, 2], "shapes": [2]}}]}, r"step 0, input 'X': unknown field"),
    (
        {"data": [{"X": {"content": "12"}}]},
        r"step 0, input 'X': 'content' must be an array or \{\"b64\": \.\.\.\}, got a string "
        r"\"12\"",
    ),
    ({"data": [{"X": 7}]}, r"step 0, input 'X': expected an array, .* got a number 7$"),
    ({"data": [{"X": [1, 2]}, [{"X": [1, 2]}]]}, r"mixed nested"),
    ({"data": [[{"X": [1, 2]}], {"X": [1, 2]}]}, r"mixed nested"),
    ({"data": [[{"X": [1, 2]}], []]}, r"stream 1: the stream is empty"),
    ({"data": [[{"X": [1, 2]}, {"X": [1]}]]}, r"stream 0, step 1, input 'X': has 1 elements"),
    ({"data": [5]}, r"step 0: entry 0 of \"data\" must be an object"),
    ({"data": []}, r'"data" is empty'),
    ({"data": {"X": [1, 2]}}, r'"data" must be an array, got an object$'),
    ({"dat": []}, r'no "data" field'),
    ([{"X": [1, 2]}], r'must be an object with a "data" array, got an array$'),
    ({"data": [{"X": [1, 2]}], "validation_data": []}, r"validation_data\" has 0 entries"),
    (
        {"data": [{"X": [1, 2]}], "validation_data": {}},
        r"\"validation_data\" must be an array, got an object$",
    ),
    (
        {"data": [{"X": [1, 2]}], "validation_data": [{"Y": [1]}]},
        r"step 0, output 'Y': has 1 elements, expected 2",
    ),
    (
        {"data": [{"X": [1, 2]}], "validation_data": [{"X": [1, 2]}]},
        r"step 0, output 'X': unknown tensor name",
    ),
    (
        {"data": [[{"X": [1, 2]}]], "validation_data": [[]]},
        r"stream 0: \"validation_data\" does not align",
    ),
]


@pytest.mark.parametrize(("doc", "pattern"), ERROR_CASES)
def test_json_errors(tmp_path, doc, pattern):
    path = _write(tmp_path / "bad.json", doc)
    with pytest.raises(InputDataError, match=pattern) as info:
        load_input_data(
            path, [TensorSpec("X", "INT32", [2])], outputs=[TensorSpec("Y", "FP32", [2])]
        )
    assert str(path) in str(info.value)


def test_step_index_counts_across_files(tmp_path):
    a = _write(tmp_path / "a.json", {"data": [{"X": [1]}, {"X": [2]}]})
    b = _write(tmp_path / "b.json", {"data": [{"X": [3]}, {"X": "oops"}]})
    with pytest.raises(InputDataError, match=r"b\.json, stream 0, step 3, input 'X'"):
        load_input_data([a, b], [TensorSpec("X", "INT32", [1])])


def test_mixed_nesting_across_files(tmp_path):
    a = _write(tmp_path / "a.json", {"data": [{"X": [1]}]})
    b = _write(tmp_path / "b.json", {"data": [[{"X": [1]}]]})
    with pytest.raises(InputDataError, match=r"b\.json.*mixed nested"):
        load_input_data([a, b], [TensorSpec("X", "INT32", [1])])


def test_malformed_json(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"data": [{"X": [1, 2}]}')
    with pytest.raises(InputDataError, match=r"m\.json: malformed JSON: .* line 1 column"):
        load_input_data(str(path), [TensorSpec("X", "INT32", [2])])
    path.write_bytes(b'{"data": "\xff"}')
    with pytest.raises(InputDataError, match=r"m\.json: malformed JSON: not valid UTF-8"):
        load_input_data(str(path), [TensorSpec("X", "INT32", [2])])


@pytest.mark.parametrize(
    ("payload", "pattern"),
    [
        (b"\x05\x00\x00\x00ab", r"element 0 declares 5 bytes but only 2 remain"),
        (b"\x01\x00\x00\x00a\x01\x00", r"element 1 is cut short"),
        (b"\x01\x00\x00\x00a", r"holds 1 string elements, expected 2"),
    ],
)
def test_bytes_b64_errors(tmp_path, payload, pattern):
    doc = {"data": [{"S": {"b64": base64.b64encode(payload).decode()}}]}
    with pytest.raises(InputDataError, match=r"step 0, input 'S': b64 data.*" + pattern):
        load_input_data(_write(tmp_path / "s.json", doc), [TensorSpec("S", "BYTES", [2])])


def test_bytes_list_needs_strings(tmp_path):
    doc = {"data": [{"S": ["a", 1]}]}
    with pytest.raises(InputDataError, match=r"step 0, input 'S': element 1 is 1, expected a str"):
        load_input_data(_write(tmp_path / "s.json", doc), [TensorSpec("S", "BYTES", [2])])


def test_bool_list_needs_bools(tmp_path):
    doc = {"data": [{"B": [True, 1]}]}
    with pytest.raises(InputDataError, match=r"step 0, input 'B': element 1 is 1, expected true"):
        load_input_data(_write(tmp_path / "b.json", doc), [TensorSpec("B", "BOOL", [2])])


@pytest.mark.parametrize(
    ("step", "dtype", "message"),
    [
        ({"X": [[1], 2]}, "INT32", "element 0 is an array: tensor values must be a flat row-major"),
        ({"X": [{"a": 1}, 2]}, "INT32", "element 0 is an object: tensor values must be a flat"),
        ({"X": [True, 2]}, "INT32", "element 0 is true, expected an integer for INT32"),
        ({"X": [None, 2]}, "FP32", "element 0 is null, expected a number for FP32"),
        ({"X": ["a", 2]}, "FP32", 'element 0 is "a", expected a number for FP32'),
        ({"X": [1, "b"]}, "BOOL", "element 0 is 1, expected true or false for BOOL"),
        ({"X": {"b64": 5}}, "INT32", "the 'b64' value must be a string, got a number"),
        ({"X": {"content": None}}, "INT32", "'content' must be an array or"),
        ({"X": {"content": [1, 2], "shape": None}}, "INT32", "non-integer shape null"),
        ({"X": {"content": [1, 2], "shape": [True]}}, "INT32", "non-integer shape [true]"),
        ({"X": None}, "INT32", "got null null"),
        ({"X": "ab"}, "INT32", 'got a string "ab"'),
    ],
)
def test_messages_use_json_words(tmp_path, step, dtype, message):
    """Messages about JSON values use JSON's words and notation, not Python's."""
    path = _write(tmp_path / "w.json", {"data": [step]})
    with pytest.raises(InputDataError) as info:
        load_input_data(path, [TensorSpec("X", dtype, [2])])
    text = str(info.value)
    assert message in text
    for python_word in ("list", "dict", "NoneType", "True", "None", "str ", "'a'"):
        assert python_word not in text.replace("'b64'", "").replace("'content'", "")


def test_stream_entries_use_json_words(tmp_path):
    path = _write(tmp_path / "s.json", {"data": [{"X": [1, 2]}, [{"X": [1, 2]}]]})
    with pytest.raises(
        InputDataError,
        match=r'entry 1 of "data" is an array but earlier entries '
        r"are objects: mixed nested \(per-stream arrays\)",
    ):
        load_input_data(path, [TensorSpec("X", "INT32", [2])])
    path = _write(tmp_path / "v.json", {"data": [[{"X": [1, 2]}]], "validation_data": [{}]})
    with pytest.raises(InputDataError, match=r"expected an array of 1 steps for this stream"):
        load_input_data(path, [TensorSpec("X", "INT32", [2])], [TensorSpec("Y", "INT32", [2])])


def test_float_overflow_is_an_error(tmp_path):
    doc = {"data": [{"F": [1.0, 1e39]}]}
    with pytest.raises(InputDataError, match=r"step 0, input 'F': element 1 .*out of range"):
        load_input_data(_write(tmp_path / "f.json", doc), [TensorSpec("F", "FP32", [2])])


def test_batches_reject_steps_of_different_shapes():
    spec = [TensorSpec("INPUT", "INT32", [-1, -1])]
    data = load_input_data(str(DATA / "content_shape.json"), spec, shapes={"INPUT": [4, 4]})
    assert [b[0].shape for b in data.batches(1)] == [(1, 2, 8), (1, 8, 2), (1, 4, 4), (1, 4, 4)]
    with pytest.raises(InputDataError, match=r"input 'INPUT': stream 0, step 1 has shape \[8, 2\]"):
        data.batches(2)


# --- argument validation ---


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"source": 5}, r"source must be"),
        ({"source": []}, r"source is an empty list"),
        ({"source": [5]}, r"source list must hold JSON file paths"),
        ({"source": "no/such/path.json"}, r"is not 'random', 'zero', an existing directory"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
        ({"batch_size": 1.5}, r"batch_size must be an integer >= 1"),
        ({"batch_size": True}, r"batch_size must be an integer >= 1"),
        ({"string_length": -1}, r"string_length must be an integer >= 0"),
        ({"string_data": 5}, r"string_data must be"),
        ({"seed": "x"}, r"seed must be an integer"),
        ({"shapes": {"Q": [1]}}, r"shapes names unknown tensor 'Q'"),
        ({"shapes": {"X": [1, 2]}}, r"shapes\['X'\] = \[1, 2\] disagrees"),
        ({"shapes": {"X": [-1]}}, r"shapes\['X'\].*non-negative"),
        ({"shapes": [1]}, r"shapes must map"),
        ({"inputs": []}, r"inputs is empty"),
        ({"inputs": ["X"]}, r"inputs must hold TensorSpec"),
        ({"inputs": [TensorSpec("X", "FP32", [2])] * 2}, r"'X' appears twice"),
        ({"outputs": [TensorSpec("X", "FP32", [2])]}, r"both inputs and outputs"),
    ],
)
def test_argument_errors(kwargs, pattern):
    args = {"source": "random", "inputs": [TensorSpec("X", "FP32", [-1])], "shapes": {"X": [3]}}
    args.update(kwargs)
    with pytest.raises(InputDataError, match=pattern):
        load_input_data(**args)


def test_source_list_rejects_directory(tmp_path):
    with pytest.raises(InputDataError, match=r"is a directory, not a JSON file"):
        load_input_data([str(tmp_path)], [TensorSpec("X", "FP32", [1])])


@pytest.mark.parametrize(
    ("dtype", "shape", "pattern"),
    [
        ("FP128", [1], r"unknown data type 'FP128'"),
        (np.complex64, [1], r"unsupported numpy data type"),
        ("FP32", [-2], r"shape \[-2\] must hold integers"),
        ("FP32", "12", r"shape must be a sequence"),
        ("FP32", [1.5], r"must hold integers"),
    ],
)
def test_tensor_spec_errors(dtype, shape, pattern):
    with pytest.raises(InputDataError, match=pattern):
        TensorSpec("X", dtype, shape)


def test_tensor_spec_normalizes_dtypes():
    assert TensorSpec("a", np.float32, [1]).dtype == "FP32"
    assert TensorSpec("a", "fp16", [1]).dtype == "FP16"
    assert TensorSpec("a", "TYPE_INT64", [1]).dtype == "INT64"
    assert TensorSpec("a", "STRING", [1]).dtype == "BYTES"
    assert TensorSpec("a", bytes, [1]).dtype == "BYTES"
    assert TensorSpec("a", "bool", [1]).dtype == "BOOL"
    assert TensorSpec("a", "BF16", [1]).numpy_dtype == np.uint16
    assert TensorSpec("a", "FP32", [3, -1]).is_variable


def test_get_index_errors():
    data = load_input_data(str(DATA / "arrays.json"), _int32x2())
    with pytest.raises(InputDataError, match=r"stream 1 out of range: the data has 1 stream"):
        data.get(1, 0, "INPUT0")
    with pytest.raises(InputDataError, match=r"step 4 out of range: stream 0 has 4 step"):
        data.get(0, 4, "INPUT0")
    with pytest.raises(InputDataError, match=r"unknown input 'NOPE'"):
        data.get(0, 0, "NOPE")
    with pytest.raises(InputDataError, match=r"unknown output 'NOPE'"):
        data.get_output(0, 0, "NOPE")
    with pytest.raises(InputDataError, match=r"batch_size must be an integer >= 1"):
        data.batches(0)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [("IMAGE:3,224,224", ("IMAGE", [3, 224, 224])), ("a:b:1", ("a:b", [1])), ("x: 2 ", ("x", [2]))],
)
def test_parse_shape_arg(arg, expected):
    assert inputs.parse_shape_arg(arg) == expected


@pytest.mark.parametrize(
    ("arg", "pattern"),
    [
        ("IMAGE", r"expected NAME:d1,d2"),
        (":3", r"expected NAME:d1,d2"),
        ("IMAGE:", r"no dimensions"),
        ("IMAGE:3,,4", r"dimension '' of 'IMAGE'"),
        ("IMAGE:3,-1", r"dimension '-1' of 'IMAGE' is not a non-negative integer"),
        ("IMAGE:3.5", r"dimension '3.5'"),
    ],
)
def test_parse_shape_arg_errors(arg, pattern):
    with pytest.raises(InputDataError, match=pattern):
        inputs.parse_shape_arg(arg)


# --- directory sources ---


def test_directory_source(tmp_path):
    np.arange(12, dtype="<f4").tofile(tmp_path / "IMG")
    np.array([7, -8], dtype="<i8").tofile(tmp_path / "IDS")
    (tmp_path / "TEXT").write_bytes(b"hello\nworld\n")
    np.array([1.5, 2.5], dtype="<f8").tofile(tmp_path / "OUT")
    specs = [
        TensorSpec("IMG", "FP32", [3, 4]),
        TensorSpec("IDS", "INT64", [-1]),
        TensorSpec("TEXT", "BYTES", [2]),
    ]
    outs = [TensorSpec("OUT", "FP64", [2]), TensorSpec("OUT2", "FP64", [2])]
    data = load_input_data(tmp_path, specs, outputs=outs, shapes={"IDS": [2]})
    assert data.num_streams == 1
    assert data.num_steps(0) == 1
    assert data.get(0, 0, "IMG").tolist() == np.arange(12, dtype=np.float32).reshape(3, 4).tolist()
    assert data.get(0, 0, "IDS").tolist() == [7, -8]
    assert data.get(0, 0, "TEXT").tolist() == [b"hello", b"world"]
    assert data.get_output(0, 0, "OUT").tolist() == [1.5, 2.5]
    assert data.get_output(0, 0, "OUT2") is None


def test_directory_bytes_file_without_trailing_newline(tmp_path):
    (tmp_path / "T").write_bytes(b"a\n\nc")
    data = load_input_data(str(tmp_path), [TensorSpec("T", "BYTES", [3])])
    assert data.get(0, 0, "T").tolist() == [b"a", b"", b"c"]


def test_directory_errors(tmp_path):
    specs = [TensorSpec("A", "INT32", [2]), TensorSpec("T", "BYTES", [2])]
    with pytest.raises(InputDataError, match=r"no file for input 'A'"):
        load_input_data(str(tmp_path), specs)
    np.arange(3, dtype="<i4").tofile(tmp_path / "A")
    (tmp_path / "T").write_bytes(b"x\ny\n")
    with pytest.raises(
        InputDataError, match=r"A, stream 0, step 0, input 'A': the file has 12 bytes"
    ):
        load_input_data(str(tmp_path), specs)
    np.arange(2, dtype="<i4").tofile(tmp_path / "A")
    (tmp_path / "T").write_bytes(b"x\n")
    with pytest.raises(InputDataError, match=r"input 'T': the text file has 1 lines"):
        load_input_data(str(tmp_path), specs)
    (tmp_path / "T").write_bytes(b"x\ny\n")
    (tmp_path / "EXTRA").write_bytes(b"1")
    with pytest.raises(InputDataError, match=r"file 'EXTRA' does not correspond"):
        load_input_data(str(tmp_path), specs)
    (tmp_path / "EXTRA").unlink()
    with pytest.raises(InputDataError, match=r"input 'A': variable-sized"):
        load_input_data(str(tmp_path), [TensorSpec("A", "INT32", [-1]), specs[1]])


# --- random / zero sources ---


def test_random_is_seeded_and_reused():
    specs = [
        TensorSpec("F", "FP32", [2, 3]),
        TensorSpec("I", "INT8", [5]),
        TensorSpec("U", "UINT64", [4]),
        TensorSpec("B", "BOOL", [8]),
        TensorSpec("H", "FP16", [2]),
        TensorSpec("G", "BF16", [2]),
        TensorSpec("S", "BYTES", [3]),
    ]
    a = load_input_data("random", specs, seed=1, string_length=7)
    b = load_input_data("random", specs, seed=1, string_length=7)
    c = load_input_data("random", specs, seed=2, string_length=7)
    for spec in specs:
        x, y = a.get(0, 0, spec.name), b.get(0, 0, spec.name)
        assert x.dtype == spec.numpy_dtype
        assert x.shape == spec.shape
        assert x.tolist() == y.tolist()
    assert a.get(0, 0, "F").tolist() != c.get(0, 0, "F").tolist()
    assert all(len(s) == 7 and s.isalnum() for s in a.get(0, 0, "S").tolist())
    assert a.num_steps(0) == 1
    batches = a.batches(3)
    assert len(batches) == 1
    assert all(np.array_equal(row, a.get(0, 0, "F")) for row in batches[0][0])
    f = a.get(0, 0, "F")
    assert ((f >= 0) & (f < 1)).all()


def test_random_string_data_and_variable_dims():
    spec = [TensorSpec("S", "BYTES", [-1])]
    data = load_input_data("random", spec, shapes={"S": [2]}, string_data="hi")
    assert data.get(0, 0, "S").tolist() == [b"hi", b"hi"]
    with pytest.raises(InputDataError, match=r"input 'S': variable-sized shape \[-1\].*shapes="):
        load_input_data("random", spec)


def test_zero_source():
    specs = [TensorSpec("F", "FP64", [3]), TensorSpec("I", "UINT16", [2, 2])]
    data = load_input_data("zero", specs)
    assert data.get(0, 0, "F").tolist() == [0.0, 0.0, 0.0]
    assert data.get(0, 0, "I").tolist() == [[0, 0], [0, 0]]
    assert data.get(0, 0, "I").dtype == np.uint16


# --- batches ---


def test_batches_wrap_round_robin(tmp_path):
    doc = {"data": [{"X": [k, 10 * k]} for k in range(5)]}
    data = load_input_data(_write(tmp_path / "w.json", doc), [TensorSpec("X", "INT32", [2])])
    batches = data.batches(2)
    assert isinstance(batches, list)
    assert [b[0][:, 0].tolist() for b in batches] == [[0, 1], [2, 3], [4, 0]]
    assert batches[2][0].tolist() == [[4, 40], [0, 0]]
    assert data.batches(2) is batches
    assert [b[0][:, 0].tolist() for b in data.batches(7)] == [[0, 1, 2, 3, 4, 0, 1]]
    assert [b[0].shape for b in data.batches(1)] == [(1, 2)] * 5


def test_batches_follow_inputs_order_and_streams():
    data = load_input_data(str(DATA / "streams.json"), [TensorSpec("INPUT", "BYTES", [1])])
    flat = [b[0][0, 0] for b in data.batches(1)]
    assert flat == [b"1", b"2", b"3", b"4", b"1", b"1", b"1", b"1", b"1"]
    specs = list(reversed(_int32x2()))
    data2 = load_input_data(str(DATA / "arrays.json"), specs, batch_size=4)
    (batch,) = data2.batches(4)
    assert len(batch) == 2
    assert batch[0].shape == (4, 4, 4)


# --- output validation ---


def test_compare_outputs():
    assert inputs.compare_outputs(np.array([1, 2, 3]), np.array([1, 2, 3])) is None
    assert inputs.compare_outputs(np.array([1, 2, 3]), [1, 5, 3]) == {
        "index": 1,
        "expected": 2,
        "got": 5,
    }
    assert inputs.compare_outputs(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])) is None
    assert inputs.compare_outputs(np.array([1.0, np.nan]), np.array([1.0, np.nan])) is None
    assert inputs.compare_outputs(np.array([1.0, 2.0]), np.array([1.0, 2.1]))["index"] == 1
    assert inputs.compare_outputs(np.array([[1, 2]]), np.array([1, 2])) is None
    assert inputs.compare_outputs(np.array([1, 2]), np.array([1, 2, 3])) == {
        "index": -1,
        "expected": [2],
        "got": [3],
    }
    exp = np.array([b"a", b"b"], dtype=object)
    assert inputs.compare_outputs(exp, ["a", "b"]) is None
    assert inputs.compare_outputs(exp, np.array([b"a", b"c"], dtype=object)) == {
        "index": 1,
        "expected": "b",
        "got": "c",
    }
    bf = inputs.float32_to_bf16([1.0, 2.0])
    assert inputs.compare_outputs(bf, np.array([1.0, 2.0], np.float32), datatype="BF16") is None


def test_validation_tally():
    tally = inputs.ValidationTally()
    exp = {"Y": np.array([1, 2]), "Z": None}
    assert tally.check_step(0, 0, exp, {"Y": np.array([1, 2])})
    assert not tally.check_step(0, 1, exp, {"Y": np.array([1, 3])})
    assert not tally.check_step(1, 0, exp, {})
    assert tally.check_step(1, 1, {"Z": None}, {})
    other = inputs.ValidationTally()
    other.check_step(2, 0, exp, {"Y": np.array([0, 2])})
    tally.merge(other)
    assert tally.to_dict() == {
        "steps_checked": 4,
        "mismatches": 3,
        "first_mismatch": {
            "stream": 0,
            "step": 1,
            "tensor": "Y",
            "index": 1,
            "expected": 2,
            "got": 3,
        },
    }
    json.dumps(tally.to_dict())


def test_validation_against_loaded_data():
    outs = [TensorSpec("OUTPUT0", "INT32", [4, 4]), TensorSpec("OUTPUT1", "INT32", [4, 4])]
    data = load_input_data(str(DATA / "validation.json"), _int32x2(), outputs=outs)
    tally = inputs.ValidationTally()
    x0, x1 = data.get(0, 0, "INPUT0"), data.get(0, 0, "INPUT1")
    got = {"OUTPUT0": x0 - x1, "OUTPUT1": x0 + x1}
    expected = {o.name: data.get_output(0, 0, o.name) for o in outs}
    assert tally.check_step(0, 0, expected, got)
    assert tally.to_dict()["mismatches"] == 0


# --- property tests ---

_DTYPES = ["BOOL", "UINT8", "INT16", "INT32", "UINT32", "INT64", "FP32", "FP64", "BYTES"]


def _values(dtype: str, n: int):
    if dtype == "BOOL":
        return st.lists(st.booleans(), min_size=n, max_size=n)
    if dtype == "BYTES":
        return st.lists(st.text(max_size=6), min_size=n, max_size=n)
    if dtype in ("FP32", "FP64"):
        floats = st.floats(
            allow_nan=False, allow_infinity=False, width=32 if dtype == "FP32" else 64
        )
        return st.lists(floats, min_size=n, max_size=n)
    info = np.iinfo(TensorSpec("x", dtype, [1]).numpy_dtype)
    return st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)


@st.composite
def _documents(draw):
    n_tensors = draw(st.integers(1, 3))
    specs, shapes = [], []
    for i in range(n_tensors):
        dtype = draw(st.sampled_from(_DTYPES))
        shape = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
        specs.append(TensorSpec(f"T{i}", dtype, shape))
        shapes.append(shape)
    nested = draw(st.booleans())
    n_streams = draw(st.integers(1, 3)) if nested else 1
    streams = []
    for _ in range(n_streams):
        steps = []
        for _ in range(draw(st.integers(1, 3))):
            step = {}
            for spec, shape in zip(specs, shapes, strict=True):
                values = draw(_values(spec.dtype, int(np.prod(shape))))
                form = draw(st.sampled_from(["list", "b64", "content"]))
                step[spec.name] = (values, form)
            steps.append(step)
        streams.append(steps)
    return specs, nested, streams


def _encode(spec: TensorSpec, values, form):
    if form == "list":
        return values
    if spec.dtype == "BYTES":
        raw = b"".join(
            len(v.encode("utf-8", "surrogatepass")).to_bytes(4, "little")
            + v.encode("utf-8", "surrogatepass")
            for v in values
        )
    else:
        raw = np.array(values, dtype=spec.numpy_dtype.newbyteorder("<")).tobytes()
    obj = {"b64": base64.b64encode(raw).decode()}
    return obj if form == "b64" else {"content": obj, "shape": list(spec.shape)}


def _expected(spec: TensorSpec, values):
    if spec.dtype == "BYTES":
        return [v.encode("utf-8", "surrogatepass") for v in values]
    return np.array(values, dtype=spec.numpy_dtype).tolist()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=_documents())
def test_property_round_trip(tmp_path, doc):
    specs, nested, streams = doc
    encoded = [
        [{n: _encode(s, *step[n]) for s in specs for n in [s.name]} for step in steps]
        for steps in streams
    ]
    body = {"data": encoded if nested else encoded[0]}
    path = _write(tmp_path / "rt.json", body)
    data = load_input_data(path, specs)
    assert data.num_streams == len(streams)
    for i, steps in enumerate(streams):
        assert data.num_steps(i) == len(steps)
        for k, step in enumerate(steps):
            for spec in specs:
                got = data.get(i, k, spec.name)
                assert got.shape == spec.shape
                assert got.reshape(-1).tolist() == _expected(spec, step[spec.name][0])


_VALID = {
    "data": [
        {"A": [1, 2, 3, 4], "B": {"b64": "AACAPwAAAEA="}, "S": ["x", "yz"]},
        {"A": {"content": [5, 6, 7, 8], "shape": [2, 2]}, "B": [1.5, 2.5], "S": ["", "q"]},
    ],
    "validation_data": [{"Y": [1]}, {"Y": {"b64": "AgAAAA=="}}],
}
_SPECS = [
    TensorSpec("A", "INT32", [2, -1]),
    TensorSpec("B", "FP32", [2]),
    TensorSpec("S", "BYTES", [2]),
]
_OUTS = [TensorSpec("Y", "INT32", [1])]

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _replace(doc, path, new):
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def test_valid_fixture_for_corruption_loads(tmp_path):
    path = _write(tmp_path / "ok.json", _VALID)
    data = load_input_data(path, _SPECS, outputs=_OUTS, shapes={"A": [2, 2]})
    assert data.get(0, 0, "B").tolist() == [1.0, 2.0]
    assert data.get_output(0, 1, "Y").tolist() == [2]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    index=st.integers(0, 10_000),
    replacement=_json_values,
    cut=st.integers(0, 400),
    mode=st.sampled_from(["replace", "truncate", "flip"]),
)
def test_property_corrupt_documents_raise_only_input_data_error(
    tmp_path, index, replacement, cut, mode
):
    path = tmp_path / "bad.json"
    if mode == "replace":
        paths = list(_paths(_VALID))
        doc = _replace(_VALID, paths[index % len(paths)], replacement)
        path.write_text(json.dumps(doc))
    else:
        text = json.dumps(_VALID).encode()
        pos = cut % len(text)
        text = (
            text[:pos]
            if mode == "truncate"
            else text[:pos] + bytes([text[pos] ^ 0x5A]) + text[pos + 1 :]
        )
        path.write_bytes(text)
    try:
        data = load_input_data(str(path), _SPECS, outputs=_OUTS, shapes={"A": [2, 2]})
    except InputDataError:
        return
    # Whatever loaded is usable.
    for batch in data.batches(2):
        assert len(batch) == 3


# --- one range rule for JSON numbers (issue 9.5) ---

_I = {name: np.iinfo(name.lower()) for name in ("INT8", "INT16", "INT32", "INT64")}
_U = {name: np.iinfo(name.lower()) for name in ("UINT8", "UINT16", "UINT32", "UINT64")}
# (type, literal, fits): literals exactly as written in the file.
RANGE_CASES = [
    *[(n, str(i.max), True) for n, i in {**_I, **_U}.items()],
    *[(n, str(i.min), True) for n, i in {**_I, **_U}.items()],
    *[(n, str(int(i.max) + 1), False) for n, i in {**_I, **_U}.items()],
    *[(n, str(int(i.min) - 1), False) for n, i in {**_I, **_U}.items()],
    *[(n, lit, False) for n in (*_I, *_U) for lit in ("1e400", "-1e400")],
    ("FP16", "65504", True),
    ("FP16", "65519.9", True),  # rounds to 65504
    ("FP16", "65520", False),  # rounds to infinity
    ("FP16", "-65520.0", False),
    ("BF16", "3.3895313892515355e38", True),
    ("BF16", "3.4e38", False),
    ("FP32", "3.4028234663852886e38", True),
    ("FP32", "3.4028235e38", True),  # float32's max as numpy prints it: rounds to it
    ("FP32", "3.5e38", False),
    ("FP32", "-1e39", False),
    ("FP64", "1.7976931348623157e308", True),
    ("FP64", "1" + "0" * 400, False),  # an integer beyond double's range
    *[(n, lit, False) for n in ("FP16", "BF16", "FP32", "FP64") for lit in ("1e400", "-1e400")],
    *[(n, lit, True) for n in ("FP16", "BF16", "FP32", "FP64") for lit in ("Infinity", "NaN")],
]


def _holds(dtype: str, literal: str):
    """What the tensor must hold for a fitting literal (BF16 compared as float32)."""
    value = int(literal) if literal.lstrip("-").isdigit() else float(literal)
    if dtype == "BF16":
        return inputs.bf16_to_float32(inputs.float32_to_bf16([value]))[0]
    return np.array([value], dtype=np.dtype(dtype.lower().replace("fp", "float")))[0]


@pytest.mark.parametrize("form", ["list", "content", "long array"])
@pytest.mark.parametrize(("dtype", "literal", "fits"), RANGE_CASES)
def test_one_range_rule_for_json_numbers(tmp_path, form, dtype, literal, fits):
    """The same literal fits or is rejected the same way in every form: a short list,
    a content object, and an array long enough for the reader's typed fast path."""
    count = 16 if form == "long array" else 2
    zero = "0.0" if dtype.startswith(("FP", "BF")) and "." in literal else "0"
    values = ", ".join([zero, literal] + [zero] * (count - 2))
    tensor = (
        f'{{"content": [{values}], "shape": [{count}]}}' if form == "content" else f"[{values}]"
    )
    path = tmp_path / "r.json"
    path.write_text(f'{{"data": [{{"X": {tensor}}}]}}')
    spec = [TensorSpec("X", dtype, [count])]
    if not fits:
        with pytest.raises(
            InputDataError,
            match=rf"input 'X': element 1 \(.*\) is out of range "
            rf"for {dtype} \(",
        ):
            load_input_data(str(path), spec)
        return
    tensor = load_input_data(str(path), spec).get(0, 0, "X")
    assert tensor.dtype == spec[0].numpy_dtype
    got = tensor[1]
    if dtype == "BF16":
        got = inputs.bf16_to_float32([got])[0]
    expected = _holds(dtype, literal)
    assert (np.isnan(got) and np.isnan(expected)) or got == expected


# --- sizes checked before allocating or reading (issue 9.4, 9.5) ---


@pytest.fixture
def one_gib_free(monkeypatch):
    """Pretend 1 GiB of memory is available, so that refusals do not depend on the host."""
    from neuronperf_native.inputs import memory

    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1 << 30)


def test_generated_tensor_beyond_memory_is_refused_naming_it(one_gib_free):
    spec = [TensorSpec("small", "FP32", [4]), TensorSpec("X", "FP32", [10**12])]
    with pytest.raises(InputDataError) as info:
        load_input_data("random", spec)
    assert str(info.value) == (
        "'random' input data for input 'X' (shape [1000000000000] FP32) with the inputs before "
        "it needs 3.6 TiB, more than the 1.0 GiB of memory available"
    )
    with pytest.raises(InputDataError, match=r"input 'S' \(shape \[1000000\] BYTES\) needs"):
        load_input_data("zero", [TensorSpec("S", "BYTES", [10**6])], string_length=1000)


def test_batches_beyond_memory_are_refused_before_any_row_is_made(one_gib_free):
    data = load_input_data("random", [TensorSpec("X", "FP32", [1024])])
    with pytest.raises(InputDataError) as info:
        data.batches(10**8)
    assert str(info.value) == (
        "random: 1 batch(es) of batch_size=100000000 (largest input 'X', [1024] FP32) needs "
        "381.5 GiB, more than the 1.0 GiB of memory available"
    )
    with pytest.raises(InputDataError, match=r"batch_size=100000000"):
        load_input_data("random", [TensorSpec("X", "FP32", [1024])], batch_size=10**8)


def test_a_batch_larger_than_the_data_cycles_through_its_steps(tmp_path):
    path = _write(tmp_path / "c.json", {"data": [{"X": [1]}, {"X": [2]}, {"X": [3]}]})
    data = load_input_data(path, [TensorSpec("X", "INT32", [1])])
    (batch,) = data.batches(7)
    assert batch[0].tolist() == [[1], [2], [3], [1], [2], [3], [1]]
    assert not batch[0].flags.writeable
    assert data.batch_steps(7) == [[(0, 0), (0, 1), (0, 2), (0, 0), (0, 1), (0, 2), (0, 0)]]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"inputs": [TensorSpec("X", "FP32", [-1, -1])], "shapes": {"X": [0, 2**62]}},
            r"input 'X': shape \[0, 4611686018427387904\] is too large for any array .* "
            r"\(from shapes\)",
        ),
        (
            {"inputs": [TensorSpec("X", "INT8", [0, 2**61])], "batch_size": 8},
            r"input 'X' at batch_size=8: shape \[8, 0, 2305843009213693952\] is too large",
        ),
    ],
)
def test_shapes_numpy_cannot_hold_are_input_data_errors(kwargs, pattern):
    with pytest.raises(InputDataError, match=pattern):
        load_input_data("random", **kwargs)


def test_tensor_spec_numpy_cannot_hold_is_refused():
    with pytest.raises(InputDataError, match=r"TensorSpec 'X': shape \[0, 4611686018427387904\]"):
        TensorSpec("X", "FP32", [0, 2**62])
    assert TensorSpec("X", "INT8", [0, 2**62]).shape == (0, 2**62)  # 2**62 bytes: allowed


def test_json_shape_numpy_cannot_hold_names_the_tensor(tmp_path):
    doc = {"data": [{"X": {"content": [], "shape": [0, 2**62]}}]}
    with pytest.raises(
        InputDataError,
        match=r"step 0, input 'X': shape \[0, 4611686018427387904\] "
        r"is too large for any array .* \(from the 'shape' field\)",
    ):
        load_input_data(_write(tmp_path / "s.json", doc), [TensorSpec("X", "FP32", [-1, -1])])


def test_directory_file_size_is_checked_before_reading(tmp_path, monkeypatch):
    """A 1 GB sparse file for a 16-byte input is refused without reading it."""
    from neuronperf_native.inputs import directory

    with open(tmp_path / "A", "wb") as f:
        f.truncate(1 << 30)
    real_open = open

    def no_reads(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        f.read = lambda *a: pytest.fail("the file was read")  # type: ignore[method-assign]
        return f

    monkeypatch.setattr(directory, "open", no_reads, raising=False)
    with pytest.raises(
        InputDataError,
        match=r"A, stream 0, step 0, input 'A': the file has "
        r"1073741824 bytes, expected 16 \(4 FP32 elements",
    ):
        load_input_data(str(tmp_path), [TensorSpec("A", "FP32", [4])])


def test_directory_text_file_beyond_memory_is_refused(tmp_path, one_gib_free):
    with open(tmp_path / "S", "wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(InputDataError, match=r"S: reading the text file needs 2\.0 GiB, more than"):
        load_input_data(str(tmp_path), [TensorSpec("S", "BYTES", [2])])
