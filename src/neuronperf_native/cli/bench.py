"""`bench` and `demo`: run a benchmark, print its table, write the files asked for."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from neuronperf_native.cli._args import parse_input_arg
from neuronperf_native.cli._bench_options import _bench_options, cli_names
from neuronperf_native.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    INTERRUPTION,
    UsageError,
    _exit_status,
    _flatten,
    _note,
)
from neuronperf_native.cli._models import _framework_benchmark, _input_specs, _resolve_model
from neuronperf_native.cli._outputs import Outputs
from neuronperf_native.cli._served import bench_served


class DemoModel:
    """The demo's built-in model: a 256x256 linear layer with ReLU in numpy."""

    def __init__(self) -> None:
        self.weights = np.random.default_rng(0).standard_normal((256, 256), dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.weights, 0.0)


def _demo(args: argparse.Namespace) -> int:
    import neuronperf_native as npf

    reports = npf.cpu.benchmark(
        DemoModel,
        [np.ones((1, 256), dtype=np.float32)],
        duration=args.duration,
        n_models=args.n_models,
        workers_per_model=args.workers,
        verbosity=1 if args.verbose else 0,
    )
    npf.print_reports(reports, cols=["model_name", *npf.PRINT_COLS[:-1], "status"], units=True)
    return _exit_status(reports)


# CSV columns of the open loop and of a search, written when a report has them.
_LOAD_CSV_COLS = (
    "request_rate",
    "request_rate_achieved",
    "schedule_lag_ms_p50",
    "schedule_lag_ms_p99",
    "backlog_max",
    "saturated",
    "slo_met",
    "slo_best",
)


def _percentile_cols(percentiles: Sequence[float], present: Sequence[str]) -> list[str]:
    """The latency columns of the requested percentiles that `present` lacks."""
    keys = [f"latency_ms_p{p:g}" for p in percentiles]
    return [k for k in dict.fromkeys(keys) if k not in present]


def _table_cols(percentiles: Sequence[float], reports: Sequence[dict[str, Any]] = ()) -> list[str]:
    """Printed columns: the demo's, plus the requested percentiles, plus status; in open
    loop the load's (target and achieved rate first, schedule lag, backlog,
    saturation), and a search's verdicts."""
    from neuronperf_native.reporting import PRINT_COLS

    head = ["model_name", "throughput_avg", "latency_ms_p50", "latency_ms_p99"]
    if any(r.get("requests_streamed") is not None for r in reports):
        head = _stream_head(reports)
    load: list[str] = []
    if any(r.get("load_mode") == "open" for r in reports):
        head[1:1] = ["request_rate", "request_rate_achieved"]
        load = ["schedule_lag_ms_p99", "backlog_max", "saturated"]
    if any(r.get("slo") for r in reports):
        load += ["slo_met", "slo_best"]
    if any(r.get("requests_failed") or _served(r) for r in reports):
        load.append("requests_failed")
    cols = [*head, *_percentile_cols(percentiles, head), *load]
    return [*cols, *PRINT_COLS[3:-1], "stable", "status"]


def _stream_head(reports: Sequence[dict[str, Any]]) -> list[str]:
    """A streamed run's first columns, as vLLM's bench serve and AIPerf print them:
    request and token throughput, TTFT, ITL and TPOT percentiles, e2e latency, goodput."""
    from neuronperf_native.reporting import STREAM_PRINT_COLS

    goodput = any(r.get("goodput") is not None for r in reports)
    return [
        "model_name",
        "throughput_avg",
        *STREAM_PRINT_COLS,
        "latency_ms_p50",
        "latency_ms_p99",
        *(["goodput", "goodput_fraction"] if goodput else []),
    ]


def _served(report: dict[str, Any]) -> bool:
    """A served model's report (its model_filename is the server's URL)."""
    return str(report.get("model_filename") or "").startswith(("http://", "https://"))


