"""npf.benchmark(streaming=True): prompts, token report keys, goodput, export, search, CLI."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

import neuronperf_native as npf
from neuronperf_native.prompts import PromptError, PromptOptions

HERE = os.path.dirname(__file__)


class Echo:
    """Streams max_new_tokens ids after a 1 ms prefill; records what it was given."""

    def __call__(self, input_ids, max_new_tokens):
        time.sleep(0.001)
        yield from range(max_new_tokens)


class SlowOdd:
    """Prompts starting with an odd id wait 200 ms for their first token."""

    def __call__(self, input_ids, max_new_tokens):
        if input_ids[0] % 2:
            time.sleep(0.2)
        yield 1
        yield 2


_LOCK = threading.Lock()


class SharedPrefill:
    """Each request's prefill holds one lock for 10 ms: TTFT grows with concurrency."""

    def __call__(self, input_ids, max_new_tokens):
        with _LOCK:
            time.sleep(0.01)
        yield from range(max_new_tokens)


def load_class(cls):
    return lambda filename, device_id=0: cls()


def run(cls, **kwargs):
    kwargs = {
        "duration": 1,
        "n_models": [1],
        "workers_per_model": [1],
        "device_type": "cpu",
        "verbosity": 0,
        "streaming": True,
        **kwargs,
    }
    return npf.benchmark(load_class(cls), cls.__name__, None, **kwargs)


def test_synthetic_prompts_stream_and_report_token_keys():
    (report,) = run(
        Echo,
        multiprocess=False,
        synthetic_input_tokens_mean=12,
        output_tokens_mean=6,
        goodput={"ttft": 500},
    )
    assert report["status"] == "finished", report["error"]
    n = report["requests_streamed"]
    assert n == report["total_infs"] > 0
    assert report["output_tokens_total"] == 6 * n
    assert report["output_tokens_per_request_avg"] == 6
    assert report["input_tokens_per_request_avg"] == 12
    assert report["input_tokens_total"] == 12 * n
    assert report["ttft_ms_p50"] >= 1.0 * 0.999  # the 1 ms prefill
    assert report["ttft_ms_p50"] <= report["latency_ms_p50"]
    for metric in ("ttft", "itl", "tpot"):
        assert report[f"{metric}_ms_p99"] is not None
        assert f"{metric}_ms_p99_ci" in report
    assert report["output_tokens_per_s"] == pytest.approx(6 * n / report["total_s"])
    assert report["good_requests"] <= n
    assert report["goodput"] == pytest.approx(report["good_requests"] / report["total_s"])
    assert report["streaming"] is True
    assert report["goodput_fraction_ci"][0] <= report["goodput_fraction"] <= 1


def test_goodput_counts_the_half_of_requests_that_meet_the_ttft_slo(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(json.dumps({"input_ids": [k, 7], "output_tokens": 2}) for k in range(4))
    )
    (report,) = run(
        SlowOdd, multiprocess=False, input_file=str(prompts), goodput={"ttft": 100}, duration=1.5
    )
    n = report["requests_streamed"]
    # One worker cycles through the prompts in order: odd ids are every other request.
    assert abs(report["good_requests"] - n / 2) <= 1
    assert report["goodput_fraction"] == pytest.approx(report["good_requests"] / n)


def test_processes_send_request_records_to_export(tmp_path):
    path = tmp_path / "requests.jsonl"
    reports = run(
        Echo,
        n_models=[2],
        synthetic_input_tokens_mean=4,
        output_tokens_mean=3,
        export_requests=str(path),
        duration=0.5,
    )
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == reports[0]["requests_streamed"]
    assert {line["copy_id"] for line in lines} == {0, 1}
    first = lines[0]
    assert first["output_tokens"] == 3 and first["input_tokens"] == 4
    assert first["scheduled_ns"] <= first["start_ns"] < first["first_token_ns"] <= first["end_ns"]
    assert first["ttft_ms"] == pytest.approx(
        (first["first_token_ns"] - first["scheduled_ns"]) / 1e6
    )


def test_export_requests_is_checked_first_and_a_failed_write_keeps_the_reports(
    tmp_path, monkeypatch, caplog
):
    from neuronperf_native import request_log

    prompts = {"synthetic_input_tokens_mean": 4, "output_tokens_mean": 2, "duration": 0.3}
    missing = str(tmp_path / "no" / "r.jsonl")
    with pytest.raises(ValueError, match=r"export_requests .*: folder .* does not exist"):
        run(Echo, multiprocess=False, export_requests=missing, **prompts)

    def full_disk(path, results):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(request_log, "write_requests", full_disk)
    (report,) = run(Echo, multiprocess=False, export_requests=str(tmp_path / "r.jsonl"), **prompts)
    assert report["status"] == "finished" and report["requests_streamed"] > 0
    assert "cannot write export_requests" in caplog.text and "No space left" in caplog.text


