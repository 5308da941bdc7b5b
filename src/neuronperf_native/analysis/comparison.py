"""Compare two benchmark runs: matched configurations, per-metric changes, verdicts.

compare(base, new) matches the configurations of two runs (report lists, or JSON files
written by write_json) and decides for each metric whether `new` is faster, slower or
the same as `base`. The verdict comes from statistics, not from the raw difference:

- throughput_avg: the interior window throughputs of each run (`throughput_timeline`
  without its first and last, partial, windows): the Hodges-Lehmann interval of the
  shift, the interval that goes with the Mann-Whitney U test (whose p-value the row
  carries); when both reports carry `throughput_ci` (autocorrelation-aware), the
  interval of the difference built from those instead.
- latency_ms_pXX: the interval of the difference of the percentile, from each run's
  `latency_ms_pXX_ci` when both carry one (autocorrelation-aware), else from the
  distribution-free order-statistic intervals of stats.intervals on the saved HDR
  histograms (`latency_hist`, samples taken as independent).

A metric is "slower" (or "faster") only when the change is significant at `confidence`
(its interval excludes 0, on the side of the change) AND larger than `threshold`; "same"
otherwise; "unknown" when the runs cannot bound it
(too few windows or samples, nothing measured).
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neuronperf_native.analysis.saved import read_json
from neuronperf_native.engine import Histogram
from neuronperf_native.stats import intervals, significance
from neuronperf_native.stats._checks import check_confidence
from neuronperf_native.stats.significance import Estimate

__all__ = [
    "DEFAULT_METRICS",
    "MATCH_KEYS",
    "VERDICTS",
    "Comparison",
    "MetricChange",
    "compare",
]

#: Report keys that identify a configuration across runs (those a report lacks are skipped).
MATCH_KEYS = (
    "model_name",
    "batch_size",
    "n_models",
    "workers_per_model",
    "pipeline_size",
    "performance_level",
    "load_mode",
    "request_rate",
)
#: Metrics compared when none are named.
DEFAULT_METRICS = ("throughput_avg", "latency_ms_p50", "latency_ms_p99")

FASTER, SLOWER, SAME, UNKNOWN = "faster", "slower", "same", "unknown"
#: Every verdict, in the order summaries count them.
VERDICTS = (SLOWER, FASTER, SAME, UNKNOWN)
_LATENCY_METRIC = re.compile(r"^latency_ms_p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class MetricChange:
    """One metric of one matched configuration: values, relative change and verdict.

    `change` and `interval` are fractions of the base value (0.05 = +5%); `interval`
    bounds the change at the comparison's confidence (None when it cannot be bounded).
    """

    config: dict[str, Any]
    metric: str
    base: float | None
    new: float | None
    change: float | None
    interval: tuple[float, float] | None
    verdict: str
    method: str
    p_value: float | None = None
    note: str | None = None


@dataclass
class Comparison:
    """What compare() found: one MetricChange per (matched configuration, metric)."""

    rows: list[MetricChange]
    unmatched_base: list[dict[str, Any]]
    unmatched_new: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    threshold: float
    confidence: float
    metrics: list[str]
    base_reports: list[dict[str, Any]] = field(repr=False)
    new_reports: list[dict[str, Any]] = field(repr=False)
    base_label: str = "base"
    new_label: str = "new"
    allow_missing: bool = False  # a configuration of base that new lacks is no regression

    @property
    def regressions(self) -> list[MetricChange]:
        """The rows whose verdict is "slower"."""
        return [row for row in self.rows if row.verdict == SLOWER]

    @property
    def regressed(self) -> bool:
        """True when a metric got slower, a configuration that finished in base failed,
        or (unless allow_missing) one of base is missing from new: a run that dropped a
        configuration does not pass."""
        missing = self.unmatched_base and not self.allow_missing
        return bool(self.regressions or self.failed or missing)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe data (the reports themselves left out)."""
        return {
            "base": self.base_label,
            "new": self.new_label,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "metrics": list(self.metrics),
            "rows": [_row_dict(row) for row in self.rows],
            "unmatched_base": self.unmatched_base,
            "unmatched_new": self.unmatched_new,
            "failed": self.failed,
            "regressed": self.regressed,
        }


