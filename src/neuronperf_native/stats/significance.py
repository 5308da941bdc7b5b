"""Is the change between two runs real? Distribution-free tests and intervals.

- `mann_whitney_u(base, new)`: the two-sided Mann-Whitney U test of two samples (the
  interior window throughputs of two runs); exact null distribution for small samples
  without ties, the tie-corrected normal approximation otherwise.
- `shift_interval(base, new, confidence)`: the Hodges-Lehmann interval for the shift
  new - base that goes with the U test.
- `difference_interval(base, new, confidence)`: an interval for new - base from each
  `Estimate`'s own interval (stats.intervals' order-statistic intervals on the HDR
  histograms, or a report's `*_ci`).

Samples are taken as independent. Window throughputs and request latencies of one run
are autocorrelated, so the nominal confidence is optimistic; compare therefore also
asks for a change beyond a threshold, and uses autocorrelation-aware intervals when the
reports carry them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neuronperf_native.stats._checks import check_confidence
from neuronperf_native.stats._distributions import normal_quantile

__all__ = ["Estimate", "UTest", "difference_interval", "mann_whitney_u", "shift_interval"]

#: Largest pooled sample size for which U's exact null distribution is used (no ties).
EXACT_MAX_N = 50


@dataclass(frozen=True)
class UTest:
    """A Mann-Whitney U test: U of `new` (pairs where new is larger, ties count half),
    its two-sided p-value, and whether the p-value is exact or approximate."""

    u: float
    p_value: float
    exact: bool


@dataclass(frozen=True)
class Estimate:
    """A value with its interval [low, high] at `confidence`."""

    value: float
    low: float
    high: float
    confidence: float


def _z(confidence: float) -> float:
    """Two-sided standard normal quantile: 1.96 for confidence 0.95."""
    return normal_quantile(0.5 + check_confidence(confidence) / 2.0)


def _sample(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.sort(np.asarray(values, dtype=np.float64))
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty 1-d sequence of finite numbers")
    return array


def _u_counts(n: int, m: int) -> np.ndarray:
    """Arrangements of n + m distinct values giving each U = 0..n*m under the null.

    The coefficients of the Gaussian binomial [n+m choose n]_q, built as the product
    over i = 1..n of (1 - q^(m+i)) / (1 - q^i); truncating terms above degree n*m is
    exact because the division only carries counts upwards.
    """
    size = n * m + 1
    counts = np.zeros(size, dtype=np.int64)
    counts[0] = 1
    for i in range(1, n + 1):
        if m + i < size:
            counts[m + i :] -= counts[: size - m - i].copy()
        for residue in range(i):
            counts[residue::i] = np.cumsum(counts[residue::i])
    return counts


def _tie_term(pooled: np.ndarray) -> float:
    _, tied = np.unique(pooled, return_counts=True)
    return float(np.sum(tied.astype(np.float64) ** 3 - tied))


def _null_moments(n: int, m: int, pooled: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of U under the null, corrected for ties."""
    total = n + m
    ties = _tie_term(pooled) / (total * (total - 1)) if total > 1 else 0.0
    variance = n * m / 12.0 * (total + 1 - ties)
    return n * m / 2.0, math.sqrt(max(variance, 0.0))


def _use_exact(n: int, m: int, pooled: np.ndarray) -> bool:
    return n + m <= EXACT_MAX_N and np.unique(pooled).size == pooled.size


def mann_whitney_u(base: Sequence[float], new: Sequence[float]) -> UTest:
    """Two-sided Mann-Whitney U test that `new` and `base` come from one distribution."""
    x, y = _sample("base", base), _sample("new", new)
    n, m = x.size, y.size
    left = np.searchsorted(x, y, side="left")
    right = np.searchsorted(x, y, side="right")
    u = float(np.sum(left + 0.5 * (right - left)))
    pooled = np.concatenate([x, y])
    if _use_exact(n, m, pooled):
        counts = _u_counts(n, m).astype(np.float64)
        cdf = np.cumsum(counts) / counts.sum()
        k = round(u)
        below = cdf[k]
        above = 1.0 - (cdf[k - 1] if k > 0 else 0.0)
        return UTest(u, float(min(1.0, 2.0 * min(below, above))), exact=True)
    mean, sd = _null_moments(n, m, pooled)
    if sd == 0.0:
        return UTest(u, 1.0, exact=False)
    z = max(abs(u - mean) - 0.5, 0.0) / sd
    return UTest(u, min(1.0, math.erfc(z / math.sqrt(2.0))), exact=False)


def _kth_difference(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of the n*m differences y_j - x_i (x, y sorted).

    Bisection on the value, counting differences at or below it in O(m log n), so
    memory stays O(n + m) however long the runs were.
    """
    scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-300)
    lo, hi = float(y[0] - x[-1]), float(y[-1] - x[0])
    if k <= 1:
        return lo
    lo -= scale * 1e-9  # strictly below the smallest difference
    while hi - lo > 1e-12 * scale:
        mid = 0.5 * (lo + hi)
        at_or_below = int(np.sum(x.size - np.searchsorted(x, y - mid, side="left")))
        if at_or_below >= k:
            hi = mid
        else:
            lo = mid
    # Snap to the largest difference at or below hi: the k-th one itself.
    index = np.searchsorted(x, y - hi, side="left")
    valid = index < x.size
    return float(np.max(y[valid] - x[index[valid]]))


def shift_interval(
    base: Sequence[float], new: Sequence[float], confidence: float = 0.95
) -> tuple[float, float] | None:
    """Hodges-Lehmann interval for the shift d such that new - d is distributed as base.

    Order statistics of the pairwise differences new_j - base_i, at the ranks where
    the U test would reject. None when the samples are too small to bound the shift
    at this confidence (e.g. 2 windows each at 0.95).
    """
    half_alpha = (1.0 - check_confidence(confidence)) / 2.0
    x, y = _sample("base", base), _sample("new", new)
    n, m = x.size, y.size
    pooled = np.concatenate([x, y])
    if _use_exact(n, m, pooled):
        counts = _u_counts(n, m).astype(np.float64)
        cdf = np.cumsum(counts) / counts.sum()
        below = np.nonzero(cdf <= half_alpha)[0]
        k = int(below[-1]) + 1 if below.size else 0
    else:
        mean, sd = _null_moments(n, m, pooled)
        k = math.floor(mean - 0.5 - _z(confidence) * sd) + 1
    if k < 1:
        return None
    return _kth_difference(x, y, k), _kth_difference(x, y, n * m - k + 1)


def difference_interval(base: Estimate, new: Estimate, confidence: float) -> tuple[float, float]:
    """Interval for new.value - base.value at `confidence`, from each estimate's interval.

    Each side of an interval is read as z standard errors of its estimate (z of that
    interval's own confidence); the lower bound of the difference combines new's lower
    side with base's upper side, the upper bound the other two, so asymmetric intervals
    (order statistics) keep their shape. The runs are independent: errors add in
    quadrature.
    """
    z_out = _z(confidence)
    z_base = _z(base.confidence)
    z_new = _z(new.confidence)
    below = math.hypot((new.value - new.low) / z_new, (base.high - base.value) / z_base)
    above = math.hypot((new.high - new.value) / z_new, (base.value - base.low) / z_base)
    difference = new.value - base.value
    return difference - z_out * below, difference + z_out * above
