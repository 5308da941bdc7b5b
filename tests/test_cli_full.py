"""The full command line through subprocesses: bench, index, report (--plot), errors."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings

import pytest

from neuronperf_native import model_index
from neuronperf_native.reporting import CSV_COLS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MODEL_PY = textwrap.dedent(
    """
    import os

    import numpy as np


    class TwoInputs:
        \"\"\"Records every distinct first value of X it is called with.\"\"\"

        def __init__(self):
            self.seen = set()

        def __call__(self, x, y):
            assert x.dtype == np.float32 and y.dtype == np.int32
            first = float(x[0, 0])
            if first not in self.seen:
                self.seen.add(first)
                with open(os.environ["NPF_TEST_SEEN"], "a") as f:
                    f.write(f"{x.shape[0]} {first}\\n")
            return x.sum(axis=1) + y.sum(axis=1)


    class OneInput:
        def __call__(self, x):
            return x * 2


    class FirstString:
        \"\"\"Writes the first BYTES element it is called with, once.\"\"\"

        def __call__(self, s):
            if not os.path.exists(os.environ["NPF_TEST_SEEN"]):
                with open(os.environ["NPF_TEST_SEEN"], "wb") as f:
                    f.write(s[0, 0])
            return s


    class Broken:
        def __call__(self, x):
            raise RuntimeError("model exploded")
    """
)

# perf_analyzer's documented JSON layout: one entry per request step.
STEPS = [
    {"X": [1.0, 2.0, 3.0, 4.0], "Y": [1, 2]},
    {"X": [5.0, 6.0, 7.0, 8.0], "Y": [3, 4]},
    {"X": [9.0, 1.0, 1.0, 1.0], "Y": [5, 6]},
    {"X": [13.0, 0.0, 0.0, 0.0], "Y": [7, 8]},
]


def _cli(*args, cwd=None, env=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "neuronperf_native", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def _table(stdout: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a printed table: cells are apart by two or more spaces."""
    lines = [re.split(r"\s{2,}", line) for line in stdout.strip().splitlines()]
    return lines[0], lines[1:]


def _error_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: "), out.stderr
    return lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    (path / "models.py").write_text(MODEL_PY)
    (path / "steps.json").write_text(json.dumps({"data": STEPS}))
    return path


@pytest.fixture(scope="module")
def bench_run(workdir):
    """One bench of a file.py:Class model with JSON input data, CSV and JSON output."""
    seen = workdir / "seen.txt"
    env = dict(os.environ, NPF_TEST_SEEN=str(seen))
    out = _cli(
        "bench",
        "models.py:TwoInputs",
        "--input",
        "X:FP32:4",
        "--input",
        "Y:INT32:2",
        "--input-data",
        "steps.json",
        "-b",
        "1",
        "2",
        "--duration",
        "2.5",
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        "--percentile",
        "99.9",
        "--percentile",
        "75",
        "--csv",
        "out.csv",
        "--json",
        "out.json",
        cwd=workdir,
        env=env,
    )
    return out, workdir, seen


def test_bench_json_input_data_prints_the_table(bench_run):
    out, _, seen = bench_run
    assert out.returncode == 0, out.stderr
    header, rows = _table(out.stdout)
    names = [cell.split(" (")[0] for cell in header]  # "latency_p50 (us)" -> "latency_p50"
    assert names[:4] == ["model_name", "throughput_avg", "latency_p50", "latency_p99"]
    assert "latency_p99.9" in names and "latency_p75" in names
    assert header[1] == "throughput_avg (inf/s)" and header[-1] == "status"
    assert len(rows) == 2
    assert all(row[0] == "TwoInputs" and row[-1] == "finished" for row in rows)
    assert [row[names.index("batch_size")] for row in rows] == ["1", "2"]  # plan order
    # Logs go to stderr, never into the table.
    assert "INFO" not in out.stdout and "INFO" in out.stderr
    # Every step of the file was served: batch 1 sees the 4 steps, batch 2 pairs them.
    records = {tuple(line.split()) for line in seen.read_text().splitlines()}
    assert {first for size, first in records if size == "1"} == {"1.0", "5.0", "9.0", "13.0"}
    assert {first for size, first in records if size == "2"} == {"1.0", "9.0"}