def _row_dict(row: MetricChange) -> dict[str, Any]:
    out = dict(vars(row))
    out["interval"] = list(row.interval) if row.interval is not None else None
    return out


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number (0.05 = 5%), got {threshold!r}")
    if not (math.isfinite(threshold) and float(threshold) >= 0):
        raise ValueError(f"threshold must be a finite fraction >= 0 (0.05 = 5%), got {threshold!r}")
    return float(threshold)


def _metric_percentile(metric: str) -> float:
    """The percentile of a latency_ms_pXX metric name; NaN for any other name."""
    match = _LATENCY_METRIC.match(metric)
    return float(match.group(1)) if match else math.nan


def _check_metrics(metrics: Any) -> list[str]:
    if metrics is None:
        return list(DEFAULT_METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, Sequence) or not metrics:
        raise TypeError(f"metrics must be a non-empty list of metric names, got {metrics!r}")
    for metric in metrics:
        if not isinstance(metric, str):
            raise TypeError(f"metrics must be metric names (str), got {metric!r}")
        percentile = _metric_percentile(metric)
        if metric != "throughput_avg" and not 0 <= percentile <= 100:
            raise ValueError(
                f"metrics: cannot compare {metric!r}; use throughput_avg or latency_ms_pXX "
                "(XX a percentile in [0, 100], e.g. latency_ms_p99.9)"
            )
    return list(dict.fromkeys(metrics))


def _load(run: Any, name: str) -> tuple[list[dict[str, Any]], str]:
    """(reports, label) of one side: a report list or the path of a write_json file."""
    if isinstance(run, (str, os.PathLike)):
        path = os.fspath(run)
        return read_json(path), str(path)
    if isinstance(run, Mapping) or not isinstance(run, Sequence):
        raise TypeError(
            f"{name} must be a list of report dicts or a JSON file path, got {type(run).__name__}"
        )
    for i, report in enumerate(run):
        if not isinstance(report, Mapping):
            raise TypeError(f"{name}[{i}] must be a report dict, got {type(report).__name__}")
    if not run:
        raise ValueError(f"{name} holds no reports")
    return [dict(report) for report in run], name


def _config_key(report: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The MATCH_KEYS a report has (not None), as a hashable key; closed loop by default."""
    values = {key: report.get(key) for key in MATCH_KEYS}
    if values["load_mode"] is None:
        values["load_mode"] = "closed"
    return tuple((key, value) for key, value in values.items() if value is not None)


def _match(
    base: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Pairs in base's order, then the unmatched configurations of each side.

    Reports with the same key on one side pair up in order of appearance.
    """
    waiting: dict[tuple[tuple[str, Any], ...], list[dict[str, Any]]] = {}
    for report in new:
        waiting.setdefault(_config_key(report), []).append(report)
    pairs, unmatched_base = [], []
    for report in base:
        candidates = waiting.get(_config_key(report))
        if candidates:
            pairs.append((report, candidates.pop(0)))
        else:
            unmatched_base.append(dict(_config_key(report)))
    unmatched_new = [dict(_config_key(r)) for left in waiting.values() for r in left]
    return pairs, unmatched_base, unmatched_new


def compare(
    base: Any,
    new: Any,
    threshold: float = 0.05,
    metrics: Sequence[str] | None = None,
    confidence: float = 0.95,
    allow_missing: bool = False,
) -> Comparison:
    """Compare run `new` against run `base` (report lists or write_json files).

    Configurations are matched on MATCH_KEYS. For each metric (default DEFAULT_METRICS)
    the change is (new - base) / base with an interval at `confidence`; the verdict is
    "slower" or "faster" only when the change is significant AND beyond `threshold`
    (a fraction: 0.05 = 5%). `Comparison.regressed` is what a CI gate checks: it
    counts a configuration of base that new lacks unless allow_missing.
    """
    if not isinstance(allow_missing, bool):
        raise TypeError(f"allow_missing must be a bool, got {allow_missing!r}")
    threshold = _check_threshold(threshold)
    check_confidence(confidence)
    metric_names = _check_metrics(metrics)
    base_reports, base_label = _load(base, "base")
    new_reports, new_label = _load(new, "new")
    pairs, unmatched_base, unmatched_new = _match(base_reports, new_reports)
    rows, failed = [], []
    for base_report, new_report in pairs:
        config = dict(_config_key(base_report))
        if base_report.get("status") == "finished" and new_report.get("status") != "finished":
            failed.append({**config, "status": new_report.get("status")})
        for metric in metric_names:
            row = _compare_metric(base_report, new_report, metric, threshold, float(confidence))
            rows.append(MetricChange(config=config, metric=metric, **row))
    return Comparison(
        rows=rows,
        unmatched_base=unmatched_base,
        unmatched_new=unmatched_new,
        failed=failed,
        threshold=threshold,
        confidence=float(confidence),
        metrics=metric_names,
        base_reports=base_reports,
        new_reports=new_reports,
        base_label=base_label,
        new_label=new_label,
        allow_missing=allow_missing,
    )


def _verdict(
    change: float, interval: tuple[float, float], threshold: float, higher_is_better: bool
) -> str:
    """Slower/faster when the interval excludes 0 on the change's side and |change| is
    beyond the threshold; same otherwise."""
    significant = interval[0] > 0 if change > 0 else interval[1] < 0
    if not significant or abs(change) <= threshold:
        return SAME
    return FASTER if (change > 0) == higher_is_better else SLOWER


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value) if math.isfinite(value) else None


