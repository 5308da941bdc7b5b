"""Command-line polish: help texts with defaults, flags after any subcommand, run's usage,
module:Class from the current directory, the compile log naming the index it wrote."""

import argparse
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from neuronperf_native import cli, compiling


def _actions(parser, path=()):
    """(subcommand path, action) for every argument of every (sub)parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _actions(subparser, (*path, name))
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action


def test_every_option_has_help_naming_its_default():
    missing, undefaulted = [], []
    for path, action in _actions(cli._parser()):
        name = " ".join(
            [*path, action.option_strings[-1] if action.option_strings else action.dest]
        )
        has_default = action.default not in (None, False, argparse.SUPPRESS)
        if not action.help:
            missing.append(name)
        elif action.option_strings and has_default and "default" not in action.help:
            undefaulted.append(f"{name} (default {action.default!r})")
    assert missing == [] and undefaulted == []
    helps = {
        (" ".join(path), action.option_strings[-1]): action.help
        for path, action in _actions(cli._parser())
        if action.option_strings
    }
    assert "default 1 and MAX" in helps[("bench", "--n-models")]
    assert "default 1 and 2" in helps[("bench", "--workers-per-model")]
    assert "default 1e-05" in helps[("bench", "--rtol")]
    assert "default 1 2" in helps[("demo", "--workers")]


@pytest.mark.parametrize("command", [["demo"], ["report", "r.json"], ["compare", "a", "b"]])
def test_global_flags_work_after_the_subcommand(command):
    parser = cli._parser()
    assert parser.parse_args([*command, "-v"]).verbose is True
    assert parser.parse_args(["-v", *command]).verbose is True
    assert parser.parse_args([*command, "-q"]).quiet is True
    assert parser.parse_args(command).verbose is False


def test_run_usage_shows_its_arguments_as_optional(capsys):
    parser = cli._parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--help"])
    assert "usage: neuronperf-native run [-h] [-v] [-q] SCRIPT [ARG ...]" in capsys.readouterr().out
    args = parser.parse_args(["run", "-v", "script.py", "-q", "--its-flag"])
    assert args.verbose is True and args.script == "script.py"
    assert args.args == ["-q", "--its-flag"]  # after SCRIPT, everything is the script's


def test_module_class_imports_from_the_current_directory(tmp_path):
    (tmp_path / "local_models.py").write_text(
        textwrap.dedent(
            """
            class Double:
                def __call__(self, x):
                    return x * 2
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = shutil.which("neuronperf-native", path=os.path.dirname(sys.executable))
    assert script is not None  # the console script, whose sys.path[0] is its bin directory
    out = subprocess.run(
        [script, "bench", "local_models:Double",
         "--shape", "X:4", "--duration", "0.3", "--n-models", "1", "--workers-per-model", "1",
         "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split()[0] == "Double"
    missing = cli.main(["bench", "no_such_module_here:Model", "--shape", "X:4"])
    assert missing == cli.EXIT_USAGE


def test_compile_names_the_index_it_wrote(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level("INFO", logger="neuronperf_native")

    def compile_fn(model, example, filename, compiler_args):
        with open(filename, "w") as f:
            f.write("artifact")

    index = compiling.compile(compile_fn, "net", ["x"], model_name="net")
    messages = [r.getMessage() for r in caplog.records if r.name == "neuronperf_native"]
    assert messages[-1] == f"Compiled 1 variant(s); wrote the model index {index}"
    assert os.path.basename(index).startswith("net_") and index.endswith(".json")
    assert (tmp_path / index).is_file()


def test_settings_errors_name_the_options_typed(tmp_path):
    # Before issue 22 these named internal fields: request_rate, nodes=2 ... pass cluster.
    (tmp_path / "m.py").write_text("class M:\n    def __call__(self, x):\n        return x\n")
    for argv, line in (
        (["--request-rate", "1e12"], "error: --request-rate must be a finite number of requests"),
        (["--concurrency", "5000"], "error: --concurrency must be <= 4096, got 5000"),
        (["--nodes", "2"], "error: --nodes 2 runs each configuration on several nodes of a Ray"),
        (["--stability-percentage", "1e9"], "argument --stability-percentage: must be a perc"),
        (  # found only at the warm-up before issue 22
            [
                "--sequences",
                "--sequence-length",
                "3",
                "--sequence-id-range",
                "1:2",
                "--concurrency",
                "4",
            ],
            "error: --sequence-id-range 1:2 holds 1 id(s), fewer than the 4 sequences live",
        ),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "neuronperf_native", "bench", "m.py:M", "--shape", "X:4",
             "--dry-run", *argv],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert out.returncode == cli.EXIT_USAGE
        assert out.stderr.startswith(line) or line in out.stderr, out.stderr


def test_report_sort_by_and_cols_name_the_option(tmp_path, capsys):
    import neuronperf_native as npf

    report = {"model_name": "m", "batch_size": 1, "status": "finished", "throughput_avg": 5.0}
    path = npf.write_json([report], tmp_path / "r.json")
    assert cli.main(["report", path, "--sort-by", "nonsense"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: --sort-by: unknown column 'nonsense' (the reports have")
    assert cli.main(["report", path, "--cols", "model_name", "bogus"]) == cli.EXIT_USAGE
    assert "error: --cols: unknown column 'bogus'" in capsys.readouterr().err


def test_a_failed_write_names_the_file_not_its_temporary_twin(tmp_path):
    import neuronperf_native as npf

    report = {"model_name": "m", "batch_size": 1, "status": "finished"}
    with pytest.raises(OSError) as caught:
        npf.write_json([report], "/proc/npf-report.json")  # a folder no file can be made in
    assert caught.value.filename == "/proc/npf-report.json"
    assert ".tmp" not in str(caught.value)
