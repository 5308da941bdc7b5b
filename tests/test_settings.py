"""BenchmarkSettings: every keyword validated once, named in errors, serializable."""

import dataclasses
import json
import math

import pytest

import neuronperf_native as npf
from neuronperf_native.engine import IntervalTrace
from neuronperf_native.settings import KEYWORDS, BenchmarkSettings

# (keyword as benchmark() takes it, bad value, exception, text the message must hold)
BAD_VALUES = [
    ("batch_sizes", 0, ValueError, "batch_sizes must be >= 1, got 0"),
    ("batch_sizes", 2**31, ValueError, "batch_sizes must be <= 2147483647"),
    ("batch_sizes", [], ValueError, "batch_sizes must not be empty"),
    ("batch_sizes", ["1"], TypeError, "batch_sizes must hold int"),
    ("batch_sizes", [True], TypeError, "batch_sizes must hold int"),
    ("duration", -1, ValueError, "duration must be a finite"),
    ("duration", math.nan, ValueError, "duration must be a finite"),
    ("duration", math.inf, ValueError, "duration must be a finite"),
    ("duration", 86_401, ValueError, "duration must be at most 86400"),
    ("duration", "10", TypeError, "duration must be a number"),
    ("duration", 0, ValueError, "0 only with a dataset"),
    ("n_models", 0, ValueError, "n_models must be >= 1"),
    ("n_models", [1, "2"], TypeError, "n_models must hold int"),
    ("pipeline_sizes", -1, ValueError, "pipeline_sizes must be >= 1"),
    ("performance_levels", -1, ValueError, "performance_levels must be >= 0"),
    ("performance_levels", 1.5, TypeError, "performance_levels must hold int"),
    ("workers_per_model", 0, ValueError, "workers_per_model must be >= 1"),
    ("multiprocess", "yes", TypeError, "multiprocess must be a bool"),
    ("multiinterpreter", 1, TypeError, "multiinterpreter must be a bool"),
    ("return_timers", None, TypeError, "return_timers must be a bool"),
    ("stats_interval", 0, ValueError, "stats_interval must be a finite"),
    ("stats_interval", "1", TypeError, "stats_interval must be a number"),
    ("device_type", "tpu", ValueError, "device_type must be one of"),
    ("cost_per_hour", -1.0, ValueError, "cost_per_hour must be a finite"),
    ("cost_per_hour", math.inf, ValueError, "cost_per_hour must be a finite"),
    ("model_name", "", TypeError, "model_name must be a non-empty str"),
    ("model_name", 3, TypeError, "model_name must be a non-empty str"),
    ("verbosity", 5, ValueError, "verbosity must be 0, 1 or 2"),
    ("verbosity", True, ValueError, "verbosity must be 0, 1 or 2"),
    ("warmup_iterations", -1, ValueError, "warmup_iterations must be in [0, 4611686018427387904]"),
    ("warmup_iterations", 1.0, TypeError, "warmup_iterations must be an int"),
    ("max_iterations", 0, ValueError, "max_iterations must be in [1, 4611686018427387904]"),
    ("window_s", 0.0001, ValueError, "window_s must be at least 0.001"),
    # the engine's limits, applied here rather than found inside a model copy
    ("warmup_iterations", 2**70, ValueError, "warmup_iterations must be in [0,"),
    ("max_iterations", 2**63, ValueError, "max_iterations must be in [1,"),
    ("call_timeout_s", 1e12, ValueError, "call_timeout_s must be at most 86400 s"),
    ("workers_per_model", 5000, ValueError, "workers_per_model must be <= 4096"),
    ("n_models", 5000, ValueError, "n_models must be <= 4096"),
    ("stability", {"max_s": 1e12}, ValueError, "stability max_s must be at most 86400 s"),
    ("request_intervals", [1e30], ValueError, "request_intervals[0] must be a finite number"),
    ("window_s", 0, ValueError, "window_s must be a finite"),
    ("call_timeout_s", -1, ValueError, "call_timeout_s must be a finite"),
    ("load_timeout_s", math.nan, ValueError, "load_timeout_s must be a finite"),
    ("load_timeout_s", -5, ValueError, "load_timeout_s must be a finite"),
    ("percentiles", [101], ValueError, "percentiles must be in [0, 100]"),
    ("percentiles", ["99"], TypeError, "percentiles must hold numbers"),
    ("instance_type", 5, TypeError, "instance_type must be a non-empty str"),
    ("dataset", "yes", TypeError, "dataset must be a bool"),
    ("loop_dataset", 1, TypeError, "loop_dataset must be a bool"),
    ("input_names", "x", TypeError, "input_names must be a list of str"),
    ("input_names", ["x", "x"], ValueError, "input_names has duplicates"),
    ("feed_by_name", None, TypeError, "feed_by_name must be a bool"),
    ("rtol", -1, ValueError, "rtol must be a finite number >= 0"),
    ("atol", "0", TypeError, "atol must be a number"),
    ("strict_validation", 0, TypeError, "strict_validation must be a bool"),
    ("shared_memory", "gpu", ValueError, "shared_memory must be one of"),
    ("reuse_copies", "no", TypeError, "reuse_copies must be a bool"),
    ("start_method", "forkserver", ValueError, "start_method must be one of"),
    ("max_rss_mb", 0, ValueError, "max_rss_mb must be a finite"),
    ("max_rss_mb", "1G", TypeError, "max_rss_mb must be a number of MiB"),
    ("allow_oversubscription", 1, TypeError, "allow_oversubscription must be a bool"),
    ("stability", "yes", TypeError, "stability must be True, a target relative half-width"),
    ("stability", 0, ValueError, "stability rel_ci must be in (0, 1)"),
    ("stability", 1.0, ValueError, "stability rel_ci must be in (0, 1)"),
    ("stability", {"confidence": 1.5}, ValueError, "stability confidence must be in (0, 1)"),
    ("stability", {"min_s": 5, "max_s": 2}, ValueError, "stability min_s (5) must be <= max_s"),
    ("stability", {"rel": 0.1}, ValueError, "stability: unknown key(s) 'rel'"),
    ("ci_confidence", 1, ValueError, "ci_confidence must be in (0, 1)"),
    ("ci_confidence", "0.9", TypeError, "ci_confidence must be a number"),
    ("load_mode", "poisson", ValueError, "load_mode must be one of 'closed', 'open', 'rate'"),
    ("request_rate", 0, ValueError, "request_rate must be a finite number of requests"),
    ("request_rate", -5, ValueError, "request_rate must be a finite number of requests"),
    ("request_rate", math.nan, ValueError, "request_rate must be a finite number of requests"),
    ("request_rate", math.inf, ValueError, "request_rate must be a finite number of requests"),
    ("request_rate", [100, 0], ValueError, "request_rate must be a finite number of requests"),
    ("request_rate", [], ValueError, "request_rate must not be empty"),
    ("request_rate", "100", TypeError, "request_rate must be a number of requests per second"),
    ("request_rate", True, TypeError, "request_rate must be a number of requests per second"),
    ("arrival", "bursty", ValueError, "arrival must be one of 'constant', 'poisson'"),
    ("seed", -1, ValueError, "seed must be in [0, 18446744073709551615]"),
    ("seed", 1.5, TypeError, "seed must be an int"),
    ("request_intervals", [], ValueError, "request_intervals must not be empty"),
    ("request_intervals", [10, 0], ValueError, "request_intervals[1] must be a finite number"),
    ("request_intervals", [math.nan], ValueError, "request_intervals[0] must be a finite"),
    ("request_intervals", ["10"], TypeError, "request_intervals[0] must be a number"),
    ("request_intervals", 5, TypeError, "request_intervals must be a file or a list"),
    ("request_intervals", "/no/such/file", ValueError, "request_intervals: cannot read"),
    ("latency_slo_ms", 0, ValueError, "latency_slo_ms must be a finite number of ms > 0"),
    ("latency_slo_ms", math.nan, ValueError, "latency_slo_ms must be a finite number of ms"),
    ("latency_slo_ms", "5", TypeError, "latency_slo_ms must be a number of milliseconds"),
    ("slo_percentile", 0, ValueError, "slo_percentile must be in (0, 100]"),
    ("slo_percentile", 101, ValueError, "slo_percentile must be in (0, 100]"),
    ("slo_percentile", 90, ValueError, "slo_percentile needs latency_slo_ms"),
    ("slo_resolution", 0, ValueError, "slo_resolution must be in (0, 1)"),
    ("slo_resolution", 0.05, ValueError, "slo_resolution needs latency_slo_ms"),
    ("slo_range", (10,), TypeError, "slo_range must be (low, high) or (low, high, step)"),
    ("slo_range", (10, 5), ValueError, "slo_range low must be < high"),
    ("slo_range", (0, 5), ValueError, "slo_range values must be finite and > 0"),
    ("slo_range", (1, "5"), TypeError, "slo_range must hold numbers"),
    ("slo_search", "golden", ValueError, "slo_search must be one of 'binary', 'linear'"),
    ("sequences", 1, TypeError, "sequences must be a bool"),
    ("sequence_length", 0, ValueError, "sequence_length must be >= 1"),
    ("sequence_length", 2.5, TypeError, "sequence_length must be an int or None"),
    ("sequence_length_variation", -1, ValueError, "sequence_length_variation must be a perc"),
    ("sequence_length_variation", 101, ValueError, "sequence_length_variation must be a perc"),
    ("sequence_id_range", (5, 2), ValueError, "sequence_id_range"),
    ("sequence_kwargs", "no", TypeError, "sequence_kwargs must be a bool"),
    ("cluster", 6379, TypeError, "cluster must be a str (a Ray address) or None"),
    ("cluster", "head", ValueError, "cluster must be 'auto', 'ray://HOST:PORT' or 'HOST:PORT'"),
    ("cluster", "ray://head:99999", ValueError, "cluster must be 'auto', 'ray://HOST:PORT'"),
    ("cluster", "http://head:80", ValueError, "cluster must be 'auto', 'ray://HOST:PORT'"),
    ("nodes", 0, ValueError, "nodes must be >= 1, got 0"),
    ("nodes", "every", ValueError, "nodes must be an int >= 1 or 'all'"),
    ("nodes", 2.0, TypeError, "nodes must be an int"),
    ("nodes", 2, ValueError, "nodes=2 runs configurations on several nodes of a Ray cluster"),
    ("streaming", "yes", TypeError, "streaming must be a bool"),
    ("goodput", {"ttfb": 1}, ValueError, "goodput: unknown SLO 'ttfb'"),
    ("goodput", {"ttft": 5}, ValueError, "goodput measures streamed responses"),
    ("min_goodput_fraction", 1.5, ValueError, "min_goodput_fraction must be in (0, 1]"),
    ("export_requests", 5, TypeError, "export_requests must be a file path"),
    ("burstiness", 0, ValueError, "burstiness must be a finite number in [0.01, 100]"),
    ("burstiness", 2.0, ValueError, "burstiness shapes gamma arrivals"),
    ("max_concurrency", 0, ValueError, "max_concurrency must be in [1, 4096]"),
    ("max_concurrency", 4, ValueError, "max_concurrency caps the requests in flight"),
    ("synthetic_input_tokens_mean", 0, ValueError, "synthetic_input_tokens_mean must be in [1,"),
    ("synthetic_input_tokens_stddev", -1, ValueError, "synthetic_input_tokens_stddev must be"),
    ("output_tokens_mean", 8, ValueError, "output_tokens_mean needs prompts"),
    ("output_tokens_stddev", 3, ValueError, "output_tokens_stddev needs output_tokens_mean"),
    ("num_prompts", 5, ValueError, "num_prompts shapes synthetic prompts"),
    ("vocab_size", 0, ValueError, "vocab_size must be in [1,"),
    ("prompt_seed", -1, ValueError, "prompt_seed must be an int in [0, 2**32)"),
    (
        "input_file",
        "/nonexistent/p.jsonl",
        ValueError,
        "input_file '/nonexistent/p.jsonl': no such",
    ),
    ("tokenizer", "/nonexistent/tok", ValueError, "tokenizer '/nonexistent/tok' is not a local"),
]


