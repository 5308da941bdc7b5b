"""Reports: turn benchmark results into one dict per configuration, print them, save them.

get_reports() reduces the `(config, results)` pairs that benchmark() produces (one
engine result per model copy) to NeuronPerf-compatible report dicts; print_reports(),
write_csv() and write_json() only format. Latencies come from the merged HDR
histograms (integer ns) and are reported in ms at full precision.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import platform
import re
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native import stats
from neuronperf_native._files import atomic_write_text
from neuronperf_native.engine import Histogram, RunResult
from neuronperf_native.inputs import SequenceStats

__all__ = [
    "CSV_COLS",
    "PRINT_COLS",
    "ReportFileError",
    "get_reports",
    "print_reports",
    "read_json",
    "write_csv",
    "write_json",
]

#: Columns of write_csv(), in NeuronPerf's order.
CSV_COLS = [
    "model_name",
    "n_models",
    "workers_per_model",
    "pipeline_size",
    "batch_size",
    "throughput_avg",
    "throughput_peak",
    "latency_ms_p0",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p95",
    "latency_ms_p99",
    "latency_ms_p100",
    "cpu_avg_percent",
    "cpu_percent_p50",
    "mem_avg_percent",
    "mem_percent_p50",
    "e2e_avg_ms",
    "infer_avg_ms",
    "total_infs",
    "total_s",
    "performance_level",
    "model_filename",
    "device_type",
    "instance_type",
    "cost_per_1m_inf",
]

#: Columns of print_reports(): the ones NeuronPerf's documented summary table shows.
PRINT_COLS = [
    "throughput_avg",
    "latency_ms_p50",
    "latency_ms_p99",
    "n_models",
    "pipeline_size",
    "workers_per_model",
    "batch_size",
    "model_filename",
]

#: Latency percentiles every report carries (plus the config's extra `percentiles`).
LATENCY_PERCENTILES = (0.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
#: Percentiles of the CPU and memory utilisation samples.
UTILISATION_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
#: Frameworks whose versions go into the metadata when (and only when) already imported.
_FRAMEWORKS = ("torch", "torch_neuron", "torch_neuronx", "tensorflow", "tensorflow_neuron", "mxnet")
#: Keys of the statistics (stats.StatisticsSummary) besides the percentile intervals.
_STATISTICS_KEYS = (
    "throughput_ci",
    "ci_confidence",
    "ci_flags",
    "ci_dependence",
    "stable",
    "measured_s",
    "warmup_dropped_s",
    "warmup_dropped_windows",
)
#: Percentiles of the sequence latency, with sequences.
_SEQUENCE_PERCENTILES = (50.0, 90.0, 99.0)
#: Stages whose mean (ms) is reported as `<stage>_avg_ms`.
_STAGE_AVERAGES = ("input", "preprocess", "infer", "postprocess", "e2e")


def _latency_key(percentile: float) -> str:
    return f"latency_ms_p{percentile:g}"


def _ns_to_ms(value_ns: float) -> float:
    return value_ns / 1e6


def _mean_ms(hist: Histogram | None) -> float | None:
    if hist is None or hist.count == 0:
        return None
    return _ns_to_ms(hist.mean)


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _metadata() -> dict[str, Any]:
    """Where the reports were made: package, framework and Python versions, CPU, host."""
    from neuronperf_native import __version__

    frameworks = {}
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        if module is not None:
            frameworks[name] = str(getattr(module, "__version__", "unknown"))
    try:
        cores = sorted(os.sched_getaffinity(0))
        affinity: list[int] | None = cores
        usable_cores: int | None = len(cores)
    except (AttributeError, OSError):
        affinity, usable_cores = None, os.cpu_count()
    return {
        "neuronperf_native_version": __version__,
        "frameworks": frameworks,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "usable_cores": usable_cores,
        "cpu_affinity": affinity,
        "hostname": socket.gethostname(),
    }


def _percent_stats(prefix: str, samples: Any) -> dict[str, float | None]:
    """Mean and percentiles of psutil utilisation samples (linear interpolation)."""
    values = [float(s) for s in (samples if samples is not None else []) if math.isfinite(s)]
    out: dict[str, float | None] = {f"{prefix}_avg_percent": None}
    out.update({f"{prefix}_percent_p{p:g}": None for p in UTILISATION_PERCENTILES})
    if values:
        array = np.asarray(values, dtype=np.float64)
        out[f"{prefix}_avg_percent"] = float(array.mean())
        for p, value in zip(
            UTILISATION_PERCENTILES, np.percentile(array, UTILISATION_PERCENTILES), strict=True
        ):
            out[f"{prefix}_percent_p{p:g}"] = float(value)
    return out


def _merge(hists: list[Histogram]) -> Histogram | None:
    if not hists:
        return None
    merged = Histogram.decode(hists[0].encode())
    for hist in hists[1:]:
        merged.merge(hist)
    return merged


def _summed_windows(runs: list[RunResult]) -> tuple[list[int], float | None]:
    """Completions per window summed over copies, aligned on the shared clock.

    Copies of one benchmark share start_ns, so window i of every copy covers the same
    interval; a copy that started later is shifted by whole windows.
    """
    if not runs:
        return [], None
    window_s = runs[0].window_s
    for run in runs[1:]:
        if not math.isclose(run.window_s, window_s, rel_tol=1e-9):
            raise ValueError(
                f"model copies use different window_s ({window_s!r} and {run.window_s!r}); "
                "their throughput windows cannot be summed"
            )
    window_ns = window_s * 1e9
    start = min(run.start_ns for run in runs)
    offsets = [round((run.start_ns - start) / window_ns) for run in runs]
    length = max(offset + len(run.windows) for offset, run in zip(offsets, runs, strict=True))
    total = [0] * length
    for offset, run in zip(offsets, runs, strict=True):
        for i, count in enumerate(run.windows):
            total[offset + i] += int(count)
    return total, window_s


def _throughputs(
    windows: list[int], window_s: float | None, batch_size: int, total_infs: int, total_s: Any
) -> tuple[list[float], float | None, float | None]:
    """(timeline, throughput_avg, throughput_peak) in inferences x batch size per second.

    avg: over the interior windows (the first and last, possibly partial, dropped);
    with fewer than 3 windows, total_infs / total_s for the whole run. peak: the best
    interior window; with fewer than 3 windows, the best of the first (full) window
    and the whole-run average.
    """
    timeline = [count * batch_size / window_s for count in windows] if window_s else []
    whole_run = None
    if isinstance(total_s, numbers.Real) and float(total_s) > 0:
        whole_run = total_infs / float(total_s)
    if len(timeline) >= 3:
        interior = timeline[1:-1]
        return timeline, sum(interior) / len(interior), max(interior)
    candidates = [t for t in (*timeline[:-1], whole_run) if t is not None]
    return timeline, whole_run, max(candidates) if candidates else None


def _check_percentiles(value: Any, where: str) -> list[float]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{where} percentiles must be a list of numbers, got {value!r}")
    out = []
    for p in value:
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"{where} percentiles must be numbers, got {p!r}")
        if not 0 <= float(p) <= 100:
            raise ValueError(f"{where} percentiles must be in [0, 100], got {p!r}")
        out.append(float(p))
    return out


def _check_pair(index: int, pair: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    where = f"results[{index}]"
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{where} must be a (config, results) pair, got {type(pair).__name__}")
    config, results = pair
    if not isinstance(config, Mapping):
        raise TypeError(f"{where} config must be a dict, got {type(config).__name__}")
    if not isinstance(results, Mapping):
        raise TypeError(f"{where} results must be a dict, got {type(results).__name__}")
    batch_size = config.get("batch_size")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"{where} config batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"{where} config batch_size must be >= 1, got {batch_size!r}")
    status = results.get("status")
    if not isinstance(status, str):
        raise TypeError(f"{where} results status must be a str, got {status!r}")
    copies = results.get("copies", [])
    if not isinstance(copies, (list, tuple)) or not all(isinstance(c, Mapping) for c in copies):
        raise TypeError(f"{where} results copies must be a list of dicts, got {copies!r}")
    for key in ("cpu_percents", "mem_percents"):
        samples = results.get(key)
        samples = [] if samples is None else samples
        if not isinstance(samples, (list, tuple, np.ndarray)) or not all(
            _is_number(s) for s in samples
        ):
            raise TypeError(f"{where} results {key} must be a list of numbers, got {samples!r}")
    for key in ("n_infs", "total_s"):
        if results.get(key) is not None and not _is_number(results[key]):
            raise TypeError(f"{where} results {key} must be a number, got {results[key]!r}")
    for i, copy in enumerate(copies):
        if copy.get("load_s") is not None and not _is_number(copy["load_s"]):
            raise TypeError(
                f"{where} results copies[{i}] load_s must be a number, got {copy['load_s']!r}"
            )
    return config, results


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _report(config: Mapping[str, Any], results: Mapping[str, Any], where: str) -> dict[str, Any]:
    batch_size = int(config["batch_size"])
    extra_percentiles = _check_percentiles(config.get("percentiles"), f"{where} config")
    copies = list(results.get("copies", []))
    runs = []
    run_nodes = []  # the fleet node of each run (None on one host)
    for i, copy in enumerate(copies):
        if "histograms" not in copy:
            continue  # a copy that died before measuring: nothing to merge
        try:
            runs.append(RunResult.from_dict(dict(copy)))
            run_nodes.append(copy.get("node_id"))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{where} results copies[{i}] is not a RunResult dict: {exc}"
            ) from None

    report: dict[str, Any] = dict.fromkeys(CSV_COLS)
    report.update(config)
    report["status"] = results["status"]
    report["error"] = results.get("error")
    if "workers_per_model" in results:
        report["workers_per_model"] = results["workers_per_model"]
    report["total_s"] = results.get("total_s")
    report.update(_percent_stats("cpu", results.get("cpu_percents")))
    report.update(_percent_stats("mem", results.get("mem_percents")))
    cpu_samples = results.get("cpu_percents")
    report["n_stats_intervals"] = 0 if cpu_samples is None else len(cpu_samples)
    load_s = [float(c["load_s"]) for c in copies if c.get("load_s") is not None]
    report["load_avg_ms"] = sum(load_s) / len(load_s) * 1e3 if load_s else None
    rss = [c["max_rss_bytes"] / 2**20 for c in copies if c.get("max_rss_bytes") is not None]
    report["model_peak_rss_mb"] = max(rss) if rss else None
    for key in ("throughput_avg", "throughput_peak", "throughput_timeline", "total_infs"):
        report[key] = None
    for p in (*LATENCY_PERCENTILES, *extra_percentiles):
        report[_latency_key(p)] = None
        report[stats.ci_key(p)] = None
    report.update(dict.fromkeys(_STATISTICS_KEYS))
    for key in ("latency_ms_mean", "latency_ms_stddev", "latency_hist", "warmup_avg_ms"):
        report[key] = None
    for stage in _STAGE_AVERAGES:
        report[f"{stage}_avg_ms"] = None
    report["worker_avg_s"] = None
    if "validation" in results:
        report["validation"] = results["validation"]
    report.update(_sequence_fields(copies))

    cost_per_hour = config.get("cost_per_hour")
    if runs:
        iterations = sum(run.iterations for run in runs)
        n_infs = results.get("n_infs")
        total_infs = int(n_infs) if n_infs is not None else iterations * batch_size
        report["total_infs"] = total_infs
        total_s = results.get("total_s")
        if total_s is None:
            total_s = report["total_s"] = max(run.wall_s for run in runs)
        windows, window_s = _summed_windows(runs)
        timeline, avg, peak = _throughputs(windows, window_s, batch_size, total_infs, total_s)
        report["throughput_timeline"] = timeline
        report["throughput_avg"] = avg
        report["throughput_peak"] = peak
        report["worker_avg_s"] = sum(run.wall_s for run in runs) / len(runs)
        report["warmup_avg_ms"] = _mean_ms(_merge([run.warmup for run in runs]))
        for stage in _STAGE_AVERAGES:
            report[f"{stage}_avg_ms"] = _mean_ms(_merge([run.stage(stage) for run in runs]))
        e2e = _merge([run.latency for run in runs])
        report["latency_hist"] = e2e.encode() if e2e is not None else None
        if e2e is not None and e2e.count:
            for p in (*LATENCY_PERCENTILES, *extra_percentiles):
                report[_latency_key(p)] = _ns_to_ms(e2e.value_at_percentile(p))
            report["latency_ms_mean"] = _ns_to_ms(e2e.mean)
            report["latency_ms_stddev"] = _ns_to_ms(e2e.stddev)
            if windows and window_s:
                summary = _statistics(config, runs, e2e, windows, window_s, total_s)
                report.update(summary.report_fields())
                stopping = results.get("stopping")
                if isinstance(stopping, Mapping):  # the rule's decision ended the run: say so
                    report["stable"] = bool(stopping.get("stable"))
                    report["stopping"] = dict(stopping)
        if isinstance(cost_per_hour, numbers.Real) and report["throughput_avg"]:
            report["cost_per_1m_inf"] = (
                float(cost_per_hour) / (report["throughput_avg"] * 3600.0) * 1e6
            )
    report.update(_load_fields(config, runs))
    report.update(_failure_fields(runs))
    if isinstance(config.get("nodes"), list):
        report["start_skew_ms"] = results.get("start_skew_ms")
        report["nodes"] = _node_figures(config["nodes"], runs, run_nodes, batch_size)
    return report


#: Report keys of the open loop (None in closed loop, and when nothing was measured).
LOAD_KEYS = (
    "request_rate_target",
    "request_rate_achieved",
    "requests_due",
    "schedule_lag_ms_p50",
    "schedule_lag_ms_p99",
    "backlog_max",
    "backlog_end",
    "saturated",
)


def _load_fields(config: Mapping[str, Any], runs: list[RunResult]) -> dict[str, Any]:
    """The load mode and, in open loop, the schedule's figures over all copies: target
    and achieved rates and requests due summed (each copy served its share), schedule
    lag from the merged histograms, the largest backlog of one copy (each queues its
    own share), requests never started summed, and saturated when any copy was."""
    opened = [run for run in runs if run.load_mode == "open"]
    mode = config.get("load_mode") or ("open" if opened else "closed")
    out: dict[str, Any] = {"load_mode": mode, **dict.fromkeys(LOAD_KEYS)}
    if not opened:
        return out
    lag = _merge([run.stage("schedule_lag") for run in opened])
    out.update(
        request_rate_target=sum(run.request_rate_target or 0.0 for run in opened),
        request_rate_achieved=sum(run.achieved_rate or 0.0 for run in opened),
        requests_due=sum(run.requests_due or 0 for run in opened),
        backlog_max=max(run.backlog_max for run in opened),
        backlog_end=sum(run.backlog_end for run in opened),
        saturated=any(run.saturated for run in opened),
    )
    if lag is not None and lag.count:
        out["schedule_lag_ms_p50"] = _ns_to_ms(lag.value_at_percentile(50))
        out["schedule_lag_ms_p99"] = _ns_to_ms(lag.value_at_percentile(99))
    return out


def _failure_fields(runs: list[RunResult]) -> dict[str, Any]:
    """Requests that failed (a served endpoint's errors: counted, never timed) summed
    over copies, and their count per reason, most frequent first."""
    reasons: dict[str, int] = {}
    for run in runs:
        for reason, count in run.failure_reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
    ordered = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    return {
        "requests_failed": sum(run.requests_failed for run in runs),
        "failure_reasons": ordered,
    }


def _sequence_fields(copies: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Sequences completed and the sequence latency (first step's start to the last
    step's end), merged over copies; {} unless the copies played sequences."""
    parts = [SequenceStats.from_dict(c["sequences"]) for c in copies if c.get("sequences")]
    if not parts:
        return {}
    merged = SequenceStats()
    for part in parts:
        merged.merge(part)
    fields: dict[str, Any] = {
        "sequence_latency_ms_mean": None,
        **{f"sequence_latency_ms_p{p:g}": None for p in _SEQUENCE_PERCENTILES},
    }
    fields.update(merged.summary(_SEQUENCE_PERCENTILES))
    fields["sequence_latency_hist"] = merged.latency.encode()
    return fields


def _statistics(
    config: Mapping[str, Any],
    runs: list[RunResult],
    e2e: Histogram,
    windows: list[int],
    window_s: float,
    total_s: Any,
) -> stats.StatisticsSummary:
    """Confidence intervals of every reported percentile and the throughput, and
    whether they meet the stopping rule (the configuration's, else the default one,
    judged without cutting a warm-up)."""
    rule = config.get("stability")
    percentiles = (*LATENCY_PERCENTILES, *_check_percentiles(config.get("percentiles"), "config"))
    histograms, span = _window_histograms(runs)
    return stats.summarize(
        e2e,
        windows,
        window_s,
        window_histograms=histograms or None,
        windows_per_histogram=span,
        batch_size=int(config["batch_size"]),
        percentiles=list(dict.fromkeys(percentiles)),
        confidence=config.get("ci_confidence", 0.95),
        rule=stats.parse_stability(rule) if rule else stats.StoppingRule(),
        drop_warmup=bool(rule),
        wall_s=float(total_s) if _is_number(total_s) and total_s > 0 else None,
    )


def _window_histograms(runs: list[RunResult]) -> tuple[list[Histogram], int]:
    """The copies' window histograms merged window by window (aligned on the shared
    clock as the window counts are), with the widest span any copy used; [] when a
    copy has none (results saved before they existed)."""
    if not runs or not all(run.window_histograms for run in runs):
        return [], 1
    span = max(run.window_histogram_span for run in runs)
    window_ns = runs[0].window_s * 1e9
    start = min(run.start_ns for run in runs)
    merged: dict[int, Histogram] = {}
    for run in runs:
        offset = round((run.start_ns - start) / window_ns)
        for j, histogram in enumerate(run.window_histograms):
            index = (offset + j * run.window_histogram_span) // span
            merged.setdefault(index, Histogram()).merge(histogram)
    return [merged.get(i, Histogram()) for i in range(max(merged) + 1)], span


def _node_figures(
    nodes: list[Any], runs: list[RunResult], run_nodes: list[Any], batch_size: int
) -> list[dict[str, Any]]:
    """Per node of a scale-out run: its identity, throughput (its copies' windows
    summed) and latency p99 (its copies' histograms merged), so a slow host stands out."""
    figures = []
    for node in nodes:
        mine = [
            run for run, owner in zip(runs, run_nodes, strict=True) if owner == node.get("node_id")
        ]
        entry = {**node, "total_infs": None, "throughput_avg": None, "latency_ms_p99": None}
        if mine:
            infs = sum(run.iterations for run in mine) * batch_size
            windows, window_s = _summed_windows(mine)
            wall_s = max(run.wall_s for run in mine)
            _, avg, _ = _throughputs(windows, window_s, batch_size, infs, wall_s)
            e2e = _merge([run.latency for run in mine])
            entry["total_infs"] = infs
            entry["throughput_avg"] = avg
            if e2e is not None and e2e.count:
                entry["latency_ms_p99"] = _ns_to_ms(e2e.value_at_percentile(99.0))
        figures.append(entry)
    return figures


def get_reports(results: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """One report dict per `(config, results)` pair that benchmark() produced.

    Every report has the CSV_COLS keys, every config key, status and error, stage
    averages (ms), CPU/memory utilisation statistics, latency percentiles (ms, from
    the e2e histogram merged over all workers of all copies; plus config
    `percentiles`), `latency_hist` (base64 V2), `throughput_timeline` (per window,
    the last one partial), `metadata` and `model_peak_rss_mb` (the largest peak
    resident memory of a model process). `worker_avg_s` is the mean timed wall time
    of the copies (every worker of a copy runs for its whole window). `load_mode`
    ("closed" or "open") and the open loop's LOAD_KEYS: request_rate_target and
    request_rate_achieved (requests/s, all copies), requests_due, schedule_lag_ms_p50/
    p99 (due -> started), backlog_max, backlog_end and saturated. Values that were not
    measured (a configuration that failed first; the open-loop keys in closed loop)
    are None. Fleet runs add `node` (spread) or `n_nodes`, `nodes` (per node: identity,
    throughput_avg, latency_ms_p99, total_infs, clock offset) and `start_skew_ms`
    (scale-out: merged over every node).
    """
    if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Sequence):
        raise TypeError(
            f"results must be a list of (config, results) pairs, got {type(results).__name__}"
        )
    metadata = _metadata()
    reports = []
    for index, pair in enumerate(results):
        config, result = _check_pair(index, pair)
        report = _report(config, result, f"results[{index}]")
        report["metadata"] = json.loads(json.dumps(metadata))  # an independent copy
        reports.append(report)
    return reports


def _check_reports(reports: Any) -> list[Mapping[str, Any]]:
    if isinstance(reports, Mapping):
        raise TypeError("reports must be a list of report dicts, got a single dict (wrap it: [r])")
    if isinstance(reports, (str, bytes)) or not isinstance(reports, Sequence):
        raise TypeError(f"reports must be a list of report dicts, got {type(reports).__name__}")
    for i, report in enumerate(reports):
        if not isinstance(report, Mapping):
            raise TypeError(f"reports[{i}] must be a report dict, got {type(report).__name__}")
    return list(reports)


def _known_columns(reports: list[Mapping[str, Any]]) -> set[str]:
    known = set(CSV_COLS) | set(PRINT_COLS)
    for report in reports:
        known.update(report)
    return known


def _check_cols(cols: Any, reports: list[Mapping[str, Any]]) -> list[str]:
    if isinstance(cols, str) or not isinstance(cols, Sequence):
        raise TypeError(f"cols must be a list of column names, got {cols!r}")
    if not cols:
        raise ValueError("cols must name at least one column, got an empty list")
    known = _known_columns(reports)
    for col in cols:
        if not isinstance(col, str):
            raise TypeError(f"cols must be column names (str), got {col!r}")
        if col not in known:
            raise ValueError(f"cols: unknown column {col!r} (not in any report)")
    return list(cols)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _format_cell(value: Any) -> str:
    """Text for a printed cell: floats with at least 4 significant digits, None as N/A."""
    if _is_missing(value):
        return "N/A"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if abs(number) >= 1000 or number == 0:
            return f"{number:.1f}"
        text = f"{number:#.4g}"
        return text + "0" if text.endswith(".") else text
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), separators=(",", ":"))
    return str(value)


