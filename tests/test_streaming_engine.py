"""engine.run(stream=...): streamed responses, token metrics, goodput, request records.

Timing-dependent values are checked through relations the engine guarantees (lower
bounds from sleeps, per-request records against the histograms), never as absolute
timings, so the tests hold on a loaded machine.
"""

import json
import time

import numpy as np
import pytest

from neuronperf_native import engine
from neuronperf_native.engine import Histogram, StreamOptions
from neuronperf_native.streaming import REQUEST_FIELDS, parse_goodput, request_records


def tokens_of(items):
    """A model whose call streams `items`."""

    def model(*_args):
        return iter(items)

    return model


def at_least(value_ns):
    """The lowest value a histogram may report for `value_ns` (3 significant digits)."""
    return value_ns * 0.999


def within_bucket(hist, value_ns):
    """The value a histogram reports for `value_ns` (its bucket's highest equivalent)."""
    h = engine.Histogram()
    h.record(int(value_ns))
    return h.value_at_percentile(50)


def test_token_counts_of_each_item_kind():
    items = [7, [1, 2, 3], (4, 5), np.arange(4, dtype=np.int32), "text", "", [], b"x", 2.5, True]
    # 1 + 3 + 2 + 4 + 1 + 0 + 0 + 1 + 1 + 1: empty items are not items
    r = engine.run(tokens_of(items), max_iterations=10, stream=True)
    assert r.status == "finished", r.error
    t = r.tokens
    assert t.requests == 10
    assert t.output_tokens_total == 140
    assert t.output_tokens.min == t.output_tokens.max == 14
    assert t.itl.count == 10 * 7  # eight items per request: seven gaps
    assert t.ttft.count == t.tpot.count == 10
    assert t.input_tokens.count == 0  # no prompt lengths given
    assert t.empty_requests == 0 and t.good_requests == 10


def test_token_count_fn_counts_each_item():
    r = engine.run(tokens_of(["ab", "cde", "f"]), max_iterations=5, stream=True, token_count_fn=len)
    assert r.tokens.output_tokens_total == 5 * 6
    assert r.tokens.itl.count == 5 * 2


def test_a_float_array_or_a_nested_list_is_one_token():
    r = engine.run(tokens_of([np.zeros(5), [[1, 2, 3]]]), max_iterations=2, stream=True)
    assert r.tokens.output_tokens_total == 4


def test_input_tokens_are_the_prompt_lengths_of_the_inputs():
    r = engine.run(
        lambda ids: iter(ids),
        [([1, 2, 3],), ([4, 5, 6, 7, 8],)],
        max_iterations=10,
        stream=True,
        input_tokens=[3, 5],
    )
    t = r.tokens
    assert t.input_tokens_total == 5 * 3 + 5 * 5
    assert t.input_tokens.count == 10
    assert t.output_tokens_total == 5 * 3 + 5 * 5  # the model echoes its prompt, one id an item


def test_ttft_itl_tpot_and_e2e_bound_the_known_schedule():
    first_s, gap_s, n = 0.02, 0.005, 6

    def model():
        time.sleep(first_s)
        yield 0
        for i in range(1, n):
            time.sleep(gap_s)
            yield i

    r = engine.run(model, max_iterations=4, warmup=1, stream=True)
    t = r.tokens
    assert t.requests == 4 and t.output_tokens_total == 4 * n
    # Sleeps never end early: every value is at least its schedule.
    assert t.ttft.min >= at_least(int(first_s * 1e9))
    assert t.itl.min >= at_least(int(gap_s * 1e9))
    assert t.itl.count == 4 * (n - 1)
    assert t.tpot.min >= at_least(int(gap_s * 1e9))
    assert r.latency.min >= at_least(int((first_s + (n - 1) * gap_s) * 1e9))
    # TPOT of one request is the mean of its gaps; the per-user rate is its inverse.
    assert t.user_rate_count == 4
    assert t.user_rate_sum / 4 <= 1 / gap_s


