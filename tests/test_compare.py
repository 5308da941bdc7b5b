"""compare: matching, statistical verdicts, exit statuses, on real spin runs and synthetic reports.

Real runs use native spin models and their verdicts are asserted on p10: the calls a
loaded machine did not preempt, which load cannot move unless it disturbs 90% of them
(a busy machine can move even the p50 of a long spin). Throughput verdicts, which load
does move, are asserted on synthetic reports whose window series the tests construct.
"""

import functools
from pathlib import Path

import numpy as np
import pytest

import neuronperf_native as npf
from neuronperf_native import analysis, cli, engine
from neuronperf_native.engine import Histogram
from neuronperf_native.reporting import ReportFileError, comparison_table

GOLDEN = Path(__file__).parent / "data" / "golden"


def _spin_loader(latency_ns, distribution, model_filename, device_id=0):
    sigma = {"sigma": 0.3} if distribution == "lognormal" else {}
    return engine.native_model("spin", latency_ns=latency_ns, distribution=distribution, **sigma)


@functools.cache
def spin_run(latency_ns, distribution="fixed", tag=0):
    """Reports of one short run of a native spin model (cached: a run is ~0.6 s)."""
    loader = functools.partial(_spin_loader, latency_ns, distribution)
    reports = npf.benchmark(
        loader,
        "spin",
        [1],
        duration=0.6,
        n_models=1,
        workers_per_model=1,
        multiprocess=False,
        window_s=0.05,
        model_name="spin",
        verbosity=0,
    )
    assert reports[0]["status"] == "finished"
    return tuple(reports)


def test_the_same_spin_model_twice_is_the_same():
    base, new = list(spin_run(200_000)), list(spin_run(200_000, tag=1))
    metrics = ["latency_ms_p10", "latency_ms_p50", "throughput_avg"]
    comparison = npf.compare(base, new, metrics=metrics)
    p10, p50, throughput = comparison.rows
    assert p10.verdict == "same"
    assert p10.interval[0] <= p10.change <= p10.interval[1]
    assert p50.base == base[0]["latency_ms_p50"] and p50.new == new[0]["latency_ms_p50"]
    assert throughput.base == base[0]["throughput_avg"]
    # reports carry autocorrelation-aware intervals for p50 and throughput, none for p10
    assert (p10.method, p50.method, throughput.method) == (
        "order statistics",
        "report intervals",
        "report intervals",
    )
    assert not comparison.unmatched_base and not comparison.unmatched_new


def test_a_20_percent_slower_spin_model_is_slower_and_fails_the_cli(tmp_path, capsys):
    base = npf.write_json(list(spin_run(200_000)), tmp_path / "base.json")
    new = npf.write_json(list(spin_run(240_000)), tmp_path / "new.json")
    comparison = npf.compare(base, new, metrics=["latency_ms_p10"])
    (row,) = comparison.rows
    assert row.verdict == "slower" and row.change > 0.15 and row.interval[0] > 0.05
    assert comparison.regressed and comparison.regressions == [row]
    assert cli.main(["compare", base, new, "--metric", "latency_ms_p10"]) == cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert "latency_ms_p10" in out and "slower" in out and "1 slower" in out
    # the other way round it is faster, which passes the gate
    assert cli.main(["compare", new, base, "--metric", "latency_ms_p10"]) == cli.EXIT_OK
    assert "faster" in capsys.readouterr().out


def test_a_noisy_pair_within_the_threshold_does_not_fail(tmp_path, capsys):
    """Lognormal spin models (sigma 0.3, the same seed) whose latencies differ by 2%."""
    base = npf.write_json(list(spin_run(200_000, "lognormal")), tmp_path / "base.json")
    new = npf.write_json(list(spin_run(204_000, "lognormal")), tmp_path / "new.json")
    (row,) = npf.compare(base, new, metrics=["latency_ms_p10"]).rows
    assert 0.0 < row.change < 0.05 and row.verdict == "same"
    assert cli.main(["compare", base, new, "--metric", "latency_ms_p10"]) == cli.EXIT_OK
    # with a 1% threshold the same 2% change is beyond it: slower when significant
    (tight,) = npf.compare(base, new, threshold=0.01, metrics=["latency_ms_p10"]).rows
    assert tight.verdict == ("slower" if tight.interval[0] > 0 else "same")
    capsys.readouterr()


# Synthetic reports --------------------------------------------------------------


def synthetic(interior, latencies_ns=None, **keys):
    """A finished report whose interior windows and latency histogram are given."""
    timeline = [interior[0] * 0.6, *interior, interior[-1] * 0.3]  # partial first/last
    hist = Histogram()
    if latencies_ns is not None:
        hist.record_many(np.asarray(latencies_ns, dtype=np.int64))
    report = {
        "model_name": "m",
        "batch_size": 1,
        "n_models": 1,
        "workers_per_model": 1,
        "pipeline_size": 1,
        "status": "finished",
        "throughput_timeline": timeline,
        "throughput_avg": float(np.mean(interior)),
        "latency_hist": hist.encode() if latencies_ns is not None else None,
    }
    if latencies_ns is not None:
        for p in (50, 99):
            report[f"latency_ms_p{p}"] = hist.value_at_percentile(p) / 1e6
    report.update(keys)
    return report


