"""Statistical stopping: end a configuration once its numbers are known well enough.

A StoppingRule says how well: the throughput interval and the chosen latency
percentile's interval must both have a relative half-width <= rel_ci at `confidence`,
after at least min_s seconds; at max_s the run ends anyway, not stable. A
StabilityMonitor applies the rule to a run window by window (incrementally: each
window's buckets are converted once); evaluate_stopping() is the one-shot form.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from neuronperf_native.stats._buckets import Buckets, WindowBuckets
from neuronperf_native.stats._checks import check_count, check_histograms, check_positive
from neuronperf_native.stats.intervals import (
    MIN_BATCHES,
    PercentileInterval,
    ThroughputInterval,
    interval_from_buckets,
    throughput_interval,
)
from neuronperf_native.stats.warmup import NO_CUT, WarmupCut, mean_latency_ns, warmup_cut

#: What `stability=True` means.
DEFAULT_REL_CI = 0.02
DEFAULT_PERCENTILE = 99.0
DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_S = 1.0
#: Latencies a rule may judge: the request's end to end, or (streamed runs) a token metric.
METRICS = ("e2e", "ttft", "itl", "tpot")


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"stability {key} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"stability {key} must be a number, got nan")
    return float(value)


def _open_interval(key: str, value: Any, low: float, high: float) -> float:
    number = _number(key, value)
    if not low < number < high:
        raise ValueError(f"stability {key} must be in ({low:g}, {high:g}), got {value!r}")
    return number


@dataclass(frozen=True)
class StoppingRule:
    """Stop when throughput and the `percentile` latency are both known to +-rel_ci.

    rel_ci: target relative half-width, in (0, 1). percentile: the latency percentile
    judged, in (0, 100) (p0/p100 have no interval). confidence: of both intervals, in
    (0, 1). min_s: never stop before this many seconds. max_s: stop here, not stable
    (None: the caller's duration limit applies). metric: the latency judged, "e2e" or
    a streamed run's "ttft", "itl" or "tpot" (its window histograms are fed to the
    monitor instead). Invalid values raise ValueError naming the key.
    """

    rel_ci: float = DEFAULT_REL_CI
    percentile: float = DEFAULT_PERCENTILE
    confidence: float = DEFAULT_CONFIDENCE
    min_s: float = DEFAULT_MIN_S
    max_s: float | None = None
    metric: str = "e2e"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.metric not in METRICS:
            raise ValueError(
                f"stability metric must be one of {', '.join(METRICS)}, got {self.metric!r}"
            )
        set_(self, "rel_ci", _open_interval("rel_ci", self.rel_ci, 0.0, 1.0))
        set_(self, "percentile", _open_interval("percentile", self.percentile, 0.0, 100.0))
        set_(self, "confidence", _open_interval("confidence", self.confidence, 0.0, 1.0))
        min_s = _number("min_s", self.min_s)
        if not (math.isfinite(min_s) and min_s >= 0):
            raise ValueError(f"stability min_s must be a finite number >= 0, got {self.min_s!r}")
        set_(self, "min_s", min_s)
        if self.max_s is not None:
            max_s = _number("max_s", self.max_s)
            if not (math.isfinite(max_s) and max_s > 0):
                raise ValueError(f"stability max_s must be a positive finite number, got {max_s!r}")
            if min_s > max_s:
                raise ValueError(f"stability min_s ({min_s:g}) must be <= max_s ({max_s:g})")
            set_(self, "max_s", max_s)

    def to_dict(self) -> dict[str, Any]:
        """The rule as the dict form parse_stability() accepts (metric only when it is a
        token metric, so e2e rules keep the form saved reports have)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.metric == "e2e":
            del out["metric"]
        return out


_KEYS = tuple(f.name for f in fields(StoppingRule))


