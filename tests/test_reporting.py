"""reporting: get_reports from (config, results) pairs, print_reports, write_csv, write_json."""

import json
import math
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import neuronperf_native
from neuronperf_native import engine, reporting
from neuronperf_native._files import atomic_write_text
from neuronperf_native.engine import STAGES, Histogram, RunResult

GOLDEN = Path(__file__).parent / "data" / "golden"


def make_config(**overrides):
    config = {
        "model_filename": "models/resnet50_b2.pt",
        "model_name": "resnet50",
        "device_type": "cpu",
        "instance_type": None,
        "batch_size": 2,
        "n_models": 2,
        "workers_per_model": 1,
        "pipeline_size": 1,
        "n_devices": 2,
        "performance_level": None,
        "input_idx": 0,
        "multiprocess": True,
        "multiinterpreter": False,
        "stats_interval": 0.5,
        "start_dts": "20261123-120000",
        "stop_dts": "20261123-120002",
        "duration": 2.0,
        "cost_per_hour": None,
        "percentiles": [],
        "window_s": 0.5,
    }
    config.update(overrides)
    return config


def hist_of(values_ns):
    hist = Histogram()
    for value in values_ns:
        hist.record(int(value))
    return hist


def copy_dict(
    copy_id,
    e2e_ns,
    windows,
    *,
    start_ns=1_000_000_000,
    window_s=0.5,
    infer_ns=None,
    stages_ns=None,
    warmup_ns=(),
    load_s=0.25,
    status="finished",
):
    """A model copy's result dict, as the orchestration layer sends it (known values)."""
    stages = {name: Histogram() for name in STAGES}
    stages["e2e"] = hist_of(e2e_ns)
    stages["infer"] = hist_of(e2e_ns if infer_ns is None else infer_ns)
    for name, values in (stages_ns or {}).items():
        stages[name] = hist_of(values)
    window_ns = round(window_s * 1e9)
    run = RunResult(
        status=status,
        stop_reason="duration",
        error_info=None,
        stages=stages,
        warmup=hist_of(warmup_ns),
        per_worker_iterations=[len(e2e_ns)],
        abandoned_workers=0,
        start_ns=start_ns,
        end_ns=start_ns + window_ns * len(windows) - window_ns // 2,
        window_ns=window_ns,
        windows=windows,
        cpu_ns=0,
    )
    data = run.to_dict()
    data.update(copy_id=copy_id, load_s=load_s, env_setup_s=0.0, setup_s=0.0)
    return data


def make_results(copies, batch_size=2, **overrides):
    results = {
        "status": "finished",
        "error": None,
        "workers_per_model": 1,
        "n_infs": sum(c["iterations"] for c in copies) * batch_size,
        "total_s": 2.0,
        "cpu_percents": [10.0, 20.0, 30.0, 40.0],
        "mem_percents": [50.0, 50.0, 60.0, 60.0],
        "copies": copies,
    }
    results.update(overrides)
    return results


# e2e latencies of two copies, chosen to straddle histogram buckets
E2E_A = [1_000_000, 1_200_000, 1_500_000, 2_000_000, 9_000_000]
E2E_B = [800_000, 1_100_000, 1_300_000, 40_000_000]


def two_copy_pair(config=None, **result_overrides):
    copies = [
        copy_dict(0, E2E_A, [5, 10, 10, 10, 3], load_s=0.2, warmup_ns=[3_000_000]),
        copy_dict(1, E2E_B, [4, 10, 12, 10, 1], load_s=0.4, warmup_ns=[5_000_000]),
    ]
    return (config or make_config(), make_results(copies, **result_overrides))


# get_reports: semantics


def test_throughput_avg_and_peak_from_summed_interior_windows():
    (report,) = reporting.get_reports([two_copy_pair()])
    # summed windows [9, 20, 22, 20, 4] x batch 2 / 0.5 s
    assert report["throughput_timeline"] == [36.0, 80.0, 88.0, 80.0, 16.0]
    assert report["throughput_avg"] == pytest.approx((80.0 + 88.0 + 80.0) / 3)
    assert report["throughput_peak"] == 88.0


def test_short_run_falls_back_to_whole_run_throughput():
    copies = [copy_dict(0, E2E_A, [4, 1]), copy_dict(1, E2E_B, [3, 1])]
    results = make_results(copies, n_infs=18, total_s=0.75)
    (report,) = reporting.get_reports([(make_config(), results)])
    assert report["throughput_timeline"] == [28.0, 8.0]
    assert report["throughput_avg"] == pytest.approx(18 / 0.75)
    # peak: the first (full) window beats the whole-run average here
    assert report["throughput_peak"] == 28.0


