"""Tests for neuronperf_native.model_index and the atomic write helper."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import neuronperf_native
from neuronperf_native import _files, model_index
from neuronperf_native.model_index import ModelIndexError

VERSION = neuronperf_native.__version__


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own empty working directory (indexes use relative paths)."""
    monkeypatch.chdir(tmp_path)


def _write(path: str | Path, data) -> str:
    Path(path).write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def _artifact(path: str, content: str = "weights") -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    Path(path).write_text(content)
    return path


def _artifact_dir(path: str) -> str:
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    Path(path, "saved_model.pb").write_text("graph")
    Path(path, "variables", "v.data").write_text("vars")
    return path


# create / save / load -------------------------------------------------------------


def test_create_fills_every_key():
    ix = model_index.create(
        "models/resnet50_b4_p1_ab12.pt",
        model_name="resnet50",
        input_idx=2,
        batch_size=4,
        pipeline_size=1,
        performance_level=2,
        cast_mode="matmult",
        compile_s=5.32,
    )
    assert ix == {
        "version": VERSION,
        "model_name": "resnet50",
        "model_configs": [
            {
                "filename": "models/resnet50_b4_p1_ab12.pt",
                "input_idx": 2,
                "batch_size": 4,
                "pipeline_size": 1,
                "performance_level": 2,
                "cast_mode": "matmult",
                "compile_s": 5.32,
                "status": "finished",
            }
        ],
    }


def test_create_defaults_model_name_from_artifact():
    ix = model_index.create(Path("models") / "bert_b1_p1_zz99.pt")
    assert ix["model_name"] == "bert_b1_p1_zz99"
    config = ix["model_configs"][0]
    assert config["filename"] == os.path.join("models", "bert_b1_p1_zz99.pt")
    assert (config["input_idx"], config["batch_size"], config["pipeline_size"]) == (0, 1, 1)
    assert config["performance_level"] == 3
    assert config["compile_s"] is None


def test_save_load_round_trip(tmp_path):
    ix = model_index.create("models/m.pt", model_name="resnet50", batch_size=8, compile_s=1.5)
    written = model_index.save(ix, "my_index.json")
    assert written == "my_index.json"
    on_disk = json.loads(Path(written).read_text())
    assert on_disk["version"] == VERSION
    assert list(on_disk) == ["version", "model_name", "model_configs"]
    assert model_index.load(written) == ix
    assert model_index.load(tmp_path / "my_index.json") == ix


def test_save_generates_unique_name_from_model_name():
    ix = model_index.create("models/m.pt", model_name="resnet50")
    names = {model_index.save(ix) for _ in range(5)}
    assert len(names) == 5
    for name in names:
        assert re.fullmatch(r"resnet50_[a-z0-9]{4}\.json", name), name
        assert model_index.load(name) == ix


def test_save_root_dir(tmp_path):
    ix = model_index.create("models/m.pt")
    written = model_index.save(ix, "idx.json", root_dir="out/indexes")
    assert written == os.path.join("out/indexes", "idx.json")
    assert model_index.load("out/indexes/idx.json") == ix
    # Stored relative to the index's folder, resolved against it by load.
    on_disk = json.loads(Path("out/indexes/idx.json").read_text())
    assert on_disk["model_configs"][0]["filename"] == "../../models/m.pt"
    assert model_index.load(tmp_path / "out" / "indexes" / "idx.json")["model_configs"][0][
        "filename"
    ] == str(tmp_path / "models" / "m.pt")
    generated = model_index.save(ix, root_dir="out")
    assert os.path.dirname(generated) == "out"
    assert model_index.load(generated) == ix


def test_save_overwrites_version_and_does_not_mutate_input():
    ix = model_index.create("models/m.pt")
    ix["version"] = "0.0.0.0+0bc220a"
    before = json.dumps(ix)
    model_index.save(ix, "i.json")
    assert json.dumps(ix) == before
    assert json.loads(Path("i.json").read_text())["version"] == VERSION


def test_save_keeps_extra_keys():
    ix = model_index.create("models/m.pt")
    ix["notes"] = "tuned by hand"
    ix["model_configs"][0]["compiler_args"] = {"--O": "2"}
    model_index.save(ix, "i.json")
    loaded = model_index.load("i.json")
    assert loaded["notes"] == "tuned by hand"
    assert loaded["model_configs"][0]["compiler_args"] == {"--O": "2"}


def test_save_rejects_non_json_data_and_leaves_nothing():
    ix = model_index.create("models/m.pt")
    ix["model_configs"][0]["extra"] = object()
    with pytest.raises(ModelIndexError, match="JSON"):
        model_index.save(ix, "i.json")
    assert os.listdir(".") == []


# NeuronPerf-written and hand-written indexes -------------------------------------


