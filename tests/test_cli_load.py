"""bench's perf_analyzer load options: parsing into benchmark() keywords (the same
settings code), usage errors, and one short run each of a rate range and a search."""

from __future__ import annotations

import json
import re
import textwrap

import pytest
from helpers import run_cli

from neuronperf_native import cli
from neuronperf_native.cli._bench_options import _bench_options, cli_names
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
    assert closed.slo_search == "binary"
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
        (
            ["--request-rate", "1", "--request-rate-range", "1:2:1"],
            "--request-rate and --request-rate-range cannot be combined",
        ),
        (
            ["--concurrency", "2", "--concurrency-range", "1:2:1"],
            "--concurrency and --concurrency-range cannot be combined",
        ),
        (
            ["--request-rate", "10", "--concurrency-range", "1:2:1"],
            "--concurrency-range and --request-rate cannot be combined",
        ),
        (
            ["--request-intervals", "f.txt", "--request-rate", "10"],
            "--request-intervals and --request-rate cannot be combined",
        ),
        (
            ["--request-intervals", "f.txt", "--latency-threshold", "5"],
            "--latency-threshold and --request-intervals cannot be combined",
        ),
        (
            ["--request-rate", "1", "--max-threads", "2", "--workers-per-model", "1"],
            "--max-threads and --workers-per-model cannot be combined",
        ),
        (["--concurrency", "2", "--n-models", "2"], "--concurrency and --n-models cannot be"),
        (["--binary-search"], "--binary-search needs --latency-threshold"),
        (["--binary-search", "--latency-threshold", "0"], "--binary-search needs --latency-th"),
        (["--request-rate-range", "10", "--latency-threshold", "5", "--binary-search"], None),
        (["--request-rate", "1", "2", "--latency-threshold", "5", "--binary-search"], "one --req"),
        (["--concurrency-range", "1:0:1"], "END 0 means no limit, which needs --latency-thr"),
        (["--request-rate-range", "5:0:5"], "END 0 means no limit, which needs --latency-thr"),
        (
            ["--concurrency-range", "1:0:1", "--latency-threshold", "5", "--binary-search"],
            "--binary-search needs the range's END",
        ),
        (
            ["--request-rate-range", "1:100000:1"],
            "--request-rate-range 1:100000:1 expands to 100,000 levels, more than 1,000",
        ),
        (["--request-rate-range", "1:1e9:1"], "END is beyond the most allowed, 1e+08"),
        (["--request-rate-range", "1:1e7:1"], "expands to 10,000,000 levels"),
        (["--concurrency-range", "1:5000:1"], "END is beyond the most allowed, 4096"),
        (["--concurrency-range", "1:4000:1"], "expands to 4,000 levels"),
        (["--stability-percentage", "5", "--duration", "1"], "cannot be combined"),
        (["--measurement-interval", "0.5"], "--measurement-interval must be in [1, 8.64e+07] ms"),
        (["--max-trials", "10000000"], "--max-trials 10000000 windows of 100 ms"),
        (["--nodes", "2"], "--nodes 2 runs each configuration on several nodes"),
    ],
)
def test_contradicting_or_unbounded_load_options_are_usage_errors(argv, message):
    # The messages name the options as typed; ranges are counted before they are made
    # (1:1e9:1 grew memory at 120 MB/s until killed before issue 22).
    if message is None:  # a range without END: perf_analyzer's binary search needs one
        args = cli._parser().parse_args(["bench", "m.py:M", *argv])
        options = _bench_options(args)
        assert options["slo_search"] == "binary" and "slo_range" not in options
        return
    with pytest.raises(cli.UsageError, match=re.escape(message)):
        _options(*argv)


@pytest.mark.parametrize(
    ("argv", "warning", "expected"),
    [
        (
            ["--concurrency-range", "1:2", "--request-distribution", "poisson"],
            "--request-distribution applies to a request rate",
            {"workers_per_model": [1, 2], "n_models": [1]},
        ),
        (
            ["--concurrency", "3", "--max-threads", "16"],
            "--max-threads sets the requests in flight of a request rate",
            {"workers_per_model": [3], "n_models": [1]},
        ),
        (
            ["--request-intervals", "f.txt", "--request-distribution", "poisson"],
            "--request-distribution applies to a request rate (perf_analyzer ignores it "
            "without --request-rate-range): ignored with --request-intervals",
            {"request_intervals": "f.txt", "load_mode": "open"},
        ),
    ],
)
def test_perf_analyzer_command_lines_run_with_one_warning(argv, warning, expected, capsys):
    options = _options(*argv)
    for key, value in expected.items():
        assert options[key] == value
    assert "arrival" not in options
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {warning}")