def _format_csv_cell(value: Any) -> str:
    """Text for a CSV cell: None as N/A; floats as the shortest text that reads back as
    the value at 15 significant digits (all a double holds in decimal), so arithmetic
    noise such as 22.130000000000003 is written 22.13."""
    if _is_missing(value):
        return "N/A"
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        if isinstance(value, numbers.Integral):
            return str(int(value))
        return repr(float(f"{float(value):.15g}"))
    return _format_cell(value)


def latency_unit(values_ms: Sequence[Any]) -> tuple[str, float]:
    """(unit, factor from ms) for a column of latencies: us when every value present is
    below 0.1 ms, else ms."""
    present = [float(v) for v in values_ms if _is_number(v) and math.isfinite(v)]
    return ("us", 1e3) if present and max(present) < 0.1 else ("ms", 1.0)


def _column_unit(col: str, values: Sequence[Any]) -> tuple[str, float]:
    """(header, factor) of a column whose unit the header says: `latency_p50 (us)`."""
    if "_ms_p" in col or col.endswith("_ms"):
        unit, factor = latency_unit(values)
        name = col.replace("_ms_p", "_p") if "_ms_p" in col else col[:-3]
        return f"{name} ({unit})", factor
    if col.startswith("request_rate"):
        return f"{col} (req/s)", 1.0
    if col.startswith("throughput_") and col != "throughput_timeline":
        return f"{col} (inf/s)", 1.0
    if "_percent" in col:
        return f"{col.replace('_percent', '')} (%)", 1.0
    if col.endswith("_s"):
        return f"{col[:-2]} (s)", 1.0
    if col.endswith("_mb"):
        return f"{col[:-3]} (MiB)", 1.0
    return col, 1.0


