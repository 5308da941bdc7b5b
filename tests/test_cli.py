"""The command line: demo output, exit statuses, usage errors."""

import re
import subprocess
import sys


def _cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "neuronperf_native", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_prints_a_report_table():
    out = _cli("demo", "--duration", "0.2", "--n-models", "1", "--workers", "1", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    header = re.split(r"\s{2,}", lines[0])  # cells are apart by 2+ spaces; units in headers
    assert header[:2] == ["model_name", "throughput_avg (inf/s)"]
    assert header[2] in ("latency_p50 (us)", "latency_p50 (ms)")
    assert len(lines) == 3  # header + 2 configurations, in run order
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert [(r[0], r[-1]) for r in rows] == [("DemoModel", "finished")] * 2
    assert [r[header.index("workers_per_model")] for r in rows] == ["1", "2"]


def test_usage_errors_exit_2_with_one_line():
    out = _cli("demo", "--duration", "-1")
    assert out.returncode == 2
    out = _cli("demo", "--duration", "0.1", "--workers", "0")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: neuronperf-native demo: argument --workers: must be >= 1, got 0 (see --help)"
    ]
    out = _cli("no-such-command")
    assert out.returncode == 2


def test_version():
    out = _cli("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("neuronperf-native ")


def test_messages_drop_internal_exception_names():
    from neuronperf_native.cli._output import _user_text

    text = "model copy 0 failed in validate: neuronperf_native.copies.protocol.CopyFailure: no"
    assert _user_text(text) == "model copy 0 failed in validate: no"
    assert _user_text("neuronperf_native.inputs.InputDataError: bad") == "InputDataError: bad"
    assert _user_text("ValueError: plain") == "ValueError: plain"


_SLEEPER = """
import time


class Sleeper:
    def __call__(self, x):
        time.sleep(0.0005)
        return x
"""


def _bench_json(tmp_path, *options):
    (tmp_path / "sleeper.py").write_text(_SLEEPER)
    out = subprocess.run(
        [sys.executable, "-m", "neuronperf_native", "bench", "sleeper.py:Sleeper", "--shape",
         "X:4", "--n-models", "1", "--workers-per-model", "1", "--json", "out.json", "-q",
         *options],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    import json

    (report,) = json.loads((tmp_path / "out.json").read_text())
    return report


def test_bench_stops_on_stability_by_default_and_duration_fixes_the_time(tmp_path):
    report = _bench_json(tmp_path, "--max-trials", "30", "--stability-percentage", "50")
    assert report["stability"] == {
        "rel_ci": 0.5, "percentile": 50.0, "confidence": 0.95, "min_s": 1.0, "max_s": 3.0,
    }  # fmt: skip
    assert report["window_s"] == 0.1 and report["duration"] == 3.0
    assert report["total_s"] <= 3.5 and isinstance(report["stable"], bool)
    report = _bench_json(tmp_path, "--duration", "0.5", "--measurement-interval", "50")
    assert report["stability"] is None and report["duration"] == 0.5
    assert report["window_s"] == 0.05


def test_bench_default_rule_is_five_percent_on_the_median_over_at_most_100_windows():
    from neuronperf_native.cli import _parser
    from neuronperf_native.cli._bench_options import _timing_options

    args = _parser().parse_args(["bench", "x.py:M"])
    assert _timing_options(args) == {
        "duration": 10.0,
        "stability": {"rel_ci": 0.05, "percentile": 50.0, "max_s": 10.0, "min_s": 1.0},
    }
    args = _parser().parse_args(["bench", "x.py:M", "--percentile", "90", "--max-trials", "5"])
    assert _timing_options(args)["stability"] == {
        "rel_ci": 0.05, "percentile": 90.0, "max_s": 0.5, "min_s": 0.5,
    }  # fmt: skip


def test_bench_stability_options_exclude_a_fixed_duration():
    out = _cli("bench", "x.py:M", "--duration", "1", "--max-trials", "5")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: --duration and --max-trials cannot be combined: --duration runs each "
        "configuration for a fixed time"
    )