def test_copies_started_a_window_apart_are_aligned_on_the_clock():
    copies = [
        copy_dict(0, E2E_A, [1, 2, 3, 4], start_ns=10_000_000_000),
        copy_dict(1, E2E_B, [5, 6, 7], start_ns=10_500_000_000),
    ]
    (report,) = reporting.get_reports([(make_config(batch_size=1), make_results(copies, 1))])
    assert report["throughput_timeline"] == [2.0, 14.0, 18.0, 22.0]


def test_latency_percentiles_come_from_the_merged_e2e_histogram():
    config = make_config(percentiles=[75, 99.99])
    (report,) = reporting.get_reports([two_copy_pair(config)])
    merged = hist_of(E2E_A + E2E_B)
    for p in (0, 50, 90, 95, 99, 99.9, 100, 75, 99.99):
        key = f"latency_ms_p{p:g}"
        assert report[key] == merged.value_at_percentile(p) / 1e6, key
    assert "latency_ms_p75" in report and "latency_ms_p99.99" in report
    assert report["latency_ms_mean"] == merged.mean / 1e6
    assert report["latency_ms_stddev"] == merged.stddev / 1e6
    assert report["e2e_avg_ms"] == merged.mean / 1e6
    assert Histogram.decode(report["latency_hist"]) == merged
    # full precision: not rounded to 3 decimals
    assert report["latency_ms_p100"] != round(report["latency_ms_p100"], 3)


def test_totals_stage_averages_load_and_warmup():
    copies = [
        copy_dict(
            0,
            [2_000_000, 4_000_000],
            [1, 1, 1],
            infer_ns=[1_000_000, 3_000_000],
            stages_ns={"preprocess": [250_000, 750_000]},
            warmup_ns=[10_000_000],
            load_s=1.0,
        ),
        copy_dict(
            1,
            [6_000_000],
            [0, 1, 0],
            infer_ns=[5_000_000],
            stages_ns={"preprocess": [500_000]},
            warmup_ns=[20_000_000],
            load_s=3.0,
        ),
    ]
    results = make_results(copies, batch_size=4)
    (report,) = reporting.get_reports([(make_config(batch_size=4), results)])
    assert report["total_infs"] == 3 * 4
    assert report["total_s"] == 2.0
    assert report["infer_avg_ms"] == pytest.approx(3.0, rel=1e-3)
    assert report["e2e_avg_ms"] == pytest.approx(4.0, rel=1e-3)
    assert report["preprocess_avg_ms"] == pytest.approx(0.5, rel=1e-3)
    assert report["input_avg_ms"] is None  # stage never ran
    assert report["postprocess_avg_ms"] is None
    assert report["load_avg_ms"] == pytest.approx(2000.0)
    assert report["warmup_avg_ms"] == pytest.approx(15.0, rel=1e-3)
    assert report["worker_avg_s"] == pytest.approx(1.25)  # 3 windows of 0.5 s, last half


def test_cost_per_million_inferences():
    (with_cost,) = reporting.get_reports([two_copy_pair(make_config(cost_per_hour=3.6))])
    expected = 3.6 / (with_cost["throughput_avg"] * 3600) * 1e6
    assert with_cost["cost_per_1m_inf"] == pytest.approx(expected)
    (without,) = reporting.get_reports([two_copy_pair()])
    assert without["cost_per_1m_inf"] is None


@pytest.mark.parametrize("as_array", [False, True])
def test_utilisation_statistics(as_array):
    config, results = two_copy_pair()
    if as_array:
        results["cpu_percents"] = np.array(results["cpu_percents"])
    (report,) = reporting.get_reports([(config, results)])
    assert report["cpu_avg_percent"] == 25.0
    assert report["cpu_percent_p50"] == 25.0
    assert report["cpu_percent_p90"] == pytest.approx(37.0)
    assert report["cpu_percent_p99"] == pytest.approx(39.7)
    assert report["mem_avg_percent"] == 55.0
    assert report["mem_percent_p50"] == 55.0
    assert report["n_stats_intervals"] == 4


REQUIRED_KEYS = {
    "status",
    "error",
    "load_avg_ms",
    "warmup_avg_ms",
    "input_avg_ms",
    "preprocess_avg_ms",
    "postprocess_avg_ms",
    "worker_avg_s",
    "n_stats_intervals",
    "cpu_percent_p90",
    "mem_percent_p99",
    "latency_ms_p99.9",
    "latency_ms_mean",
    "latency_ms_stddev",
    "latency_hist",
    "throughput_timeline",
    "metadata",
}


