"""Ranks of distribution-free percentile intervals: binomial order statistics.

For n independent samples of a continuous distribution, the number B of samples at
or below the true p-quantile q is Binomial(n, p), so for ranks l < u

    P(X_(l) <= q <= X_(u)) = P(l <= B <= u - 1) = F(u - 1) - F(l - 1),

with F the binomial CDF. The equal-tailed interval takes the largest l with
F(l - 1) <= alpha/2 and the smallest u with F(u - 1) >= 1 - alpha/2, so it covers q
with probability >= 1 - alpha for every continuous distribution (and conservatively
for discrete ones). l = 0 or u = n + 1 mean that side cannot be bounded.
"""

from __future__ import annotations

import math

import numpy as np

from neuronperf_native.stats._distributions import normal_quantile

#: Exact binomial CDF while the smaller tail holds at most this many expected samples
#: (n * min(p, 1 - p)); beyond it, the Cornish-Fisher normal approximation (4 terms, with
#: continuity correction) is within one rank of the exact answer.
EXACT_TAIL_LIMIT = 10_000


def _smaller_tail_cdf(n: int, r: float, half_alpha: float) -> np.ndarray:
    """CDF of Binomial(n, r), r <= 1/2, from 0 far enough to pass 1 - half_alpha.

    Log-probabilities by the ratio recurrence pmf(k+1)/pmf(k) = (n-k)/(k+1) * r/(1-r),
    summed with cumsum: O(n r) work, no overflow (early terms simply underflow to 0).
    """
    mean = n * r
    spread = math.sqrt(mean * (1.0 - r))
    reach = -normal_quantile(min(half_alpha, 0.5)) + 8.0
    length = min(n, math.ceil(mean + reach * spread + 40.0)) + 1
    while True:
        k = np.arange(length - 1, dtype=np.float64)
        steps = np.log(n - k) - np.log(k + 1.0) + (math.log(r) - math.log1p(-r))
        log_pmf = n * math.log1p(-r) + np.concatenate(([0.0], np.cumsum(steps)))
        cdf = np.cumsum(np.exp(log_pmf))
        if cdf[-1] >= 1.0 - half_alpha or length == n + 1:
            return np.minimum(cdf, 1.0)
        length = min(n + 1, 2 * length)


def _exact_ranks(n: int, p: float, half_alpha: float) -> tuple[int, int]:
    if p <= 0.5:
        cdf = _smaller_tail_cdf(n, p, half_alpha)  # CDF of B itself
        lower = int(np.searchsorted(cdf, half_alpha, side="right"))
        upper_index = int(np.searchsorted(cdf, 1.0 - half_alpha, side="left"))
        return lower, min(upper_index, n) + 1
    # B = n - C with C ~ Binomial(n, 1 - p): F_B(k) = 1 - F_C(n - k - 1).
    cdf = _smaller_tail_cdf(n, 1.0 - p, half_alpha)
    first_high = int(np.searchsorted(cdf, 1.0 - half_alpha, side="left"))
    last_low = int(np.searchsorted(cdf, half_alpha, side="right")) - 1
    return max(0, n - first_high), n - last_low


def _cornish_fisher(n: int, p: float, z: float) -> float:
    """Continuous approximation of the binomial z-quantile (skewness and kurtosis terms)."""
    q = 1.0 - p
    sigma = math.sqrt(n * p * q)
    skew = (q - p) / sigma
    kurtosis = (1.0 - 6.0 * p * q) / (n * p * q)
    w = (
        z
        + skew * (z * z - 1.0) / 6.0
        + kurtosis * (z**3 - 3.0 * z) / 24.0
        - skew * skew * (2.0 * z**3 - 5.0 * z) / 36.0
    )
    return n * p + sigma * w


def _approximate_ranks(n: int, p: float, half_alpha: float) -> tuple[int, int]:
    z = -normal_quantile(half_alpha)
    # F(k) ~ G(k + 1/2) (continuity correction), G the Cornish-Fisher distribution.
    lower = math.floor(_cornish_fisher(n, p, -z) - 0.5) + 1
    upper = math.ceil(_cornish_fisher(n, p, z) - 0.5) + 1
    return min(max(lower, 0), n), min(max(upper, 1), n + 1)


def ranks_for_fraction(n: int, p: float, confidence: float) -> tuple[int, int]:
    """Ranks (l, u), 1-based, of the equal-tailed order-statistic interval for the
    p-quantile (0 <= p <= 1) of n independent samples; l = 0 / u = n + 1: unbounded.

    Exact binomial computation while n * min(p, 1 - p) <= EXACT_TAIL_LIMIT, else the
    Cornish-Fisher approximation (within one rank of exact; see the tests).
    """
    if n < 1:
        return 0, n + 1
    half_alpha = 0.5 * (1.0 - confidence)
    if p <= 0.0:
        return 0, 1
    if p >= 1.0:
        return n, n + 1
    if n * min(p, 1.0 - p) <= EXACT_TAIL_LIMIT:
        return _exact_ranks(n, p, half_alpha)
    return _approximate_ranks(n, p, half_alpha)


def min_samples_for_fraction(p: float, confidence: float) -> int | None:
    """Fewest independent samples whose order statistics bound the p-quantile on both
    sides at this confidence; None for p = 0 or 1 (no sample size suffices).

    Both ends must exist: F(0) = (1 - p)^n <= alpha/2 and F(n - 1) = 1 - p^n >= 1 - alpha/2.
    """
    if not 0.0 < p < 1.0:
        return None
    log_half_alpha = math.log(0.5 * (1.0 - confidence))
    need = max(log_half_alpha / math.log(p), log_half_alpha / math.log1p(-p))
    n = max(1, math.ceil(need - 1e-9))
    while True:
        lower, upper = ranks_for_fraction(n, p, confidence)
        if lower >= 1 and upper <= n:
            return n
        n += 1
