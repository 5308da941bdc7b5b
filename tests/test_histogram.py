"""Histogram tests, with the `hdrhistogram` package as an independent oracle.

Every statistic is compared with what `hdrh.histogram.HdrHistogram` reports for
the same values and settings, and the V2 encodings must cross-decode both ways.
"""

import math
import pickle

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronperf_native._engine import Histogram

PERCENTILES = [0, 1, 10, 50, 90, 95, 99, 99.9, 99.99, 100]
HOUR_NS = 3_600_000_000_000

# (lowest, highest, digits): defaults, every digits value, coarse units.
SETTINGS = [
    (1, HOUR_NS, 3),
    (1, HOUR_NS, 1),
    (1, HOUR_NS, 2),
    (1, 10**9, 4),
    (1, 10**6, 5),
    (1000, 10**12, 3),
    (10, 10**8, 2),
    (1024, HOUR_NS, 4),
]

# Mean and stddev: both implementations give every value its bucket's
# median-equivalent value; the mean is an exact integer sum divided once (Python
# int vs __int128), the stddev sums the same float terms in the same order. So
# the results should agree to the last bit or two; 1e-12 relative leaves room
# only for float-conversion rounding, not for any difference in method.
STAT_REL_TOL = 1e-12


def dataset(name: str, highest: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name == "lognormal_latency":  # ~2 ms median, long right tail
        values = rng.lognormal(mean=math.log(2e6), sigma=0.8, size=size)
    elif name == "lognormal_wide":  # spans ns to many seconds
        values = rng.lognormal(mean=math.log(5e4), sigma=3.0, size=size)
    elif name == "uniform":
        values = rng.integers(0, highest, size=size, endpoint=True)
    elif name == "small_ints":  # includes zeros and unit-resolution values
        values = rng.integers(0, 3000, size=size)
    elif name == "bimodal":
        values = np.concatenate(
            [rng.normal(1e5, 1e3, size // 2), rng.normal(4e7, 5e6, size - size // 2)]
        )
    else:
        raise AssertionError(name)
    return np.clip(np.rint(values), 0, highest).astype(np.int64)


def oracle_for(lowest: int, highest: int, digits: int, values) -> HdrHistogram:
    oracle = HdrHistogram(lowest, highest, digits)
    for v in values:
        assert oracle.record_value(int(v))
    return oracle


def oracle_buckets(oracle: HdrHistogram) -> list[tuple[int, int]]:
    out = []
    for item in oracle.get_recorded_iterator():
        out.append((item.value_iterated_to, item.count_at_value_iterated_to))
    return out


def assert_matches_oracle(ours: Histogram, oracle: HdrHistogram) -> None:
    assert ours.count == oracle.get_total_count()
    assert [(hi, n) for _, hi, n in ours.buckets()] == oracle_buckets(oracle)
    assert ours.min == oracle.get_min_value()
    assert ours.max == oracle.get_max_value()
    expected = oracle.get_percentile_to_value_dict(PERCENTILES)
    assert ours.percentiles(PERCENTILES) == [expected[p] for p in PERCENTILES]
    assert ours.mean == pytest.approx(oracle.get_mean_value(), rel=STAT_REL_TOL)
    assert ours.stddev == pytest.approx(oracle.get_stddev(), rel=STAT_REL_TOL, abs=1e-9)


@pytest.mark.parametrize(("lowest", "highest", "digits"), SETTINGS)
@pytest.mark.parametrize(
    "distribution", ["lognormal_latency", "lognormal_wide", "uniform", "small_ints", "bimodal"]
)
def test_matches_oracle(lowest, highest, digits, distribution):
    values = dataset(distribution, highest, 5000, seed=digits * 31 + len(distribution))
    ours = Histogram(lowest, highest, digits)
    ours.record_many(values)
    oracle = oracle_for(lowest, highest, digits, values)
    assert ours.saturated_count == 0
    assert_matches_oracle(ours, oracle)
    if digits < 5:  # the oracle's single-percentile query is a slow Python loop
        for p in PERCENTILES:
            assert ours.value_at_percentile(p) == oracle.get_value_at_percentile(p)


@pytest.mark.parametrize(("lowest", "highest", "digits"), SETTINGS)
def test_encodings_cross_decode(lowest, highest, digits):
    values = dataset("lognormal_wide", highest, 3000, seed=digits)
    ours = Histogram(lowest, highest, digits)
    ours.record_many(values)
    oracle = oracle_for(lowest, highest, digits, values)

    # Ours, decoded by the oracle.
    theirs_view = HdrHistogram.decode(ours.encode())
    assert theirs_view.lowest_trackable_value == lowest
    assert theirs_view.highest_trackable_value == highest
    assert theirs_view.significant_figures == digits
    assert theirs_view.get_total_count() == ours.count
    assert oracle_buckets(theirs_view) == oracle_buckets(oracle)
    got = theirs_view.get_percentile_to_value_dict(PERCENTILES)
    assert [got[p] for p in PERCENTILES] == ours.percentiles(PERCENTILES)

    # The oracle's, decoded by us.
    decoded = Histogram.decode(oracle.encode())
    assert (decoded.lowest, decoded.highest, decoded.digits) == (lowest, highest, digits)
    assert decoded == ours
    assert_matches_oracle(decoded, oracle)


def test_decode_accepts_str_bytes_and_raw():
    h = Histogram()
    h.record_many(np.array([5, 50, 500, 5_000_000]))
    text = h.encode()
    assert isinstance(text, str)
    assert Histogram.decode(text) == h
    assert Histogram.decode(text.encode("ascii")) == h
    raw = h.encode_bytes()
    assert isinstance(raw, bytes)
    assert Histogram.decode_bytes(raw) == h
    assert Histogram.decode_bytes(bytearray(raw)) == h
    empty = Histogram(1, 1000, 2)
    assert Histogram.decode(empty.encode()) == empty
    assert HdrHistogram.decode(empty.encode()).get_total_count() == 0
    with pytest.raises(TypeError):
        Histogram.decode(12345)


def test_pickle_round_trip():
    h = Histogram(10, 10**10, 4)
    h.record_many(dataset("lognormal_latency", 10**10, 2000, seed=3))
    clone = pickle.loads(pickle.dumps(h))
    assert clone == h
    assert clone is not h
    assert (clone.lowest, clone.highest, clone.digits) == (10, 10**10, 4)
    assert clone.percentiles(PERCENTILES) == h.percentiles(PERCENTILES)
    assert clone.mean == h.mean
    clone.record(7)
    assert clone != h


def test_merge_and_add_equal_recording_everything():
    values = dataset("bimodal", HOUR_NS, 6000, seed=11)
    parts = np.array_split(values, 3)
    everything = Histogram()
    everything.record_many(values)

    a, b, c = Histogram(), Histogram(), Histogram()
    for h, part in zip((a, b, c), parts, strict=True):
        h.record_many(part)
    total = a + b + c
    assert total == everything
    assert a.count == len(parts[0])  # + makes a new histogram

    assert a.merge(b) is a
    a += c
    assert a == everything
    assert a.percentiles(PERCENTILES) == everything.percentiles(PERCENTILES)


def test_merge_rejects_different_settings():
    with pytest.raises(ValueError, match=r"significant_digits=3.*significant_digits=2"):
        Histogram(1, 10**6, 3).merge(Histogram(1, 10**6, 2))
    with pytest.raises(ValueError, match="highest"):
        _ = Histogram(1, 10**6, 3) + Histogram(1, 10**7, 3)


def test_merge_and_add_never_wrap_the_int64_total():
    def with_count(count: int) -> Histogram:
        oracle = HdrHistogram(1, HOUR_NS, 3)
        oracle.record_value(1000, count)
        return Histogram.decode(oracle.encode())

    big, rest = with_count(2**62), with_count(2**62 - 1)
    full = big + rest
    assert full.count == 2**63 - 1  # the largest total that fits
    with pytest.raises(ValueError, match="overflow int64"):
        _ = big + big
    with pytest.raises(ValueError, match="overflow int64"):
        full.merge(with_count(1))
    with pytest.raises(ValueError, match="overflow int64"):
        full += full
    assert full.count == 2**63 - 1  # unchanged by the failed merges
    assert full.buckets() == [(1000, 1000, 2**63 - 1)]


def test_saturation_is_counted():
    h = Histogram(1, 10**6, 3)
    h.record(10**6 + 1)
    h.record(2**70)  # beyond int64 too
    h.record_many(np.array([5, 10**9, 2**63 - 1], dtype=np.int64))
    h.record_many(np.array([2**64 - 1], dtype=np.uint64))
    h.record_many(np.array([np.inf, 1e30]))
    assert h.count == 8
    assert h.saturated_count == 7
    assert h.max == h.value_at_percentile(100)
    assert h.max >= 10**6
    h.reset()
    assert (h.count, h.saturated_count, h.max) == (0, 0, 0)


def test_empty_histogram():
    h = Histogram()
    assert (h.count, h.min, h.max, h.mean, h.stddev) == (0, 0, 0, 0.0, 0.0)
    assert h.percentiles(PERCENTILES) == [0] * len(PERCENTILES)
    assert h.buckets() == []
    assert "count=0" in repr(h)


def test_defaults_properties_and_repr():
    h = Histogram()
    assert (h.lowest, h.highest, h.digits) == (1, HOUR_NS, 3)
    h.record_many(np.arange(1, 101))
    assert repr(h) == (
        "Histogram(count=100, min=1, p50=50, p99=99, max=100, "
        "lowest=1, highest=3600000000000, digits=3)"
    )
    assert h.buckets()[:2] == [(1, 1, 1), (2, 2, 1)]
    assert h != "not a histogram"


@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64],
)
def test_record_many_integer_dtypes(dtype):
    values = np.arange(0, 120, 3).astype(dtype)
    h = Histogram()
    h.record_many(values)
    expected = Histogram()
    for v in range(0, 120, 3):
        expected.record(v)
    assert h == expected


def test_record_many_shapes_floats_and_sequences():
    expected = Histogram()
    for v in [1, 2, 2, 4, 10, 12]:
        expected.record(v)

    h = Histogram()
    h.record_many(np.array([[1.2, 1.5], [2.5, 3.5], [10.0, 11.5]]))  # rint: ties to even
    assert h == expected

    h = Histogram()
    strided = np.array([1, 99, 2, 99, 2, 99, 4, 99, 10, 99, 12, 99], dtype=np.int64)[::2]
    assert not strided.flags.c_contiguous
    h.record_many(strided)
    assert h == expected

    h = Histogram()
    h.record_many([1, 2, 2, 4, 10, 12])
    assert h == expected
    h.record_many(np.array([], dtype=np.int64))
    assert h == expected

    f32 = Histogram()
    f32.record_many(np.array([1, 2, 2, 4, 10, 12], dtype=np.float32))
    assert f32 == expected


def test_record_many_rejects_bad_values_without_recording():
    h = Histogram()
    with pytest.raises(ValueError, match="values"):
        h.record_many(np.array([1, 2, -3]))
    with pytest.raises(ValueError, match="values"):
        h.record_many(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="values"):
        h.record_many(np.array([-0.5, 1.0]))
    with pytest.raises(ValueError, match="values"):
        h.record_many(np.array([-np.inf]))
    assert h.count == 0
    with pytest.raises(TypeError, match="dtype"):
        h.record_many(np.array([True, False]))
    with pytest.raises(TypeError, match="dtype"):
        h.record_many(np.array(["a"]))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"digits must be 1\.\.5, got 6"):
        Histogram(digits=6)
    with pytest.raises(ValueError, match=r"digits must be 1\.\.5, got 0"):
        Histogram(digits=0)
    with pytest.raises(ValueError, match="lowest must be >= 1, got 0"):
        Histogram(lowest=0)
    with pytest.raises(ValueError, match="highest"):
        Histogram(lowest=100, highest=150)
    h = Histogram()
    with pytest.raises(ValueError, match="value must be >= 0"):
        h.record(-1)
    with pytest.raises(TypeError):
        h.record(1.5)
    for bad in (-0.1, 100.01, math.nan, math.inf):
        with pytest.raises(ValueError, match="percentile"):
            h.value_at_percentile(bad)
    with pytest.raises(ValueError, match="percentile"):
        h.percentiles([50, 101])
    assert h.count == 0


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "====",
        "HIST",
        "not base64 at all!",
        "HISTFAAAAC94nJNpmSzMwMDAxwABzFCaEch0M9ixgMH+A0SAiYmV6TA/0/48povnGZkAoy4IC",
        "AAAAAAAAAAAAAAAA",
    ],
)
def test_decode_rejects_malformed_text(bad):
    with pytest.raises(ValueError):
        Histogram.decode(bad)