def _ci(report: Mapping[str, Any], key: str, value: float) -> Estimate | None:
    """A report's `<key>_ci` interval around `value` (stats.intervals' keys), if usable."""
    interval = report.get(f"{key}_ci")
    level = _number(report.get("ci_confidence", 0.95))
    if not isinstance(interval, (list, tuple)) or len(interval) != 2 or level is None:
        return None
    low, high = (_number(v) for v in interval)
    if low is None or high is None or not low <= value <= high or not 0 < level < 1:
        return None
    return Estimate(value, low, high, level)


def _status_note(base: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    for side, report in (("base", base), ("new", new)):
        if report.get("status") not in (None, "finished"):
            return f"{side} status {report.get('status')}"
    unstable = [side for side, r in (("base", base), ("new", new)) if r.get("stable") is False]
    return f"{' and '.join(unstable)} not stable" if unstable else None


def _unknown(base: float | None, new: float | None, method: str, note: str) -> dict[str, Any]:
    change = new / base - 1.0 if base and new is not None else None
    return {
        "base": base,
        "new": new,
        "change": change,
        "interval": None,
        "verdict": UNKNOWN,
        "method": method,
        "note": note,
    }


def _compare_metric(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    metric: str,
    threshold: float,
    confidence: float,
) -> dict[str, Any]:
    """The MetricChange fields (all but config) of one metric of one matched pair."""
    status = _status_note(base, new)
    if metric == "throughput_avg":
        row = _compare_throughput(base, new, threshold, confidence)
    else:
        row = _compare_latency(base, new, metric, threshold, confidence)
    if status is not None:
        row["note"] = f"{status}; {row['note']}" if row.get("note") else status
    return row


def _interior_windows(report: Mapping[str, Any]) -> list[float]:
    timeline = report.get("throughput_timeline") or []
    values = [_number(v) for v in timeline]
    if len(values) < 3 or any(v is None for v in values):
        return []
    return [v for v in values[1:-1] if v is not None]


def _compare_throughput(
    base: Mapping[str, Any], new: Mapping[str, Any], threshold: float, confidence: float
) -> dict[str, Any]:
    b, n = _number(base.get("throughput_avg")), _number(new.get("throughput_avg"))
    if b is None or n is None or b <= 0:
        return _unknown(b, n, "mann-whitney", "throughput not measured in both runs")
    change = n / b - 1.0
    b_ci, n_ci = _ci(base, "throughput", b), _ci(new, "throughput", n)
    if b_ci is not None and n_ci is not None:
        low, high = significance.difference_interval(b_ci, n_ci, confidence)
        interval = (low / b, high / b)
        return {
            "base": b,
            "new": n,
            "change": change,
            "interval": interval,
            "verdict": _verdict(change, interval, threshold, higher_is_better=True),
            "method": "report intervals",
        }
    b_windows, n_windows = _interior_windows(base), _interior_windows(new)
    shift = None
    if b_windows and n_windows:
        shift = significance.shift_interval(b_windows, n_windows, confidence)
    if shift is None:
        return _unknown(
            b, n, "mann-whitney", f"too few windows ({len(b_windows)}, {len(n_windows)}) to decide"
        )
    interval = (shift[0] / b, shift[1] / b)
    skewed = not interval[0] <= change <= interval[1]
    return {
        "base": b,
        "new": n,
        "change": change,
        "interval": interval,
        "verdict": _verdict(change, interval, threshold, higher_is_better=True),
        "method": "mann-whitney",
        "p_value": significance.mann_whitney_u(b_windows, n_windows).p_value,
        "note": "change of the means outside the shift interval: skewed windows"
        if skewed
        else None,
    }


def _histogram(report: Mapping[str, Any]) -> Histogram | None:
    encoded = report.get("latency_hist")
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        hist = Histogram.decode(encoded)
    except (TypeError, ValueError):
        return None
    return hist if hist.count else None


def _latency_value(report: Mapping[str, Any], metric: str, percentile: float) -> float | None:
    """The report's value of a latency metric, else the value from its histogram."""
    value = _number(report.get(metric))
    hist = _histogram(report) if value is None else None
    return hist.value_at_percentile(percentile) / 1e6 if hist is not None else value


def _has_ci(report: Mapping[str, Any], metric: str) -> bool:
    value = _number(report.get(metric))
    return value is not None and _ci(report, metric, value) is not None


def _latency_estimate(
    report: Mapping[str, Any], metric: str, percentile: float, confidence: float, use_ci: bool
) -> Estimate | str:
    """The percentile (ms) with its interval (the report's `_ci`, or order statistics on
    its histogram), or why there is none."""
    if use_ci:
        value = _number(report.get(metric))
        estimate = _ci(report, metric, value) if value is not None else None
        return estimate if estimate is not None else f"no {metric}_ci"
    hist = _histogram(report)
    if hist is None:
        return "no latency histogram"
    value = hist.value_at_percentile(percentile) / 1e6
    interval = intervals.percentile_interval(hist, percentile, confidence)
    if interval is None:
        return f"too few samples to bound p{percentile:g}"
    low, high = interval.ms()
    return Estimate(value, min(low, value), max(high, value), confidence)


def _compare_latency(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    metric: str,
    threshold: float,
    confidence: float,
) -> dict[str, Any]:
    percentile = _metric_percentile(metric)
    use_ci = _has_ci(base, metric) and _has_ci(new, metric)
    method = "report intervals" if use_ci else "order statistics"
    b = _latency_estimate(base, metric, percentile, confidence, use_ci)
    n = _latency_estimate(new, metric, percentile, confidence, use_ci)
    if isinstance(b, str) or isinstance(n, str) or b.value <= 0:
        reasons = [f"{side}: {e}" for side, e in (("base", b), ("new", n)) if isinstance(e, str)]
        if isinstance(b, str) and b == n:
            reasons = [b]
        b_value, n_value = (_latency_value(r, metric, percentile) for r in (base, new))
        return _unknown(b_value, n_value, method, "; ".join(reasons) or "base latency is 0")
    low, high = significance.difference_interval(b, n, confidence)
    change = n.value / b.value - 1.0
    interval = (low / b.value, high / b.value)
    return {
        "base": b.value,
        "new": n.value,
        "change": change,
        "interval": interval,
        "verdict": _verdict(change, interval, threshold, higher_is_better=False),
        "method": method,
    }
