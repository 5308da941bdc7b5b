"""Warm-up detection: MSER-5 on the window series, to drop a leading transient.

MSER (White 1997; MSER-5 as in Franklin & White) picks the truncation point d that
minimizes the squared standard error of the mean of what is left,
sum_{j>=d} (Z_j - mean_d)^2 / (m - d)^2, over batch means Z of 5 observations;
cold caches, JIT compilation or clock ramp-up make early windows slower and the
statistic falls once they are cut. d is kept to the first half of the series (MSER's
usual guard against cutting into the noise at the end). Then only the batches that
differ significantly from the rest are dropped (consistent_cut): on a stationary
series MSER's minimum often lands on noise, past a transient it may land late, and
every needless cut throws data away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronperf_native.stats._checks import (
    check_count,
    check_histograms,
    check_positive,
    check_windows,
)

#: Observations per MSER batch.
MSER_BATCH = 5
#: Below this many batches (20 windows) nothing is cut: too little data to tell.
MIN_MSER_BATCHES = 4
#: Batches are dropped only if their mean is this many standard errors from the rest
#: (two-sided 1%). MSER alone cuts something from 39% of stationary iid series of 100
#: observations (7.7% of the data on average); with this check 7% (1.8%), while a
#: transient 2 window-sd strong over 10 windows is still found 92% of the time.
SHIFT_Z = 2.576


def _batch_means(values: np.ndarray) -> np.ndarray:
    batches = values.size // MSER_BATCH
    return values[: batches * MSER_BATCH].reshape(batches, MSER_BATCH).mean(axis=1)


def mser5_truncation(series: Sequence[float] | np.ndarray) -> int:
    """How many leading observations MSER-5 drops (a multiple of 5, at most half)."""
    values = np.asarray(series, dtype=np.float64).reshape(-1)
    batches = values.size // MSER_BATCH
    if batches < MIN_MSER_BATCHES:
        return 0
    means = _batch_means(values)
    means = means - means.mean()  # centred: the suffix sums below lose no precision
    reverse = means[::-1]
    remaining = np.arange(batches, 0, -1, dtype=np.float64)
    suffix_sum = np.cumsum(reverse)[::-1]
    suffix_squares = np.cumsum(reverse * reverse)[::-1]
    squared_error = np.maximum(suffix_squares - suffix_sum**2 / remaining, 0.0)
    statistic = (squared_error / remaining**2)[: batches // 2 + 1]
    best = float(statistic.min())
    tolerance = 1e-9 * best + 1e-300
    return MSER_BATCH * int(np.flatnonzero(statistic <= best + tolerance)[0])


def _differs(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether the mean of `before` is more than SHIFT_Z standard errors from `after`'s
    (standard errors from the spread of `after`)."""
    if before.size == 0 or after.size < 2:
        return False
    spread = float(after.std(ddof=1)) * math.sqrt(1.0 / before.size + 1.0 / after.size)
    return abs(float(before.mean()) - float(after.mean())) > SHIFT_Z * spread


def consistent_cut(series: Sequence[float] | np.ndarray) -> int:
    """MSER-5's cut, moved back to the earliest batch from which the data up to MSER's
    cut is consistent with what follows it (0: the dropped part was noise).

    MSER's minimum can land past the end of a transient (it favours a quiet remainder);
    this keeps the batches between the transient and that point.
    """
    values = np.asarray(series, dtype=np.float64).reshape(-1)
    cut = mser5_truncation(values) // MSER_BATCH
    means = _batch_means(values)
    kept = means[cut:]
    first = next(d for d in range(cut + 1) if not _differs(means[d:cut], kept))
    return first * MSER_BATCH


@dataclass(frozen=True)
class WarmupCut:
    """Leading windows judged to be warm-up: `windows` of them, `seconds` long.

    by: "throughput" or "latency" (the series whose cut was later), or "none".
    """

    windows: int
    seconds: float
    by: str


NO_CUT = WarmupCut(0, 0.0, "none")


def _interior_cut(series: np.ndarray) -> int:
    """Windows to drop by consistent_cut() on series[1:-1] (the partial ends left out);
    the first window goes along with any cut."""
    cut = consistent_cut(series[1:-1])
    return 1 + cut if cut else 0


def warmup_cut(
    window_counts: Sequence[float] | np.ndarray,
    window_s: float,
    *,
    window_mean_latencies_ns: Sequence[float] | np.ndarray | None = None,
    windows_per_histogram: int = 1,
) -> WarmupCut:
    """The warm-up cut from completions per window and, optionally, the mean latency of
    each window histogram (one per `windows_per_histogram` windows; nan for empty ones).

    Throughput alone misses a warm-up in open-loop runs, where completions follow the
    arrival rate while latency is high, so both series are cut and the later cut wins.
    The result is rounded up to whole histograms. Arguments are not checked (see
    detect_warmup).
    """
    counts = np.asarray(window_counts, dtype=np.float64).reshape(-1)
    by_throughput = _interior_cut(counts)
    by_latency = 0
    if window_mean_latencies_ns is not None:
        means = np.asarray(window_mean_latencies_ns, dtype=np.float64).reshape(-1)
        known = np.isfinite(means)
        if known.any():
            means = np.where(known, means, means[known].mean())
            by_latency = _interior_cut(means) * windows_per_histogram
    windows = max(by_throughput, by_latency)
    windows = math.ceil(windows / windows_per_histogram) * windows_per_histogram
    windows = min(windows, counts.size)
    if windows == 0:
        return NO_CUT
    by = "latency" if by_latency > by_throughput else "throughput"
    return WarmupCut(windows, windows * window_s, by)


def mean_latency_ns(histogram: Any) -> float:
    """A window histogram's mean (nan when empty), the latency series warm-up looks at."""
    return float(histogram.mean) if histogram.count else math.nan


def detect_warmup(
    windows: Sequence[int],
    window_s: float,
    *,
    window_histograms: Sequence[Any] | None = None,
    windows_per_histogram: int = 1,
) -> WarmupCut:
    """The warm-up cut of a run from its completions per window and, optionally, its
    window histograms (one per `windows_per_histogram` windows; see warmup_cut)."""
    counts = check_windows(windows)
    window_s = check_positive(window_s, "window_s")
    span = check_count(windows_per_histogram, "windows_per_histogram", 1)
    means = None
    if window_histograms is not None:
        means = [mean_latency_ns(h) for h in check_histograms(window_histograms)]
    return warmup_cut(counts, window_s, window_mean_latencies_ns=means, windows_per_histogram=span)