def windows(mean, sd, count=30, seed=0):
    return list(np.random.default_rng(seed).normal(mean, sd, count))


def only_row(base, new, **kwargs):
    (row,) = npf.compare([base], [new], metrics=["throughput_avg"], **kwargs).rows
    return row


def test_throughput_verdicts_from_the_window_series():
    slower = only_row(synthetic(windows(1000, 10)), synthetic(windows(800, 10, seed=1)))
    assert slower.verdict == "slower" and slower.p_value < 1e-6
    assert slower.interval[0] < slower.change < slower.interval[1] < -0.15  # shift / base
    faster = only_row(synthetic(windows(800, 10)), synthetic(windows(1000, 10, seed=1)))
    assert faster.verdict == "faster"
    # significant but within the threshold
    near = only_row(synthetic(windows(1000, 5)), synthetic(windows(1030, 5, seed=1)))
    assert near.p_value < 0.05 and near.verdict == "same"
    assert (
        only_row(
            synthetic(windows(1000, 5)), synthetic(windows(1030, 5, seed=1)), threshold=0.01
        ).verdict
        == "faster"
    )
    # beyond the threshold but not significant: 4 very noisy windows each
    noisy = only_row(synthetic([1000, 1500, 600, 1100]), synthetic([950, 1300, 500, 1050]))
    assert noisy.change < -0.05 and noisy.p_value > 0.05 and noisy.verdict == "same"
    # two outlier windows lift new's mean by 11% while its windows shifted down 10%
    skewed = only_row(synthetic([1000.0] * 20), synthetic([900.0] * 18 + [3000.0] * 2))
    assert skewed.change == pytest.approx(0.11) and skewed.interval[1] < 0
    assert skewed.verdict == "same" and "skewed windows" in skewed.note


def test_too_few_windows_is_unknown_not_same():
    row = only_row(synthetic([1000.0]), synthetic([500.0]))
    assert row.verdict == "unknown" and row.interval is None
    assert "too few windows (1, 1)" in row.note


def test_report_intervals_are_used_when_both_reports_carry_them():
    base = synthetic(windows(1000, 10), throughput_ci=[990.0, 1010.0], ci_confidence=0.95)
    base["throughput_avg"] = 1000.0
    new = synthetic(windows(900, 10, seed=1), throughput_ci=[880.0, 920.0], ci_confidence=0.95)
    new["throughput_avg"] = 900.0
    row = only_row(base, new)
    assert row.method == "report intervals" and row.verdict == "slower"
    half = 1.959964 * np.hypot(20 / 1.959964, 10 / 1.959964)  # errors in quadrature
    assert row.interval == pytest.approx(((-100 - half) / 1000, (-100 + half) / 1000), rel=1e-5)
    del new["throughput_ci"]  # one side only: back to the window series
    assert only_row(base, new).method == "mann-whitney"


def test_latency_verdicts_from_the_histograms():
    rng = np.random.default_rng(5)
    base_ns = rng.lognormal(np.log(200_000), 0.3, 5000)
    base = synthetic(windows(1000, 10), base_ns)
    slower = synthetic(windows(1000, 10), base_ns * 1.2)
    same = synthetic(windows(1000, 10), rng.lognormal(np.log(200_000), 0.3, 5000))
    rows = npf.compare([base, base], [slower, same], metrics=["latency_ms_p50", "latency_ms_p99"])
    assert [r.verdict for r in rows.rows] == ["slower", "slower", "same", "same"]
    assert rows.rows[0].change == pytest.approx(0.2, abs=0.01)
    assert rows.rows[0].method == "order statistics"
    (deep,) = npf.compare([base], [same], metrics=["latency_ms_p99.99"]).rows
    assert deep.verdict == "unknown" and "too few samples to bound p99.99" in deep.note
    assert deep.base == Histogram.decode(base["latency_hist"]).value_at_percentile(99.99) / 1e6
    no_hist = dict(base, latency_hist=None)
    (missing,) = npf.compare([no_hist], [same], metrics=["latency_ms_p50"]).rows
    assert missing.verdict == "unknown" and missing.note == "base: no latency histogram"


def test_latency_report_intervals_take_precedence():
    base = synthetic(windows(1000, 10), [200_000] * 100)
    new = synthetic(windows(1000, 10), [230_000] * 100)
    base.update(latency_ms_p50=0.2, latency_ms_p50_ci=[0.1, 0.3])
    new.update(latency_ms_p50=0.23, latency_ms_p50_ci=[0.13, 0.33])
    (row,) = npf.compare([base], [new], metrics=["latency_ms_p50"]).rows
    assert row.method == "report intervals" and row.verdict == "same"  # wide intervals


