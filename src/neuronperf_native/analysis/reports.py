"""Report arithmetic: benchmark results -> one report dict per configuration.

get_reports() reduces the `(config, results)` pairs that benchmark() produces (one
engine result per model copy) to NeuronPerf-compatible report dicts: numbers in,
numbers out (reporters/ format them). Latencies come from the merged HDR histograms
(integer ns) and are reported in ms at full precision.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native import devices, stats
from neuronperf_native._numbers import is_number
from neuronperf_native.analysis import tokens as token_metrics
from neuronperf_native.engine import Histogram, RunResult
from neuronperf_native.inputs import SequenceStats
from neuronperf_native.streaming import TOKEN_METRICS

__all__ = ["CSV_COLS", "LATENCY_PERCENTILES", "LOAD_KEYS", "get_reports"]

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

#: Fewest requests a run must complete for its throughput to be estimated: with fewer
#: (one request in a run at 0.1 requests/s), throughput_avg, throughput_peak and
#: request_rate_achieved are None and ci_flags["throughput_avg"] says TOO_FEW.
MIN_RATE_REQUESTS = 2
TOO_FEW = "too_few_requests"
#: Latency percentiles every report carries (plus the config's extra `percentiles`).
LATENCY_PERCENTILES = (0.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
#: Percentiles of the CPU and memory utilisation samples.
UTILISATION_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
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
            is_number(s) for s in samples
        ):
            raise TypeError(f"{where} results {key} must be a list of numbers, got {samples!r}")
    for key in ("n_infs", "total_s"):
        if results.get(key) is not None and not is_number(results[key]):
            raise TypeError(f"{where} results {key} must be a number, got {results[key]!r}")
    for i, copy in enumerate(copies):
        if copy.get("load_s") is not None and not is_number(copy["load_s"]):
            raise TypeError(
                f"{where} results copies[{i}] load_s must be a number, got {copy['load_s']!r}"
            )
    return config, results


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
        if iterations >= MIN_RATE_REQUESTS:
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
        if iterations < MIN_RATE_REQUESTS:
            report["ci_flags"] = {**(report.get("ci_flags") or {}), "throughput_avg": TOO_FEW}
        if isinstance(cost_per_hour, numbers.Real) and report["throughput_avg"]:
            report["cost_per_1m_inf"] = (
                float(cost_per_hour) / (report["throughput_avg"] * 3600.0) * 1e6
            )
    report.update(_load_fields(config, runs))
    if (report.get("ci_flags") or {}).get("throughput_avg") == TOO_FEW:
        report["request_rate_achieved"] = None
    report.update(_failure_fields(runs))
    report.update(_token_fields(config, runs, results, extra_percentiles))
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


def _token_fields(
    config: Mapping[str, Any],
    runs: list[RunResult],
    results: Mapping[str, Any],
    extra_percentiles: list[float],
) -> dict[str, Any]:
    """A streamed run's token keys (token_metrics.token_fields) over all copies; the
    live stopping decision, when there was one, stays the report's `stable`."""
    if not config.get("streaming") and not any(run.streaming for run in runs):
        return {}
    windows, window_s = _summed_windows(runs)
    total_s = results.get("total_s")
    if total_s is None and runs:
        total_s = max(run.wall_s for run in runs)
    fields = token_metrics.token_fields(
        config,
        runs,
        windows,
        window_s,
        {metric: _window_histograms(runs, metric) for metric in TOKEN_METRICS},
        list(dict.fromkeys((*LATENCY_PERCENTILES, *extra_percentiles))),
        float(total_s) if is_number(total_s) and float(total_s) > 0 else None,  # type: ignore[arg-type]
    )
    if isinstance(results.get("stopping"), Mapping):
        fields.pop("stable", None)
    return fields


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
        wall_s=float(total_s) if is_number(total_s) and total_s > 0 else None,
    )


def _window_histograms(runs: list[RunResult], metric: str = "e2e") -> tuple[list[Histogram], int]:
    """The copies' window histograms of `metric` ("e2e", or a streamed run's token
    metric) merged window by window (aligned on the shared clock as the window counts
    are), with the widest span any copy used; [] when a copy has none (results saved
    before they existed)."""
    if not runs or not all(run.metric_window_histograms(metric) for run in runs):
        return [], 1
    span = max(run.window_histogram_span for run in runs)
    window_ns = runs[0].window_s * 1e9
    start = min(run.start_ns for run in runs)
    merged: dict[int, Histogram] = {}
    for run in runs:
        offset = round((run.start_ns - start) / window_ns)
        for j, histogram in enumerate(run.metric_window_histograms(metric)):
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
    metadata = devices.describe_machine()
    reports = []
    for index, pair in enumerate(results):
        config, result = _check_pair(index, pair)
        report = _report(config, result, f"results[{index}]")
        report["metadata"] = json.loads(json.dumps(metadata))  # an independent copy
        reports.append(report)
    return reports