def test_bench_csv_parsed_back(bench_run):
    out, workdir, _ = bench_run
    assert out.returncode == 0, out.stderr
    with open(workdir / "out.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header[: len(CSV_COLS)] == CSV_COLS
    assert header[len(CSV_COLS) :] == [
        "latency_ms_p99.9",
        "latency_ms_p75",
        "throughput_ci",
        "latency_ms_p50_ci",
        "latency_ms_p99_ci",
        "latency_ms_p99.9_ci",
        "latency_ms_p75_ci",
        "stable",
        "measured_s",
        "status",
    ]
    records = [dict(zip(header, row, strict=True)) for row in body]
    assert sorted(int(r["batch_size"]) for r in records) == [1, 2]
    assert {r["status"] for r in records} == {"finished"}
    for r in records:
        assert r["model_name"] == "TwoInputs"
        assert float(r["latency_ms_p99.9"]) >= float(r["latency_ms_p99"]) > 0
        assert (
            float(r["latency_ms_p50"]) <= float(r["latency_ms_p75"]) <= float(r["latency_ms_p99"])
        )
        assert int(r["total_infs"]) % int(r["batch_size"]) == 0
        for p in ("50", "99", "75"):
            if r[f"latency_ms_p{p}_ci"] != "N/A":  # the interval holds the estimate
                low, high = json.loads(r[f"latency_ms_p{p}_ci"])
                assert low <= float(r[f"latency_ms_p{p}"]) <= high
        assert r["stable"] in ("True", "False")


def test_bench_json_parsed_back(bench_run):
    out, workdir, _ = bench_run
    assert out.returncode == 0, out.stderr
    reports = json.loads((workdir / "out.json").read_text())
    assert sorted(r["batch_size"] for r in reports) == [1, 2]
    for r in reports:
        assert r["status"] == "finished"
        assert r["n_models"] == 1 and r["workers_per_model"] == 1
        assert r["latency_ms_p99.9"] > 0 and r["latency_ms_p75"] > 0
        assert r["percentiles"] == [99.9, 75.0]
        assert r["latency_hist"].startswith("HIST")
        assert len(r["throughput_timeline"]) >= 2
        assert r["throughput_avg"] > 0


def test_bench_random_data_with_concurrency(workdir):
    out = _cli(
        "bench",
        "models.py:OneInput",
        "--shape",
        "X:8",
        "--input-data",
        "random",
        "--concurrency",
        "2",
        "--duration",
        "0.3",
        "--json",
        "random.json",
        "-q",
        cwd=workdir,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # -q: no progress logs
    (report,) = json.loads((workdir / "random.json").read_text())
    assert report["status"] == "finished"
    assert report["n_models"] == 1 and report["workers_per_model"] == 2
    assert report["batch_size"] == 1 and report["total_infs"] > 0


def test_bench_module_class(workdir):
    env = dict(os.environ, PYTHONPATH=str(workdir))
    out = _cli(
        "bench",
        "models:OneInput",
        "--input",
        "X:FP64:3",
        "--input-data",
        "zero",
        "--duration",
        "0.2",
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        cwd=workdir,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    (row,) = out.stdout.strip().splitlines()[1:]
    assert row.split()[0] == "OneInput" and row.split()[-1] == "finished"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--shape", "X:4,x"], "dimension 'x' of 'X'"),
        (["--input", "X:FP32:4", "--input-data", "missing.json"], "missing.json"),
        (["--input", "X:FP32:4", "--input-data", "bad.json"], "step 2, input 'X'"),
        (["--input", "X:FP32:4", "--framework", "mxnet"], "invalid choice: 'mxnet'"),
        (["--input", "X:FP32:4", "--request-rate", "0"], "--request-rate: must be a positive"),
        (["--shape", "X:4", "--request-rate", "100", "--concurrency", "2"], "the closed loop"),
        (["--input", "X:FP32"], "expected NAME:DTYPE:d1,d2"),
        ([], "declare the model inputs with --input"),
        (["--shape", "X:4", "--concurrency", "2", "--n-models", "2"], "--concurrency"),
    ],
)
def test_bench_usage_errors_exit_2_with_one_line(workdir, args, expected):
    bad = {"data": [{"X": [1, 2, 3, 4]}, {"X": [1, 2, 3, 4]}, {"X": [1, 2, 3]}]}
    (workdir / "bad.json").write_text(json.dumps(bad))
    out = _cli("bench", "models.py:OneInput", "--duration", "0.2", *args, cwd=workdir)
    assert out.returncode == 2
    assert expected in _error_line(out)
    assert out.stdout == ""


def test_bench_model_not_found_and_missing_framework(workdir):
    out = _cli("bench", "nowhere.pt", cwd=workdir)
    assert out.returncode == 2
    assert "model 'nowhere.pt' not found" in _error_line(out)
    out = _cli("bench", "models.py:NoSuchClass", "--shape", "X:4", cwd=workdir)
    assert out.returncode == 2
    assert "no class 'NoSuchClass'" in _error_line(out)
    (workdir / "model.bin").write_bytes(b"\0")
    out = _cli("bench", "model.bin", "--shape", "X:4", cwd=workdir)
    assert out.returncode == 2
    assert "pass --framework" in _error_line(out)


def test_verbose_shows_the_traceback(workdir):
    out = _cli("bench", "models.py:OneInput", "--shape", "X:4,x", "-v", cwd=workdir)
    assert out.returncode != 0
    assert "Traceback" in out.stderr and "InputDataError" in out.stderr


def test_bench_failing_model_exits_1(workdir):
    out = _cli(
        "bench",
        "models.py:Broken",
        "--shape",
        "X:4",
        "--duration",
        "0.2",
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        "--json",
        "broken.json",
        "-q",
        cwd=workdir,
    )
    assert out.returncode == 1
    (row,) = out.stdout.strip().splitlines()[1:]
    assert row.split()[-1] == "error"
    assert "model exploded" in out.stderr.strip().splitlines()[-1]
    (report,) = json.loads((workdir / "broken.json").read_text())
    assert report["status"] == "error" and "model exploded" in report["error"]


# index -----------------------------------------------------------------------


@pytest.fixture
def index_dir(tmp_path):
    (tmp_path / "models").mkdir()
    configs = []
    for batch in (1, 4):
        for pipeline in (1, 2):
            artifact = f"models/m_b{batch}_p{pipeline}.pt"
            (tmp_path / artifact).write_text("artifact")
            configs.append(
                model_index.create(
                    str(tmp_path / artifact),
                    model_name="m",
                    batch_size=batch,
                    pipeline_size=pipeline,
                    compile_s=1.5,
                )
            )
    configs.append(
        model_index.create(
            str(tmp_path / "models/m_b8.pt"), model_name="m", batch_size=8, status="error"
        )
    )
    model_index.save(model_index.append(*configs), str(tmp_path / "index.json"))
    return tmp_path


def _table_rows(stdout: str) -> list[dict[str, str]]:
    lines = stdout.strip().splitlines()
    header = lines[1].split()
    return [dict(zip(header, line.split(), strict=True)) for line in lines[2:]]


def test_index_show(index_dir):
    out = _cli("index", "show", "index.json", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "index.json: model m, 5 config(s)"
    rows = _table_rows(out.stdout)
    assert [(r["batch_size"], r["pipeline_size"], r["status"]) for r in rows] == [
        ("1", "1", "finished"),
        ("1", "2", "finished"),
        ("4", "1", "finished"),
        ("4", "2", "finished"),
        ("8", "1", "error"),
    ]
    assert rows[0]["compile_s"] == "1.5" and rows[4]["compile_s"] == "N/A"


def test_index_filter_print_and_save(index_dir):
    out = _cli("index", "filter", "index.json", "--batch-size", "4", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    assert {r["batch_size"] for r in _table_rows(out.stdout)} == {"4"}
    out = _cli(
        "index",
        "filter",
        "index.json",
        "--pipeline-size",
        "1",
        "--status",
        "finished",
        "-o",
        "p1.json",
        cwd=index_dir,
    )
    assert out.returncode == 0, out.stderr
    saved = model_index.load(str(index_dir / "p1.json"))
    assert [(c["batch_size"], c["pipeline_size"]) for c in saved["model_configs"]] == [
        (1, 1),
        (4, 1),
    ]
    out = _cli("index", "filter", "index.json", "--performance-level", "0", cwd=index_dir)
    assert out.returncode == 0
    assert "0 config(s)" in out.stdout


def test_index_append(index_dir):
    assert _cli("index", "filter", "index.json", "--batch-size", "8", "-o", "b8.json",
                cwd=index_dir).returncode == 0  # fmt: skip
    out = _cli("index", "append", "b8.json", "index.json", "-o", "all.json", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    merged = model_index.load(str(index_dir / "all.json"))
    assert [c["batch_size"] for c in merged["model_configs"]] == [8, 1, 1, 4, 4]  # no dupes
    out = _cli("index", "append", "index.json", cwd=index_dir)
    assert out.returncode == 2  # -o is required


def test_index_copy_move_delete(index_dir):
    _cli("index", "filter", "index.json", "--batch-size", "1", "-o", "b1.json", cwd=index_dir)
    out = _cli("index", "copy", "b1.json", "copied.json", "copied_models", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    copied = model_index.load(str(index_dir / "copied.json"))
    for config in copied["model_configs"]:  # resolved against the index's folder
        assert os.path.relpath(config["filename"], index_dir).startswith("copied_models")
        assert (index_dir / config["filename"]).read_text() == "artifact"
    assert (index_dir / "models/m_b1_p1.pt").exists()  # copy keeps the originals

    out = _cli("index", "move", "copied.json", "moved.json", "moved_models", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    moved = model_index.load(str(index_dir / "moved.json"))
    assert sorted(os.listdir(index_dir / "moved_models")) == ["m_b1_p1.pt", "m_b1_p2.pt"]
    assert os.listdir(index_dir / "copied_models") == []
    assert all(
        os.path.relpath(c["filename"], index_dir).startswith("moved_models")
        for c in moved["model_configs"]
    )

    out = _cli("index", "delete", "moved.json", cwd=index_dir)  # stdin is not a terminal
    assert out.returncode == 2
    assert "refusing to delete moved.json and 2 artifact(s) without --yes" in _error_line(out)
    assert (index_dir / "moved.json").exists()
    out = _cli("index", "delete", "moved.json", "--yes", cwd=index_dir)
    assert out.returncode == 0, out.stderr
    assert not (index_dir / "moved.json").exists()
    assert os.listdir(index_dir / "moved_models") == []


def test_index_delete_keeps_artifacts_outside_and_counts_them(tmp_path):
    (tmp_path / "proj/models").mkdir(parents=True)
    (tmp_path / "proj/models/in.pt").write_text("in")
    (tmp_path / "outside.pt").write_text("keep")
    configs = [{"filename": "models/in.pt"}, {"filename": "../outside.pt", "batch_size": 2}]
    (tmp_path / "proj/i.json").write_text(json.dumps({"model_configs": configs}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _cli("index", "delete", "../proj/i.json", "--yes", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("warning: artifact '../outside.pt' lies outside")
    assert lines[-1] == (
        "deleted ../proj/i.json: removed 1 artifact(s), skipped 1 outside the index's folder "
        "(--allow-outside removes them)"
    )
    assert not (tmp_path / "proj/models/in.pt").exists()
    assert (tmp_path / "outside.pt").read_text() == "keep"


def test_index_delete_prompt_lists_the_paths(tmp_path, monkeypatch, capsys):
    from neuronperf_native import cli

    (tmp_path / "models").mkdir()
    (tmp_path / "models/a.pt").write_text("a")
    (tmp_path / "far.pt").write_text("far")
    sub = tmp_path / "models"
    configs = [{"filename": "a.pt"}, {"filename": str(tmp_path / "far.pt"), "batch_size": 2}]
    (sub / "i.json").write_text(json.dumps({"model_configs": configs}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", type("Tty", (), {"isatty": staticmethod(lambda: True)}))
    prompts = []
    monkeypatch.setattr("builtins.input", lambda text: prompts.append(text) or "n")
    assert cli.main(["index", "delete", "models/i.json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        f"  remove {'models/a.pt'}",
        f"  keep   {tmp_path / 'far.pt'} (outside the index's folder)",
    ]
    assert prompts == ["delete models/i.json and 1 artifact(s)? [y/N] "]
    assert (tmp_path / "models/a.pt").exists()  # answered no
    monkeypatch.setattr("builtins.input", lambda text: "y")
    assert cli.main(["index", "delete", "models/i.json", "--allow-outside"]) == 0
    assert not (tmp_path / "far.pt").exists() and not (tmp_path / "models/i.json").exists()


def test_index_errors_exit_2(index_dir):
    out = _cli("index", "show", "missing.json", cwd=index_dir)
    assert out.returncode == 2
    assert "missing.json: model index not found" in _error_line(out)
    (index_dir / "broken.json").write_text('{"model_configs": [{"batch_size": 1}]}')
    out = _cli("index", "show", "broken.json", cwd=index_dir)
    assert out.returncode == 2
    assert "broken.json" in _error_line(out)


# errors and verbosity ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--duration", "abc"], "argument --duration: must be a number, got 'abc'"),
        (["--duration", "90000"], "at most 86400 s (one day), got 90000"),
        (["--duration", "inf"], "at most 86400 s (one day), got inf"),
        (["--percentile", "p99"], "argument --percentile: must be a number"),
        (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--input", "X:FP32:0,4611686018427387904"], "--input X: shape [0, 4611686018427387904]"),
        (["--input", "X:FP32:-1", "--shape", "X:2,4611686018427387904"], "--shape X: shape"),
        (["--input", "X:FP32:" + "9" * 30], "dimension " + "9" * 30 + " of 'X' is too large"),
    ],
)
def test_bench_bad_numbers_are_one_line_without_internal_names(workdir, args, expected):
    out = _cli("bench", "models.py:OneInput", "--n-models", "1", *args, cwd=workdir)
    assert out.returncode == 2
    line = _error_line(out)
    assert expected in line
    assert "_positive" not in line and "_percentile" not in line and "array is too big" not in line


def test_deeply_nested_report_and_memory_errors_are_one_line(workdir):
    (workdir / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    out = _cli("report", "deep.json", cwd=workdir)
    assert out.returncode == 2
    assert "deep.json: JSON nested too deeply" in _error_line(out)
    out = _cli(
        "bench",
        "models.py:OneInput",
        "--input",
        "X:FP32:100000000000000",  # 400 TB: beyond any address space
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        cwd=workdir,
    )
    assert out.returncode == 2
    _error_line(out)  # one line (today: "not enough memory: Unable to allocate ..."), no traceback


def _broken_bench(workdir, *flags):
    out = _cli(
        "bench",
        "models.py:Broken",
        "--shape",
        "X:4",
        "--duration",
        "0.2",
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        "2",
        *flags,
        cwd=workdir,
    )
    assert out.returncode == 1
    return out.stderr.strip().splitlines()


def test_failing_configurations_print_one_line_each_traceback_once_with_v(workdir):
    default = _broken_bench(workdir)
    failures = [line for line in default if "model exploded" in line]
    assert len(failures) == 2  # one line per failing configuration, no traceback
    assert all("model copy 0 failed in warmup: RuntimeError: model exploded" in f for f in failures)
    assert not any("Traceback" in line or "CopyFailure" in line for line in default)
    quiet = _broken_bench(workdir, "-q")
    assert len(quiet) == 2  # -q: the two error lines and nothing else
    assert all("model exploded" in line for line in quiet)
    verbose = "\n".join(_broken_bench(workdir, "-v"))
    assert verbose.count('raise RuntimeError("model exploded")') == 1
    assert verbose.count("(traceback as above)") == 1


def test_verbose_usage_error_prints_traceback_once_and_exits_2(workdir):
    out = _cli("bench", "models.py:OneInput", "--shape", "X:4,x", "-v", cwd=workdir)
    assert out.returncode == 2
    assert out.stderr.count("Traceback (most recent call last)") == 1
    assert out.stderr.strip().splitlines()[-1].startswith("error: --shape 'X:4,x'")


# report ----------------------------------------------------------------------


def test_report_reprints_saved_reports(bench_run):
    _, workdir, _ = bench_run
    saved = json.loads((workdir / "out.json").read_text())
    out = _cli("report", "out.json", cwd=workdir)
    assert out.returncode == 0, out.stderr
    header, cells = _table(out.stdout)
    assert any(h.startswith("latency_p99.9 (") for h in header) and header[-1] == "status"
    rows = [dict(zip(header, row, strict=True)) for row in cells]
    assert [r["batch_size"] for r in rows] == ["1", "2"]  # the saved (plan) order
    by_batch = {r["batch_size"]: r for r in saved}
    (p50,) = [h for h in header if h.startswith("latency_p50 (")]
    scale = 1e3 if p50.endswith("(us)") else 1.0
    for row in rows:
        expected = by_batch[int(row["batch_size"])]["latency_ms_p50"] * scale
        assert float(row[p50]) == pytest.approx(expected, rel=1e-3)
    out = _cli("report", "out.json", "--cols", "batch_size", "status", "--sort-by", "none",
               cwd=workdir)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["batch_size", "status", "1", "finished", "2", "finished"]


def test_report_errors_exit_2(workdir):
    (workdir / "notreports.json").write_text('{"a": 1}')
    out = _cli("report", "notreports.json", cwd=workdir)
    assert out.returncode == 2
    assert "expected a JSON list of report objects" in _error_line(out)
    out = _cli("report", "nothere.json", cwd=workdir)
    assert out.returncode == 2
    assert "report file not found" in _error_line(out)


def test_report_plot_writes_a_png(bench_run):
    pytest.importorskip("matplotlib", reason="report --plot needs matplotlib (extra 'plot')")
    _, workdir, _ = bench_run
    out = _cli("report", "out.json", "--plot", "plot.png", cwd=workdir)
    assert out.returncode == 0, out.stderr
    data = (workdir / "plot.png").read_bytes()
    assert data[:8] == PNG_MAGIC
    assert 20_000 < len(data) < 2_000_000


def test_report_plot_from_percentile_keys(bench_run, tmp_path):
    """Reports without latency_hist (e.g. edited by hand) plot their latency_ms_p* keys."""
    pytest.importorskip("matplotlib", reason="report --plot needs matplotlib (extra 'plot')")
    _, workdir, _ = bench_run
    reports = json.loads((workdir / "out.json").read_text())
    for r in reports:
        r.pop("latency_hist")
    (tmp_path / "nohist.json").write_text(json.dumps(reports))
    out = _cli("report", "nohist.json", "--plot", "nohist.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "nohist.png").read_bytes()[:8] == PNG_MAGIC


def test_report_plot_without_matplotlib(bench_run, tmp_path):
    """A matplotlib that fails to import (shadowed on PYTHONPATH): one line, exit 2."""
    _, workdir, _ = bench_run
    fake = tmp_path / "shadow" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "shadow"))
    out = _cli("report", "out.json", "--plot", str(tmp_path / "p.png"), cwd=workdir, env=env)
    assert out.returncode == 2
    assert "--plot needs matplotlib" in _error_line(out)
    assert not (tmp_path / "p.png").exists()


# torch -----------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("neuronperf_native.torch") is None,
    reason="npf.torch not available (neuronperf_native.torch is not in this tree yet)",
)
def test_bench_torchscript_file_with_json_input(workdir, tmp_path):
    torch = pytest.importorskip("torch")

    class Linear(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2.0 + 1.0

    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; still supported
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(Linear()), str(tmp_path / "linear.pt"))
    steps = [{"X": [float(i)] * 4} for i in range(4)]
    (tmp_path / "x.json").write_text(json.dumps({"data": steps}))
    out = _cli(
        "bench",
        "linear.pt",
        "--input",
        "X:FP32:4",
        "--input-data",
        "x.json",
        "-b",
        "1",
        "2",
        "--duration",
        "0.5",
        "--n-models",
        "1",
        "--workers-per-model",
        "1",
        "--device-type",
        "cpu",
        "--csv",
        "t.csv",
        "--json",
        "t.json",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "t.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["batch_size"]) for r in rows) == [1, 2]
    assert {r["status"] for r in rows} == {"finished"}
    reports = json.loads((tmp_path / "t.json").read_text())
    assert all(r["model_filename"].endswith("linear.pt") for r in reports)
    assert all(r["latency_ms_p50"] > 0 for r in reports)


def test_plot_points_rescale_the_partial_last_window():
    from neuronperf_native import _plot

    times, rates = _plot.throughput_points(
        {"throughput_timeline": [100.0, 110.0, 50.0], "window_s": 1.0, "total_s": 2.5}
    )
    assert list(times) == [1.0, 2.0, 2.5]
    assert list(rates) == [100.0, 110.0, 100.0]  # 50 inferences in half a window
    percentiles, values = _plot.latency_spectrum(
        {"latency_ms_p50": 1.0, "latency_ms_p99": 3.0, "latency_ms_p100": 9.0}
    )
    assert list(percentiles) == [50.0, 99.0] and list(values) == [1.0, 3.0]  # p100 off-axis


@pytest.fixture(scope="module")
def validation_file(workdir):
    steps = [{"X": [float(k), 1.0, 2.0, 3.0]} for k in range(4)]
    expected = [{"OUT": [2.0 * v for v in step["X"]]} for step in steps]
    expected[2]["OUT"][1] = 99.0
    path = workdir / "validated.json"
    path.write_text(json.dumps({"data": steps, "validation_data": expected}))
    return path.name


VALIDATED = ["bench", "models.py:OneInput", "--input", "X:FP32:4", "--output", "OUT:FP32:4"]
QUICK = ["--duration", "0.3", "--n-models", "1", "--workers-per-model", "1"]


@pytest.mark.parametrize("shared_memory", ["none", "system"])
def test_bench_validation_reported_in_json_and_on_stderr(workdir, validation_file, shared_memory):
    out = _cli(*VALIDATED, "--input-data", validation_file, *QUICK, "-b", "2",
               "--shared-memory", shared_memory, "--json", "val.json", cwd=workdir)  # fmt: skip
    assert out.returncode == 0, out.stderr
    (report,) = json.loads((workdir / "val.json").read_text())
    assert report["validation"] == {
        "steps_checked": 4,
        "mismatches": 1,
        "first_mismatch": {
            "stream": 0,
            "step": 2,
            "tensor": "OUT",
            "index": 1,
            "expected": 99.0,
            "got": 2.0,
        },
    }
    assert (
        "validation (batch_size=2, n_models=1, workers=1): 4 step(s) checked, 1 mismatch(es); "
        "first at stream 0, step 2, output 'OUT', index 1: expected 99.0, got 2.0"
    ) in out.stderr


def test_bench_strict_validation_exits_1(workdir, validation_file):
    out = _cli(*VALIDATED, "--input-data", validation_file, *QUICK, "--strict-validation",
               cwd=workdir)  # fmt: skip
    assert out.returncode == 1
    assert out.stdout.strip().splitlines()[1].split()[-1] == "error"
    assert "output validation failed" in out.stderr
    assert "stream 0, step 2, output 'OUT', index 1: expected 99.0, got 2.0" in out.stderr
    assert "CopyFailure" not in out.stderr and "Traceback" not in out.stderr


def test_bench_bad_output_declaration_exits_2(workdir, validation_file):
    out = _cli(*VALIDATED[:4], "--output", "OUT:FP32:x", "--input-data", validation_file,
               *QUICK, cwd=workdir)  # fmt: skip
    assert out.returncode == 2
    assert "--output 'OUT:FP32:x': dimension 'x' of 'OUT' is not an integer" in _error_line(out)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--string-data", "hello"], b"hello"), (["--string-length", "5"], 5)],
)
def test_string_flags_reach_the_generated_data(workdir, tmp_path, flags, expected):
    """perf_analyzer's --string-data / --string-length shape generated BYTES inputs."""
    seen = tmp_path / "first.bin"
    env = dict(os.environ, NPF_TEST_SEEN=str(seen))
    out = _cli(
        "bench",
        "models.py:FirstString",
        "--input",
        "S:BYTES:2",
        *flags,
        "--duration",
        "0.3",
        "-q",
        cwd=workdir,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    got = seen.read_bytes()
    assert got == expected if isinstance(expected, bytes) else len(got) == expected