def test_configurations_are_matched_and_unmatched_ones_listed():
    base = [
        synthetic(windows(1000, 10), batch_size=1),
        synthetic(windows(1000, 10), batch_size=4),
        synthetic(windows(1000, 10), load_mode="open", request_rate=100.0),
    ]
    new = [
        synthetic(windows(1000, 10), batch_size=8),
        synthetic(windows(1000, 10), load_mode="closed", batch_size=1),  # closed = default
        synthetic(windows(1000, 10), load_mode="open", request_rate=200.0),
    ]
    comparison = npf.compare(base, new, metrics=["throughput_avg"])
    assert [r.config["batch_size"] for r in comparison.rows] == [1]
    assert [c["batch_size"] for c in comparison.unmatched_base] == [4, 1]
    assert comparison.unmatched_base[1]["request_rate"] == 100.0
    assert [c.get("request_rate") for c in comparison.unmatched_new] == [None, 200.0]
    text = comparison_table(comparison)
    assert "only in base: m b=4 n=1 w=1 p=1\n" in text
    assert "only in new: m b=1 n=1 w=1 p=1 load=open rate=200.0\n" in text


def test_a_configuration_that_failed_in_new_is_a_regression():
    base = synthetic(windows(1000, 10))
    new = dict(synthetic(windows(1000, 10)), status="error", throughput_avg=None)
    comparison = npf.compare([base], [new], metrics=["throughput_avg"])
    assert comparison.rows[0].verdict == "unknown" and "new status error" in comparison.rows[0].note
    assert comparison.regressed and comparison.failed[0]["status"] == "error"


def golden_comparison():
    """Two seeded runs: one configuration slower, one the same, one only in base."""
    rng = np.random.default_rng(2)
    base_ns = rng.lognormal(np.log(50_000), 0.2, 4000)
    base = [
        synthetic(windows(1000, 10), base_ns),
        synthetic(windows(2000, 10), base_ns * 2, batch_size=4),
        synthetic(windows(1000, 10), base_ns, batch_size=8),
    ]
    new = [
        synthetic(windows(800, 10, seed=1), base_ns * 1.25),
        synthetic(windows(2010, 10, seed=1), base_ns * 2, batch_size=4, stable=False),
    ]
    return npf.compare(base, new, metrics=["throughput_avg", "latency_ms_p50"])


def test_comparison_table_golden():
    comparison = golden_comparison()
    assert comparison_table(comparison) == (GOLDEN / "compare_table.txt").read_text()
    assert comparison.to_dict()["rows"][0]["verdict"] == "slower"


def test_cli_exit_statuses_and_usage_errors(tmp_path, capsys):
    base = npf.write_json([synthetic(windows(1000, 10))], tmp_path / "base.json")
    slow = npf.write_json([synthetic(windows(800, 10, seed=1))], tmp_path / "slow.json")
    other = npf.write_json([synthetic(windows(800, 10), batch_size=2)], tmp_path / "other.json")
    assert cli.main(["compare", base, base]) == cli.EXIT_OK
    assert cli.main(["compare", base, slow, "--metric", "throughput_avg"]) == cli.EXIT_FAILED
    assert cli.main(["compare", base, slow, "--threshold", "25%"]) == cli.EXIT_OK
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:8] == ["config", "metric", "unit", "base", "new", "change", "interval", "(95%)"]
    assert cli.main(["compare", base, other]) == cli.EXIT_USAGE
    assert "error: no configuration of" in capsys.readouterr().err
    assert cli.main(["compare", base, str(tmp_path / "missing.json")]) == cli.EXIT_USAGE
    assert "missing.json: report file not found" in capsys.readouterr().err
    for bad in (["--threshold", "-1"], ["--confidence", "1"], ["--metric", "p99"]):
        with pytest.raises(SystemExit) as exit_info:
            code = cli.main(["compare", base, base, *bad])
            raise SystemExit(code)
        assert exit_info.value.code == cli.EXIT_USAGE
    capsys.readouterr()


def test_bad_arguments_name_the_parameter(tmp_path):
    report = synthetic(windows(1000, 10))
    with pytest.raises(ValueError, match="threshold must be a finite fraction >= 0"):
        npf.compare([report], [report], threshold=-0.1)
    with pytest.raises(TypeError, match="threshold must be a number"):
        npf.compare([report], [report], threshold="5%")
    with pytest.raises(ValueError, match="confidence must be in"):
        npf.compare([report], [report], confidence=1.5)
    with pytest.raises(ValueError, match="cannot compare 'throughput_peak'"):
        npf.compare([report], [report], metrics=["throughput_peak"])
    with pytest.raises(ValueError, match="cannot compare 'latency_ms_p101'"):
        npf.compare([report], [report], metrics="latency_ms_p101")
    with pytest.raises(TypeError, match="base must be a list of report dicts or a JSON file"):
        npf.compare(report, [report])
    with pytest.raises(TypeError, match=r"new\[0\] must be a report dict"):
        npf.compare([report], [1])
    with pytest.raises(ReportFileError, match=r"nope\.json: report file not found"):
        npf.compare(tmp_path / "nope.json", [report])
    assert analysis.VERDICTS == ("slower", "faster", "same", "unknown")