def test_load_neuronperf_written_index():
    # An index as NeuronPerf writes it: NeuronPerf_version and configs without input_idx.
    path = _write(
        "model_83b3raj2.json",
        {
            "NeuronPerf_version": "1.6.0.0",
            "model_name": "resnet50",
            "model_configs": [
                {
                    "filename": "models/model_b1_p1_38793jda.pt",
                    "batch_size": 1,
                    "pipeline_size": 1,
                    "performance_level": 3,
                    "compile_s": 5.32,
                    "status": "finished",
                },
                {
                    "filename": "models/model_b8_p1_1a2b3c4d.pt",
                    "batch_size": 8,
                    "pipeline_size": 1,
                    "performance_level": 3,
                    "compile_s": 9.0,
                    "status": "error",
                },
            ],
        },
    )
    ix = model_index.load(path)
    assert ix["version"] == "1.6.0.0"
    assert ix["model_name"] == "resnet50"
    assert [c["input_idx"] for c in ix["model_configs"]] == [0, 0]
    assert [c["batch_size"] for c in ix["model_configs"]] == [1, 8]
    assert [c["status"] for c in ix["model_configs"]] == ["finished", "error"]
    # Saved again, it becomes one of ours.
    model_index.save(ix, "resaved.json")
    raw = json.loads(Path("resaved.json").read_text())
    assert raw["version"] == VERSION
    assert "NeuronPerf_version" not in raw
    assert raw["model_configs"][0]["input_idx"] == 0


def test_load_hand_written_seed_index():
    # Exactly the example index in NeuronPerf's model index guide.
    path = _write(
        "model_index.json",
        """{
            "version": "0.0.0.0+0bc220a",
            "model_configs": [
                {
                    "filename": "models/model_b1_p1_38793jda.pt",
                    "input_idx": 0,
                    "batch_size": 1,
                    "pipeline_size": 1,
                    "compile_s": 5.32
                }
            ]
        }""",
    )
    ix = model_index.load(path)
    assert ix["version"] == "0.0.0.0+0bc220a"
    assert ix["model_name"] == "model_b1_p1_38793jda"
    (config,) = ix["model_configs"]
    assert config == {
        "filename": "models/model_b1_p1_38793jda.pt",
        "input_idx": 0,
        "batch_size": 1,
        "pipeline_size": 1,
        "compile_s": 5.32,
        "performance_level": None,
        "cast_mode": None,
        "status": "finished",
    }


def test_load_minimal_index_only_filename():
    path = _write("i.json", {"model_configs": [{"filename": "a.pt"}]})
    ix = model_index.load(path)
    assert ix["version"] is None
    assert ix["model_configs"][0]["batch_size"] == 1
    assert ix["model_configs"][0]["status"] == "finished"


def test_load_empty_config_list():
    path = _write("i.json", {"version": "1", "model_name": "x", "model_configs": []})
    assert model_index.load(path) == {"version": "1", "model_name": "x", "model_configs": []}


# Malformed and missing indexes ---------------------------------------------------


def test_load_missing_file_names_it():
    with pytest.raises(ModelIndexError, match=r"nope\.json.*not found"):
        model_index.load("nope.json")


def test_load_directory():
    os.mkdir("d.json")
    with pytest.raises(ModelIndexError, match=r"d\.json.*directory"):
        model_index.load("d.json")


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{not json", r"bad\.json: not valid JSON"),
        ("", r"bad\.json: not valid JSON"),
        ('{"model_configs": [{"filename": "a", "compile_s": NaN}]}', r"bad\.json: not valid JSON"),
        ("[1, 2]", r"bad\.json: top level must be a JSON object"),
        ('{"version": "1"}', r"bad\.json: missing required key 'model_configs'"),
        ('{"model_configs": {}}', r"bad\.json: key 'model_configs' must be a list"),
        ('{"model_configs": [3]}', r"bad\.json: model_configs\[0\] must be a JSON object"),
        (
            '{"model_configs": [{"filename": "a"}, {"batch_size": 1}]}',
            r"bad\.json: model_configs\[1\]: missing required key 'filename'",
        ),
        (
            '{"model_configs": [{"filename": 7}]}',
            r"bad\.json: model_configs\[0\]: key filename must be a non-empty str",
        ),
        (
            '{"model_configs": [{"filename": "a", "batch_size": "8"}]}',
            r"bad\.json: model_configs\[0\]: key batch_size must be an int, got str: '8'",
        ),
        (
            '{"model_configs": [{"filename": "a", "batch_size": 0}]}',
            r"bad\.json: model_configs\[0\]: key batch_size must be in \[1, 2147483648\], got 0",
        ),
        (
            '{"model_configs": [{"filename": "a", "input_idx": true}]}',
            r"model_configs\[0\]: key input_idx must be an int",
        ),
        (
            '{"model_configs": [{"filename": "a", "performance_level": 7}]}',
            r"model_configs\[0\]: key performance_level must be in \[0, 3\], got 7",
        ),
        (
            '{"model_configs": [{"filename": "a", "compile_s": -1}]}',
            r"model_configs\[0\]: key compile_s must be a finite number >= 0",
        ),
        (
            '{"model_configs": [{"filename": "a", "status": 1}]}',
            r"model_configs\[0\]: key status must be a non-empty str",
        ),
        ('{"version": 3, "model_configs": []}', r"bad\.json: key 'version' must be a str"),
        ('{"model_name": "", "model_configs": []}', r"bad\.json: key 'model_name' must be"),
    ],
)
def test_load_malformed_names_file_and_key(text, pattern):
    _write("bad.json", text)
    with pytest.raises(ModelIndexError, match=pattern):
        model_index.load("bad.json")


