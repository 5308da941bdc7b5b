"""Exit statuses and output files of the command line, through the command line:
paths checked before the run, results kept when a write fails after it, Ctrl-C, and
compare as a CI gate (issue 22 section 3)."""

from __future__ import annotations

import errno
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from helpers import run_cli

from neuronperf_native import cli

MODELS_PY = textwrap.dedent(
    """
    import os, time

    class Sleep:
        def __call__(self, x):
            time.sleep(0.002)
            return x

    class SlowLoad:
        def __init__(self):
            open(os.environ["NPF_TEST_MARK"] + ".loading", "w").close()
            time.sleep(float(os.environ.get("NPF_TEST_LOAD_S", "0")))
            self.calls = 0

        def __call__(self, x):
            self.calls += 1
            if self.calls == 20:  # one warm-up call: timing for sure
                open(os.environ["NPF_TEST_MARK"] + ".measuring", "w").close()
            time.sleep(0.001)
            return x
    """
)
BENCH = ["bench", "models.py:Sleep", "--shape", "X:4", "--n-models", "1"]
QUICK = ["--workers-per-model", "1", "--duration", "0.3", "-q"]


_cli = run_cli


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "models.py").write_text(MODELS_PY)
    return tmp_path


def test_output_paths_are_checked_before_the_run(folder):
    # Before issue 22 this ran the benchmark, wrote the CSV, then failed with exit 2.
    out = _cli(
        *BENCH, *QUICK, "--csv", "good.csv", "--json", "/nonexistent/o.json", "--html",
        "good.html", cwd=folder,
    )  # fmt: skip
    assert out.returncode == cli.EXIT_USAGE
    assert out.stderr.strip() == (
        "error: --json /nonexistent/o.json: folder /nonexistent does not exist"
    )
    assert out.stdout == "" and sorted(os.listdir(folder)) == ["models.py"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (["--json", "same.out", "--csv", "same.out"], "--json same.out: --csv writes that file"),
        (["--csv", "./sub/../same.out", "--html", "same.out"], "--csv writes that file too"),
        (["--json", "models.py"], "--json models.py: MODEL reads that file too"),
        (["--json", "."], "--json .: is a folder; give a file name"),
        (
            ["--export-requests", "r.jsonl", "--json", "r.jsonl"],
            "--export-requests r.jsonl: --json writes",
        ),
        (["--export-requests", "models.py"], "--export-requests models.py: MODEL reads that"),
        (["--export-requests", "/nonexistent/r.jsonl"], "folder /nonexistent does not exist"),
    ],
)
def test_two_outputs_or_an_input_never_share_a_file(folder, outputs, message):
    (folder / "sub").mkdir()
    out = _cli(*BENCH, *QUICK, *outputs, cwd=folder)
    assert out.returncode == cli.EXIT_USAGE
    assert message in out.stderr and out.stderr.count("\n") == 1
    assert sorted(os.listdir(folder)) == ["models.py", "sub"]
    assert (folder / "models.py").read_text() == MODELS_PY