@pytest.mark.parametrize(("keyword", "value", "exc", "text"), BAD_VALUES)
def test_every_bad_value_is_rejected_naming_the_keyword(keyword, value, exc, text):
    with pytest.raises(exc) as caught:
        BenchmarkSettings.from_keywords(**{keyword: value})
    assert text in str(caught.value)
    assert "\n" not in str(caught.value)


def test_every_field_has_a_bad_value_case():
    fields = {f.name for f in dataclasses.fields(BenchmarkSettings)}
    covered = {KEYWORDS.get(k, k) for k, *_ in BAD_VALUES}
    assert fields == covered


def test_cluster_addresses_and_node_counts_are_kept():
    for address in ("auto", "ray://10.0.0.5:10001", "head-node.internal:6379", "[::1]:6379"):
        assert BenchmarkSettings(cluster=address).cluster == address
    settings = BenchmarkSettings(cluster="auto", nodes="all")
    assert BenchmarkSettings.from_json(settings.to_json()) == settings
    assert BenchmarkSettings.from_keywords(cluster="auto", nodes=3).nodes == 3


def test_direct_construction_names_the_field():
    with pytest.raises(ValueError, match=r"^duration_s must be a finite"):
        BenchmarkSettings(duration_s=-1)
    with pytest.raises(ValueError, match=r"^stats_interval_s must be"):
        BenchmarkSettings(stats_interval_s=0)


