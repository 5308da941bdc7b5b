"""One call for the reporting layer: every interval, the warm-up cut and the verdict of a run.

summarize() takes what a configuration produced (merged e2e histogram, completions per
window, window histograms) and returns a StatisticsSummary whose report_fields() are
JSON-safe report keys (latency in ms, throughput in inferences per second).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from neuronperf_native.stats._buckets import Buckets, WindowBuckets
from neuronperf_native.stats._checks import (
    check_confidence,
    check_count,
    check_histograms,
    check_percentile,
    check_positive,
    check_windows,
)
from neuronperf_native.stats.intervals import (
    PercentileInterval,
    ThroughputInterval,
    interval_from_buckets,
    throughput_interval,
)
from neuronperf_native.stats.stopping import StoppingRule, within_target
from neuronperf_native.stats.warmup import NO_CUT, WarmupCut, mean_latency_ns, warmup_cut

#: The percentiles every report carries (reporting.LATENCY_PERCENTILES).
REPORT_PERCENTILES = (0.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0)
_DEPENDENCE_ORDER = ("unchecked", "few_windows", "estimated")


def ci_key(percentile: float) -> str:
    """The report key of a percentile's interval: latency_ms_p99_ci, latency_ms_p99.9_ci."""
    return f"latency_ms_p{percentile:g}_ci"


@dataclass(frozen=True)
class StatisticsSummary:
    """Intervals and verdict of one run, on the windows after the warm-up cut.

    latency: percentile -> interval (None: cannot be bounded, see ci_flags);
    latency_ms / throughput_avg: the point estimates of the same data (equal to the
    whole-run figures when nothing was cut); stable: the rule's verdict on this data
    (None without a rule); measured_s: seconds of data the figures use.
    """

    confidence: float
    latency: dict[float, PercentileInterval | None]
    throughput: ThroughputInterval | None
    warmup: WarmupCut
    measured_s: float
    stable: bool | None
    latency_ms: dict[float, float | None]
    throughput_avg: float | None

    def ci_flags(self) -> dict[str, str]:
        """Why an interval is null: too_few_samples, extreme_percentile (p0 and p100 have
        no distribution-free interval) or too_few_windows (throughput)."""
        flags = {}
        for p, interval in self.latency.items():
            if interval is None:
                flags[ci_key(p)] = "extreme_percentile" if p in (0.0, 100.0) else "too_few_samples"
        if self.throughput is None:
            flags["throughput_ci"] = "too_few_windows"
        return flags

    def dependence(self) -> str:
        """The weakest dependence check among the intervals that exist."""
        levels = [i.dependence for i in (*self.latency.values(), self.throughput) if i is not None]
        return min(levels, key=_DEPENDENCE_ORDER.index) if levels else "unchecked"

    def report_fields(self) -> dict[str, Any]:
        """JSON-safe report keys: latency_ms_pXX_ci ([lo, hi] ms or None), throughput_ci,
        ci_confidence, ci_flags, ci_dependence, stable, measured_s, warmup_dropped_s,
        warmup_dropped_windows; and, only when windows were cut, latency_ms_pXX and
        throughput_avg of the kept data, to replace the whole-run figures."""
        fields: dict[str, Any] = {}
        for p, interval in self.latency.items():
            fields[ci_key(p)] = interval.ms() if interval is not None else None
        throughput = self.throughput
        fields["throughput_ci"] = [throughput.low, throughput.high] if throughput else None
        fields["ci_confidence"] = self.confidence
        fields["ci_flags"] = self.ci_flags()
        fields["ci_dependence"] = self.dependence()
        fields["stable"] = self.stable
        fields["measured_s"] = self.measured_s
        fields["warmup_dropped_s"] = self.warmup.seconds
        fields["warmup_dropped_windows"] = self.warmup.windows
        if self.warmup.windows:
            for p, value in self.latency_ms.items():
                fields[f"latency_ms_p{p:g}"] = value
            fields["throughput_avg"] = self.throughput_avg
        return fields


def _kept_throughput(
    counts: Sequence[float], first: int, batch_size: int, window_s: float
) -> float | None:
    """Mean rate of the interior windows after the cut (throughput_avg's definition)."""
    kept = counts[max(1, first) : -1]
    return float(sum(kept)) / len(kept) * batch_size / window_s if len(kept) else None


def summarize(
    latency: Any,
    windows: Sequence[int],
    window_s: float,
    *,
    window_histograms: Sequence[Any] | None = None,
    windows_per_histogram: int = 1,
    batch_size: int = 1,
    percentiles: Iterable[float] = REPORT_PERCENTILES,
    confidence: float = 0.95,
    rule: StoppingRule | None = None,
    drop_warmup: bool | None = None,
    wall_s: float | None = None,
) -> StatisticsSummary:
    """Intervals for every percentile and the throughput of one run, and the rule's verdict.

    latency: the merged e2e histogram (ns). windows: completions per window summed over
    copies; window_histograms: e2e histograms per window (or per windows_per_histogram
    windows) merged over copies, which let the intervals account for dependence and
    the warm-up be cut. drop_warmup (default: when a rule is given) cuts leading
    warm-up windows (MSER-5; needs window_histograms). wall_s: the run's measured
    seconds (default: windows x window_s).
    """
    counts = check_windows(windows)
    window_s = check_positive(window_s, "window_s")
    confidence = check_confidence(confidence)
    span = check_count(windows_per_histogram, "windows_per_histogram", 1)
    batch_size = check_count(batch_size, "batch_size", 1)
    wanted = [check_percentile(p, "percentiles") for p in percentiles]
    if rule is not None and not isinstance(rule, StoppingRule):
        raise TypeError(f"rule must be a StoppingRule or None, got {type(rule).__name__}")
    histograms = check_histograms(window_histograms)
    parts = WindowBuckets([Buckets.from_histogram(h) for h in histograms])
    cut = NO_CUT
    if (rule is not None if drop_warmup is None else drop_warmup) and histograms:
        means = [mean_latency_ns(h) for h in histograms]
        cut = warmup_cut(
            counts, window_s, window_mean_latencies_ns=means, windows_per_histogram=span
        )
    kept = parts.since(cut.windows // span)
    merged = kept.merged() if cut.windows else Buckets.from_histogram(latency)
    by_window = kept if len(kept) else None
    intervals = {p: interval_from_buckets(merged, by_window, p, confidence) for p in wanted}
    throughput = throughput_interval(
        counts, window_s, batch_size=batch_size, confidence=confidence, first_window=cut.windows
    )
    stable = None
    if rule is not None:
        rule_latency = interval_from_buckets(merged, by_window, rule.percentile, rule.confidence)
        rule_throughput = throughput_interval(
            counts,
            window_s,
            batch_size=batch_size,
            confidence=rule.confidence,
            first_window=cut.windows,
        )
        stable = within_target(rule, rule_throughput, rule_latency)
    total_s = len(counts) * window_s if wall_s is None else check_positive(wall_s, "wall_s")
    return StatisticsSummary(
        confidence=confidence,
        latency=intervals,
        throughput=throughput,
        warmup=cut,
        measured_s=max(0.0, total_s - cut.seconds),
        stable=stable,
        latency_ms={
            p: merged.value_at_percentile(p) / 1e6 if merged.total else None for p in wanted
        },
        throughput_avg=_kept_throughput(list(counts), cut.windows, batch_size, window_s),
    )