def test_a_write_that_fails_after_the_run_keeps_the_results(folder, monkeypatch, capsys):
    import neuronperf_native as npf

    def no_room(reports, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(npf, "write_html", no_room)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "neuronperf-native-*.json")))
    status = cli.main([*BENCH, *QUICK, "--csv", "a.csv", "--html", "a.html", "--json", "a.json"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_OUTPUT
    assert "error: cannot write --html a.html: No space left on device" in err
    assert (folder / "a.csv").is_file() and (folder / "a.json").is_file()  # the others written
    (kept,) = (
        set(glob.glob(os.path.join(tempfile.gettempdir(), "neuronperf-native-*.json"))) - before
    )
    try:
        assert f"error: the results are kept in {kept}" in err
        reports = json.loads(Path(kept).read_text())
        assert [r["status"] for r in reports] == ["finished"]
    finally:
        os.unlink(kept)


def _interrupted(folder, load_s: float, phase: str) -> subprocess.CompletedProcess[str]:
    """Runs a bench whose model marks when it starts loading and when it is measuring
    (phase "loading" or "measuring"), and sends SIGINT once it marked `phase`."""
    mark = folder / f"mark.{phase}"
    env = {**os.environ, "NPF_TEST_MARK": str(folder / "mark"), "NPF_TEST_LOAD_S": str(load_s)}
    argv = "bench models.py:SlowLoad --shape X:4 --n-models 1 --workers-per-model 1"
    argv += " --duration 60 --json out.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "neuronperf_native", *argv.split()],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even under nohup
    )
    deadline = time.monotonic() + 120
    while not mark.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize(("load_s", "phase"), [(30.0, "loading"), (0.0, "measuring")])
def test_ctrl_c_has_its_own_exit_status_and_keeps_what_was_measured(folder, load_s, phase):
    # Before issue 22, a Ctrl-C early in a configuration could end as "error: no
    # configuration to benchmark", exit 2, and one during start-up printed a traceback.
    out = _interrupted(folder, load_s, phase)
    assert out.returncode == cli.EXIT_INTERRUPTED, out.stderr
    assert "Traceback" not in out.stderr
    assert "error: interrupted" in out.stderr.splitlines()[-1]
    reports = json.loads((folder / "out.json").read_text())
    assert [r["status"] for r in reports] == ["stopped"]
    if phase == "measuring":  # what was measured is there
        assert reports[0]["total_infs"] >= 18  # the timed calls before the 20th


def _one_window_run(folder, name: str) -> str:
    out = _cli(
        *BENCH, "--workers-per-model", "1", "--duration", "1", "--json", name, "-q", cwd=folder
    )
    assert out.returncode == 0, out.stderr
    return name


def test_compare_fails_on_a_missing_configuration_unless_allowed(folder):
    base = folder / "base.json"
    new = folder / "new.json"
    run = _cli(*BENCH, "--workers-per-model", "1", "2", "--duration", "0.5", "--json",
               str(base), "-q", cwd=folder)  # fmt: skip
    assert run.returncode == 0, run.stderr
    reports = json.loads(base.read_text())
    new.write_text(json.dumps(reports[:1]))  # a run that dropped a configuration
    out = _cli("compare", str(base), str(new), "--threshold", "1000", cwd=folder)
    assert out.returncode == cli.EXIT_FAILED  # exit 0 before issue 22: a CI gate passed it
    assert "1 configuration(s) of" in out.stderr and "missing from" in out.stderr
    allowed = _cli("compare", str(base), str(new), "--threshold", "1000", "--allow-missing",
                   cwd=folder)  # fmt: skip
    assert allowed.returncode == cli.EXIT_OK, allowed.stderr


def test_compare_checks_its_html_first_and_a_regression_wins_over_a_failed_write(
    folder, monkeypatch, capsys
):
    from neuronperf_native.reporters import html

    base = str(folder / "base.json")
    slow = str(folder / "slow.json")
    reports = [
        {"model_name": "m", "batch_size": 1, "n_models": 1, "workers_per_model": 1,
         "status": "finished", "throughput_avg": 1000.0,
         "throughput_timeline": [1000.0 + (i % 3) for i in range(30)]},
    ]  # fmt: skip
    Path(base).write_text(json.dumps(reports))
    reports[0].update(throughput_avg=500.0, throughput_timeline=[500.0 + i % 3 for i in range(30)])
    Path(slow).write_text(json.dumps(reports))
    unwritable = cli.main(
        ["compare", base, slow, "--metric", "throughput_avg", "--html", "/nonexistent/c.html"]
    )
    captured = capsys.readouterr()
    assert unwritable == cli.EXIT_USAGE and captured.out == ""  # refused before comparing
    assert "--html /nonexistent/c.html: folder /nonexistent does not exist" in captured.err

    def no_room(comparison, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(html, "write_comparison_html", no_room)
    target = str(folder / "c.html")
    status = cli.main(["compare", base, slow, "--metric", "throughput_avg", "--html", target])
    captured = capsys.readouterr()
    assert status == cli.EXIT_FAILED  # exit 2 before issue 22: the regression was lost
    assert "slower" in captured.out
    assert f"error: cannot write --html {target}: No space left on device" in captured.err


def test_one_window_runs_get_the_same_answer_against_themselves_and_each_other(folder):
    first = _one_window_run(folder, "first.json")
    second = _one_window_run(folder, "second.json")
    rows = {}
    for pair in ((first, first), (first, second)):
        out = _cli("compare", *pair, "--metric", "throughput_avg", cwd=folder)
        assert out.returncode == cli.EXIT_OK, out.stderr
        (row,) = [line for line in out.stdout.splitlines() if "throughput_avg" in line]
        rows[pair] = row
    for row in rows.values():
        assert "unknown" in row and "too few windows (0, 0) to decide" in row


def test_report_files_are_bounded_and_refused_at_once(tmp_path, monkeypatch, capsys):
    from neuronperf_native.analysis import saved

    # /dev/zero never ends: before issue 22 `report` read it until memory ran out
    assert cli.main(["report", "/dev/zero"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: /dev/zero: not saved reports (write_json writes a JSON list")
    assert cli.main(["compare", "/dev/zero", "/dev/zero"]) == cli.EXIT_USAGE
    assert "not saved reports" in capsys.readouterr().err
    big = tmp_path / "big.json"
    big.write_text(json.dumps([{"model_name": "m", "batch_size": 1, "status": "finished"}] * 50))
    monkeypatch.setattr(saved, "MAX_REPORT_FILE_CHARS", 1000)
    assert cli.main(["report", str(big)]) == cli.EXIT_USAGE
    assert "larger than 1,000 characters, the most a report file may be" in capsys.readouterr().err
