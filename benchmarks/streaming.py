"""Streamed responses: the engine's truth, cost and memory, and a tiny HF model side by side.

    python benchmarks/streaming.py [--quick] [--only truth,cost,hf,memory]

1. Truth: a Python generator with a known schedule (first token 20 ms after the call,
   then one every 5 ms, 32 tokens; time.sleep to each due time) and the native stream
   model (2 ms, then 200 us, 32 tokens; busy-waited), at 1 and 16 concurrent users
   (closed loop): reported TTFT and ITL p50 against the schedule. Target: within 1% +
   20 us. The native model busy-waits, so it needs a free core per user: on a busy
   machine a preempted spin delivers its overdue tokens in a burst when it runs again
   (ITL near 0, then one long gap), which is the model's schedule slipping, not the
   engine's stamps.
2. Cost: the native no-op stream (tokens as fast as the engine stamps them, 1,000 per
   request): engine ns per streamed token (the stamp, the gap kept, the histograms at
   the request's end; no model work). A Python generator of no-op tokens (yield from
   range(1000)) on one worker: tokens/s. Targets: <= 100 ns per token; >= 2 M tokens/s.
3. HF: the same tiny Llama (random weights, from a config) streamed by our engine
   (generative.HFGenerateStream: generate with a streamer) and by plain loops timed by
   hand (perf_counter at each token): over the same HFGenerateStream (what the engine
   measures, without the engine), and over generate with transformers'
   TextIteratorStreamer (the ecosystem's streamer: text chunks through a queue.Queue).
   Same prompt and lengths, 1 user. TTFT and ITL medians side by side, with each hand
   loop's own spread (the gap between its two halves) as its noise.
4. Memory: a Python generator streaming at full speed for 60 s (--quick: 12 s) on one
   worker, RSS sampled every second in a child process while it streams: growth over
   the last 10 s of streaming (target: <= 10 MB), and the RSS once the result (with its
   per-window histograms) is built.
Figures depend on the machine's load: run it on a quiet machine for reference numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

from neuronperf_native import engine

_TOKENS = 32


def _p50_ms(hist) -> float:
    return hist.value_at_percentile(50) / 1e6


def _python_schedule(first_s: float, gap_s: float):
    """A generator whose token k is due first_s + k gap_s after the call (each sleep
    ends at its due time, so a late wake-up does not shift the tokens after it)."""

    def model():
        start = time.perf_counter()
        for i in range(_TOKENS):
            time.sleep(max(0.0, start + first_s + i * gap_s - time.perf_counter()))
            yield i

    return model


def truth(quick: bool) -> None:
    print("== 1. truth: TTFT and ITL p50 against a known schedule (target: 1% + 20 us)")
    cases = [
        ("python generator 20 ms / 5 ms", _python_schedule(0.020, 0.005), 20.0, 5.0),
        (
            "native stream 2 ms / 200 us",
            engine.native_model(
                "stream", first_token_ns=2_000_000, token_ns=200_000, tokens=_TOKENS
            ),
            2.0,
            0.2,
        ),
    ]
    for name, model, ttft_ms, itl_ms in cases:
        for users in (1, 16):
            requests = (20 if quick else 60) * users
            r = engine.run(model, workers=users, max_iterations=requests, warmup=1, stream=True)
            t = r.tokens
            ttft, itl = _p50_ms(t.ttft), _p50_ms(t.itl)
            ok = [
                abs(v - want) <= want * 0.01 + 0.02 for v, want in ((ttft, ttft_ms), (itl, itl_ms))
            ]
            print(
                f"  {name:32s} users={users:2d}: TTFT p50 {ttft:8.4f} ms (schedule {ttft_ms:g}, "
                f"{'ok' if ok[0] else 'OFF'}), ITL p50 {itl:8.4f} ms (schedule {itl_ms:g}, "
                f"{'ok' if ok[1] else 'OFF'}), {t.requests} requests"
            )


def cost(quick: bool) -> None:
    print("== 2. cost per streamed token (targets: <= 100 ns; >= 2 M tokens/s from Python)")
    tokens = 1000
    noop = engine.native_model("stream", first_token_ns=0, token_ns=0, tokens=tokens)
    requests = 2_000 if quick else 10_000
    runs = []
    for _ in range(5):
        r = engine.run(noop, max_iterations=requests, stream=True)
        runs.append(r.wall_s * 1e9 / (requests * tokens))
    print(f"  native no-op stream: {statistics.median(runs):.1f} ns per token (median of 5, "
          f"{min(runs):.1f}..{max(runs):.1f})")  # fmt: skip

    def model():
        yield from range(tokens)

    rates = []
    for _ in range(5):
        r = engine.run(model, max_iterations=requests // 2, stream=True)
        rates.append(r.tokens.output_tokens_total / r.wall_s)
    print(f"  python no-op generator, 1 worker: {statistics.median(rates) / 1e6:.2f} M tokens/s "
          f"(median of 5, {min(rates) / 1e6:.2f}..{max(rates) / 1e6:.2f})")  # fmt: skip


def _tiny_llama():
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()


class _Ids:
    """A stand-in tokenizer for TextIteratorStreamer: each token decodes to one word and
    a space, so the streamer (which holds text back until a word ends) hands over every
    token as its own chunk the moment it is produced."""

    def decode(self, ids, **_kwargs):
        return "".join(f"t{i} " for i in np.asarray(ids).reshape(-1).tolist())


def _hand_loop(model, prompt, new_tokens, rounds):
    """TTFT and ITL samples (ms) of generate timed by hand with TextIteratorStreamer."""
    import torch
    from transformers import TextIteratorStreamer

    ttft, itl = [], []
    ids = torch.as_tensor(prompt)[None]
    for _ in range(rounds):
        streamer = TextIteratorStreamer(_Ids(), skip_prompt=True)
        kwargs = dict(
            attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
            min_new_tokens=new_tokens, do_sample=False, pad_token_id=0, eos_token_id=None,
            streamer=streamer,
        )  # fmt: skip
        start = time.perf_counter()
        thread = threading.Thread(target=model.generate, args=(ids,), kwargs=kwargs)
        thread.start()
        last = None
        for chunk in streamer:
            if not chunk.strip():
                continue
            now = time.perf_counter()
            if last is None:
                ttft.append((now - start) * 1e3)
            else:
                itl.append((now - last) * 1e3)
            last = now
        thread.join()
    return ttft, itl


def _hand_adapter(stream, prompt, new_tokens, rounds):
    """TTFT and ITL samples (ms) of a stream(prompt, n) iterator timed by hand."""
    ttft, itl = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        last = None
        for _token in stream(prompt, new_tokens):
            now = time.perf_counter()
            (ttft if last is None else itl).append((now - (start if last is None else last)) * 1e3)
            last = now
    return ttft, itl


def _medians(samples):
    """(median, noise): the median and the gap between the medians of the two halves."""
    half = len(samples) // 2
    return statistics.median(samples), abs(
        statistics.median(samples[:half]) - statistics.median(samples[half:])
    )


def hf(quick: bool) -> None:
    print("== 3. tiny HF Llama: our engine vs hand-timed loops (1 user, medians)")
    from neuronperf_native.generative import HFGenerateStream

    model = _tiny_llama()
    prompt = np.arange(16, dtype=np.int64)
    new_tokens, rounds = 32, 20 if quick else 60
    stream = HFGenerateStream(model)
    list(stream(prompt, new_tokens))  # warm up
    same = _hand_adapter(stream, prompt, new_tokens, rounds)
    text = _hand_loop(model, prompt, new_tokens, rounds)
    r = engine.run(stream, [(prompt, new_tokens)], max_iterations=rounds, warmup=2, stream=True)
    t = r.tokens
    for name, ours, index in (("TTFT", t.ttft, 0), ("ITL ", t.itl, 1)):
        (a, noise_a), (b, noise_b) = _medians(same[index]), _medians(text[index])
        print(f"  {name} p50: ours {_p50_ms(ours):.3f} ms; by hand over HFGenerateStream {a:.3f} "
              f"ms (noise {noise_a:.3f}); by hand over TextIteratorStreamer {b:.3f} ms "
              f"(noise {noise_b:.3f})")  # fmt: skip


_MEMORY_CHILD = textwrap.dedent(
    """
    import sys, threading, time, psutil
    from neuronperf_native import engine
    seconds = float(sys.argv[1])
    def model():
        yield from range(256)
    samples = []
    def sample():
        process = psutil.Process()
        while len(samples) < seconds:  # the last sample a second before the run ends
            samples.append(process.memory_info().rss)
            time.sleep(1.0)
    threading.Thread(target=sample, daemon=True).start()
    r = engine.run(model, duration_s=seconds, stream=True, window_s=0.1)
    after = psutil.Process().memory_info().rss
    print(r.tokens.output_tokens_total, after, *samples)
    """
)


def memory(quick: bool) -> None:
    seconds = 12.0 if quick else 60.0
    print(f"== 4. memory: {seconds:g} s of streaming at full speed (target: <= 10 MB over 10 s)")
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(seconds)], capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    tokens, after, rss = int(out[0]), int(out[1]), [int(v) for v in out[2:]]
    growth = (rss[-1] - rss[-11]) / 2**20 if len(rss) > 11 else float("nan")
    print(f"  {tokens / 1e6:.1f} M tokens; RSS {rss[1] / 2**20:.1f} MB after 1 s, "
          f"{rss[-1] / 2**20:.1f} MB a second before the end; last 10 s: {growth:+.2f} MB; "
          f"{after / 2**20:.1f} MB with the result built")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    parser.add_argument("--only", default="truth,cost,hf,memory")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    steps = {"truth": truth, "cost": cost, "hf": hf, "memory": memory}
    for name in args.only.split(","):
        steps[name](args.quick)


if __name__ == "__main__":
    main()