def test_unknown_and_unit_named_keywords_are_rejected():
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: \['no_such'\]"):
        BenchmarkSettings.from_keywords(no_such=1)
    # benchmark() takes NeuronPerf's names; the field names with units are not keywords.
    with pytest.raises(TypeError, match="duration_s"):
        BenchmarkSettings.from_keywords(duration_s=5)


def test_values_are_normalized_not_replaced():
    s = BenchmarkSettings.from_keywords(
        batch_sizes=8,
        duration=5,
        n_models=[1, 2],
        device_type="CUDA",
        percentiles=[99.9, 99.9, 50],
        shared_memory=None,
        input_names=["b", "a"],
    )
    assert s.batch_sizes == (8,)
    assert s.duration_s == 5.0 and isinstance(s.duration_s, float)
    assert s.n_models == (1, 2)
    assert s.device_type == "gpu"
    assert s.percentiles == (99.9, 50.0)
    assert s.shared_memory == "none"
    assert s.input_names == ("b", "a")


def test_defaults_are_neuronperfs():
    s = BenchmarkSettings()
    assert s.duration_s == npf.BENCHMARK_SECS
    assert (s.batch_sizes, s.n_models, s.workers_per_model) == (None, None, None)
    assert (s.multiprocess, s.multiinterpreter, s.return_timers) == (True, False, False)
    assert s.stats_interval_s == 0.5 and s.device_type == "neuron" and s.verbosity == 1
    assert s.reuse_copies is True and s.load_timeout_s == 600.0


