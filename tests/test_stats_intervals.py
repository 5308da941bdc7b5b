"""Percentile and throughput intervals: known answers from exact binomial computations
(scipy), the histogram semantics of the bounds, dependence widening, bad input."""

import numpy as np
import pytest
from scipy import stats

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import (
    min_samples,
    order_statistic_ranks,
    percentile_interval,
    throughput_interval,
)
from neuronperf_native.stats import simulation as sim
from neuronperf_native.stats._ranks import EXACT_TAIL_LIMIT

FRACTIONS = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999]
CONFIDENCES = [0.8, 0.9, 0.95, 0.99]
TIE = 1e-12  # a binomial CDF this close to alpha/2 is a tie: either rank is right


def exact_ranks(n, p, confidence):
    """The equal-tailed ranks by definition, from scipy's binomial CDF over 0..n:
    l = #{k : F(k) <= alpha/2}, u = 1 + min{k : F(k) >= 1 - alpha/2}."""
    half_alpha = (1 - confidence) / 2
    cdf = stats.binom.cdf(np.arange(n + 1), n, p)
    lower = int(np.sum(cdf <= half_alpha))
    upper = int(np.flatnonzero(cdf >= 1 - half_alpha)[0]) + 1
    return lower, upper, cdf


@pytest.mark.parametrize("n", [*range(1, 41), 57, 100, 333, 1000, 5000, 20000])
def test_exact_ranks_match_the_binomial_definition(n):
    for p in FRACTIONS:
        for confidence in CONFIDENCES:
            lower, upper, cdf = exact_ranks(n, p, confidence)
            got = order_statistic_ranks(n, 100 * p, confidence)
            half_alpha = (1 - confidence) / 2
            if got[0] != lower:  # only at a tie F(l - 1) == alpha/2
                assert abs(cdf[min(got[0], lower)] - half_alpha) < TIE, (n, p, confidence)
            if got[1] != upper:
                assert abs(cdf[min(got[1], upper) - 1] - (1 - half_alpha)) < TIE
            covered = cdf[min(got[1], n + 1) - 1] - (cdf[got[0] - 1] if got[0] >= 1 else 0.0)
            assert covered >= confidence - TIE


def test_known_answers():
    # Classic table values: the 95% interval of the median of 100 samples is
    # [X_(40), X_(61)]; of 6 samples [X_(1), X_(6)]; 5 samples cannot bound it.
    assert order_statistic_ranks(100, 50, 0.95) == (40, 61)
    assert order_statistic_ranks(6, 50, 0.95) == (1, 6)
    assert order_statistic_ranks(5, 50, 0.95) == (0, 6)
    # p99 of 1000 samples: F(982) <= 0.025 < F(983) and F(995) < 0.975 <= F(996).
    assert order_statistic_ranks(1000, 99, 0.95) == (983, 997)
    assert exact_ranks(1000, 0.99, 0.95)[:2] == (983, 997)


@pytest.mark.parametrize("n", [10**5, 3 * 10**5, 10**6, 10**7, 10**8, 10**9])
def test_approximation_for_large_samples_is_within_one_rank_of_exact(n):
    checked = 0
    for p in [0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999]:
        if n * min(p, 1 - p) <= EXACT_TAIL_LIMIT:
            continue
        for confidence in CONFIDENCES:
            half_alpha = (1 - confidence) / 2
            lower, upper = order_statistic_ranks(n, 100 * p, confidence)
            exact_lower = int(stats.binom.ppf(half_alpha, n, p))
            exact_lower += stats.binom.cdf(exact_lower, n, p) <= half_alpha
            exact_upper = int(stats.binom.ppf(1 - half_alpha, n, p)) + 1
            assert abs(lower - exact_lower) <= 1 and abs(upper - exact_upper) <= 1
            covered = stats.binom.cdf(upper - 1, n, p) - stats.binom.cdf(lower - 1, n, p)
            assert covered >= confidence - 1e-4
            checked += 1
    assert checked >= len(CONFIDENCES)  # at least one fraction in the approximate range


