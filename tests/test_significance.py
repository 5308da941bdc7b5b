"""stats.significance: the U test, shift and percentile intervals against exact answers."""

import itertools
import math

import numpy as np
import pytest

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import significance
from neuronperf_native.stats.significance import Estimate


def brute_force_u(n, m):
    """U of the last m of n + m distinct ranks, over every split: the exact null."""
    values = []
    for chosen in itertools.combinations(range(n + m), m):
        rest = [i for i in range(n + m) if i not in chosen]
        values.append(sum(1 for a in rest for b in chosen if b > a))
    return np.array(values)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 4), (3, 3), (4, 6), (5, 5)])
def test_null_distribution_of_u_matches_enumeration(n, m):
    counts = significance._u_counts(n, m)
    expected = np.bincount(brute_force_u(n, m), minlength=n * m + 1)
    assert counts.tolist() == expected.tolist()
    assert counts.sum() == math.comb(n + m, n)


def test_exact_p_value_matches_enumeration():
    base = [1.1, 2.3, 3.7, 5.2]
    new = [4.1, 6.3, 7.7, 8.2, 9.0]
    test = significance.mann_whitney_u(base, new)
    assert test.exact and test.u == 19.0  # 4.1 beats 3 of base, the other 4 beat all 4
    null = brute_force_u(4, 5)
    p_value = 2 * min(np.mean(null <= 19), np.mean(null >= 19))
    assert test.p_value == pytest.approx(p_value)  # 2 * 2/126
    assert significance.mann_whitney_u(new, base).p_value == pytest.approx(p_value)


def test_normal_approximation_agrees_with_the_exact_distribution():
    rng = np.random.default_rng(3)
    base, new = rng.normal(0, 1, 30), rng.normal(0.6, 1, 30)
    test = significance.mann_whitney_u(base, new)
    assert not test.exact  # 60 values > EXACT_MAX_N
    cdf = np.cumsum(significance._u_counts(30, 30)) / math.comb(60, 30)
    k = round(test.u)
    exact = 2 * min(cdf[k], 1 - cdf[k - 1])
    assert test.p_value == pytest.approx(exact, abs=0.002)


def test_ties_use_the_corrected_normal_approximation():
    assert significance.mann_whitney_u([5, 5, 5], [5, 5]).p_value == 1.0
    test = significance.mann_whitney_u([1, 2, 2, 3], [2, 3, 3, 4])
    assert not test.exact and test.u == 13.0  # 2: 1 + 2 halves; 3s: 3 + a half each; 4: 4
    # by hand: N=8, tie groups 2 (x3) and 3 (x3): sum t^3-t = 48; var = 16/12*(9-48/56)
    sd = math.sqrt(16 / 12 * (9 - 48 / 56))
    assert test.p_value == pytest.approx(math.erfc((13 - 8 - 0.5) / sd / math.sqrt(2)))


def test_shift_interval_is_the_order_statistics_of_the_differences():
    base = [1.1, 2.3, 3.7, 5.2]
    new = [4.1, 6.3, 7.7, 8.2, 9.0]
    differences = sorted(b - a for a in base for b in new)
    null = brute_force_u(4, 5)
    # largest k with P(U <= k - 1) <= 0.05 (90% interval)
    k = max(k for k in range(1, 21) if np.mean(null <= k - 1) <= 0.05)
    low, high = significance.shift_interval(base, new, 0.90)
    assert (low, high) == pytest.approx((differences[k - 1], differences[20 - k]))
    assert significance.shift_interval([1.0, 2.0], [3.0, 4.0], 0.95) is None  # cannot bound


def test_shift_interval_of_large_samples_uses_exact_differences():
    rng = np.random.default_rng(1)
    base, new = rng.normal(100, 5, 200), rng.normal(103, 5, 300)
    low, high = significance.shift_interval(base, new, 0.95)
    differences = np.sort(np.subtract.outer(new, base).ravel())
    assert low in differences and high in differences
    assert low < 3 < high
    assert significance._kth_difference(np.sort(base), np.sort(new), 1) == differences[0]
    median = significance._kth_difference(np.sort(base), np.sort(new), 30_000)
    assert median == differences[29_999]