def test_frozen_and_replace_validates_again():
    s = BenchmarkSettings(duration_s=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.duration_s = 6
    assert s.replace(duration_s=7).duration_s == 7.0
    with pytest.raises(ValueError, match="duration_s"):
        s.replace(duration_s=-7)


def test_json_round_trip():
    s = BenchmarkSettings.from_keywords(
        batch_sizes=[1, 8], duration=2.5, percentiles=[99.9], input_names=["x"], max_rss_mb=512
    )
    text = s.to_json()
    data = json.loads(text)
    assert data["schema"] == 1 and data["batch_sizes"] == [1, 8]
    assert BenchmarkSettings.from_json(text) == s
    assert BenchmarkSettings.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"schema": 2}, "unsupported settings schema 2"),
        ({"schema": 1, "durations": 5}, r"unknown keys \['durations'\]"),
        ({"schema": 1, "duration_s": -1}, "duration_s must be"),
    ],
)
def test_bad_serialized_settings(data, match):
    with pytest.raises(ValueError, match=match):
        BenchmarkSettings.from_dict(data)
    with pytest.raises(ValueError, match="not JSON"):
        BenchmarkSettings.from_json("{")


def test_stability_becomes_a_rule_bounded_by_the_duration_with_short_windows():
    s = BenchmarkSettings.from_keywords(stability=0.05, duration=30)
    assert s.stability.rel_ci == 0.05 and s.stability.max_s == 30.0
    assert s.window_s == 0.1  # the rule needs several windows per second
    assert BenchmarkSettings.from_keywords(stability=True, window_s=0.5).window_s == 0.5
    assert BenchmarkSettings().window_s == 1.0 and BenchmarkSettings().stability is None
    assert BenchmarkSettings.from_json(s.to_json()) == s
    rule = BenchmarkSettings.from_keywords(stability={"max_s": 10, "percentile": 90}).stability
    assert (rule.max_s, rule.percentile, rule.rel_ci) == (10.0, 90.0, 0.02)