def test_report_has_every_csv_column_config_key_and_extension_in_order():
    config, results = two_copy_pair()
    (report,) = reporting.get_reports([(config, results)])
    assert list(report)[: len(reporting.CSV_COLS)] == reporting.CSV_COLS
    assert set(config) <= set(report)
    assert set(report) >= REQUIRED_KEYS
    assert report["status"] == "finished"
    assert report["error"] is None
    assert "validation" not in report


def test_validation_is_passed_through():
    config, results = two_copy_pair()
    results["validation"] = {"passed": True, "max_abs_error": 0.0}
    (report,) = reporting.get_reports([(config, results)])
    assert report["validation"] == {"passed": True, "max_abs_error": 0.0}


def test_failed_configuration_without_measurements_still_gets_a_report():
    results = {
        "status": "error",
        "error": "RuntimeError: model copy 1 died (signal 9)",
        "workers_per_model": 1,
        "n_infs": 0,
        "total_s": 0.0,
        "cpu_percents": [],
        "mem_percents": [],
        "copies": [{"copy_id": 0, "load_s": 0.5}],
    }
    config = make_config(cost_per_hour=1.0, percentiles=[99.99])
    good, failed = reporting.get_reports([two_copy_pair(), (config, results)])
    assert set(good) <= set(failed) | {"latency_ms_p99.99"}
    assert set(failed) >= REQUIRED_KEYS
    assert failed["status"] == "error"
    assert failed["error"] == "RuntimeError: model copy 1 died (signal 9)"
    assert failed["model_name"] == "resnet50"
    assert failed["load_avg_ms"] == 500.0
    for key in (
        "throughput_avg",
        "throughput_peak",
        "latency_ms_p50",
        "latency_ms_p99.99",
        "latency_hist",
        "total_infs",
        "cost_per_1m_inf",
        "cpu_avg_percent",
        "e2e_avg_ms",
        "warmup_avg_ms",
    ):
        assert failed[key] is None, key
    assert failed["n_stats_intervals"] == 0