def test_open_loop_max_concurrency_caps_workers_and_reports_the_wait():
    (report,) = run(
        SharedPrefill,
        multiprocess=False,
        workers_per_model=None,
        synthetic_input_tokens_mean=4,
        output_tokens_mean=2,
        request_rate=400,  # 10 ms prefills behind one lock serve ~100/s: requests wait
        max_concurrency=2,
    )
    assert report["workers_per_model"] == 2
    assert report["max_concurrency"] == 2
    # The wait for a slot counts in TTFT (from when each request was due).
    assert report["schedule_lag_ms_p99"] > 10
    assert report["ttft_ms_p99"] >= report["schedule_lag_ms_p99"]


def test_stability_on_ttft_judges_the_token_metric():
    (report,) = run(
        Echo,
        multiprocess=False,
        synthetic_input_tokens_mean=4,
        output_tokens_mean=4,
        duration=3,
        stability={"metric": "ttft", "percentile": 50, "rel_ci": 0.5, "min_s": 0.5},
    )
    assert report["status"] == "finished"
    assert report["stability"]["metric"] == "ttft"
    assert report["stopping"]["stable"] is True
    assert report["total_s"] < 3


def test_goodput_search_finds_the_highest_concurrency_keeping_the_fraction():
    reports = run(
        SharedPrefill,
        multiprocess=False,
        synthetic_input_tokens_mean=4,
        output_tokens_mean=2,
        workers_per_model=[1, 2, 6],
        goodput={"ttft": 35},
        min_goodput_fraction=0.9,
        slo_search="linear",
        duration=1,
    )
    met = {r["workers_per_model"]: r["slo"]["met"] for r in reports}
    # 10 ms prefills behind one lock: TTFT ~ 10 ms x concurrency.
    assert met[1] is True
    assert met.get(6) is not True
    best = [r for r in reports if r["slo"]["best"]]
    assert len(best) == 1 and best[0]["workers_per_model"] in (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"output_tokens_mean": 4}, ValueError, "output_tokens_mean needs prompts"),
        ({"synthetic_input_tokens_mean": 4}, ValueError, "need output_tokens_mean"),
        ({"goodput": {"speed": 1}}, ValueError, "unknown SLO 'speed'"),
        ({"streaming": False, "goodput": {"ttft": 1}}, ValueError, "needs streaming=True"),
        ({"stability": {"metric": "ttft"}, "streaming": False}, ValueError, "needs streaming"),
        ({"max_concurrency": 2}, ValueError, "max_concurrency caps"),
    ],
)
def test_bad_generative_settings_are_one_line_before_work(kwargs, error, text):
    with pytest.raises(error, match=text) as caught:
        run(Echo, dry_run=True, **kwargs)
    assert "\n" not in str(caught.value)


def test_prompt_sources(tmp_path):
    options = {
        "synthetic_input_tokens_mean": 20,
        "synthetic_input_tokens_stddev": 5,
        "output_tokens_mean": 10,
        "num_prompts": 300,
        "vocab_size": 50,
        "prompt_seed": 3,
    }
    synthetic = PromptOptions(**options).build()
    assert len(synthetic) == 300
    lengths = synthetic.input_tokens
    assert min(lengths) >= 1 and abs(sum(lengths) / 300 - 20) < 1.5
    assert all(ids.min() >= 0 and ids.max() < 50 for ids in synthetic.input_ids)
    assert set(synthetic.max_new_tokens) == {10}
    again = PromptOptions(**options).build()
    assert all((a == b).all() for a, b in zip(synthetic.input_ids, again.input_ids, strict=True))
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"input_ids": [1, 2, 3], "output_tokens": 4}\n\n{"input_ids": [5]}\n')
    with pytest.raises(PromptError, match="prompt 1 has no output length"):
        PromptOptions(input_file=str(lines)).build()
    read = PromptOptions(input_file=str(lines), output_tokens_mean=2).build()
    assert read.input_tokens == [3, 1] and read.max_new_tokens == (2, 2)
    assert read.rotated(1).input_tokens == [1, 3]
    assert read.arguments(lambda ids, n: {"ids": list(ids), "n": n})[0] == (
        {"ids": [1, 2, 3], "n": 2},
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "hello", "output_tokens": 3}', "they need tokenizer"),
        ('{"input_ids": [], "output_tokens": 3}', "line 1: 'input_ids' must be a non-empty list"),
        ('{"prompt": "a", "input_ids": [1]}', "exactly one"),
        ('{"input_ids": [1], "output_tokens": 0}', "'output_tokens' must be an int >= 1"),
        ("[1, 2]", "entry 0 has no 'conversations' list"),
        ("{bad", "line 1: not JSON"),
    ],
)
def test_bad_prompt_files_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "prompts.txt"
    path.write_text(text)
    with pytest.raises(PromptError, match=message):
        PromptOptions(input_file=str(path)).build()


