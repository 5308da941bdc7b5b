"""stats.significance: the U test, the shift interval and difference intervals, against exact
answers (the percentile intervals are stats.intervals', tested with it)."""

import itertools
import math

import numpy as np
import pytest

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
    with pytest.raises(TypeError, match="confidence must be a number in"):
        significance.shift_interval([1, 2], [3, 4], "0.9")
    with pytest.raises(ValueError, match="base must be a non-empty"):
        significance.mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="new must be a non-empty"):
        significance.mann_whitney_u([1.0], [math.nan])