def test_exact_and_approximate_rules_agree_at_the_switch():
    p = 0.99
    for n in (EXACT_TAIL_LIMIT * 100 - 100, EXACT_TAIL_LIMIT * 100 + 100):
        lower, upper, _ = exact_ranks(n, p, 0.95)
        got = order_statistic_ranks(n, 99, 0.95)
        assert abs(got[0] - lower) <= 1 and abs(got[1] - upper) <= 1


@pytest.mark.parametrize(
    "percentile,expected", [(50, 6), (90, 36), (99, 368), (99.9, 3688), (99.99, 36887)]
)
def test_min_samples(percentile, expected):
    assert min_samples(percentile, 0.95) == expected
    p = percentile / 100
    for n in (expected - 1, expected):
        lower, upper, _ = exact_ranks(n, p, 0.95)
        assert (lower >= 1 and upper <= n) == (n == expected)


def test_min_samples_is_none_at_the_extremes():
    assert min_samples(0) is None and min_samples(100) is None


def lognormal(seed, n, sigma=0.5):
    return np.exp(np.random.default_rng(seed).normal(np.log(1e6), sigma, size=n))


def histogram_of(values):
    h = Histogram()
    h.record_many(values)
    return h


def bucket_of(h, value):
    return next((lo, hi) for lo, hi, _ in h.buckets() if lo <= value <= hi)


@pytest.mark.parametrize("seed,n", [(1, 50), (2, 999), (3, 20000), (4, 300000)])
def test_bounds_are_the_buckets_of_the_order_statistics(seed, n):
    values = np.rint(lognormal(seed, n)).astype(np.int64)
    ordered = np.sort(values)
    h = histogram_of(values)
    for p in (1, 10, 50, 90, 99, 99.9):
        interval = percentile_interval(h, p)
        if interval is None:
            lower, upper = order_statistic_ranks(n, p)
            assert lower < 1 or upper > n
            continue
        assert interval.estimate_ns == h.value_at_percentile(p)
        assert interval.low_ns <= interval.estimate_ns <= interval.high_ns
        assert (interval.lower_rank, interval.upper_rank) == order_statistic_ranks(n, p)
        # Lower bound: the lowest value of X_(l)'s bucket; upper: X_(u)'s highest equivalent.
        assert interval.low_ns == bucket_of(h, ordered[interval.lower_rank - 1])[0]
        assert interval.high_ns == bucket_of(h, ordered[interval.upper_rank - 1])[1]
        assert interval.design_effect == 1.0 and interval.dependence == "unchecked"


def test_too_few_samples_give_none():
    few = histogram_of(lognormal(5, 5000))
    assert percentile_interval(few, 99.99) is None  # needs 36,887 independent samples
    assert percentile_interval(few, 99.9) is not None
    enough = histogram_of(lognormal(6, 40000))
    assert percentile_interval(enough, 99.99) is not None
    for p in (0, 100):  # no distribution-free bound at any sample size
        assert percentile_interval(enough, p) is None
    assert percentile_interval(Histogram(), 50) is None


def test_method_switches_with_the_tail_size():
    assert percentile_interval(histogram_of(lognormal(7, 20000)), 99).method == "exact"
    assert percentile_interval(histogram_of(lognormal(7, 30000)), 50).method == "normal"


def split(values, windows):
    return [histogram_of(chunk) for chunk in np.array_split(values, windows)]


def test_independent_windows_barely_widen():
    values = lognormal(8, 60000)
    iid = percentile_interval(histogram_of(values), 99)
    windowed = percentile_interval(histogram_of(values), 99, window_histograms=split(values, 60))
    assert windowed.dependence == "estimated" and windowed.batches == 30  # 2 windows each
    assert 1.0 <= windowed.design_effect < 1.6
    assert windowed.low_ns <= iid.low_ns and windowed.high_ns >= iid.high_ns