def test_metadata_says_where_the_reports_were_made(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(__version__="9.9.1"))
    monkeypatch.delitem(sys.modules, "mxnet", raising=False)
    (report,) = reporting.get_reports([two_copy_pair()])
    meta = report["metadata"]
    assert meta["neuronperf_native_version"] == neuronperf_native.__version__
    assert meta["frameworks"]["tensorflow"] == "9.9.1"
    assert "mxnet" not in meta["frameworks"]
    assert meta["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["usable_cores"] == len(os.sched_getaffinity(0))
    assert meta["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert isinstance(meta["hostname"], str) and meta["hostname"]
    assert meta["cpu_model"] is None or isinstance(meta["cpu_model"], str)


def test_reports_from_real_concurrent_engine_runs():
    """Two model copies started together on the shared clock, as benchmark() runs them."""
    start_at = engine.now_ns() + 100_000_000
    runners = [
        engine.Runner(
            engine.native_model("spin", latency_ns=200_000),
            workers=2,
            duration_s=0.4,
            window_s=0.05,
            start_at_ns=start_at,
        )
        for _ in range(2)
    ]
    for runner in runners:
        runner.start()
    runs = [runner.wait() for runner in runners]
    assert all(run.status == "finished" for run in runs)
    copies = []
    for i, run in enumerate(runs):
        data = run.to_dict()
        data.update(copy_id=i, load_s=0.01, env_setup_s=0.0, setup_s=0.0)
        copies.append(data)
    batch_size = 3
    total_s = max(run.wall_s for run in runs)
    results = make_results(copies, batch_size, total_s=total_s, workers_per_model=2)
    config = make_config(
        batch_size=batch_size, workers_per_model=2, window_s=0.05, percentiles=[99.99]
    )
    (report,) = reporting.get_reports([(config, results)])

    assert report["status"] == "finished"
    assert report["total_infs"] == sum(run.iterations for run in runs) * batch_size
    merged = runs[0].latency + runs[1].latency
    for p in (0, 50, 90, 99, 99.9, 99.99, 100):
        assert report[f"latency_ms_p{p:g}"] == merged.value_at_percentile(p) / 1e6
    assert Histogram.decode(report["latency_hist"]) == merged
    # both copies started at start_at_ns, so their windows add up index by index
    assert runs[0].start_ns == runs[1].start_ns
    length = max(len(run.windows) for run in runs)
    summed = [sum(run.windows[i] for run in runs if i < len(run.windows)) for i in range(length)]
    timeline = [count * batch_size / 0.05 for count in summed]
    assert report["throughput_timeline"] == pytest.approx(timeline)
    if len(timeline) >= 3:
        assert report["throughput_avg"] == pytest.approx(np.mean(timeline[1:-1]))
        assert report["throughput_peak"] == pytest.approx(max(timeline[1:-1]))
    else:
        assert report["throughput_avg"] == pytest.approx(report["total_infs"] / total_s)
    assert report["throughput_peak"] >= report["throughput_avg"]


@pytest.mark.parametrize(
    ("arg", "error", "match"),
    [
        ("not a list", TypeError, "results must be a list"),
        ([("only config",)], TypeError, r"results\[0\] must be a \(config, results\) pair"),
        ([([], {})], TypeError, r"results\[0\] config must be a dict"),
        ([(make_config(), None)], TypeError, r"results\[0\] results must be a dict"),
        ([(make_config(batch_size=0), {"status": "error"})], ValueError, "batch_size must be"),
        ([(make_config(batch_size="2"), {"status": "error"})], TypeError, "batch_size must be"),
        ([(make_config(), {"copies": []})], TypeError, "status must be a str"),
        (
            [(make_config(), {"status": "finished", "cpu_percents": [1.0, "2"]})],
            TypeError,
            "cpu_percents must be a list of numbers",
        ),
        (
            [(make_config(), {"status": "finished", "total_s": "1 s"})],
            TypeError,
            "total_s must be a number, got '1 s'",
        ),
        (
            [(make_config(), {"status": "finished", "copies": [{"load_s": None}, {"load_s": []}]})],
            TypeError,
            r"copies\[1\] load_s must be a number",
        ),
        (
            [(make_config(percentiles=[101]), {"status": "finished"})],
            ValueError,
            r"percentiles must be in \[0, 100\], got 101",
        ),
        (
            [(make_config(), {"status": "finished", "copies": [{"histograms": {}}]})],
            ValueError,
            r"copies\[0\] is not a RunResult dict",
        ),
    ],
)
def test_get_reports_rejects_bad_arguments(arg, error, match):
    with pytest.raises(error, match=match):
        reporting.get_reports(arg)


# print_reports / write_csv / write_json on fixed reports


class Model:
    """Stands in for a model class passed as model_filename on CPU/GPU."""


def fixed_reports():
    base = dict.fromkeys(reporting.CSV_COLS)
    rows = [
        {
            "model_name": "resnet50",
            "n_models": 1,
            "workers_per_model": 2,
            "pipeline_size": 1,
            "batch_size": 8,
            "throughput_avg": 1234.5678,
            "throughput_peak": 5300.25,
            "latency_ms_p0": 0.000123456,
            "latency_ms_p50": 6.5,
            "latency_ms_p90": 7.0,
            "latency_ms_p95": 7.25,
            "latency_ms_p99": 12.345678,
            "latency_ms_p100": 999.96,
            "cpu_avg_percent": 55.5,
            "cpu_percent_p50": 50.0,
            "mem_avg_percent": 12.0,
            "mem_percent_p50": 12.0,
            "e2e_avg_ms": 6.6,
            "infer_avg_ms": 6.1,
            "total_infs": 1000,
            "total_s": 0.81,
            "performance_level": 3,
            "model_filename": "models/resnet50_b8.pt",
            "device_type": "neuron",
            "instance_type": "inf2.xlarge",
            "cost_per_1m_inf": 0.1707,
        },
        {
            "model_name": "resnet50",
            "n_models": 4,
            "workers_per_model": 1,
            "pipeline_size": 1,
            "batch_size": 1,
            "throughput_avg": 99.0,
            "throughput_peak": 4500.0,
            "latency_ms_p0": 0.0,
            "latency_ms_p50": 0.02,
            "latency_ms_p90": 0.1,
            "latency_ms_p95": 1.0,
            "latency_ms_p99": 10.0,
            "latency_ms_p100": 1000.0,
            "total_infs": 99,
            "total_s": 1.0,
            "model_filename": "models/resnet50_b1.pt",
            "device_type": "neuron",
            "instance_type": "inf2.xlarge",
        },
        {
            "model_name": "resnet50",
            "n_models": 2,
            "workers_per_model": 1,
            "pipeline_size": 1,
            "batch_size": 1,
            "throughput_avg": float("nan"),
            "total_infs": None,
            "model_filename": "models/resnet50_b1.pt",
            "device_type": "neuron",
            "status": "error",
        },
    ]
    return [{**base, **row} for row in rows]


def test_print_reports_golden(capsys):
    """The default sort_by (throughput_peak) is not a printed column: run order."""
    reporting.print_reports(fixed_reports())
    assert capsys.readouterr().out == (GOLDEN / "print_reports.txt").read_text()


def test_print_reports_sorts_only_by_a_printed_column(capsys):
    reporting.print_reports(fixed_reports(), cols=["n_models"], sort_by="throughput_avg")
    assert capsys.readouterr().out == "n_models\n1\n4\n2\n"  # run order
    cols = ["n_models", "throughput_avg"]
    reporting.print_reports(fixed_reports(), cols=cols, sort_by="throughput_avg")
    assert capsys.readouterr().out.split("\n")[1:4] == [
        "4         99.00",
        "1         1234.6",
        "2         N/A",  # missing last
    ]


def test_print_reports_with_units_golden(capsys):
    """Units in the header; a latency column below 0.1 ms throughout prints in us."""
    cols = ["model_name", "throughput_avg", "latency_ms_p0", "latency_ms_p50", "latency_ms_p99",
            "e2e_avg_ms", "cpu_avg_percent", "total_s", "batch_size", "status"]  # fmt: skip
    reporting.print_reports(fixed_reports(), cols=cols, units=True)
    out = capsys.readouterr().out
    assert out == (GOLDEN / "print_reports_units.txt").read_text()
    assert "latency_p0 (us)" in out and "0.1235" in out  # 0.000123456 ms
    assert "latency_p50 (ms)" in out  # 6.5 ms in the same column keeps it in ms


def test_print_reports_columns_sorting_and_reverse(capsys):
    cols = ["n_models", "throughput_peak", "latency_ms_p0", "status"]
    reporting.print_reports(fixed_reports(), cols=cols, sort_by="throughput_peak", reverse=True)
    assert capsys.readouterr().out == (
        "n_models  throughput_peak  latency_ms_p0  status\n"
        "1         5300.2           0.0001235      N/A\n"
        "4         4500.0           0.0            N/A\n"
        "2         N/A              N/A            error\n"
    )
    reporting.print_reports(fixed_reports(), cols=["n_models"], sort_by=None)
    assert capsys.readouterr().out == "n_models\n1\n4\n2\n"


def test_print_reports_of_no_reports_prints_the_header(capsys):
    reporting.print_reports([], cols=["model_name", "batch_size"])
    assert capsys.readouterr().out == "model_name  batch_size\n"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cols": ["n_models", "thruput"]}, ValueError, "unknown column 'thruput'"),
        ({"cols": "n_models"}, TypeError, "cols must be a list"),
        ({"cols": []}, ValueError, "cols must name at least one column"),
        ({"sort_by": "speed"}, ValueError, "sort_by: unknown column 'speed'"),
        ({"sort_by": 3}, TypeError, "sort_by must be a column name"),
        ({"reverse": "yes"}, TypeError, "reverse must be a bool"),
        ({"units": 1}, TypeError, "units must be a bool"),
    ],
)
def test_print_reports_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        reporting.print_reports(fixed_reports(), **kwargs)


