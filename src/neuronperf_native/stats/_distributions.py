"""Normal and Student-t quantiles without scipy (the runtime depends on numpy only).

Both are solved to double precision by safeguarded Newton iterations on the exact
tail probability (math.erfc for the normal; the regularized incomplete beta
function, by its continued fraction, for Student's t). tests/test_stats_distributions.py
checks them against scipy.
"""

from __future__ import annotations

import functools
import math

_SQRT2 = math.sqrt(2.0)
_TINY = 1e-300
_EPS = 1e-15
#: From here on the 1/df expansion is exact to ~1e-15 (for tails down to 1e-6) while the
#: incomplete beta loses digits to lgamma cancellation.
_EXPANSION_DF = 3000.0


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / _SQRT2)


def _check_probability(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p!r}")
    return float(p)


@functools.lru_cache(maxsize=256)
def normal_quantile(p: float) -> float:
    """The x with P(Z <= x) = p, to about 1e-15 relative."""
    p = _check_probability(p)
    if p == 0.5:
        return 0.0
    tail = min(p, 1.0 - p)
    # Start: Abramowitz & Stegun 26.2.22 (error < 3e-3), then Newton on log(tail).
    t = math.sqrt(-2.0 * math.log(tail))
    x = t - (2.30753 + 0.27061 * t) / (1.0 + t * (0.99229 + 0.04481 * t))
    log_tail = math.log(tail)
    for _ in range(50):
        upper = 0.5 * math.erfc(x / _SQRT2)
        density = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        step = (math.log(upper) - log_tail) * upper / density
        x += step
        if abs(step) <= _EPS * max(1.0, abs(x)):
            break
    return x if p > 0.5 else -x


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    return 0.5 * regularized_beta(0.5 * df, 0.5, df / (df + t * t))


def _t_density(t: float, df: float) -> float:
    log_norm = math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - 0.5 * (df + 1.0) * math.log1p(t * t / df))


def _t_expansion(z: float, df: float) -> float:
    """Cornish-Fisher expansion of the t quantile in 1/df (Abramowitz & Stegun 26.7.5)."""
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df > 0 degrees of freedom."""
    upper = _t_upper_tail(abs(t), df)
    return 1.0 - upper if t >= 0 else upper


@functools.lru_cache(maxsize=1024)
def student_t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with df > 0 degrees of freedom."""
    p = _check_probability(p)
    if not df > 0 or math.isinf(df):
        raise ValueError(f"df must be a positive finite number, got {df!r}")
    if p == 0.5:
        return 0.0
    tail = min(p, 1.0 - p)
    z = -normal_quantile(tail)
    if df >= _EXPANSION_DF:
        t = _t_expansion(z, df)
        return t if p > 0.5 else -t
    # Start from the first term of the expansion; keep a bracket [lo, hi] around the root
    # of log P(T > t) = log(tail) and bisect whenever a Newton step leaves it.
    t = max(z + (z**3 + z) / (4.0 * df), z)
    lo, hi = 0.0, t
    while _t_upper_tail(hi, df) > tail:
        lo, hi = hi, 2.0 * hi + 1.0
    log_tail = math.log(tail)
    t = min(max(t, lo), hi)
    for _ in range(200):
        upper = _t_upper_tail(t, df)
        gap = math.log(upper) - log_tail
        if gap > 0:
            lo = t
        else:
            hi = t
        step = gap * upper / _t_density(t, df)
        new = t + step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) <= _EPS * max(1.0, abs(new)) or hi - lo <= _EPS * hi:
            t = new
            break
        t = new
    return t if p > 0.5 else -t