def test_sharegpt_text_prompts_use_a_local_tokenizer(tmp_path):
    tokenizer = _word_tokenizer(tmp_path / "tok")
    data = [
        {
            "id": "a",
            "conversations": [
                {"from": "human", "value": "one two three"},
                {"from": "gpt", "value": "four five"},
            ],
        },
        {"id": "b", "conversations": [{"from": "human", "value": "lonely"}]},
    ]
    path = tmp_path / "sharegpt.json"
    path.write_text(json.dumps(data))
    prompts = PromptOptions(input_file=str(path), tokenizer=str(tokenizer)).build()
    assert len(prompts) == 1  # conversations of one turn are skipped (vLLM's reading)
    assert prompts.input_tokens == [3] and prompts.max_new_tokens == (2,)


def _word_tokenizer(folder):
    """A word-level tokenizer saved as a transformers folder (a test fixture, no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["one", "two", "three", "four", "five", "lonely"]
    model = models.WordLevel(
        {w: i + 1 for i, w in enumerate(words)} | {"[UNK]": 0}, unk_token="[UNK]"
    )
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(folder)
    return folder


def test_cli_streaming_table_csv_and_goodput(tmp_path):
    csv_path, json_path = tmp_path / "r.csv", tmp_path / "r.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "neuronperf_native", "bench",
            os.path.join(HERE, "data", "streaming_model.py") + ":Model",
            "--streaming", "--synthetic-input-tokens-mean", "8", "--output-tokens-mean", "4",
            "--concurrency", "1", "--goodput", "ttft:500", "tpot:50", "--duration", "0.5",
            "--csv", str(csv_path), "--json", str(json_path),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    for column in ("output tokens/s", "ttft_p50 (ms)", "itl_p99", "tpot_p50", "goodput (req/s)"):
        assert column in header
    csv_head = csv_path.read_text().splitlines()[0].split(",")
    assert {"ttft_ms_p99", "output_tokens_per_s", "goodput_fraction"} <= set(csv_head)
    (report,) = json.loads(json_path.read_text())
    assert report["goodput"] is not None and report["output_tokens_per_request_avg"] == 4


def test_cli_refuses_goodput_without_streaming():
    result = subprocess.run(
        [
            sys.executable, "-m", "neuronperf_native", "bench",
            os.path.join(HERE, "data", "streaming_model.py") + ":Model",
            "--synthetic-input-tokens-mean", "8", "--output-tokens-mean", "4",
            "--goodput", "ttft:5", "--duration", "0.5",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--goodput measures streamed responses: add --streaming" in result.stderr


def test_html_report_adds_the_token_charts(tmp_path):
    reports = run(
        Echo,
        multiprocess=False,
        workers_per_model=[1, 2],
        synthetic_input_tokens_mean=4,
        output_tokens_mean=4,
        duration=0.5,
    )
    path = npf.write_html(reports, str(tmp_path / "report.html"))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for title in (
        "Output tokens/s vs TTFT p99",
        "Tokens/s: system vs per user",
        "TTFT percentiles",
        "ITL percentiles",
    ):
        assert title in text


class Keywords:
    """A model taking its prompt as keywords (a request_fn maps prompts to them)."""

    def __call__(self, request):
        yield from range(request["n"])


def test_request_fn_maps_each_prompt_to_the_call():
    (report,) = run(
        Keywords,
        multiprocess=False,
        synthetic_input_tokens_mean=5,
        output_tokens_mean=3,
        request_fn=lambda ids, n: {"ids": ids, "n": n},
        duration=0.5,
    )
    assert report["status"] == "finished", report["error"]
    assert report["output_tokens_per_request_avg"] == 3
    assert report["input_tokens_per_request_avg"] == 5