def test_a_latency_slo_search_does_not_run_on_a_cluster():
    with pytest.raises(ValueError, match="latency_slo_ms searches with probes on this host"):
        BenchmarkSettings.from_keywords(latency_slo_ms=5, cluster="auto")


def test_load_mode_rate_is_specs_name_of_the_open_loop():
    s = BenchmarkSettings.from_keywords(load_mode="rate", request_rate=100)
    assert s.load_mode == "open" and s.request_rate == (100.0,)


def test_copy_mode():
    assert BenchmarkSettings().copy_mode == "process"
    assert BenchmarkSettings(multiinterpreter=True).copy_mode == "interpreter"
    assert BenchmarkSettings(multiprocess=False).copy_mode == "thread"
    # NeuronPerf: a fresh interpreter per copy wins over multiprocess=False
    assert BenchmarkSettings(multiprocess=False, multiinterpreter=True).copy_mode == "interpreter"


# Load modes -----------------------------------------------------------------------

# (keywords, exception, text): combinations that contradict each other.
BAD_LOAD_COMBINATIONS = [
    ({"load_mode": "closed", "request_rate": 100}, ValueError, "request_rate schedules an open"),
    ({"load_mode": "closed", "request_intervals": [10]}, ValueError, "request_intervals sched"),
    ({"load_mode": "open"}, ValueError, "load_mode='open' needs request_rate"),
    ({"request_rate": 100, "request_intervals": [10]}, ValueError, "not both"),
    ({"arrival": "poisson"}, ValueError, "arrival='poisson' draws open-loop arrivals"),
    ({"request_intervals": [10], "arrival": "poisson"}, ValueError, "replay their own gaps"),
    ({"request_rate": 100, "seed": 3}, ValueError, "seed draws Poisson or gamma arrivals"),
    ({"slo_range": (1, 8)}, ValueError, "slo_range needs latency_slo_ms"),
    ({"slo_search": "linear"}, ValueError, "slo_search needs latency_slo_ms"),
    ({"latency_slo_ms": 5, "request_intervals": [10]}, ValueError, "replay fixed gaps"),
    ({"latency_slo_ms": 5, "n_models": [1, 2]}, ValueError, "one n_models value"),
    (
        {"latency_slo_ms": 5, "request_rate": 10, "workers_per_model": [1, 2]},
        ValueError,
        "one workers_per_model value",
    ),
    (
        {"latency_slo_ms": 5, "request_rate": [10, 20], "slo_search": "binary"},
        ValueError,
        "starts from one request_rate",
    ),
    (
        {"latency_slo_ms": 5, "workers_per_model": [1, 4], "slo_search": "binary"},
        ValueError,
        "starts from one workers",
    ),
    (
        {"latency_slo_ms": 5, "request_rate": 10, "slo_range": (5, 50)},
        ValueError,
        "give request_rate (the first probe) or slo_range",
    ),
    (
        {"latency_slo_ms": 5, "load_mode": "open", "slo_range": (5, 50, 1), "slo_resolution": 0.1},
        ValueError,
        "not both",
    ),
    ({"latency_slo_ms": 5, "slo_range": (1.5, 8)}, ValueError, "whole numbers"),
    ({"latency_slo_ms": 5, "slo_search": "linear"}, ValueError, "steps through the workers"),
    (
        {"latency_slo_ms": 5, "slo_search": "linear", "request_rate": [1, 2], "slo_range": (1, 2)},
        ValueError,
        "slo_range is for 'binary'",
    ),
]


