"""The stats package's own normal and Student-t quantiles, with scipy as the oracle."""

import math

import pytest
from scipy import special, stats

from neuronperf_native.stats import _distributions as d

PROBABILITIES = [1e-10, 1e-6, 1e-4, 0.001, 0.025, 0.05, 0.2, 0.5, 0.6, 0.95, 0.975, 0.995, 0.9999]


@pytest.mark.parametrize("p", [*PROBABILITIES, 1 - 1e-6, 1 - 1e-12, 1e-300])
def test_normal_quantile_matches_scipy(p):
    assert d.normal_quantile(p) == pytest.approx(stats.norm.ppf(p), rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("x", [-30.0, -5.0, -1.0, 0.0, 0.3, 2.0, 8.0])
def test_normal_cdf_matches_scipy(x):
    assert d.normal_cdf(x) == pytest.approx(stats.norm.cdf(x), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(
    "df", [1, 2, 3, 4, 5, 7, 10, 19, 30, 59, 100, 1000, 2999, 3000, 1e4, 1e6, 2.5]
)
@pytest.mark.parametrize("p", [1e-6, *PROBABILITIES[2:], 1 - 1e-6])
def test_student_t_quantile_matches_scipy(df, p):
    assert d.student_t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-11, abs=1e-14)


@pytest.mark.parametrize("df", [1, 3, 12.5, 200])
@pytest.mark.parametrize("t", [-40.0, -2.0, 0.0, 0.7, 3.0])
def test_student_t_cdf_matches_scipy(df, t):
    assert d.student_t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("a,b", [(0.5, 0.5), (2.0, 3.0), (100.0, 0.5), (1e3, 2e3), (0.5, 700.0)])
@pytest.mark.parametrize("x", [0.0, 1e-5, 0.1, 0.3, 0.5, 0.6, 0.9, 0.99999, 1.0])
def test_regularized_beta_matches_scipy(a, b, x):
    assert d.regularized_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_quantiles_reject_probabilities_outside_the_open_unit_interval(bad):
    with pytest.raises(ValueError, match="probability"):
        d.normal_quantile(bad)
    with pytest.raises(ValueError, match="probability"):
        d.student_t_quantile(bad, 5)


@pytest.mark.parametrize("df", [0, -1, math.inf, math.nan])
def test_student_t_quantile_rejects_bad_degrees_of_freedom(df):
    with pytest.raises(ValueError, match="df"):
        d.student_t_quantile(0.9, df)