def test_decodes_oracle_fixture():
    # HdrHistogram(1, 3600000000000, 3) with 0, 1, 5, 1000, 123456, 10**9, from hdrh.
    h = Histogram.decode(
        "HISTFAAAAC94nJNpmSzMwMDAxwABzFCaEch0M9ixgMH+A0SAiYmV6TA/0/48povnGZkAoy4ICg=="
    )
    expected = Histogram()
    for v in (0, 1, 5, 1000, 123456, 10**9):
        expected.record(v)
    assert h == expected


# ---- property tests ----

# digits=5 with a small range keeps the pure-Python oracle fast.
settings_strategy = st.sampled_from([s for s in SETTINGS if s[2] < 5] + [(1, 10**5, 5)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    setting=settings_strategy,
    values=st.lists(st.integers(min_value=0, max_value=HOUR_NS), min_size=1, max_size=300),
    extra=st.lists(st.floats(min_value=0, max_value=100), max_size=5),
)
def test_property_percentiles_match_oracle(setting, values, extra):
    lowest, highest, digits = setting
    values = [min(v, highest) for v in values]
    ours = Histogram(lowest, highest, digits)
    ours.record_many(np.array(values, dtype=np.int64))
    oracle = oracle_for(lowest, highest, digits, values)
    ps = PERCENTILES + extra
    expected = oracle.get_percentile_to_value_dict(ps)
    assert ours.percentiles(ps) == [expected[p] for p in ps]
    assert ours.count == oracle.get_total_count()
    assert ours.min == oracle.get_min_value()
    assert ours.max == oracle.get_max_value()


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_property_random_bytes_only_raise_value_error(data):
    for decode in (Histogram.decode_bytes, Histogram.decode):
        try:
            h = decode(data)
        except ValueError:
            continue
        assert h.count == sum(n for _, _, n in h.buckets())


def _valid_encoding() -> bytes:
    h = Histogram(1, 10**9, 3)
    h.record_many(dataset("lognormal_wide", 10**9, 500, seed=5))
    return h.encode_bytes()


VALID = _valid_encoding()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    cut=st.integers(0, len(VALID)),
)
def test_property_mutated_encodings_only_raise_value_error(edits, cut):
    data = bytearray(VALID)
    for pos, byte in edits:
        data[pos] = byte
    for candidate in (bytes(data), bytes(data[:cut])):
        try:
            h = Histogram.decode_bytes(candidate)
        except ValueError:
            continue
        assert h.count == sum(n for _, _, n in h.buckets())
        assert Histogram.decode_bytes(h.encode_bytes()) == h