@pytest.mark.parametrize(("keywords", "exc", "text"), BAD_LOAD_COMBINATIONS)
def test_contradicting_load_settings_are_rejected_naming_them(keywords, exc, text):
    with pytest.raises(exc) as caught:
        BenchmarkSettings.from_keywords(**keywords)
    assert text in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_mode_follows_the_schedule_and_rates_are_an_axis():
    assert BenchmarkSettings().load_mode == "closed"
    s = BenchmarkSettings.from_keywords(request_rate=[1000, 2500.5])
    assert s.load_mode == "open" and s.request_rate == (1000.0, 2500.5)
    assert BenchmarkSettings.from_keywords(request_rate=50).request_rate == (50.0,)
    poisson = BenchmarkSettings.from_keywords(request_rate=50, arrival="poisson", seed=7)
    assert (poisson.arrival, poisson.seed) == ("poisson", 7)
    assert BenchmarkSettings.from_json(poisson.to_json()) == poisson
    search = BenchmarkSettings.from_keywords(load_mode="open", latency_slo_ms=5)
    assert search.load_mode == "open" and search.request_rate is None
    closed_search = BenchmarkSettings.from_keywords(latency_slo_ms=5, slo_range=(1, 16))
    assert closed_search.load_mode == "closed" and closed_search.slo_range == (1.0, 16.0)


def test_interval_files_are_read_into_microseconds_at_validation(tmp_path):
    path = tmp_path / "intervals.txt"
    path.write_text("100\n2.5\n\n1000  \n")
    s = BenchmarkSettings.from_keywords(request_intervals=path)
    assert s.load_mode == "open"
    assert s.request_intervals.intervals_us().tolist() == [100.0, 2.5, 1000.0]
    assert s.request_intervals == IntervalTrace.of([100, 2.5, 1000])
    assert s.to_dict()["request_intervals"] == str(path)  # serializable: the file, read again
    assert BenchmarkSettings.from_json(s.to_json()) == s
    assert BenchmarkSettings.from_keywords(request_intervals=str(path)) == s
    listed = BenchmarkSettings.from_keywords(request_intervals=[100, 2.5, 1000])
    assert listed.to_dict()["request_intervals"] == [100.0, 2.5, 1000.0]
    assert BenchmarkSettings.from_json(listed.to_json()) == listed == s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no intervals"),
        ("\n  \n", "holds no intervals"),
        ("100\nabc\n", "line 2 ('abc') is not a number of microseconds"),
        ("100\n-3\n", "line 2 (-3) must be a finite number of microseconds"),
        ("NaN\n", "line 1 (NaN) must be a finite number"),
        ("1e30\n", "line 1 (1e30) must be a finite number of microseconds in [0.001, 1e+13]"),
        ("1\n" + "9" * 80 + "\n", "line 2 is longer than 64 characters"),
    ],
)
def test_bad_interval_files_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        BenchmarkSettings.from_keywords(request_intervals=path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value) and "request_intervals" in str(caught.value)