def parse_stability(value: Any, *, max_s: float | None = None) -> StoppingRule | None:
    """The user's `stability=` value as a rule; None/False mean no statistical stopping.

    True: the defaults; a number: the target rel_ci; a dict with keys rel_ci,
    percentile, confidence, min_s, max_s (unknown keys are rejected, naming them); a
    StoppingRule as is. max_s: used when the value does not set max_s (the
    configuration's duration); min_s then defaults to at most max_s.
    """
    if value is None or value is False:
        return None
    if isinstance(value, StoppingRule):
        return value
    if value is True:
        settings: dict[str, Any] = {}
    elif isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in _KEYS)
        if unknown:
            raise ValueError(
                f"stability: unknown key(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(_KEYS)})"
            )
        settings = dict(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        settings = {"rel_ci": value}
    else:
        raise TypeError(
            "stability must be True, a target relative half-width (float) or a dict, "
            f"got {type(value).__name__}"
        )
    if max_s is not None and settings.get("max_s") is None:
        settings["max_s"] = check_positive(max_s, "max_s")
        if "min_s" not in settings:
            settings["min_s"] = min(DEFAULT_MIN_S, settings["max_s"])
    return StoppingRule(**settings)


@dataclass(frozen=True)
class StoppingDecision:
    """What the rule says after `elapsed_s`: stop or not, and whether the run is stable.

    reason: "within_target" (stop, stable), "max_s" (stop, not stable), "min_s" (too
    early to judge; no intervals computed) or "collecting" (keep going). The intervals
    are those of the windows after the warm-up cut.
    """

    stop: bool
    stable: bool
    reason: str
    elapsed_s: float
    warmup: WarmupCut
    throughput: ThroughputInterval | None
    latency: PercentileInterval | None


def within_target(
    rule: StoppingRule,
    throughput: ThroughputInterval | None,
    latency: PercentileInterval | None,
) -> bool:
    """Both intervals exist, rest on >= MIN_BATCHES batches and are within rel_ci."""
    return (
        throughput is not None
        and latency is not None
        and throughput.batches >= MIN_BATCHES
        and latency.batches >= MIN_BATCHES
        and throughput.rel_half_width <= rule.rel_ci
        and latency.rel_half_width <= rule.rel_ci
    )


class StabilityMonitor:
    """Applies a StoppingRule to one run as its windows arrive (not thread-safe).

    Feed it the completions of each finished window (summed over copies) and the
    window histograms (merged over copies; one per `windows_per_histogram` windows,
    in time order) with add(), then ask decide(). Each window's buckets are converted
    once, and the kept windows' merge is extended rather than rebuilt while the warm-up
    cut stays put, so decide() costs O(windows x log buckets) plus the new buckets.
    """

    def __init__(
        self,
        rule: StoppingRule,
        window_s: float,
        *,
        batch_size: int = 1,
        windows_per_histogram: int = 1,
    ) -> None:
        if not isinstance(rule, StoppingRule):
            raise TypeError(f"rule must be a StoppingRule, got {type(rule).__name__}")
        self.rule = rule
        self.window_s = check_positive(window_s, "window_s")
        self.batch_size = check_count(batch_size, "batch_size", 1)
        self.span = check_count(windows_per_histogram, "windows_per_histogram", 1)
        self.counts: list[int] = []
        self._windows = WindowBuckets()
        self._means: list[float] = []
        self._merged = Buckets.merge([])
        self._merged_from = 0
        self._merged_to = 0

    def add(self, counts: Sequence[int], histograms: Sequence[Any] = ()) -> None:
        """Appends window counts and window histograms (the two may arrive unevenly)."""
        for count in counts:
            self.counts.append(check_count(count, "window count", 0))
        for histogram in check_histograms(list(histograms), "histograms"):
            self._windows.append(Buckets.from_histogram(histogram))
            self._means.append(mean_latency_ns(histogram))

    def _kept_buckets(self, first: int) -> Buckets:
        """Merged buckets of the histograms from `first` on (extended, not rebuilt, while
        the cut stays put)."""
        if first != self._merged_from:
            self._merged, self._merged_from, self._merged_to = Buckets.merge([]), first, first
        new = self._windows.windows[self._merged_to :]
        if new:
            self._merged = Buckets.merge([self._merged, *new])
            self._merged_to = len(self._windows)
        return self._merged

    def intervals(self) -> tuple[WarmupCut, ThroughputInterval | None, PercentileInterval | None]:
        """The warm-up cut and both intervals on the windows after it."""
        cut = warmup_cut(
            self.counts,
            self.window_s,
            window_mean_latencies_ns=self._means or None,
            windows_per_histogram=self.span,
        )
        throughput = throughput_interval(
            self.counts,
            self.window_s,
            batch_size=self.batch_size,
            confidence=self.rule.confidence,
            first_window=cut.windows,
        )
        first = cut.windows // self.span
        latency = interval_from_buckets(
            self._kept_buckets(first),
            self._windows.since(first),
            self.rule.percentile,
            self.rule.confidence,
        )
        return cut, throughput, latency

    def decide(self, elapsed_s: float | None = None) -> StoppingDecision:
        """The rule's verdict now; elapsed_s defaults to the windows seen x window_s."""
        elapsed = len(self.counts) * self.window_s if elapsed_s is None else elapsed_s
        elapsed = float(elapsed)
        if elapsed < self.rule.min_s:
            return StoppingDecision(False, False, "min_s", elapsed, NO_CUT, None, None)
        cut, throughput, latency = self.intervals()
        if within_target(self.rule, throughput, latency):
            return StoppingDecision(True, True, "within_target", elapsed, cut, throughput, latency)
        timed_out = self.rule.max_s is not None and elapsed >= self.rule.max_s
        reason = "max_s" if timed_out else "collecting"
        return StoppingDecision(timed_out, False, reason, elapsed, cut, throughput, latency)


def evaluate_stopping(
    rule: StoppingRule,
    windows: Sequence[int],
    window_histograms: Sequence[Any],
    window_s: float,
    *,
    batch_size: int = 1,
    windows_per_histogram: int = 1,
    elapsed_s: float | None = None,
) -> StoppingDecision:
    """The rule's verdict on a run's windows so far (a StabilityMonitor fed at once)."""
    monitor = StabilityMonitor(
        rule, window_s, batch_size=batch_size, windows_per_histogram=windows_per_histogram
    )
    monitor.add(windows, window_histograms)
    return monitor.decide(elapsed_s)