def test_levels_of_a_threshold_search():
    linear = _options("--concurrency-range", "2:8:2", "--latency-threshold", "5")
    assert linear["workers_per_model"] == [2, 4, 6, 8] and linear["slo_search"] == "linear"
    unlimited = _options("--concurrency-range", "1:0:2", "--latency-threshold", "5")
    assert unlimited["workers_per_model"] == list(range(1, 2000, 2))  # 1,000 levels at most
    rates = _options("--request-rate-range", "100:0:100", "--latency-threshold", "5")
    assert rates["request_rate"][:3] == [100.0, 200.0, 300.0] and len(rates["request_rate"]) == 1000
    single = _options("--latency-threshold", "5")  # perf_analyzer's default range 1:1:1
    assert single["workers_per_model"] == [1] and single["slo_search"] == "linear"
    no_limit = _options("--concurrency-range", "1:3", "--latency-threshold", "0")
    assert "latency_slo_ms" not in no_limit and no_limit["workers_per_model"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--request-rate-range", "5:1:1"], "END must be >= START"),
        (["--request-rate-range", "a:2"], "must be a number"),
        (["--request-rate-range", "1:2:0"], "must be a positive number"),
        (["--stability-percentage", "100"], "must be a percentage in (0, 100)"),
        (["--latency-threshold", "-1"], "must be a number >= 0"),
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


STREAMING = ["--streaming", "--synthetic-input-tokens-mean", "8", "--output-tokens-mean", "4"]
GOODPUT = [*STREAMING, "--goodput", "ttft:5"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--request-rate", "10", "--max-concurrency", "2", "--max-threads", "2"],
            "--max-concurrency and --max-threads cannot be combined",
        ),
        (
            ["--request-rate", "10", "--max-concurrency", "2", "--workers-per-model", "2"],
            "--max-concurrency and --workers-per-model cannot be combined",
        ),
        (["--concurrency", "2", "--max-concurrency", "2"], "--max-concurrency caps the requests"),
        (["--max-concurrency", "2"], "--max-concurrency caps the requests in flight of an open"),
        (["--burstiness", "0.5"], "--burstiness shapes the gaps of a request rate"),
        (["--concurrency", "2", "--burstiness", "0.5"], "--burstiness shapes the gaps of a"),
        (
            ["--request-rate", "5", "--burstiness", "0.5", "--request-distribution", "poisson"],
            "--burstiness and --request-distribution poisson cannot be combined",
        ),
        (
            [*GOODPUT, "--latency-threshold", "5", "--min-goodput-fraction", "0.9"],
            "--latency-threshold and --min-goodput-fraction cannot be combined",
        ),
        (
            [*GOODPUT, "--min-goodput-fraction", "0.9", "--request-intervals", "f.txt"],
            "--min-goodput-fraction and --request-intervals cannot be combined",
        ),
        (["--binary-search"], "needs --latency-threshold MS (above 0) or --min-goodput-fraction"),
        (["--concurrency-range", "1:0:1"], "--latency-threshold MS (above 0) or --min-goodput"),
        (["--goodput", "ttft:5"], "--goodput measures streamed responses: add --streaming"),
    ],
)
def test_generative_options_follow_the_load_rules(argv, message):
    # Issue 24's options under issue 22's rules: refused before work, naming the options
    # typed (--max-concurrency was renamed --max-threads in its messages).
    with pytest.raises(cli.UsageError, match=re.escape(message)):
        _options(*argv)


def test_a_goodput_fraction_search_walks_the_levels_or_bisects():
    base = [*GOODPUT, "--min-goodput-fraction", "0.9"]
    linear = _settings(*base, "--concurrency-range", "1:0:2")
    assert linear.workers_per_model[:3] == (1, 3, 5) and linear.slo_search == "linear"
    assert linear.min_goodput_fraction == 0.9 and linear.latency_slo_ms is None
    ranged = _settings(*base, "--request-rate-range", "10:50:10", "--binary-search")
    assert ranged.slo_range == (10.0, 50.0, 10.0) and ranged.slo_search == "binary"
    capped = _settings(*STREAMING, "--request-rate", "10", "--max-concurrency", "3")
    assert capped.workers_per_model == (3,) and capped.load_mode == "open"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--goodput", "ttfb:5"], "--goodput: unknown SLO 'ttfb'"),
        (["--num-prompts", "2000000"], "--num-prompts must be in [1, 1,000,000]"),
        (["--synthetic-input-tokens-stddev", "-1"], "--synthetic-input-tokens-stddev must be a"),
        (["--synthetic-input-tokens-mean", "9000000"], "--num-prompts 100 x --synthetic-input"),
        (["--request-rate", "5", "--burstiness", "1000"], "--burstiness must be a finite number"),
        (["--export-requests", "/nonexistent/r.jsonl"], "--export-requests /nonexistent/r.jsonl:"),
        (["--tokenizer", "/nonexistent"], "--tokenizer '/nonexistent' is not a local folder"),
    ],
)
def test_generative_values_are_checked_before_work_naming_the_option(argv, message):
    # Checked by the settings benchmark() builds first (no model loaded, nothing run).
    argv = [*STREAMING, *argv]
    args = cli._parser().parse_args(["bench", "m.py:M", *argv])
    with cli_names(args), pytest.raises((ValueError, TypeError), match=re.escape(message)):
        BenchmarkSettings.from_keywords(**_bench_options(args))


