"""`bench`'s options turned into benchmark() keywords: copies, timing and load.

Timing is stability stopping by default (perf_analyzer's way) or a fixed --duration;
the load is closed loop (--concurrency, NeuronPerf's copies x workers), open loop
(--request-rate) or a latency-threshold search.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from neuronperf_native.cli._args import MAX_DURATION_S, Span, _range_values
from neuronperf_native.cli._common import UsageError, _flatten
from neuronperf_native.cli._generative import (
    GENERATIVE_NAMES,
    generative_options,
    stability_metric,
)
from neuronperf_native.engine import MAX_REQUEST_RATE, MAX_WORKERS
from neuronperf_native.settings import display_names

# Stability stopping, the bench default (perf_analyzer's defaults would be 10% over
# 3 windows of 5 s; intervals on 0.1 s windows answer in seconds).
_DEFAULT_STABILITY_PERCENTAGE = 5.0
# Without --percentile, perf_analyzer judges stability on the average latency: here the
# median, whose interval the histograms give (the tail gets --percentile 99).
_DEFAULT_STABILITY_PERCENTILE = 50.0
_STABILITY_WINDOW_S = 0.1
_MIN_WINDOW_S = 0.001  # the engine's shortest window
_DEFAULT_MAX_TRIALS = 100
# perf_analyzer's default --max-threads with a request rate.
_OPEN_LOOP_THREADS = 4
# perf_analyzer's default --sequence-length-variation, percent.
_DEFAULT_VARIATION = 20.0


def sequence_options(args: argparse.Namespace) -> Any:
    """The SequenceOptions of add_sequence_args' flags (bad values: UsageError). The
    options that shape sequences need them played (--sequences or --sequence-length):
    alone they would be ignored, so they are refused."""
    from neuronperf_native.inputs import SequenceOptions

    playing = args.sequences or args.sequence_length is not None
    for option, value in (
        ("--sequence-length-variation", args.sequence_length_variation),
        ("--sequence-id-range", args.sequence_id_range),
    ):
        if value is not None and not playing:
            raise UsageError(
                f"{option} shapes sequences, which play with --sequences (or "
                "--sequence-length): give one of them, or leave it out"
            )
    variation = args.sequence_length_variation
    try:
        return SequenceOptions(
            sequences=args.sequences,
            sequence_length=args.sequence_length,
            sequence_length_variation=_DEFAULT_VARIATION if variation is None else variation,
            sequence_id_range=args.sequence_id_range or (1, None),
        )
    except (TypeError, ValueError) as error:
        message = str(error)
        for keyword in ("sequence_length_variation", "sequence_length", "sequence_id_range"):
            message = message.replace(keyword, "--" + keyword.replace("_", "-"))
        raise UsageError(message.replace("sequences=True", "--sequences")) from None


def _bench_options(args: argparse.Namespace) -> dict[str, Any]:
    """benchmark() keywords from the options: copies, load, timing, validation, naming."""
    options: dict[str, Any] = {
        **_timing_options(args),
        **_load_options(args),
        "pipeline_sizes": _flatten(args.pipeline_size),
        "verbosity": 2 if args.verbose else 0 if args.quiet else 1,
        "rtol": args.rtol,
        "atol": args.atol,
        "strict_validation": args.strict_validation,
        "shared_memory": args.shared_memory,
        **generative_options(args),
    }
    if args.device_type is not None:
        options["device_type"] = args.device_type
    if args.nodes is not None and args.ray is None:
        raise UsageError(
            f"--nodes {args.nodes} runs each configuration on several nodes of a Ray cluster: "
            "give --ray too"
        )
    if args.ray is not None:
        options.update(cluster=args.ray, nodes=args.nodes)
    if args.percentile:
        options["percentiles"] = list(dict.fromkeys(args.percentile))
    if args.model_name:
        options["model_name"] = args.model_name
    sequences = sequence_options(args)
    if sequences.active:
        options.update(
            sequences=True,
            sequence_length=sequences.sequence_length,
            sequence_length_variation=sequences.sequence_length_variation,
            sequence_id_range=sequences.sequence_id_range,
        )
    return options


def _load_options(args: argparse.Namespace) -> dict[str, Any]:
    """Copies, workers and the load: closed loop (--concurrency, --concurrency-range,
    --workers-per-model) or open loop (--request-rate, --request-rate-range,
    --request-intervals), and the latency-threshold search, with perf_analyzer's rules:
    combinations it refuses are refused naming both options; options it ignores in a
    mode are ignored with a warning."""
    _refuse_combinations(args)
    threshold = args.latency_threshold or None  # 0: no limit, as perf_analyzer's
    searching = threshold is not None or args.min_goodput_fraction is not None
    concurrency = _flatten(args.concurrency)
    if args.concurrency_range is not None:
        _check_span(args, args.concurrency_range, "--concurrency-range", searching)
        concurrency = [
            int(v)
            for v in _range_values(args.concurrency_range, "--concurrency-range", MAX_WORKERS)
        ]
    rates = _flatten(args.request_rate)
    if args.request_rate_range is not None:
        _check_span(args, args.request_rate_range, "--request-rate-range", searching)
        rates = _range_values(args.request_rate_range, "--request-rate-range", MAX_REQUEST_RATE)
    opened = rates is not None or args.request_intervals is not None
    options = _copies(args, concurrency, opened)
    if opened:
        options.update(_open_loop_options(args, rates))
    if args.request_distribution is not None and rates is None:
        mode = "with --request-intervals" if opened else "in concurrency mode"
        _warn(
            "--request-distribution applies to a request rate (perf_analyzer ignores it "
            f"without --request-rate-range): ignored {mode}"
        )
    levels = rates if opened else options["workers_per_model"]
    return {**options, **_threshold_options(args, threshold, levels, opened)}


# Options perf_analyzer refuses together ("Cannot use both ... inference load modes").
_EXCLUSIVE = (
    ("--concurrency", "--concurrency-range"),
    ("--request-rate", "--request-rate-range"),
    ("--request-intervals", "--request-rate"),
    ("--request-intervals", "--request-rate-range"),
    ("--concurrency", "--request-rate"),
    ("--concurrency", "--request-rate-range"),
    ("--concurrency", "--request-intervals"),
    ("--concurrency-range", "--request-rate"),
    ("--concurrency-range", "--request-rate-range"),
    ("--concurrency-range", "--request-intervals"),
    ("--latency-threshold", "--request-intervals"),
    ("--binary-search", "--request-intervals"),
    ("--latency-threshold", "--min-goodput-fraction"),
    ("--min-goodput-fraction", "--request-intervals"),
    ("--max-concurrency", "--max-threads"),
    ("--max-concurrency", "--workers-per-model"),
)


def _refuse_combinations(args: argparse.Namespace) -> None:
    given = {
        "--concurrency": args.concurrency is not None,
        "--concurrency-range": args.concurrency_range is not None,
        "--request-rate": args.request_rate is not None,
        "--request-rate-range": args.request_rate_range is not None,
        "--request-intervals": args.request_intervals is not None,
        "--latency-threshold": bool(args.latency_threshold),
        "--binary-search": args.binary_search,
        "--min-goodput-fraction": args.min_goodput_fraction is not None,
        "--max-concurrency": args.max_concurrency is not None,
        "--max-threads": args.max_threads is not None,
        "--workers-per-model": args.workers_per_model is not None,
    }
    for first, second in _EXCLUSIVE:
        if given[first] and given[second]:
            raise UsageError(
                f"{first} and {second} cannot be combined: {_WHY.get((first, second), _MODES)}"
            )
    if args.binary_search and not args.latency_threshold and args.min_goodput_fraction is None:
        raise UsageError(
            "--binary-search needs --latency-threshold MS (above 0) or --min-goodput-fraction "
            "F: it searches for the highest level that meets it"
        )


_MODES = (
    "--concurrency(-range) is the closed loop, --request-rate(-range) and "
    "--request-intervals the open loop; give one of them"
)
_WHY = {
    ("--concurrency", "--concurrency-range"): "give the levels one way",
    ("--request-rate", "--request-rate-range"): "give the rates one way",
    ("--request-intervals", "--request-rate"): "the intervals replay their own rate",
    ("--request-intervals", "--request-rate-range"): "the intervals replay their own rate",
    ("--latency-threshold", "--request-intervals"): (
        "the threshold searches a rate or a concurrency; the intervals replay fixed gaps"
    ),
    ("--binary-search", "--request-intervals"): (
        "the search varies a rate or a concurrency; the intervals replay fixed gaps"
    ),
    ("--latency-threshold", "--min-goodput-fraction"): "give the search one target",
    ("--min-goodput-fraction", "--request-intervals"): (
        "the search varies a rate or a concurrency; the intervals replay fixed gaps"
    ),
    ("--max-concurrency", "--max-threads"): "both set the requests in flight of each copy",
    ("--max-concurrency", "--workers-per-model"): "both set the workers of each model copy",
}


def _check_span(args: argparse.Namespace, span: Span, option: str, searching: bool) -> None:
    """END 0 (no limit) needs a search target to end the sweep, and is no bracket to
    bisect."""
    if not span.unlimited:
        return
    if not searching:
        raise UsageError(
            f"{option} {span.text}: END 0 means no limit, which needs --latency-threshold MS "
            "(above 0) or --min-goodput-fraction F to end the sweep; give an END or a target"
        )
    if args.binary_search:
        raise UsageError(
            f"{option} {span.text}: --binary-search needs the range's END (END 0 means no limit)"
        )


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _copies(
    args: argparse.Namespace, concurrency: list[int] | None, opened: bool
) -> dict[str, Any]:
    """n_models and workers_per_model: --concurrency N is 1 copy x N workers; the open
    loop has 1 copy (or --n-models) x --max-threads (--max-concurrency) workers (default
    4)."""
    workers = _flatten(args.workers_per_model)
    n_models = _flatten(args.n_models)
    threads = args.max_threads if args.max_concurrency is None else args.max_concurrency
    if args.max_concurrency is not None and not opened:
        raise UsageError(
            "--max-concurrency caps the requests in flight of an open loop (--request-rate, "
            "--request-rate-range, --request-intervals); in concurrency mode --concurrency N "
            "is the requests in flight"
        )
    if args.max_threads is not None:
        if workers is not None:
            raise UsageError(
                "--max-threads and --workers-per-model cannot be combined: both "
                "set the workers of each model copy"
            )
        if not opened:
            _warn(
                "--max-threads sets the requests in flight of a request rate: in concurrency "
                "mode each request in flight has its own worker (--concurrency N); ignored"
            )
    if concurrency is not None:
        if workers is not None or n_models is not None:
            given = "--workers-per-model" if workers is not None else "--n-models"
            raise UsageError(
                f"--concurrency and {given} cannot be combined: --concurrency N means 1 model "
                "copy with N workers"
            )
        return {"n_models": [1], "workers_per_model": concurrency}
    if opened:
        workers = workers or [threads or _OPEN_LOOP_THREADS]
        n_models = n_models or [1]
    return {"n_models": n_models, "workers_per_model": workers}


def _open_loop_options(args: argparse.Namespace, rates: list[float] | None) -> dict[str, Any]:
    options: dict[str, Any] = {"load_mode": "open"}
    if rates is not None:
        options["request_rate"] = rates
    else:
        options["request_intervals"] = args.request_intervals
    if args.request_distribution in ("poisson", "gamma") and rates is not None:
        options.update(arrival=args.request_distribution, seed=args.seed)
    return options


def _threshold_options(
    args: argparse.Namespace, threshold: float | None, levels: list[Any] | None, opened: bool
) -> dict[str, Any]:
    """--latency-threshold (or --min-goodput-fraction): step through the levels from
    the first and stop at the first that misses it (perf_analyzer's linear search), or
    with --binary-search take perf_analyzer's path through the range (start, end, then
    midpoints), or bracket from a single start value."""
    if threshold is None and args.min_goodput_fraction is None:
        return {}
    options: dict[str, Any] = {}
    if threshold is not None:
        options["latency_slo_ms"] = threshold
        if args.percentile:
            options["slo_percentile"] = args.percentile[0]
    span = args.request_rate_range if opened else args.concurrency_range
    key = "request_rate" if opened else "workers_per_model"
    if not args.binary_search:
        return {**options, key: levels or [1], "slo_search": "linear"}  # perf_analyzer: 1
    if span is not None and span.end is not None:
        return {**options, key: None, "slo_range": (span.start, span.end, span.step)}
    if levels is not None and len(levels) > 1:
        raise UsageError(
            "--binary-search searches from one --request-rate or --concurrency value, or "
            "within a START:END:STEP range"
        )
    return {**options, "slo_search": "binary"}


def _timing_options(args: argparse.Namespace) -> dict[str, Any]:
    """How long each configuration runs: until its numbers are known (perf_analyzer's
    way, the default) or for a fixed --duration; and the window length."""
    window_s = None
    if args.measurement_interval is not None:
        window_s = args.measurement_interval / 1e3
        if not _MIN_WINDOW_S <= window_s <= MAX_DURATION_S:
            raise UsageError(
                f"--measurement-interval must be in [{_MIN_WINDOW_S * 1e3:g}, "
                f"{MAX_DURATION_S * 1e3:g}] ms, got {args.measurement_interval:g}"
            )
    options: dict[str, Any] = {} if window_s is None else {"window_s": window_s}
    if args.duration is not None:
        if args.stability_percentage is not None or args.max_trials is not None:
            given = "--stability-percentage" if args.stability_percentage else "--max-trials"
            raise UsageError(
                f"--duration and {given} cannot be combined: --duration runs each "
                "configuration for a fixed time"
            )
        return {**options, "duration": args.duration}
    windows = _DEFAULT_MAX_TRIALS if args.max_trials is None else args.max_trials
    max_s = windows * (window_s or _STABILITY_WINDOW_S)
    if max_s > MAX_DURATION_S:
        raise UsageError(
            f"--max-trials {windows} windows of {(window_s or _STABILITY_WINDOW_S) * 1e3:g} ms "
            f"(--measurement-interval) last {max_s:g} s, more than one day "
            f"({MAX_DURATION_S:g} s): lower --max-trials"
        )
    rule = {
        "rel_ci": (args.stability_percentage or _DEFAULT_STABILITY_PERCENTAGE) / 100,
        "percentile": args.percentile[0] if args.percentile else _DEFAULT_STABILITY_PERCENTILE,
        "max_s": max_s,
        "min_s": min(1.0, max_s),
        **stability_metric(args),
    }
    return {**options, "duration": max_s, "stability": rule}


@contextlib.contextmanager
def cli_names(args: argparse.Namespace) -> Iterator[None]:
    """While benchmark() validates the options, its errors name them as typed."""
    workers = next(
        (
            option
            for option, given in (
                ("--concurrency", args.concurrency),
                ("--concurrency-range", args.concurrency_range),
                ("--max-threads", args.max_threads),
                ("--max-concurrency", args.max_concurrency),
            )
            if given is not None
        ),
        "--workers-per-model",
    )
    names = {
        "batch_sizes": "--batch-size",
        "duration_s": "--duration",
        "n_models": "--n-models",
        "pipeline_sizes": "--pipeline-size",
        "workers_per_model": workers,
        "device_type": "--device-type",
        "model_name": "--model-name",
        "window_s": "--measurement-interval",
        "percentiles": "--percentile",
        "rtol": "--rtol",
        "atol": "--atol",
        "shared_memory": "--shared-memory",
        "stability": "--stability-percentage",
        "request_rate": "--request-rate-range" if args.request_rate_range else "--request-rate",
        "arrival": "--request-distribution",
        "seed": "--seed",
        "request_intervals": "--request-intervals",
        "latency_slo_ms": "--latency-threshold",
        "slo_percentile": "--percentile",
        "slo_range": "the --binary-search range",
        "sequences": "--sequences",
        "sequence_length": "--sequence-length",
        "sequence_length_variation": "--sequence-length-variation",
        "sequence_id_range": "--sequence-id-range",
        "cluster": "--ray",
        "nodes": "--nodes",
        **GENERATIVE_NAMES,
    }
    with display_names(names):
        yield