def _flat_slo(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reports with a search's verdicts as columns: slo_met, slo_best."""
    out = []
    for report in reports:
        slo = report.get("slo")
        extra = {"slo_met": slo["met"], "slo_best": slo["best"]} if slo else {}
        out.append({**report, **extra})
    return out


def _slo_summary(reports: Sequence[dict[str, Any]]) -> list[str]:
    """One line per searched model config: the best value found, or that none met."""
    lines = []
    searched = [r for r in reports if r.get("slo")]
    for key in dict.fromkeys((r["model_name"], r["batch_size"]) for r in searched):
        mine = [r for r in searched if (r["model_name"], r["batch_size"]) == key]
        slo = mine[0]["slo"]
        what = "request rate" if slo["axis"] == "request_rate" else "concurrency"
        unit = " requests/s" if slo["axis"] == "request_rate" else " workers"
        goodput = "min_goodput_fraction" in slo
        if goodput:
            head = f"{key[0]} batch {key[1]}: goodput fraction >= {slo['min_goodput_fraction']:g}:"
        else:
            head = (
                f"{key[0]} batch {key[1]}: p{slo['percentile']:g} latency threshold "
                f"{slo['target_ms']:g} ms:"
            )
        best = next((r for r in mine if r["slo"]["best"]), None)
        if best is None:
            lines.append(f"{head} no {what} probed met it ({len(mine)} probes)")
        else:
            doubt = "" if best["slo"]["confident"] else ", its interval straddles the threshold"
            measured = (
                f"goodput fraction {best['slo']['goodput_fraction']:.4g}"
                if goodput
                else f"p{slo['percentile']:g} {best['slo']['latency_ms']:.4g} ms"
            )
            lines.append(
                f"{head} highest {what} that met it: {best['slo']['value']:g}{unit} "
                f"({measured}{doubt}; {len(mine)} probes)"
            )
    return lines


def _failure_lines(reports: Sequence[dict[str, Any]]) -> list[str]:
    """Per configuration with failed requests: how many, and the count per reason."""
    lines = []
    for report in reports:
        if not report.get("requests_failed"):
            continue
        reasons = "; ".join(f"{n} x {why}" for why, n in report["failure_reasons"].items())
        rate = report.get("request_rate")
        load = f"request_rate={rate:g}" if rate else f"workers={report['workers_per_model']}"
        lines.append(
            f"failed requests (batch_size={report['batch_size']}, n_models="
            f"{report['n_models']}, {load}): {report['requests_failed']}: {reasons}"
        )
    return lines


def _bench_batch_sizes(args: argparse.Namespace, kind: str, index: Any) -> list[int]:
    sizes = _flatten(args.batch_size)
    if sizes:
        return list(dict.fromkeys(sizes))
    if kind == "index":
        from neuronperf_native import model_index

        finished = model_index.filter(
            index, pipeline_size=_flatten(args.pipeline_size), status="finished"
        )
        found = sorted({c["batch_size"] for c in finished["model_configs"]})
        if not found:
            raise UsageError("the model index has no finished config to benchmark")
        return found
    return [1]


def _validation_line(report: dict[str, Any]) -> str:
    """One stderr line summing up a report's output validation."""
    from neuronperf_native.copies.validation import mismatch_location

    v = report["validation"]
    line = (
        f"validation (batch_size={report['batch_size']}, n_models={report['n_models']}, "
        f"workers={report['workers_per_model']}): {v['steps_checked']} step(s) checked, "
        f"{v['mismatches']} mismatch(es)"
    )
    if v["first_mismatch"] is not None:
        line += f"; first at {mismatch_location(v['first_mismatch'])}"
    return line


def _bench(args: argparse.Namespace) -> int:
    import neuronperf_native as npf

    outputs = _bench_outputs(args, npf)
    outputs.check()
    options = _bench_options(args)
    if args.url is not None:
        with cli_names(args):
            result = bench_served(args, options)
        if args.dry_run:
            print(result.table())
            return EXIT_OK
        return _bench_reports(args, npf, result, outputs)
    if args.model is None:
        raise UsageError("give MODEL (a model file, index or module:Class), or -u URL -m NAME")
    kind, model, framework = _resolve_model(args.model, args.framework)
    data = None if "prompt_seed" in options else _bench_data(args)  # prompts are the inputs
    batch_sizes = _bench_batch_sizes(args, kind, model)
    if kind == "index":
        missing = sorted(set(batch_sizes) - {c["batch_size"] for c in model["model_configs"]})
        if missing:
            raise UsageError(f"model index {args.model} has no config of batch size {missing[0]}")
        model = args.model  # benchmark() loads it and filters by batch size
    benchmark = _framework_benchmark(framework)
    with cli_names(args):
        if args.dry_run:
            print(benchmark(model, data, batch_sizes=batch_sizes, dry_run=True, **options).table())
            return EXIT_OK
        reports = benchmark(model, data, batch_sizes=batch_sizes, **options)
    return _bench_reports(args, npf, reports, outputs)


def _bench_reports(
    args: argparse.Namespace, npf: Any, reports: list[dict[str, Any]], outputs: Outputs
) -> int:
    """The table, the files asked for, and the exit status of a benchmark's reports."""
    if not reports:
        if INTERRUPTION.happened:
            print("error: interrupted before a configuration was measured", file=sys.stderr)
            return EXIT_INTERRUPTED
        raise UsageError("no configuration to benchmark")
    _print_table(args, npf, reports)
    written = outputs.write(args, reports, reports)
    status = _exit_status(reports)
    if status == EXIT_INTERRUPTED:
        print(f"error: interrupted: {len(reports)} configuration(s) measured", file=sys.stderr)
    return status if status != EXIT_OK else written


def _bench_data(args: argparse.Namespace) -> Any:
    """The input data --input-data, --input, --shape and --output describe."""
    from neuronperf_native import inputs as npf_inputs

    shapes = dict(npf_inputs.parse_shape_arg(text) for text in args.shape or [])
    specs = _input_specs(args, shapes)
    sources = args.input_data or ["random"]
    if len(sources) > 1 and any(s in ("random", "zero") or os.path.isdir(s) for s in sources):
        raise UsageError("several --input-data values must all be JSON files")
    source: Any = sources[0] if len(sources) == 1 else sources
    outputs = [parse_input_arg(text, "--output") for text in args.output or []]
    data = npf_inputs.load_input_data(
        source,
        specs,
        outputs,
        shapes=shapes,
        seed=args.seed,
        string_length=args.string_length,
        string_data=args.string_data,
    )
    if outputs and not data.has_validation_data:
        _note(args, f"--output given but {data.source} holds no expected outputs")
    return data


def _print_table(args: argparse.Namespace, npf: Any, reports: list[dict[str, Any]]) -> None:
    """The table on stdout, the search's answer, validation notes on stderr."""
    percentiles = list(dict.fromkeys(args.percentile or []))
    npf.print_reports(_flat_slo(reports), cols=_table_cols(percentiles, reports), units=True)
    for line in _slo_summary(reports):
        print(line)
    for line in _failure_lines(reports):
        print(line)
    for report in reports:
        if report.get("validation") is not None:
            _note(args, _validation_line(report))


def _bench_outputs(args: argparse.Namespace, npf: Any) -> Outputs:
    """The files --csv, --json and --html ask for (and the files bench reads)."""
    inputs = []
    if args.model is not None:
        model = args.model.rpartition(":")[0] if ":" in args.model else args.model
        inputs.append(("MODEL", model))
    inputs += [("--input-data", source) for source in args.input_data or []]
    if args.request_intervals:
        inputs.append(("--request-intervals", args.request_intervals))
    if args.input_file:
        inputs.append(("--input-file", args.input_file))
    outputs = Outputs(inputs)
    percentiles = list(dict.fromkeys(args.percentile or []))

    def csv(path: str, reports: list[dict[str, Any]]) -> None:
        table = _flat_slo(reports)
        extra = _percentile_cols(percentiles, npf.CSV_COLS)
        intervals = [f"latency_ms_p{p:g}_ci" for p in dict.fromkeys([50.0, 99.0, *percentiles])]
        stats_cols = ["throughput_ci", *intervals, "stable", "measured_s"]
        load_cols = [c for c in _LOAD_CSV_COLS if any(r.get(c) is not None for r in table)]
        stream_cols = [
            c for c in npf.reporting.STREAM_CSV_COLS if any(r.get(c) is not None for r in table)
        ]
        cols = [*npf.CSV_COLS, *extra, *stats_cols, *load_cols, *stream_cols, "status"]
        npf.write_csv(table, path, cols=cols)

    outputs.add("--csv", args.csv, csv)
    outputs.add("--json", args.json, lambda path, reports: npf.write_json(reports, path))
    outputs.add("--html", args.html, lambda path, reports: npf.write_html(reports, path))
    outputs.add("--export-requests", args.export_requests, None)  # benchmark() writes it
    return outputs