def _sorted(reports: list[Mapping[str, Any]], sort_by: str | None, reverse: bool) -> list:
    if sort_by is None:
        return list(reports)
    present = [r for r in reports if not _is_missing(r.get(sort_by))]
    missing = [r for r in reports if _is_missing(r.get(sort_by))]
    values = [r[sort_by] for r in present]
    if all(isinstance(v, numbers.Real) for v in values):
        present.sort(key=lambda r: float(r[sort_by]), reverse=reverse)
    else:
        present.sort(key=lambda r: str(r[sort_by]), reverse=reverse)
    return present + missing  # reports without the value go last either way


def _scaled(value: Any, factor: float) -> Any:
    return value * factor if factor != 1.0 and _is_number(value) else value


def _table(
    reports: list[Mapping[str, Any]],
    cols: list[str],
    sort_by: str | None,
    reverse: bool,
    units: bool,
) -> str:
    ordered = _sorted(reports, sort_by if sort_by in cols else None, reverse)
    heads, factors = list(cols), [1.0] * len(cols)
    if units:
        for i, col in enumerate(cols):
            heads[i], factors[i] = _column_unit(col, [r.get(col) for r in reports])
    rows = [
        [_format_cell(_scaled(r.get(col), f)) for col, f in zip(cols, factors, strict=True)]
        for r in ordered
    ]
    widths = [max([len(head)] + [len(row[i]) for row in rows]) for i, head in enumerate(heads)]
    lines = []
    for row in [heads, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def print_reports(
    reports: Sequence[Mapping[str, Any]],
    cols: Sequence[str] = PRINT_COLS,
    sort_by: str | None = "throughput_peak",
    reverse: bool = False,
    units: bool = False,
) -> None:
    """Prints the reports as an aligned table on stdout.

    As NeuronPerf: rows are sorted by `sort_by` only when it is one of the printed
    `cols` (missing values last), otherwise they keep the given (run) order. Missing
    values print as N/A. `units=True` (the command line's tables) names each column's
    unit in its header and prints latencies in us where a column's are below 0.1 ms.
    """
    checked = _check_reports(reports)
    columns = _check_cols(cols, checked)
    if sort_by is not None:
        if not isinstance(sort_by, str):
            raise TypeError(f"sort_by must be a column name or None, got {sort_by!r}")
        if sort_by not in _known_columns(checked):
            raise ValueError(f"sort_by: unknown column {sort_by!r} (not in any report)")
    for name, flag in (("reverse", reverse), ("units", units)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
    sys.stdout.write(_table(checked, columns, sort_by, bool(reverse), bool(units)))
    sys.stdout.flush()


def _default_filename(reports: Sequence[Mapping[str, Any]], extension: str) -> str:
    """`<model name>.results-<local time>.<extension>` in the working directory."""
    name = None
    if reports:
        name = reports[0].get("model_name")
        if not name and isinstance(reports[0].get("model_filename"), str):
            name = os.path.basename(os.path.normpath(reports[0]["model_filename"]))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "model")).strip("._") or "model"
    return f"{safe}.results-{time.strftime('%Y%m%d-%H%M%S')}.{extension}"