def test_a_prompt_file_is_bounded_before_it_is_read(tmp_path, monkeypatch):
    from neuronperf_native import prompts

    path = tmp_path / "p.jsonl"
    path.write_text('{"input_ids": [1, 2], "output_tokens": 3}\n' * 10)
    monkeypatch.setattr(prompts, "_MAX_FILE_CHARS", 100)
    args = cli._parser().parse_args(["bench", "m.py:M", "--streaming", "--input-file", str(path)])
    with cli_names(args), pytest.raises(ValueError, match=r"--input-file .* larger than 100 bytes"):
        BenchmarkSettings.from_keywords(**_bench_options(args))
    args = cli._parser().parse_args(["bench", "m.py:M", "--input-file", "/dev/zero"])
    with (
        cli_names(args),
        pytest.raises(ValueError, match="--input-file '/dev/zero': not a regular"),
    ):
        BenchmarkSettings.from_keywords(**_bench_options(args))


# End to end, through a subprocess ----------------------------------------------------


_cli = run_cli


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


SERIAL_PY = textwrap.dedent(
    """
    import threading, time

    LOCK = threading.Lock()
    ACTIVE = [0]

    class Serial:
        # 20 ms a call for each call in flight: ~20 ms x the concurrency
        def __call__(self, x):
            with LOCK:
                ACTIVE[0] += 1
                calls = ACTIVE[0]
            time.sleep(0.02 * calls)
            with LOCK:
                ACTIVE[0] -= 1
            return x
    """
)


@pytest.mark.parametrize(
    ("levels", "measured"),
    [
        # perf_analyzer's linear search: from START, stop at the first level over 50 ms
        (["--concurrency-range", "1:4"], [1, 2, 3]),
        (["--concurrency-range", "1:0:1"], [1, 2, 3]),  # END 0: no limit
        # --binary-search: START, END, then midpoints while the bracket is wider than STEP
        (["--concurrency-range", "1:8:1", "--binary-search"], [1, 8, 4, 2, 3]),
    ],
)
def test_a_latency_threshold_measures_perf_analyzers_levels_in_order(tmp_path, levels, measured):
    (tmp_path / "serial.py").write_text(SERIAL_PY)
    out = _cli(
        "bench", "serial.py:Serial", "--shape", "X:4", *levels, "--latency-threshold", "50",
        "--percentile", "50", "--duration", "0.6", "--json", "out.json", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    reports = json.loads((tmp_path / "out.json").read_text())
    seen = [(r["workers_per_model"], r["latency_ms_p50"], r["slo"]) for r in reports]
    assert [r["workers_per_model"] for r in reports] == measured, seen
    assert [r["slo"]["value"] for r in reports] == measured
    best = [r["slo"]["value"] for r in reports if r["slo"]["best"]]
    assert best == [2]  # exactly one: the highest level that met
    assert "highest concurrency that met it: 2 workers" in out.stdout.splitlines()[-1]


def test_request_intervals_send_the_first_request_one_interval_in(tmp_path):
    # perf_analyzer sends 100000, 200000, 500000 us at 0.1, 0.3, 0.8, 0.9, 1.1, 1.6 s:
    # six requests in 1.7 s (seven before issue 22, one more at t=0).
    (tmp_path / "model.py").write_text(MODEL_PY)
    (tmp_path / "gaps.txt").write_text("100000\n200000\n500000\n")
    out = _cli(
        "bench", "model.py:Double", "--shape", "X:16", "--request-intervals", "gaps.txt",
        "--duration", "1.7", "--json", "out.json", "-q", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (report,) = json.loads((tmp_path / "out.json").read_text())
    assert report["requests_due"] == 6
    # one that a loaded machine has not started by 1.7 s is left as backlog, not sent
    assert report["total_infs"] == 6 - report["backlog_end"] > 0


def test_a_bad_interval_file_is_refused_at_once_naming_the_option(tmp_path):
    (tmp_path / "model.py").write_text(MODEL_PY)
    out = _cli(
        "bench", "model.py:Double", "--shape", "X:16", "--request-intervals", "/dev/zero",
        "--duration", "1", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == cli.EXIT_USAGE  # was OOM-killed at 24 GB before issue 22
    assert out.stderr.strip() == (
        "error: --request-intervals: /dev/zero line 1 is longer than 64 characters: expected "
        "one interval (microseconds) per line"
    )