def test_shift_interval_covers_the_true_shift():
    rng = np.random.default_rng(7)
    runs = 400
    covered = 0
    for _ in range(runs):
        low, high = significance.shift_interval(
            rng.lognormal(0, 0.5, 25), 2 + rng.lognormal(0, 0.5, 30)
        )
        covered += low <= 2 <= high
    assert covered / runs >= 0.93


@pytest.mark.parametrize(
    ("n", "fraction", "expected"),
    [(100, 0.5, (40, 61)), (10, 0.5, (2, 9)), (5, 0.5, (0, 6)), (1000, 0.0, (0, 1))],
)
def test_rank_bounds_known_answers(n, fraction, expected):
    """The classic distribution-free 95% intervals for the median (e.g. Conover's table)."""
    assert significance._rank_bounds(n, fraction, 0.95) == expected


@pytest.mark.parametrize(("n", "a", "b"), [(37, 9, 10), (200, 99, 100), (1500, 3, 4), (20, 1, 20)])
def test_rank_bounds_match_exact_binomial_sums(n, a, b):
    """Exact integer arithmetic: P(B <= k) = sum C(n, i) a^i (b - a)^(n - i) / b^n."""
    total, cdf, running = b**n, [], 0
    for k in range(n + 1):
        running += math.comb(n, k) * a**k * (b - a) ** (n - k)
        cdf.append(running)
    lower = max((k + 1 for k in range(n + 1) if 40 * cdf[k] <= total), default=0)
    upper = min(k + 1 for k in range(n + 1) if 40 * cdf[k] >= 39 * total)
    assert significance._rank_bounds(n, a / b, 0.95) == (lower, upper)


def test_percentile_interval_reads_the_ranks_off_the_histogram():
    hist = Histogram()
    hist.record_many(np.arange(1, 1001, dtype=np.int64))  # exact below 2048 at 3 digits
    lower, upper = significance._rank_bounds(1000, 0.5, 0.95)
    assert significance._percentile_interval_ns(hist, 50, 0.95) == (lower, upper)
    lower, upper = significance._rank_bounds(1000, 0.99, 0.99)
    assert significance._percentile_interval_ns(hist, 99, 0.99) == (lower, upper)
    assert significance._percentile_interval_ns(hist, 100, 0.95) is None
    assert significance._percentile_interval_ns(hist, 99.99, 0.95) is None
    assert significance._percentile_interval_ns(Histogram(), 50, 0.95) is None


def test_percentile_interval_covers_the_true_p99():
    rng = np.random.default_rng(11)
    median_ns, sigma = 200_000, 0.5
    true_p99 = median_ns * math.exp(sigma * 2.3263478740408408)
    runs, covered = 300, 0
    for _ in range(runs):
        hist = Histogram()
        hist.record_many(rng.lognormal(math.log(median_ns), sigma, 3000).astype(np.int64))
        low, high = significance._percentile_interval_ns(hist, 99, 0.95)
        covered += low <= true_p99 <= high
    assert covered / runs >= 0.93


def test_difference_interval_adds_errors_in_quadrature():
    base = Estimate(100.0, 100.0 - 1.959964, 100.0 + 1.959964, 0.95)  # se 1
    new = Estimate(110.0, 110.0 - 2 * 1.959964, 110.0 + 1.959964, 0.95)  # se 2 below, 1 above
    low, high = significance.difference_interval(base, new, 0.95)
    assert low == pytest.approx(10 - 1.959964 * math.hypot(2, 1), rel=1e-6)
    assert high == pytest.approx(10 + 1.959964 * math.hypot(1, 1), rel=1e-6)
    base99 = Estimate(100.0, 100.0 - 2.575829, 100.0 + 2.575829, 0.99)  # se 1 at 99%
    assert significance.difference_interval(base99, new, 0.95) == pytest.approx((low, high))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="confidence must be in"):
        significance.shift_interval([1, 2], [3, 4], 1.0)
    with pytest.raises(TypeError, match="confidence must be a number"):
        significance.shift_interval([1, 2], [3, 4], "0.9")
    with pytest.raises(ValueError, match="base must be a non-empty"):
        significance.mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="new must be a non-empty"):
        significance.mann_whitney_u([1.0], [math.nan])