def _check_filename(filename: Any) -> str | None:
    if filename is None:
        return None
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"filename must be a str, os.PathLike or None, got {filename!r}")
    path = os.fspath(filename)
    if not isinstance(path, str) or not path:
        raise ValueError(f"filename must be a non-empty path, got {filename!r}")
    if os.path.isdir(path):
        raise ValueError(f"filename {path!r} is a directory")
    return path


def write_csv(
    reports: Sequence[Mapping[str, Any]],
    filename: str | os.PathLike[str] | None = None,
    cols: Sequence[str] = CSV_COLS,
) -> str:
    """Writes the reports as CSV (one row each, `cols` in order) and returns the filename.

    Floats keep full precision; missing values are written as N/A. The file is
    replaced atomically. Without a filename, one is made from the model name and the
    local time.
    """
    checked = _check_reports(reports)
    columns = _check_cols(cols, checked)
    path = _check_filename(filename) or _default_filename(checked, "csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for report in checked:
        writer.writerow([_format_csv_cell(report.get(col)) for col in columns])
    atomic_write_text(path, buffer.getvalue())
    return path


def _plain(value: Any) -> Any:
    """JSON-safe plain data: NaN/inf -> None, numpy -> Python, classes -> qualified names."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{qualname}" if module else qualname
    return str(value)


def write_json(
    reports: Sequence[Mapping[str, Any]], filename: str | os.PathLike[str] | None = None
) -> str:
    """Writes the reports as a JSON list of plain dicts and returns the filename.

    Floats are written as-is (never NaN: missing values are null); non-JSON values
    (a model class, numpy scalars) become plain data. The file is replaced atomically.
    """
    checked = _check_reports(reports)
    path = _check_filename(filename) or _default_filename(checked, "json")
    text = json.dumps([_plain(report) for report in checked], indent=2, allow_nan=False)
    atomic_write_text(path, text + "\n")
    return path


class ReportFileError(ValueError):
    """A saved report file that cannot be read back: names the file and the cause."""


def read_json(filename: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reports saved by write_json: a non-empty JSON list of objects (parsed as data only)."""
    path = _check_filename(filename)
    if path is None:
        raise TypeError("filename must be a str or os.PathLike, got None")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ReportFileError(f"{path}: report file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportFileError(f"{path}: cannot read: {error}") from None
    except RecursionError:
        raise ReportFileError(f"{path}: JSON nested too deeply to be saved reports") from None
    except ValueError as error:
        raise ReportFileError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReportFileError(f"{path}: expected a JSON list of report objects (from write_json)")
    if not data:
        raise ReportFileError(f"{path}: holds no reports")
    return data