@pytest.mark.parametrize(
    ("reports", "match"),
    [({"model_name": "x"}, "got a single dict"), ([{}, 3], r"reports\[1\] must be a report dict")],
)
def test_reports_argument_is_checked(reports, match, tmp_path):
    for call in (
        lambda: reporting.print_reports(reports),
        lambda: reporting.write_csv(reports, tmp_path / "r.csv"),
        lambda: reporting.write_json(reports, tmp_path / "r.json"),
    ):
        with pytest.raises(TypeError, match=match):
            call()


def test_write_csv_golden(tmp_path):
    target = tmp_path / "reports.csv"
    written = reporting.write_csv(fixed_reports(), target)
    assert written == str(target)
    assert target.read_text() == (GOLDEN / "reports.csv").read_text()


def test_write_csv_holds_shortest_round_trip_floats(tmp_path):
    """15 significant digits, the shortest text: no binary noise, every real digit kept."""
    reports = [dict(fixed_reports()[0]) for _ in range(4)]
    values = [22.130000000000003, 1 / 3, 0.200191, 123456.78901234]
    for report, value in zip(reports, values, strict=True):
        report["latency_ms_p50"] = value
    path = reporting.write_csv(reports, tmp_path / "r.csv", cols=["latency_ms_p50"])
    assert Path(path).read_text().split() == [
        "latency_ms_p50",
        "22.13",
        "0.333333333333333",
        "0.200191",
        "123456.78901234",
    ]
    with pytest.raises(ValueError, match="unknown column 'p50'"):
        reporting.write_csv(reports, tmp_path / "r.csv", cols=["p50"])


