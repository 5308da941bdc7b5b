"""`bench`'s options turned into benchmark() keywords: copies, timing and load.

Timing is stability stopping by default (perf_analyzer's way) or a fixed --duration;
the load is closed loop (--concurrency, NeuronPerf's copies x workers), open loop
(--request-rate) or a latency-threshold search.
"""

from __future__ import annotations

import argparse
from typing import Any

from neuronperf_native.cli._args import _range_values
from neuronperf_native.cli._common import UsageError, _flatten
from neuronperf_native.cli._generative import generative_options, stability_metric

# Stability stopping, the bench default (perf_analyzer's defaults would be 10% over
# 3 windows of 5 s; intervals on 0.1 s windows answer in seconds).
_DEFAULT_STABILITY_PERCENTAGE = 5.0
# Without --percentile, perf_analyzer judges stability on the average latency: here the
# median, whose interval the histograms give (the tail gets --percentile 99).
_DEFAULT_STABILITY_PERCENTILE = 50.0
_STABILITY_WINDOW_S = 0.1
_DEFAULT_MAX_TRIALS = 100
# perf_analyzer's default --max-threads with a request rate.
_OPEN_LOOP_THREADS = 4


def sequence_options(args: argparse.Namespace) -> Any:
    """The SequenceOptions of add_sequence_args' flags (bad values: UsageError)."""
    from neuronperf_native.inputs import SequenceOptions

    try:
        return SequenceOptions(
            sequences=args.sequences,
            sequence_length=args.sequence_length,
            sequence_length_variation=args.sequence_length_variation,
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
    if args.ray is not None or args.nodes is not None:
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
    --request-intervals), and the latency-threshold search."""
    concurrency = _flatten(args.concurrency)
    if args.concurrency_range is not None:
        if concurrency is not None:
            raise UsageError("give --concurrency or --concurrency-range, not both")
        concurrency = [int(v) for v in _range_values(args.concurrency_range)]
    rates = _flatten(args.request_rate)
    if args.request_rate_range is not None:
        if rates is not None:
            raise UsageError("give --request-rate or --request-rate-range, not both")
        rates = _range_values(args.request_rate_range)
    opened = rates is not None or args.request_intervals is not None
    if opened and concurrency is not None:
        raise UsageError(
            "--concurrency(-range) is the closed loop, --request-rate(-range) and "
            "--request-intervals the open loop: give one of them"
        )
    if args.request_intervals is not None and rates is not None:
        raise UsageError("--request-intervals replays its own gaps: do not give a request rate")
    options = _copies(args, concurrency, opened)
    if opened:
        options.update(_open_loop_options(args, rates))
    elif args.request_distribution is not None:
        raise UsageError("--request-distribution applies to the open loop: give --request-rate")
    return {**options, **_threshold_options(args, concurrency, rates, opened)}


def _copies(
    args: argparse.Namespace, concurrency: list[int] | None, opened: bool
) -> dict[str, Any]:
    """n_models and workers_per_model: --concurrency N is 1 copy x N workers; the open
    loop has 1 copy (or --n-models) x --max-threads workers (default 4)."""
    workers = _flatten(args.workers_per_model)
    n_models = _flatten(args.n_models)
    if args.max_concurrency is not None:
        if args.max_threads is not None:
            raise UsageError("give --max-concurrency or --max-threads (the same), not both")
        args.max_threads = args.max_concurrency
    if args.max_threads is not None:
        if not opened:
            raise UsageError(
                "--max-threads sets the requests in flight of the open loop: in closed loop "
                "the concurrency is the number of workers (--concurrency)"
            )
        if workers is not None:
            raise UsageError("give --max-threads or --workers-per-model, not both")
    if concurrency is not None:
        if workers is not None or n_models is not None:
            raise UsageError(
                "--concurrency N means 1 model copy with N workers: do not combine it with "
                "--workers-per-model or --n-models"
            )
        return {"n_models": [1], "workers_per_model": concurrency}
    if opened:
        workers = workers or [args.max_threads or _OPEN_LOOP_THREADS]
        n_models = n_models or [1]
    return {"n_models": n_models, "workers_per_model": workers}


def _open_loop_options(args: argparse.Namespace, rates: list[float] | None) -> dict[str, Any]:
    options: dict[str, Any] = {"load_mode": "open"}
    if rates is not None:
        options["request_rate"] = rates
    else:
        options["request_intervals"] = args.request_intervals
        if args.request_distribution is not None:
            raise UsageError("--request-distribution does not apply to --request-intervals")
    if args.request_distribution in ("poisson", "gamma"):
        options.update(arrival=args.request_distribution, seed=args.seed)
    return options


def _threshold_options(
    args: argparse.Namespace,
    concurrency: list[int] | None,
    rates: list[float] | None,
    opened: bool,
) -> dict[str, Any]:
    """--latency-threshold (or --min-goodput-fraction): step through the range (stopping
    at the first miss), or with --binary-search bisect within it (or bracket from a
    single start value)."""
    if args.latency_threshold is None and args.min_goodput_fraction is None:
        if args.binary_search:
            raise UsageError("--binary-search needs --latency-threshold MS")
        return {}
    if args.latency_threshold is not None and args.min_goodput_fraction is not None:
        raise UsageError("give --latency-threshold or --min-goodput-fraction, not both")
    options: dict[str, Any] = {}
    if args.latency_threshold is not None:
        options["latency_slo_ms"] = args.latency_threshold
        if args.percentile:
            options["slo_percentile"] = args.percentile[0]
    span = args.request_rate_range if opened else args.concurrency_range
    values = rates if opened else concurrency
    if not args.binary_search:
        if values is None or len(values) < 2:
            raise UsageError(
                "--latency-threshold (--min-goodput-fraction) steps through a "
                "--request-rate-range or --concurrency-range (START:END:STEP) and stops at "
                "the first that misses it: give a range, or --binary-search"
            )
        return {**options, "slo_search": "linear"}
    if span is not None:
        if span[1] is None:
            raise UsageError("--binary-search needs the range's END: give START:END:STEP")
        key = "request_rate" if opened else "workers_per_model"
        return {**options, key: None, "slo_range": span}
    if values is not None and len(values) > 1:
        raise UsageError("--binary-search starts from one --request-rate or --concurrency value")
    return options


def _timing_options(args: argparse.Namespace) -> dict[str, Any]:
    """How long each configuration runs: until its numbers are known (perf_analyzer's
    way, the default) or for a fixed --duration; and the window length."""
    window_s = None if args.measurement_interval is None else args.measurement_interval / 1e3
    options: dict[str, Any] = {} if window_s is None else {"window_s": window_s}
    if args.duration is not None:
        if args.stability_percentage is not None or args.max_trials is not None:
            raise UsageError(
                "--duration runs each configuration for a fixed time: do not combine it "
                "with --stability-percentage or --max-trials"
            )
        return {**options, "duration": args.duration}
    windows = _DEFAULT_MAX_TRIALS if args.max_trials is None else args.max_trials
    max_s = windows * (window_s or _STABILITY_WINDOW_S)
    rule = {
        "rel_ci": (args.stability_percentage or _DEFAULT_STABILITY_PERCENTAGE) / 100,
        "percentile": args.percentile[0] if args.percentile else _DEFAULT_STABILITY_PERCENTILE,
        "max_s": max_s,
        "min_s": min(1.0, max_s),
        **stability_metric(args),
    }
    return {**options, "duration": max_s, "stability": rule}
