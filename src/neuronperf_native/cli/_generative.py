"""`bench`'s generative-model options (AIPerf/GenAI-Perf names, vLLM's goodput keys):
streamed responses, prompts, goodput SLOs and bursty arrivals -> benchmark() keywords."""

from __future__ import annotations

import argparse
from typing import Any

from neuronperf_native.cli._args import _positive_float, _positive_int
from neuronperf_native.cli._common import UsageError

# The prompt options, flag -> benchmark() keyword.
_PROMPT_FLAGS = {
    "synthetic_input_tokens_mean": "synthetic_input_tokens_mean",
    "synthetic_input_tokens_stddev": "synthetic_input_tokens_stddev",
    "output_tokens_mean": "output_tokens_mean",
    "output_tokens_stddev": "output_tokens_stddev",
    "num_prompts": "num_prompts",
    "vocab_size": "vocab_size",
    "random_seed": "prompt_seed",
    "input_file": "input_file",
    "tokenizer": "tokenizer",
}
#: How benchmark()'s errors name the generative settings: the options typed.
GENERATIVE_NAMES = {
    **{key: "--" + flag.replace("_", "-") for flag, key in _PROMPT_FLAGS.items()},
    **{
        key: "--" + key.replace("_", "-")
        for key in ("streaming", "goodput", "min_goodput_fraction", "export_requests", "burstiness")
    },
}


def add_generative_args(bench: argparse.ArgumentParser) -> None:
    """Streaming, prompts and goodput: AIPerf/GenAI-Perf's option names."""
    group = bench.add_argument_group(
        "generative models (AIPerf/GenAI-Perf's options)",
        "With --streaming the model's call returns an iterator of tokens; each is stamped "
        "as it arrives: TTFT, ITL, TPOT, tokens/s and, with --goodput, the requests/s "
        "meeting every SLO. Prompts: synthetic (--synthetic-input-tokens-mean) or "
        "--input-file; the model is called as model(input_ids, max_new_tokens).",
    )
    group.add_argument(
        "--streaming", action="store_true", help="the model streams its response: token metrics"
    )
    group.add_argument(
        "--synthetic-input-tokens-mean",
        type=_positive_int,
        metavar="N",
        help="synthetic prompts of N tokens on average (seeded)",
    )
    group.add_argument(
        "--synthetic-input-tokens-stddev",
        type=float,
        metavar="X",
        default=0.0,
        help="their standard deviation (default 0)",
    )
    group.add_argument(
        "--output-tokens-mean",
        type=_positive_int,
        metavar="N",
        help="tokens to generate per request (max_new_tokens), on average",
    )
    group.add_argument(
        "--output-tokens-stddev",
        type=float,
        metavar="X",
        default=0.0,
        help="their standard deviation (default 0)",
    )
    group.add_argument(
        "--num-prompts",
        type=_positive_int,
        metavar="N",
        default=100,
        help="synthetic prompts the requests cycle through (default 100)",
    )
    group.add_argument(
        "--vocab-size",
        type=_positive_int,
        metavar="N",
        default=32_000,
        help="synthetic token ids are drawn from [0, N) (default 32000)",
    )
    group.add_argument(
        "--random-seed",
        type=int,
        metavar="N",
        default=0,
        help="seed of the prompt draws (default 0)",
    )
    group.add_argument(
        "--input-file",
        metavar="FILE",
        help="prompts: a ShareGPT JSON file, or JSON lines of prompt or input_ids (with "
        "output_tokens)",
    )
    group.add_argument(
        "--tokenizer", metavar="DIR", help="a local tokenizer folder, for text prompts"
    )
    group.add_argument(
        "--goodput",
        nargs="+",
        metavar="KEY:MS",
        help="SLOs a request must all meet to count in goodput: ttft, tpot, e2el (vLLM's) or "
        "time_to_first_token, inter_token_latency, request_latency (AIPerf's)",
    )
    group.add_argument(
        "--min-goodput-fraction",
        type=_positive_float,
        metavar="F",
        help="search the highest request rate or concurrency whose goodput fraction stays "
        ">= F (with a range: step through it; with --binary-search: bisect)",
    )
    group.add_argument(
        "--export-requests", metavar="FILE", help="write one JSON line per request (JSONL)"
    )
    group.add_argument(
        "--burstiness",
        type=_positive_float,
        metavar="X",
        help="open loop: gamma arrivals of shape X (vLLM's: 1 is Poisson, lower burstier)",
    )
    group.add_argument(
        "--max-concurrency",
        type=_positive_int,
        metavar="N",
        help="open loop: requests in flight at most (as --max-threads); requests that "
        "wait keep their scheduled start",
    )
    group.add_argument(
        "--stability-metric",
        choices=("e2e", "ttft", "itl", "tpot"),
        help="the latency stability judges (default e2e)",
    )


def generative_options(args: argparse.Namespace) -> dict[str, Any]:
    """benchmark() keywords of the generative flags (only those given)."""
    options: dict[str, Any] = {}
    if args.streaming:
        options["streaming"] = True
    prompts = args.synthetic_input_tokens_mean is not None or args.input_file is not None
    if prompts:
        options.update({key: getattr(args, flag) for flag, key in _PROMPT_FLAGS.items()})
    elif args.output_tokens_mean is not None:
        raise UsageError(
            "--output-tokens-mean needs prompts: --synthetic-input-tokens-mean or --input-file"
        )
    for flag in ("goodput", "export_requests", "min_goodput_fraction"):
        if getattr(args, flag) is not None:
            if not args.streaming:
                raise UsageError(f"--{flag.replace('_', '-')} measures streamed responses: "
                                 "add --streaming")  # fmt: skip
            options[flag] = getattr(args, flag)
    if args.burstiness is not None:
        if args.request_rate is None and args.request_rate_range is None:
            raise UsageError(
                "--burstiness shapes the gaps of a request rate: give --request-rate or "
                "--request-rate-range"
            )
        if args.request_distribution not in (None, "gamma"):
            raise UsageError(
                f"--burstiness and --request-distribution {args.request_distribution} cannot "
                "be combined: --burstiness draws gamma gaps"
            )
        options.update(arrival="gamma", burstiness=args.burstiness, seed=args.seed)
    return options


def stability_metric(args: argparse.Namespace) -> dict[str, str]:
    """The stability rule's metric key, when --stability-metric asks for a token metric."""
    if args.stability_metric in (None, "e2e"):
        return {}
    if not args.streaming:
        raise UsageError(f"--stability-metric {args.stability_metric} needs --streaming")
    return {"metric": args.stability_metric}