def test_correlated_samples_widen_by_the_design_effect():
    run = sim.simulate_runs(9, 1, duration_s=30, window_s=0.5, rho=0.8)[0]
    h, parts = run.histogram(), run.window_histograms()
    iid = percentile_interval(h, 50)
    widened = percentile_interval(h, 50, window_histograms=parts)
    # The p50 indicator of an AR(1) rho=0.8 Gaussian series has a design effect ~6.5.
    assert 4.0 < widened.design_effect < 10.0
    assert widened.effective_count == pytest.approx(h.count / widened.design_effect)
    assert widened.low_ns < iid.low_ns and widened.high_ns > iid.high_ns
    assert widened.rel_half_width > 1.8 * iid.rel_half_width


def test_few_windows_are_flagged_and_one_window_is_unchecked():
    values = lognormal(10, 20000)
    h = histogram_of(values)
    assert percentile_interval(h, 90, window_histograms=split(values, 3)).dependence == (
        "few_windows"
    )
    single = percentile_interval(h, 90, window_histograms=split(values, 1))
    assert single.dependence == "unchecked" and single.design_effect == 1.0


def test_throughput_interval_known_answer():
    counts = [5, 100, 104, 98, 101, 97, 103, 99, 102, 3]
    interval = throughput_interval(counts, 0.5, batch_size=2, confidence=0.9)
    rates = np.array(counts[1:-1]) * 2 / 0.5
    low, high = stats.t.interval(0.9, len(rates) - 1, rates.mean(), stats.sem(rates))
    assert interval.mean == pytest.approx(rates.mean())
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-12)
    assert (interval.windows, interval.batches, interval.batch_windows) == (8, 8, 1)
    assert interval.rel_half_width == pytest.approx((high - low) / 2 / rates.mean())


def test_throughput_interval_after_a_warmup_cut_keeps_the_first_kept_window():
    counts = [1, 50, 50, 100, 104, 98, 101, 7]
    interval = throughput_interval(counts, 1.0, first_window=3)
    assert interval.windows == 4 and interval.mean == pytest.approx(np.mean(counts[3:-1]))


def test_throughput_interval_batches_correlated_windows():
    rng = np.random.default_rng(11)
    slow = np.repeat(rng.normal(0, 20, 40), 8)  # level shifts lasting 8 windows
    counts = np.rint(1000 + slow + rng.normal(0, 5, slow.size)).tolist()
    interval = throughput_interval(counts, 1.0)
    assert interval.batch_windows >= 4 and interval.batches >= 10
    naive = stats.sem(np.array(counts[1:-1])) * stats.t.ppf(0.975, len(counts) - 3)
    assert (interval.high - interval.low) / 2 > 1.8 * naive


def test_throughput_interval_needs_two_interior_windows():
    assert throughput_interval([10, 10, 10], 1.0) is None
    assert throughput_interval([10, 10, 10, 10], 1.0) is not None


@pytest.mark.parametrize(
    "call,error,name",
    [
        (lambda h: percentile_interval(h, 101), ValueError, "percentile"),
        (lambda h: percentile_interval(h, "99"), TypeError, "percentile"),
        (lambda h: percentile_interval(h, 99, 1.0), ValueError, "confidence"),
        (lambda h: percentile_interval(h, 99, float("nan")), ValueError, "confidence"),
        (lambda h: percentile_interval([1, 2], 99), TypeError, "histogram"),
        (lambda h: percentile_interval(h, 99, window_histograms=[1]), TypeError, "window_hist"),
        (lambda h: throughput_interval([1, -2, 3], 1.0), ValueError, "windows"),
        (lambda h: throughput_interval("123", 1.0), TypeError, "windows"),
        (lambda h: throughput_interval([1, 2, 3], 0.0), ValueError, "window_s"),
        (lambda h: throughput_interval([1, 2, 3], 1.0, batch_size=0), ValueError, "batch_size"),
        (lambda h: throughput_interval([1, 2, 3], 1.0, batch_size=True), TypeError, "batch_size"),
        (lambda h: order_statistic_ranks(-1, 50), ValueError, "n"),
        (lambda h: min_samples(50, 0.0), ValueError, "confidence"),
    ],
)
def test_bad_values_are_rejected_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call(histogram_of([1000, 2000]))
