"""Confidence intervals: latency percentiles on HDR histograms, throughput over windows.

Percentiles: distribution-free order-statistic intervals (see _ranks), computed on the
histogram's cumulative bucket counts in O(buckets), then widened for dependence
between samples by a design effect measured on the per-window histograms. Throughput:
a Student-t interval on batch means of the interior window rates. Values are in the
engine's units: latencies in integer ns, throughput in inferences per second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronperf_native.stats._batching import batch_variance
from neuronperf_native.stats._buckets import Buckets, WindowBuckets
from neuronperf_native.stats._checks import (
    check_confidence,
    check_count,
    check_histograms,
    check_percentile,
    check_positive,
    check_windows,
)
from neuronperf_native.stats._distributions import normal_quantile, student_t_quantile
from neuronperf_native.stats._ranks import (
    EXACT_TAIL_LIMIT,
    min_samples_for_fraction,
    ranks_for_fraction,
)

#: Fewer batches than this: the dependence estimate is too rough to stop a run on
#: (its Student-t factor already makes such intervals wide); `dependence` says so.
MIN_BATCHES = 5
#: Expected samples beyond a percentile per batch below which its own design effect is
#: too noisy to use alone (see _percentile_design_effect).
TAIL_PER_BATCH = 5.0


def order_statistic_ranks(n: int, percentile: float, confidence: float = 0.95) -> tuple[int, int]:
    """1-based ranks (l, u) such that [X_(l), X_(u)] covers the true percentile of n
    independent samples with probability >= confidence; l = 0 or u = n + 1 mean that
    side is unbounded. Exact binomial while the smaller tail expects <= 10,000 samples,
    else a Cornish-Fisher approximation within one rank of exact."""
    n = check_count(n, "n", 0)
    p = check_percentile(percentile) / 100.0
    return ranks_for_fraction(n, p, check_confidence(confidence))


def min_samples(percentile: float, confidence: float = 0.95) -> int | None:
    """Fewest independent samples that bound `percentile` (0..100) on both sides at this
    confidence (p99: 368, p99.9: 3,688, p99.99: 36,887 at 0.95); None for p0 and p100."""
    p = check_percentile(percentile) / 100.0
    return min_samples_for_fraction(p, check_confidence(confidence))


def _dependence(batches: int) -> str:
    if batches < 2:
        return "unchecked"
    return "few_windows" if batches < MIN_BATCHES else "estimated"


@dataclass(frozen=True)
class PercentileInterval:
    """A confidence interval [low_ns, high_ns] for one latency percentile.

    low_ns is the lowest value of the bucket holding order statistic `lower_rank`,
    high_ns the highest equivalent value of the bucket holding `upper_rank` (the
    semantics of value_at_percentile, which gives estimate_ns), so the interval contains
    the exact order-statistic interval of the recorded values. effective_count is the
    sample size the ranks were computed for: count / design_effect. batches: how many
    batches of windows measured the design effect; dependence: "estimated" (at least
    MIN_BATCHES), "few_windows" (2 to MIN_BATCHES - 1: Student-t factor, conservative)
    or "unchecked" (no window histograms: samples assumed independent).
    """

    percentile: float
    confidence: float
    estimate_ns: int
    low_ns: int
    high_ns: int
    count: int
    lower_rank: int
    upper_rank: int
    effective_count: float
    design_effect: float
    batches: int
    method: str

    @property
    def dependence(self) -> str:
        return _dependence(self.batches)

    @property
    def rel_half_width(self) -> float:
        """The larger of the two distances from the estimate, relative to the estimate."""
        if self.estimate_ns <= 0:
            return math.inf
        return max(self.estimate_ns - self.low_ns, self.high_ns - self.estimate_ns) / (
            self.estimate_ns
        )

    def ms(self) -> list[float]:
        """[low, high] in milliseconds."""
        return [self.low_ns / 1e6, self.high_ns / 1e6]


def design_effect(
    windows: WindowBuckets, threshold_ns: int, confidence: float
) -> tuple[float, int, float]:
    """(design effect, batches, smaller-tail count) of the fraction at or below threshold_ns.

    The indicator "sample <= threshold" is counted per window; batches of consecutive
    windows give the variance of the overall fraction with the dependence included
    (ratio-estimator variance), and its ratio to the independent-sample variance
    F(1-F)/n is the design effect. Multiplied by (t/z)^2 for the batches' degrees of
    freedom, so few windows widen the interval instead of trusting a rough variance;
    never below 1 (negative dependence is not used to narrow intervals). Batches 0
    when it cannot be measured (fewer than 2 batches, or no sample on one side).
    """
    below = windows.counts_at_or_below(threshold_ns)
    total = float(windows.totals.sum())
    fraction = float(below.sum()) / total if total else 0.0
    if not 0.0 < fraction < 1.0:
        return 1.0, 0, 0.0
    tail_count = total * min(fraction, 1.0 - fraction)
    estimate = batch_variance(below - fraction * windows.totals)
    if estimate is None:
        return 1.0, 0, tail_count
    iid_variance = fraction * (1.0 - fraction) / total
    measured = estimate.variance_of_sum / total**2
    half_alpha = 0.5 * (1.0 - confidence)
    t_over_z = student_t_quantile(1.0 - half_alpha, estimate.batches - 1) / -normal_quantile(
        half_alpha
    )
    return max(1.0, measured / iid_variance * t_over_z**2), estimate.batches, tail_count


def _percentile_design_effect(
    merged: Buckets, windows: WindowBuckets, index: int, p: float, confidence: float
) -> tuple[float, int]:
    """(design effect, batches) for the percentile whose estimate is bucket `index`.

    The indicator is taken at the estimate's bucket (or the one below it when the
    estimate is the top bucket). A tail too thin to measure, fewer than
    TAIL_PER_BATCH samples beyond the estimate per batch, gets the larger of its own
    estimate and that of the most extreme level which has that many: dependence
    usually weakens into the tail (AR(1) rho 0.8: 6.5 at p50, 2.7 at p99, 2.0 at
    p99.9), so this errs wide rather than trusting a variance of a few counts.
    """
    deff, batches, tail = 1.0, 0, 0.0
    for candidate in (index, index - 1):
        if candidate >= 0:
            deff, batches, tail = design_effect(
                windows, int(merged.lowest_ns[candidate]), confidence
            )
            if batches:
                break
    if not batches or tail >= TAIL_PER_BATCH * batches:
        return deff, batches
    n = merged.total
    reference = min(0.5, TAIL_PER_BATCH * batches / n)
    rank = math.ceil(n * (1.0 - reference)) if p > 0.5 else max(1, math.floor(n * reference))
    threshold = int(merged.lowest_ns[merged.index_of_rank(min(max(rank, 1), n))])
    wider, reference_batches, _ = design_effect(windows, threshold, confidence)
    return (max(deff, wider), batches) if reference_batches else (deff, batches)


def _widened_ranks(n: int, p: float, confidence: float, deff: float) -> tuple[int, int, float]:
    """Ranks among n samples for an effective sample size n / deff: the ranks of
    floor(n / deff) independent samples, scaled to n (outwards)."""
    if deff <= 1.0:
        lower, upper = ranks_for_fraction(n, p, confidence)
        return lower, upper, float(n)
    n_eff = n / deff
    size = math.floor(n_eff)
    if size < 1:
        return 0, n + 1, n_eff
    lower, upper = ranks_for_fraction(size, p, confidence)
    scaled_lower = math.floor((lower - 1) * n / size) + 1 if lower >= 1 else 0
    scaled_upper = math.ceil((upper - 1) * n / size) + 1 if upper <= size else n + 1
    return scaled_lower, scaled_upper, n_eff


def interval_from_buckets(
    merged: Buckets, windows: WindowBuckets | None, percentile: float, confidence: float
) -> PercentileInterval | None:
    """percentile_interval() on bucket arrays (see there); the windows may be None."""
    n = merged.total
    if n == 0 or not 0.0 < percentile < 100.0:
        return None
    p = percentile / 100.0
    estimate_index = merged.index_of_rank(merged.percentile_rank(percentile))
    deff, batches = 1.0, 0
    if windows is not None and len(windows):
        deff, batches = _percentile_design_effect(merged, windows, estimate_index, p, confidence)
    lower, upper, n_eff = _widened_ranks(n, p, confidence, deff)
    if lower < 1 or upper > n:
        return None
    method = "exact" if math.floor(n_eff) * min(p, 1 - p) <= EXACT_TAIL_LIMIT else "normal"
    return PercentileInterval(
        percentile=percentile,
        confidence=confidence,
        estimate_ns=int(merged.highest_ns[estimate_index]),
        low_ns=int(merged.lowest_ns[merged.index_of_rank(lower)]),
        high_ns=int(merged.highest_ns[merged.index_of_rank(upper)]),
        count=n,
        lower_rank=lower,
        upper_rank=upper,
        effective_count=n_eff,
        design_effect=deff,
        batches=batches,
        method=method,
    )


def percentile_interval(
    histogram: Any,
    percentile: float,
    confidence: float = 0.95,
    *,
    window_histograms: Sequence[Any] | None = None,
) -> PercentileInterval | None:
    """Confidence interval for a latency percentile of an HDR histogram, or None.

    None when the sample cannot bound that percentile at that confidence (the needed
    order statistic would lie beyond the smallest or largest sample: p99.99 after
    5,000 samples; always for p0 and p100, which have no distribution-free bound).
    window_histograms: the same samples split by window (one histogram per window or
    per group of windows, in time order); with them the interval is widened for
    dependence between samples (see design_effect), without them samples are assumed
    independent. O(buckets) for the histogram, O(total buckets) for the windows.
    """
    percentile = check_percentile(percentile)
    confidence = check_confidence(confidence)
    if not callable(getattr(histogram, "buckets", None)):
        raise TypeError(f"histogram must be a Histogram, got {type(histogram).__name__}")
    windows = None
    if window_histograms is not None:
        histograms = check_histograms(window_histograms)
        windows = WindowBuckets([Buckets.from_histogram(h) for h in histograms])
    return interval_from_buckets(Buckets.from_histogram(histogram), windows, percentile, confidence)


@dataclass(frozen=True)
class ThroughputInterval:
    """A Student-t confidence interval [low, high] for the mean throughput (per second).

    mean is the average rate of the `windows` interior windows used (the same figure
    as throughput_avg); batches of `batch_windows` consecutive windows gave its
    standard error (batches - 1 degrees of freedom).
    """

    mean: float
    low: float
    high: float
    confidence: float
    windows: int
    batches: int
    batch_windows: int

    @property
    def dependence(self) -> str:
        return _dependence(self.batches)

    @property
    def rel_half_width(self) -> float:
        if self.mean <= 0:
            return math.inf
        return (self.high - self.low) / 2.0 / self.mean


def throughput_interval(
    windows: Sequence[int] | np.ndarray,
    window_s: float,
    *,
    batch_size: int = 1,
    confidence: float = 0.95,
    first_window: int = 0,
) -> ThroughputInterval | None:
    """Confidence interval for the mean throughput from completions per window, or None.

    Uses the interior windows from max(1, first_window) to the second-to-last (the
    first and last windows are partial, as for throughput_avg; a window after a
    warm-up cut is whole); rates are count * batch_size / window_s. The variance comes
    from batch means over consecutive windows (see _batching), so correlated windows
    widen the interval. None with fewer than 2 batches (4 windows).
    """
    counts = check_windows(windows)
    window_s = check_positive(window_s, "window_s")
    confidence = check_confidence(confidence)
    batch_size = check_count(batch_size, "batch_size", 1)
    first_window = check_count(first_window, "first_window", 0)
    rates = counts[max(1, first_window) : -1] * (batch_size / window_s)
    if rates.size < 2:
        return None
    mean = float(rates.mean())
    estimate = batch_variance(rates - mean)
    if estimate is None:
        return None
    standard_error = math.sqrt(estimate.variance_of_sum) / rates.size
    half = student_t_quantile(0.5 + 0.5 * confidence, estimate.batches - 1) * standard_error
    return ThroughputInterval(
        mean=mean,
        low=mean - half,
        high=mean + half,
        confidence=confidence,
        windows=int(rates.size),
        batches=estimate.batches,
        batch_windows=estimate.batch_windows,
    )