def test_load_invalid_utf8():
    Path("bad.json").write_bytes(b'{"model_configs": ["\xff"]}')
    with pytest.raises(ModelIndexError, match=r"bad\.json: cannot read"):
        model_index.load("bad.json")


def test_model_index_error_is_value_error():
    assert issubclass(ModelIndexError, ValueError)


# Argument validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"filename": 3}, TypeError, "filename must be a str or os.PathLike, got int: 3"),
        ({"filename": ""}, ValueError, "filename must be a non-empty path"),
        (
            {"filename": "a", "batch_size": 0},
            ValueError,
            r"batch_size must be in \[1, 2147483648\], got 0",
        ),
        ({"filename": "a", "batch_size": 1.0}, TypeError, "batch_size must be an int"),
        ({"filename": "a", "pipeline_size": -1}, ValueError, "pipeline_size must be >= 1"),
        ({"filename": "a", "input_idx": -1}, ValueError, "input_idx must be >= 0"),
        ({"filename": "a", "performance_level": 4}, ValueError, "performance_level must be in"),
        ({"filename": "a", "cast_mode": 1}, TypeError, "cast_mode must be a str or None"),
        ({"filename": "a", "compile_s": "fast"}, TypeError, "compile_s must be a number"),
        ({"filename": "a", "compile_s": float("inf")}, ValueError, "compile_s must be a finite"),
        ({"filename": "a", "status": ""}, TypeError, "status must be a non-empty str"),
        ({"filename": "a", "model_name": 5}, TypeError, "model_name must be"),
    ],
)
def test_create_validates(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        model_index.create(**kwargs)


def test_other_functions_validate_arguments():
    ix = model_index.create("models/m.pt")
    with pytest.raises(TypeError, match="index must be a model index dict"):
        model_index.save("i.json")
    with pytest.raises(TypeError, match="root_dir must be"):
        model_index.save(ix, "i.json", root_dir=5)
    with pytest.raises(TypeError, match="filename must be"):
        model_index.load(None)
    with pytest.raises(ValueError, match="at least one index"):
        model_index.append()
    with pytest.raises(TypeError, match=r"indexes\[1\] must be a model index dict or a filename"):
        model_index.append(ix, 42)
    with pytest.raises(TypeError, match="index must be a model index dict or a filename"):
        model_index.filter([ix], batch_size=1)
    with pytest.raises(TypeError, match="criterion batch_size"):
        model_index.filter(ix, batch_size={1: 2})
    with pytest.raises(TypeError, match="new_dir must be"):
        model_index.copy(ix, "n.json", None)
    with pytest.raises(TypeError, match="new_index must be"):
        model_index.move("i.json", 1, "d")
    with pytest.raises(ModelIndexError, match=r"<index dict>: missing required key"):
        model_index.save({"model_name": "x"}, "i.json")
    with pytest.raises(TypeError, match="model_name must be a non-empty str"):
        model_index.generate_name("")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model_index.generate_name("m", batch_size=0)


# filter ---------------------------------------------------------------------------


def _grid_index() -> dict:
    parts = [
        model_index.create(
            f"models/m_b{b}_p{p}_l{lvl}.pt",
            model_name="m",
            batch_size=b,
            pipeline_size=p,
            performance_level=lvl,
            status="finished" if b != 4 else "error",
        )
        for b in (1, 2, 4)
        for p in (1, 2)
        for lvl in (1, 3)
    ]
    return model_index.append(*parts)


def _keys(ix: dict) -> list[tuple[int, int, int]]:
    return [
        (c["batch_size"], c["pipeline_size"], c["performance_level"]) for c in ix["model_configs"]
    ]


def test_filter_single_value():
    ix = _grid_index()
    out = model_index.filter(ix, batch_size=2)
    assert _keys(out) == [(2, 1, 1), (2, 1, 3), (2, 2, 1), (2, 2, 3)]
    assert out["model_name"] == "m"


def test_filter_lists_and_multiple_keys():
    ix = _grid_index()
    out = model_index.filter(ix, batch_size=[1, 4], pipeline_size=(2,), performance_level=[3])
    assert _keys(out) == [(1, 2, 3), (4, 2, 3)]
    out = model_index.filter(ix, status="finished", pipeline_size=1, performance_level=1)
    assert _keys(out) == [(1, 1, 1), (2, 1, 1)]


def test_filter_none_filters_nothing_and_copies():
    ix = _grid_index()
    out = model_index.filter(ix, batch_size=None, pipeline_size=None)
    assert out == ix
    assert out is not ix
    out["model_configs"].clear()
    assert len(ix["model_configs"]) == 12


def test_filter_no_match_and_unknown_key():
    ix = _grid_index()
    assert model_index.filter(ix, batch_size=3)["model_configs"] == []
    assert model_index.filter(ix, nonexistent="x")["model_configs"] == []
    assert model_index.filter(ix, batch_size=[])["model_configs"] == []


def test_filter_bool_does_not_match_int():
    ix = _grid_index()
    assert model_index.filter(ix, batch_size=True)["model_configs"] == []


def test_filter_accepts_filename():
    model_index.save(_grid_index(), "grid.json")
    assert _keys(model_index.filter("grid.json", batch_size=1, pipeline_size=1)) == [
        (1, 1, 1),
        (1, 1, 3),
    ]


# append -----------------------------------------------------------------------------


def test_append_dedups_and_keeps_first_name():
    a = model_index.create("models/a.pt", model_name="first", batch_size=1)
    b = model_index.create("models/b.pt", model_name="second", batch_size=2)
    a_again = model_index.create("models/a.pt", model_name="third", batch_size=1)
    out = model_index.append(a, b, a_again, b)
    assert out["model_name"] == "first"
    assert out["version"] == VERSION
    assert [c["filename"] for c in out["model_configs"]] == ["models/a.pt", "models/b.pt"]
    # Inputs are untouched.
    assert len(a["model_configs"]) == 1
    assert a["model_name"] == "first"


def test_append_same_file_different_params_is_not_duplicate():
    a = model_index.create("models/a.pt", batch_size=1)
    b = model_index.create("models/a.pt", batch_size=1, input_idx=1)
    assert len(model_index.append(a, b)["model_configs"]) == 2


def test_append_mixes_dicts_and_files():
    model_index.save(model_index.create("models/x.pt", model_name="x"), "x.json")
    out = model_index.append("x.json", model_index.create("models/y.pt"))
    assert out["model_name"] == "x"
    assert [c["filename"] for c in out["model_configs"]] == ["models/x.pt", "models/y.pt"]


# copy / move / delete ---------------------------------------------------------------


def _two_artifact_index() -> dict:
    _artifact("models/m_b1.pt", "one")
    _artifact_dir("models/m_b2_saved")
    return model_index.append(
        model_index.create("models/m_b1.pt", model_name="m", batch_size=1),
        model_index.create("models/m_b2_saved", model_name="m", batch_size=2),
    )


def test_copy_files_and_directories():
    model_index.save(_two_artifact_index(), "old.json")
    new = model_index.copy("old.json", "new.json", "pool/copied")
    assert new == "new.json"
    ix = model_index.load("new.json")
    assert [c["filename"] for c in ix["model_configs"]] == [
        os.path.join("pool/copied", "m_b1.pt"),
        os.path.join("pool/copied", "m_b2_saved"),
    ]
    assert Path("pool/copied/m_b1.pt").read_text() == "one"
    assert Path("pool/copied/m_b2_saved/variables/v.data").read_text() == "vars"
    # Originals kept.
    assert Path("models/m_b1.pt").read_text() == "one"
    assert Path("models/m_b2_saved/saved_model.pb").exists()
    assert model_index.load("old.json")["model_configs"][0]["filename"] == "models/m_b1.pt"


def test_copy_from_dict_pulls_out_one_model():
    ix = _two_artifact_index()
    only_b2 = model_index.filter(ix, batch_size=2)
    model_index.copy(only_b2, "b2.json", "b2_models")
    assert os.listdir("b2_models") == ["m_b2_saved"]
    assert _keys_b(model_index.load("b2.json")) == [2]


def _keys_b(ix: dict) -> list[int]:
    return [c["batch_size"] for c in ix["model_configs"]]


def test_copy_missing_finished_artifact_fails_before_writing():
    ix = model_index.create("models/gone.pt")
    with pytest.raises(ModelIndexError, match=r"model_configs\[0\]: artifact 'models/gone.pt'"):
        model_index.copy(ix, "n.json", "dest")
    assert not os.path.exists("n.json")
    assert not os.path.exists("dest")


def test_copy_skips_missing_artifact_of_failed_compile():
    _artifact("models/ok.pt")
    ix = model_index.append(
        model_index.create("models/ok.pt"),
        model_index.create("models/failed.pt", batch_size=8, status="error"),
    )
    model_index.copy(ix, "n.json", "dest")
    configs = model_index.load("n.json")["model_configs"]
    assert configs[0]["filename"] == os.path.join("dest", "ok.pt")
    assert configs[1]["filename"] == "models/failed.pt"
    assert configs[1]["status"] == "error"


def test_copy_name_clash_detected_before_copying():
    _artifact("a/model.pt", "a")
    _artifact("b/model.pt", "b")
    ix = model_index.append(
        model_index.create("a/model.pt"), model_index.create("b/model.pt", batch_size=2)
    )
    with pytest.raises(ValueError, match="would both be placed"):
        model_index.copy(ix, "n.json", "dest")
    assert not os.path.exists("dest")


def test_move_files_and_directories():
    model_index.save(_two_artifact_index(), "old.json")
    new = model_index.move("old.json", "moved.json", "archive")
    assert new == "moved.json"
    assert not os.path.exists("old.json")
    assert not os.path.exists("models/m_b1.pt")
    assert not os.path.exists("models/m_b2_saved")
    assert Path("archive/m_b1.pt").read_text() == "one"
    assert Path("archive/m_b2_saved/variables/v.data").read_text() == "vars"
    ix = model_index.load("moved.json")
    assert [c["filename"] for c in ix["model_configs"]] == [
        os.path.join("archive", "m_b1.pt"),
        os.path.join("archive", "m_b2_saved"),
    ]


def test_move_in_place_keeps_index():
    _artifact("models/a.pt")
    model_index.save(model_index.create("models/a.pt"), "i.json")
    model_index.move("i.json", "i.json", "models")
    assert Path("models/a.pt").exists()
    assert model_index.load("i.json")["model_configs"][0]["filename"] == os.path.join(
        "models", "a.pt"
    )


def test_move_refuses_to_overwrite_existing_target():
    _artifact("models/a.pt", "new")
    _artifact("dest/a.pt", "precious")
    model_index.save(model_index.create("models/a.pt"), "i.json")
    with pytest.raises(FileExistsError, match="already exists"):
        model_index.move("i.json", "n.json", "dest")
    assert Path("dest/a.pt").read_text() == "precious"
    assert Path("models/a.pt").read_text() == "new"
    assert os.path.exists("i.json")


def test_delete_removes_index_files_and_directories():
    ix = _two_artifact_index()
    _artifact("models/unrelated.pt")
    model_index.save(ix, "i.json")
    model_index.delete("i.json")
    assert not os.path.exists("i.json")
    assert not os.path.exists("models/m_b1.pt")
    assert not os.path.exists("models/m_b2_saved")
    assert os.listdir("models") == ["unrelated.pt"]


def test_delete_skips_missing_artifacts():
    _artifact("models/a.pt")
    ix = model_index.append(
        model_index.create("models/a.pt"), model_index.create("models/never_built.pt", batch_size=2)
    )
    model_index.save(ix, "i.json")
    model_index.delete("i.json")
    assert not os.path.exists("models/a.pt")
    assert not os.path.exists("i.json")


def test_delete_removes_symlink_not_target():
    _artifact("real/model.pt", "keep me")
    os.makedirs("models")
    os.symlink(os.path.abspath("real"), "models/linked")
    model_index.save(model_index.create("models/linked"), "i.json")
    model_index.delete("i.json")
    assert not os.path.lexists("models/linked")
    assert Path("real/model.pt").read_text() == "keep me"


def test_delete_refuses_directory_containing_index_or_cwd(tmp_path):
    os.makedirs("work")
    model_index.save(model_index.create("work"), "work/i.json")
    with pytest.raises(ModelIndexError, match=r"refusing to remove directory 'work'"):
        model_index.delete("work/i.json")
    assert os.path.exists("work/i.json")
    model_index.save(model_index.create(str(tmp_path.parent)), "up.json")
    with pytest.raises(ModelIndexError, match="refusing to remove directory"):
        model_index.delete("up.json")
    assert tmp_path.exists()


def test_delete_missing_index():
    with pytest.raises(ModelIndexError, match=r"gone\.json.*not found"):
        model_index.delete("gone.json")


# Artifacts never touched outside the index (relative paths, delete/move/copy) --------


def test_resolve_artifact_is_relative_to_the_index_folder(tmp_path):
    assert model_index.resolve_artifact(None, "models/a.pt") == "models/a.pt"
    assert model_index.resolve_artifact("i.json", "models/a.pt") == "models/a.pt"
    assert model_index.resolve_artifact(tmp_path / "i.json", "models/a.pt") == "models/a.pt"
    assert model_index.resolve_artifact("sub/i.json", "models/a.pt") == "sub/models/a.pt"
    assert model_index.resolve_artifact("sub/i.json", "../a.pt") == "a.pt"
    assert model_index.resolve_artifact("sub/i.json", "/abs/a.pt") == "/abs/a.pt"
    # Through a symbolic link to a folder elsewhere, ".." is where open() goes.
    _artifact("far/away/x/i.json", "{}")
    os.symlink(tmp_path / "far/away/x", "link")
    assert model_index.resolve_artifact("link/i.json", "../a.pt") == "link/../a.pt"
    with pytest.raises(TypeError, match="filename must be a non-empty str"):
        model_index.resolve_artifact("i.json", "")


def test_index_elsewhere_resolves_against_its_own_folder():
    _artifact("models/a.pt", "cwd's own model")
    _artifact("sub/models/a.pt", "the index's model")
    _write("sub/index.json", {"model_configs": [{"filename": "models/a.pt"}]})
    assert model_index.load("sub/index.json")["model_configs"][0]["filename"] == ("sub/models/a.pt")
    removal = model_index.delete("sub/index.json")
    assert removal == model_index.ArtifactRemoval(["sub/models/a.pt"], [])
    assert not os.path.exists("sub/models/a.pt")
    assert Path("models/a.pt").read_text() == "cwd's own model"


def test_save_stores_paths_relative_to_the_written_index():
    _artifact("models/a.pt")
    model_index.save(model_index.create("models/a.pt"), "deep/er/i.json")
    stored = json.loads(Path("deep/er/i.json").read_text())["model_configs"][0]["filename"]
    assert stored == "../../models/a.pt"
    assert model_index.load("deep/er/i.json")["model_configs"][0]["filename"] == "models/a.pt"
    # filter -o elsewhere keeps pointing at the same artifact
    filtered = model_index.filter("deep/er/i.json", batch_size=1)
    model_index.save(filtered, "other/f.json")
    assert model_index.load("other/f.json")["model_configs"][0]["filename"] == "models/a.pt"


def _outside_layout(tmp_path: Path) -> dict[str, str]:
    """proj/i.json listing one artifact inside and four that lie outside proj/."""
    _artifact("proj/models/inside.pt")
    _artifact("victim/up.pt", "keep")
    _artifact("victim/abs.pt", "keep")
    _artifact_dir("victim/tree")
    os.symlink(tmp_path / "victim", "proj/models/linked_dir")  # a folder link out of proj
    listed = {
        "inside": "models/inside.pt",
        "dotdot": "../victim/up.pt",
        "absolute": str(tmp_path / "victim/abs.pt"),
        "directory": "../victim/tree",
        "via_link": "models/linked_dir/abs.pt",
    }
    configs = [{"filename": f, "batch_size": i + 1} for i, f in enumerate(listed.values())]
    _write("proj/i.json", {"model_configs": configs})
    return listed


def _victims_intact() -> bool:
    return (
        Path("victim/up.pt").read_text() == "keep"
        and Path("victim/abs.pt").read_text() == "keep"
        and Path("victim/tree/variables/v.data").read_text() == "vars"
    )


def test_delete_leaves_artifacts_outside_the_index_folder(tmp_path):
    _outside_layout(tmp_path)
    plan = model_index.plan_delete("proj/i.json")
    assert plan.removed == ["proj/models/inside.pt"]
    assert len(plan.skipped) == 4
    assert os.path.exists("proj/models/inside.pt")  # planning touches nothing
    with pytest.warns(model_index.OutsideArtifactWarning) as caught:
        removal = model_index.delete("proj/i.json")
    assert removal.removed == ["proj/models/inside.pt"]
    assert removal.skipped == plan.skipped
    assert sorted(str(w.message).split("'")[1] for w in caught) == sorted(plan.skipped)
    assert not os.path.exists("proj/i.json")
    assert not os.path.exists("proj/models/inside.pt")
    assert _victims_intact()


def test_delete_allow_outside_removes_them(tmp_path):
    _outside_layout(tmp_path)
    removal = model_index.delete("proj/i.json", allow_outside=True)
    assert removal.skipped == []
    assert len(removal.removed) == 4  # via_link is abs.pt again: removed once
    assert not os.path.exists("victim/up.pt") and not os.path.exists("victim/tree")
    assert not os.path.exists("victim/abs.pt")
    with pytest.raises(TypeError, match="allow_outside must be a bool"):
        model_index.delete("proj/i.json", allow_outside="yes")


def test_move_leaves_outside_artifacts_in_place(tmp_path):
    listed = _outside_layout(tmp_path)
    with pytest.warns(model_index.OutsideArtifactWarning):
        model_index.move("proj/i.json", "new/i.json", "new/models")
    assert _victims_intact()
    assert os.listdir("new/models") == ["inside.pt"]
    moved = model_index.load("new/i.json")["model_configs"]
    assert moved[0]["filename"] == "new/models/inside.pt"
    # the outside ones are still listed, where they are
    assert os.path.realpath(moved[1]["filename"]) == str(tmp_path / "victim/up.pt")
    assert moved[2]["filename"] == listed["absolute"]
    assert os.path.realpath(moved[3]["filename"]) == str(tmp_path / "victim/tree")


def test_copy_never_writes_outside_new_dir_or_through_its_links(tmp_path):
    _artifact("proj/models/a.pt", "new weights")
    _artifact_dir("proj/models/tree")
    _artifact("victim/a.pt", "precious")
    os.makedirs("victim/vars")
    _write("proj/i.json", {"model_configs": [{"filename": "models/a.pt"}]})
    os.makedirs("dest")
    os.symlink(tmp_path / "victim/a.pt", "dest/a.pt")
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        model_index.copy("proj/i.json", "n.json", "dest")
    assert Path("victim/a.pt").read_text() == "precious"
    # a link deeper in a directory artifact's destination
    _write("proj/t.json", {"model_configs": [{"filename": "models/tree"}]})
    os.makedirs("dest2/tree")
    os.symlink(tmp_path / "victim/vars", "dest2/tree/variables")
    with pytest.raises(FileExistsError, match="is a symbolic link"):
        model_index.copy("proj/t.json", "n.json", "dest2")
    assert os.listdir("victim/vars") == []
    # an artifact named ".." would be placed outside new_dir
    _write("proj/dots.json", {"model_configs": [{"filename": ".."}]})
    with pytest.raises(ModelIndexError, match="has no file name to place in new_dir"):
        model_index.copy("proj/dots.json", "n.json", "dest3")
    assert not os.path.exists("n.json") and not os.path.exists("dest3")


def test_index_batch_size_above_2_31_and_deep_json_rejected():
    _write("big.json", {"model_configs": [{"filename": "a", "batch_size": 2**31 + 1}]})
    with pytest.raises(ModelIndexError, match=r"big\.json: model_configs\[0\]: key batch_size"):
        model_index.load("big.json")
    _write("deep.json", '{"model_configs": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelIndexError, match=r"deep\.json: JSON nested too deeply"):
        model_index.load("deep.json")


# generate_name ------------------------------------------------------------------------


def test_generate_name_format_and_uniqueness():
    name = model_index.generate_name("resnet50", batch_size=1, pipeline_size=1)
    assert re.fullmatch(r"resnet50_b1_p1_[a-z0-9]{4}", name)
    names = {
        model_index.generate_name("resnet50", batch_size=1, pipeline_size=1) for _ in range(50)
    }
    assert len(names) > 45
    full = model_index.generate_name(
        "my model/v2",
        batch_size=8,
        pipeline_size=4,
        performance_level=2,
        cast_mode="fp16",
        ext="pt",
    )
    assert re.fullmatch(r"my_model_v2_b8_p4_l2_fp16_[a-z0-9]{4}\.pt", full)


def test_generate_name_avoids_existing_files(monkeypatch):
    suffixes = iter("aaaa" + "aaaa" + "bbbb")
    monkeypatch.setattr(model_index.secrets, "choice", lambda _alphabet: next(suffixes))
    Path("m_aaaa.json").write_text("{}")
    assert model_index.generate_name("m", directory=".", ext=".json") == "m_bbbb.json"


# Atomic writes ------------------------------------------------------------------------


def test_atomic_write_text_writes_and_keeps_mode(tmp_path):
    target = tmp_path / "out.json"
    assert _files.atomic_write_text(target, "first") == str(target)
    assert target.read_text() == "first"
    os.chmod(target, 0o600)
    _files.atomic_write_text(str(target), "second")
    assert target.read_text() == "second"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_atomic_write_text_validates():
    with pytest.raises(TypeError, match="path must be"):
        _files.atomic_write_text(3, "x")
    with pytest.raises(TypeError, match="text must be a str"):
        _files.atomic_write_text("a.txt", b"x")
    with pytest.raises(ValueError, match="path must name a file"):
        _files.atomic_write_text("", "x")


def test_save_failure_in_replace_keeps_old_index(monkeypatch):
    original = model_index.create("models/old.pt", model_name="old")
    model_index.save(original, "i.json")
    old_text = Path("i.json").read_text()

    def failing_replace(src, dst):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(_files.os, "replace", failing_replace)
        with pytest.raises(OSError, match="disk full"):
            model_index.save(model_index.create("models/new.pt", model_name="new"), "i.json")
    assert Path("i.json").read_text() == old_text
    assert os.listdir(".") == ["i.json"]  # no temp file left behind
    assert model_index.load("i.json") == original


def test_save_failure_in_serialization_keeps_old_index(monkeypatch):
    original = model_index.create("models/old.pt")
    model_index.save(original, "i.json")
    old_text = Path("i.json").read_text()

    def failing_dumps(*args, **kwargs):
        raise RuntimeError("serializer crashed")

    with monkeypatch.context() as patch:
        patch.setattr(model_index.json, "dumps", failing_dumps)
        with pytest.raises(RuntimeError, match="serializer crashed"):
            model_index.save(model_index.create("models/new.pt"), "i.json")
    assert Path("i.json").read_text() == old_text
    assert os.listdir(".") == ["i.json"]


def test_atomic_write_failure_while_writing_cleans_temp(monkeypatch, tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")

    def failing_fsync(fd):
        raise OSError("io error")

    with monkeypatch.context() as patch:
        patch.setattr(_files.os, "fsync", failing_fsync)
        with pytest.raises(OSError, match="io error"):
            _files.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.json"]


_KILLED_WRITER = """
import os, signal, sys
from neuronperf_native import _files
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # dies mid-write
_files.atomic_write_text(sys.argv[1], "never lands")
"""


def test_interrupted_atomic_write_leaves_no_temp_after_the_next_write(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    killed = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(leftovers) == 1  # what a killed writer leaves
    assert target.read_text() == "old"
    # a writer that is still alive keeps its temporary file
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            live_tmp = tmp_path / f".r.json.{alive.pid}@{socket.gethostname()}.abcd1234.tmp"
            live_tmp.write_text("in progress")
            _files.atomic_write_text(target, "new")
        finally:
            alive.kill()
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == sorted(["r.json", live_tmp.name])


# NeuronPerf model index guide ---------------------------------------------------------
# The guide's examples that need no compile/benchmark, re-typed with only the import
# changed (``import neuronperf as npf`` -> ``import neuronperf_native as npf``). The
# guide's create/append/filter/copy/move snippets are reproduced from the documented
# call shapes; the seed index and ``delete('model_index.json')`` are quoted from it.


def test_guide_example_index_and_delete():
    import neuronperf_native as npf

    _artifact("models/model_b1_p1_38793jda.pt")
    _write(
        "model_index.json",
        {
            "version": "0.0.0.0+0bc220a",
            "model_configs": [
                {
                    "filename": "models/model_b1_p1_38793jda.pt",
                    "input_idx": 0,
                    "batch_size": 1,
                    "pipeline_size": 1,
                    "compile_s": 5.32,
                }
            ],
        },
    )
    # "All of the model artifacts and the index can be destroyed using
    # model_index.delete('model_index.json')."
    npf.model_index.delete("model_index.json")
    assert not os.path.exists("model_index.json")
    assert not os.path.exists("models/model_b1_p1_38793jda.pt")


def test_guide_create_and_save():
    import neuronperf_native as npf

    model_index = npf.model_index.create("/path/to/model", batch_size=1)
    filename = npf.model_index.save(model_index)
    assert re.fullmatch(r"model_[a-z0-9]{4}\.json", filename)
    npf.model_index.save(model_index, "my_index.json")
    assert npf.model_index.load("my_index.json") == model_index
    assert model_index["model_configs"][0]["filename"] == "/path/to/model"


def test_guide_append_filter_copy_move():
    import neuronperf_native as npf

    _artifact("models/model_1.pt", "1")
    _artifact("models/model_2.pt", "2")
    model_index_1 = npf.model_index.create("models/model_1.pt", batch_size=1)
    model_index_2 = npf.model_index.create("models/model_2.pt", batch_size=2)
    model_index = npf.model_index.append(model_index_1, model_index_2)
    npf.model_index.save(model_index, "model_index.json")

    model_index = npf.model_index.filter("model_index.json", batch_size=1)
    assert [c["filename"] for c in model_index["model_configs"]] == ["models/model_1.pt"]

    npf.model_index.copy("model_index.json", "new_index.json", "new_models")
    assert sorted(os.listdir("new_models")) == ["model_1.pt", "model_2.pt"]
    npf.model_index.move("new_index.json", "moved_index.json", "moved_models")
    assert sorted(os.listdir("moved_models")) == ["model_1.pt", "model_2.pt"]
    assert os.listdir("new_models") == []
    assert _keys_b(npf.model_index.load("moved_index.json")) == [1, 2]


def test_guide_inputs_by_position():
    # batch_sizes = [1, 2]; inputs = [torch.zeros((b, 100)) for b in batch_sizes]:
    # inputs[0] corresponds to batch size 1, so its model references input 0.
    import neuronperf_native as npf

    batch_sizes = [1, 2]
    model_index = npf.model_index.append(
        *(
            npf.model_index.create(f"models/model_b{b}.pt", input_idx=i, batch_size=b)
            for i, b in enumerate(batch_sizes)
        )
    )
    assert [(c["input_idx"], c["batch_size"]) for c in model_index["model_configs"]] == [
        (0, 1),
        (1, 2),
    ]
