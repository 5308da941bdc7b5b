"""bench's perf_analyzer load options: parsing into benchmark() keywords (the same
settings code), usage errors, and one short run each of a rate range and a search."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from neuronperf_native import cli
from neuronperf_native.cli._bench_options import _bench_options
from neuronperf_native.settings import BenchmarkSettings

MODEL_PY = textwrap.dedent(
    """
    class Double:
        def __call__(self, x):
            return x * 2
    """
)


def _options(*argv: str) -> dict:
    args = cli._parser().parse_args(["bench", "m.py:M", *argv])
    return _bench_options(args)


def _settings(*argv: str) -> BenchmarkSettings:
    return BenchmarkSettings.from_keywords(**_options(*argv))


def test_a_request_rate_range_is_one_open_loop_configuration_per_rate():
    s = _settings("--request-rate-range", "1000:5000:1000")
    assert s.load_mode == "open" and s.arrival == "constant"
    assert s.request_rate == (1000.0, 2000.0, 3000.0, 4000.0, 5000.0)
    assert (s.n_models, s.workers_per_model) == ((1,), (4,))  # perf_analyzer's 4 threads
    assert _settings("--request-rate-range", "0.1:0.3:0.1").request_rate == (0.1, 0.2, 0.3)
    assert _settings("--request-rate-range", "250").request_rate == (250.0,)


def test_request_rates_distribution_threads_and_copies():
    s = _settings(
        "--request-rate", "100", "200", "--request-distribution", "poisson", "--seed", "3",
        "--max-threads", "8", "--n-models", "2",
    )  # fmt: skip
    assert s.request_rate == (100.0, 200.0)
    assert (s.arrival, s.seed) == ("poisson", 3)
    assert (s.n_models, s.workers_per_model) == ((2,), (8,))
    s = _settings("--request-rate", "100", "--workers-per-model", "1", "2")
    assert s.workers_per_model == (1, 2) and s.seed == 0


def test_a_concurrency_range_is_one_copy_with_each_worker_count():
    s = _settings("--concurrency-range", "1:8:2")
    assert s.load_mode == "closed"
    assert (s.n_models, s.workers_per_model) == ((1,), (1, 3, 5, 7))
    assert _settings("--concurrency-range", "4").workers_per_model == (4,)


def test_request_intervals_are_read_from_the_file(tmp_path):
    path = tmp_path / "gaps.txt"
    path.write_text("100\n300\n")
    s = _settings("--request-intervals", str(path))
    assert s.load_mode == "open" and s.request_intervals.intervals_us().tolist() == [100, 300]
    assert s.request_rate is None


def test_the_latency_threshold_searches():
    binary = _settings(
        "--request-rate-range", "100:1000:10", "--latency-threshold", "5", "--binary-search",
        "--percentile", "95",
    )  # fmt: skip
    assert (binary.latency_slo_ms, binary.slo_percentile) == (5.0, 95.0)
    assert binary.slo_search == "binary" and binary.slo_range == (100.0, 1000.0, 10.0)
    assert binary.load_mode == "open" and binary.request_rate is None
    linear = _settings("--request-rate-range", "100:500:100", "--latency-threshold", "5")
    assert linear.slo_search == "linear" and linear.request_rate == (
        100.0,
        200.0,
        300.0,
        400.0,
        500.0,
    )
    closed = _settings("--latency-threshold", "5", "--binary-search")
    assert closed.load_mode == "closed" and closed.latency_slo_ms == 5.0
    assert closed.slo_range is None and closed.slo_percentile == 99.0
    ranged = _settings(
        "--concurrency-range", "1:64:1", "--latency-threshold", "2", "--binary-search"
    )
    assert ranged.slo_range == (1.0, 64.0, 1.0) and ranged.workers_per_model is None
    started = _settings("--request-rate", "300", "--latency-threshold", "2", "--binary-search")
    assert started.request_rate == (300.0,) and started.slo_range is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--request-rate", "1", "--request-rate-range", "1:2:1"], "not both"),
        (["--concurrency", "2", "--concurrency-range", "1:2:1"], "not both"),
        (["--request-rate", "10", "--concurrency-range", "1:2:1"], "give one of them"),
        (["--request-intervals", "f.txt", "--request-rate", "10"], "replays its own gaps"),
        (["--request-distribution", "poisson"], "applies to the open loop"),
        (["--max-threads", "4"], "requests in flight of the open loop"),
        (["--request-rate", "1", "--max-threads", "2", "--workers-per-model", "1"], "not both"),
        (["--binary-search"], "needs --latency-threshold"),
        (["--latency-threshold", "5"], "give a range, or --binary-search"),
        (["--request-rate-range", "10", "--latency-threshold", "5", "--binary-search"], "END"),
        (["--request-rate", "1", "2", "--latency-threshold", "5", "--binary-search"], "one --req"),
    ],
)
def test_contradicting_load_options_are_usage_errors(argv, message):
    with pytest.raises(cli.UsageError, match=message):
        _options(*argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--request-rate-range", "5:1:1"], "END must be >= START"),
        (["--request-rate-range", "a:2"], "must be a number"),
        (["--request-rate-range", "1:2:0"], "must be a positive number"),
        (["--concurrency-range", "1:2.5"], "must be an integer"),
        (["--request-rate", "-3"], "must be a positive number"),
        (["--request-distribution", "bursty"], "invalid choice"),
    ],
)
def test_bad_values_name_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        _options(*argv)
    assert caught.value.code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert message in error and f"argument {argv[0]}" in error


# End to end, through a subprocess ----------------------------------------------------


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "neuronperf_native", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _header_and_rows(stdout: str) -> tuple[list[str], list[list[str]]]:
    lines = [re.split(r"\s{2,}", line) for line in stdout.strip().splitlines()]
    return lines[0], lines[1:]


def test_bench_request_rate_range_prints_the_load_columns(tmp_path):
    (tmp_path / "model.py").write_text(MODEL_PY)
    out = _cli(
        "bench", "model.py:Double", "--shape", "X:16", "--request-rate-range", "200:400:200",
        "--duration", "0.5", "--json", "out.json", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    header, rows = _header_and_rows(out.stdout)
    assert header[:3] == ["model_name", "request_rate (req/s)", "request_rate_achieved (req/s)"]
    for column in ("schedule_lag_p99 (ms)", "schedule_lag_p99 (us)"):
        if column in header:
            break
    else:
        pytest.fail(f"no schedule lag column in {header}")
    assert "backlog_max" in header and "saturated" in header
    assert [row[1] for row in rows] == ["200.0", "400.0"]
    reports = json.loads((tmp_path / "out.json").read_text())
    assert [(r["load_mode"], r["request_rate"], r["n_models"]) for r in reports] == [
        ("open", 200.0, 1), ("open", 400.0, 1),
    ]  # fmt: skip
    assert all(r["status"] == "finished" for r in reports)


def test_bench_latency_threshold_binary_search_marks_the_best_rate(tmp_path):
    (tmp_path / "model.py").write_text(MODEL_PY)
    out = _cli(
        "bench", "model.py:Double", "--shape", "X:16", "--request-rate-range", "50:400:100",
        "--latency-threshold", "1000", "--binary-search", "--duration", "0.5",
        "--json", "out.json", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    header, rows = _header_and_rows("\n".join(lines[:-1]))
    assert "slo_met" in header and "slo_best" in header
    assert [r[header.index("slo_best")] for r in rows].count("True") == 1
    assert "p99 latency threshold 1000 ms: highest request rate that met it" in lines[-1]
    reports = json.loads((tmp_path / "out.json").read_text())
    slos = [r["slo"] for r in reports]
    assert slos[0]["value"] == 50.0  # a range's search starts at its low end
    assert all(s["target_ms"] == 1000.0 and s["percentile"] == 99.0 for s in slos)
    (best,) = [s for s in slos if s["best"]]
    assert best["met"] and best["value"] == max(s["value"] for s in slos if s["met"])