def test_default_filenames_come_from_model_name_and_local_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv_name = reporting.write_csv(fixed_reports())
    json_name = reporting.write_json(fixed_reports())
    assert re.fullmatch(r"resnet50\.results-\d{8}-\d{6}\.csv", csv_name)
    assert re.fullmatch(r"resnet50\.results-\d{8}-\d{6}\.json", json_name)
    assert (tmp_path / csv_name).is_file() and (tmp_path / json_name).is_file()
    unnamed = [{"model_name": None, "model_filename": "/models/bert base/"}]
    assert reporting.write_json(unnamed).startswith("bert_base.results-")


@pytest.mark.parametrize(
    ("filename", "error", "match"),
    [(3, TypeError, "filename must be a str"), ("", ValueError, "filename must be a non-empty")],
)
def test_filename_is_checked(filename, error, match):
    with pytest.raises(error, match=match):
        reporting.write_csv(fixed_reports(), filename)
    with pytest.raises(error, match=match):
        reporting.write_json(fixed_reports(), filename)


def test_write_json_round_trip_is_plain_data(tmp_path):
    reports = reporting.get_reports([two_copy_pair(make_config(percentiles=[99.99]))])
    reports[0]["model_filename"] = Model
    reports[0]["cpu_avg_percent"] = float("nan")
    reports[0]["n_devices"] = np.int64(2)
    reports[0]["stats_interval"] = np.float32(0.5)
    path = reporting.write_json(reports, tmp_path / "reports.json")
    text = Path(path).read_text()
    assert "NaN" not in text
    loaded = json.loads(text)
    assert isinstance(loaded, list) and len(loaded) == 1
    (report,) = loaded
    assert report["model_filename"] == f"{__name__}.Model"
    assert report["cpu_avg_percent"] is None
    assert report["n_devices"] == 2
    assert report["stats_interval"] == 0.5
    for key in ("throughput_avg", "latency_ms_p99", "latency_ms_p99.99", "latency_hist"):
        assert report[key] == reports[0][key], key
    assert report["throughput_timeline"] == reports[0]["throughput_timeline"]
    assert report["metadata"] == reports[0]["metadata"]
    assert list(report) == list(reports[0])


def test_json_parse_rejects_nothing_written_by_write_json(tmp_path):
    reports = fixed_reports()
    path = reporting.write_json(reports, tmp_path / "r.json")

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    loaded = json.loads(Path(path).read_text(), parse_constant=no_constants)
    assert loaded[2]["throughput_avg"] is None
    assert loaded[0]["latency_ms_p0"] == 0.000123456


@pytest.mark.parametrize("writer", ["csv", "json"])
def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch, writer):
    target = tmp_path / f"reports.{writer}"
    target.write_text("old contents\n")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    write = reporting.write_csv if writer == "csv" else reporting.write_json
    with pytest.raises(OSError, match="disk full"):
        write(fixed_reports(), target)
    assert target.read_text() == "old contents\n"
    assert os.listdir(tmp_path) == [target.name]  # the temporary file was removed


def test_atomic_write_text_replaces_with_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    atomic_write_text(target, "new text\n")
    assert target.read_text() == "new text\n"
    old_umask = os.umask(0o022)
    os.umask(old_umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~old_umask
    with pytest.raises(TypeError, match="text must be a str"):
        atomic_write_text(target, b"bytes")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_text(tmp_path / "missing" / "out.txt", "x")


def test_printed_floats_keep_at_least_four_significant_digits(capsys):
    values = [123.456, 0.012345, 6.0, 98765.4321, 1e-7, 999.96, -2.5]
    reports = [{"v": v} for v in values]
    reporting.print_reports(reports, cols=["v"], sort_by=None)
    lines = capsys.readouterr().out.splitlines()[1:]
    for value, line in zip(values, lines, strict=True):
        digits = re.sub(r"e.*$", "", line.strip()).replace(".", "").lstrip("0")
        assert len(digits) >= 4, line
        assert math.isclose(float(line), value, rel_tol=5e-4), line