def test_records_agree_with_the_histograms():
    """Per-request records, measured apart from the histograms, give the same metrics."""

    def model(k):
        time.sleep(0.001 * k)
        yield from range(k + 1)

    r = engine.run(
        model,
        [(1,), (2,), (3,)],
        max_iterations=9,
        workers=2,
        stream=StreamOptions(record_requests=True),
        input_tokens=[10, 20, 30],
    )
    assert r.status == "finished", r.error
    rows = r.requests
    assert rows.shape == (9, len(REQUEST_FIELDS))
    rec = {name: rows[:, i] for i, name in enumerate(REQUEST_FIELDS)}
    assert set(rec["output_tokens"]) == {2, 3, 4}
    assert np.all(rec["input_tokens"] == rec["output_tokens"] * 10 - 10)
    assert np.all(rec["items"] == rec["output_tokens"])
    assert set(rec["worker"]) <= {0, 1}
    assert np.all(rec["scheduled_ns"] <= rec["start_ns"])
    assert np.all(rec["start_ns"] < rec["first_token_ns"])
    assert np.all(rec["first_token_ns"] <= rec["last_token_ns"])
    assert np.all(rec["last_token_ns"] <= rec["end_ns"])
    ttft = rec["first_token_ns"] - rec["scheduled_ns"]
    assert r.tokens.ttft.count == 9
    assert r.tokens.ttft.max == within_bucket(r.tokens.ttft, ttft.max())
    assert r.tokens.ttft.min >= at_least(ttft.min())
    tpot = (rec["last_token_ns"] - rec["first_token_ns"]) // (rec["output_tokens"] - 1)
    assert r.tokens.tpot.max == within_bucket(r.tokens.tpot, tpot.max())
    e2e = rec["end_ns"] - rec["scheduled_ns"]
    assert r.latency.max == within_bucket(r.latency, e2e.max())
    dicts = request_records(rows)
    assert len(dicts) == 9 and set(dicts[0]) == set(REQUEST_FIELDS)


def test_goodput_counts_requests_meeting_every_slo():
    """Half the requests are slow to their first token: a TTFT SLO between the two
    kinds counts the other half as good."""

    def model(slow):
        if slow:
            time.sleep(0.3)
        yield 1
        yield 2

    r = engine.run(
        model,
        [(True,), (False,)],
        max_iterations=8,
        stream=StreamOptions(goodput={"ttft": 150}),
    )
    assert r.tokens.requests == 8
    assert r.tokens.good_requests == 4
    both = engine.run(
        model,
        [(True,), (False,)],
        max_iterations=4,
        stream=StreamOptions(goodput={"ttft_ms": 150, "e2e_ms": 0.000001}),
    )
    assert both.tokens.good_requests == 0  # every request misses the e2e SLO


def test_open_loop_stall_delays_the_ttft_of_queued_requests():
    """No coordinated omission: a stalled request makes the ones queued behind it late,
    and their TTFT counts from when they were due."""
    calls = []

    def model():
        calls.append(1)
        if len(calls) == 2:  # the first timed request stalls
            time.sleep(0.2)
        yield 1

    r = engine.run(model, workers=1, request_rate=200, max_iterations=10, stream=True)
    assert r.status == "finished", r.error
    t = r.tokens
    assert t.requests == 10
    # Requests 1.. were due every 5 ms but waited for the 200 ms stall.
    assert t.ttft.max >= at_least(int(0.2e9))
    assert t.ttft.value_at_percentile(50) >= at_least(int(0.2e9 - 10 * 5e6))
    assert r.stage("schedule_lag").max >= at_least(int(0.18e9))


def test_gamma_arrivals_run_an_open_loop():
    r = engine.run(
        engine.native_model("noop"),
        request_rate=2000,
        arrival="gamma",
        burstiness=0.5,
        seed=3,
        max_iterations=200,
    )
    assert r.status == "finished"
    assert r.arrival == "gamma"
    assert r.iterations == 200


def test_native_stream_model_and_windows_carry_token_metrics():
    model = engine.native_model("stream", first_token_ns=100_000, token_ns=20_000, tokens=5)
    runner = engine.Runner(model, workers=2, max_iterations=60, stream=True, window_s=0.005)
    result = runner.run()
    windows = runner.poll_windows()
    t = result.tokens
    assert t.requests == 60 and t.output_tokens_total == 300
    assert t.ttft.min >= at_least(100_000)
    assert sum(w.count for w in windows) == 60
    assert sum(w.latency("ttft").count for w in windows) == 60
    assert sum(w.latency("itl").count for w in windows) == 60 * 4
    assert sum(h.count for h in result.metric_window_histograms("tpot")) == 60
    with pytest.raises(KeyError):
        windows[0].latency("bogus")


def test_a_streamed_run_keeps_as_many_window_histograms_as_a_plain_one():
    """e2e and the 3 token metrics share the result's 1,024 window histograms: beyond
    256 windows adjacent ones merge pairwise (memory at the end of a long streamed run),
    and together they still hold every value."""
    model = engine.native_model("stream", first_token_ns=20_000, token_ns=10_000, tokens=3)
    r = engine.run(model, duration_s=0.6, window_s=0.001, stream=True)
    assert r.status == "finished", r.error
    span = r.window_histogram_span
    assert len(r.windows) > 512 and span == 4
    lists = [r.window_histograms, *r.token_window_histograms.values()]
    assert [len(hists) for hists in lists] == [-(-len(r.windows) // span)] * 4
    assert sum(map(len, lists)) <= 1024
    for j, h in enumerate(r.window_histograms):
        assert h.count == sum(r.windows[j * span : (j + 1) * span])
    for metric in ("ttft", "itl", "tpot"):
        merged = Histogram()
        for h in r.metric_window_histograms(metric):
            merged.merge(h)
        assert merged == getattr(r.tokens, metric)


def test_to_dict_round_trip_keeps_the_token_metrics():
    r = engine.run(tokens_of([1, 2, 3]), max_iterations=7, stream=True)
    back = engine.RunResult.from_dict(r.to_dict())
    assert back.streaming
    assert back.tokens.requests == 7
    assert back.tokens.output_tokens_total == 21
    assert back.tokens.itl.count == 14
    assert sum(h.count for h in back.metric_window_histograms("ttft")) == 7
    plain = engine.RunResult.from_dict(engine.run(lambda: 1, max_iterations=3).to_dict())
    assert not plain.streaming and plain.tokens is None


def test_many_python_workers_stream_concurrently():
    def model():
        yield from range(50)

    r = engine.run(model, workers=4, max_iterations=400, stream=True)
    assert r.status == "finished", r.error
    assert r.tokens.output_tokens_total == 400 * 50
    assert r.tokens.itl.count == 400 * 49


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (lambda: 5, "must return an iterator of tokens"),
        (lambda: "a string", "got a str"),
        (lambda: {"tokens": [1]}, "got a dict"),
    ],
)
def test_a_model_that_returns_no_iterator_fails_the_run_naming_it(model, message):
    r = engine.run(model, max_iterations=3, warmup=0, stream=True)
    assert r.status == "error"
    assert r.error_info["type"] == "TypeError"
    assert message in r.error_info["message"]


def test_a_bad_token_count_fails_the_run_naming_token_count_fn():
    r = engine.run(tokens_of([1]), max_iterations=3, stream=True, token_count_fn=lambda _: -2)
    assert r.status == "error"
    assert "token_count_fn must return an int >= 0" in r.error_info["message"]


def test_a_stream_that_raises_keeps_what_was_measured():
    calls = []

    def model():
        calls.append(1)
        yield 1
        if len(calls) == 4:
            raise RuntimeError("decode failed")
        yield 2

    r = engine.run(model, max_iterations=10, warmup=0, stream=True)
    assert r.status == "error"
    assert "decode failed" in r.error
    assert r.tokens.requests == 3
    assert r.tokens.output_tokens_total == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token_count_fn": len}, "pass stream="),
        ({"stream": True, "postprocess": print}, "postprocess does not apply"),
        ({"stream": True, "input_tokens": [1, 2]}, "one count per input"),
        ({"stream": "yes"}, "stream must be"),
        ({"stream": StreamOptions(goodput={"ttft": 1}), "token_count_fn": 3}, "token_count_fn"),
        ({"arrival": "gamma", "request_rate": 10, "burstiness": 0}, "burstiness"),
        ({"request_rate": 10, "burstiness": 2.0}, "1 unless arrival='gamma'"),
    ],
)
def test_bad_stream_arguments_are_refused_before_work(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        engine.run(tokens_of([1]), [(1,)], max_iterations=1, **kwargs)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"ttfb": 3}, "unknown SLO 'ttfb'"),
        ({"ttft": -1}, "must be a number of ms"),
        ({"ttft": 1, "time_to_first_token": 2}, "repeats"),
        ("ttft=5", "is not KEY:MS"),
        ({}, "at least one SLO"),
    ],
)
def test_bad_goodput_is_one_line_naming_it(value, message):
    with pytest.raises((TypeError, ValueError), match=message):
        parse_goodput(value)


def test_goodput_accepts_vllm_and_aiperf_names():
    assert parse_goodput("ttft:200 tpot:50 e2el:900") == {
        "ttft_ms": 200.0,
        "tpot_ms": 50.0,
        "e2e_ms": 900.0,
    }
    assert parse_goodput(["time_to_first_token:100", "inter_token_latency:3.4"]) == {
        "ttft_ms": 100.0,
        "tpot_ms": 3.4,
    }
    assert parse_goodput({"request_latency": 5}) == {"e2e_ms": 5.0}


def test_run_options_hold_the_stream_group_and_cross_a_pipe():
    options = engine.RunOptions(
        max_iterations=3, stream=StreamOptions(goodput={"ttft": 5}, record_requests=True)
    )
    back = engine.RunOptions.from_dict(json.loads(json.dumps(options.to_dict())))
    assert back == options
    assert back.stream.goodput == {"ttft_ms": 5.0}
    assert engine.RunOptions(stream=True).stream == StreamOptions()
    r = engine.run(tokens_of([1, 2]), None, options)
    assert r.tokens.good_requests + 0 <= r.tokens.requests == 3
    assert r.requests.shape == (3, len(REQUEST_FIELDS))
