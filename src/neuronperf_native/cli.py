"""The `neuronperf-native` command line.

Subcommands: `demo`, `bench MODEL`, `index show|filter|append|copy|move|delete`,
`report FILE.json [--plot OUT.png] [--html OUT.html]`, `compare BASE.json NEW.json`,
`run SCRIPT [ARGS]`.
The report table goes to stdout; logs and progress go to stderr.

Exit status: 0 on success, 1 when a benchmark configuration failed (compare: when
NEW regressed), 2 on usage errors (and on errors that stop a command before it
measures anything: memory, input nested too deeply). Each error, and each failing
configuration, prints as one line; `-v` adds the traceback, once; `-q` leaves
warnings and errors only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import logging
import math
import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from neuronperf_native import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: Model file extensions benchmarked with npf.torch.
TORCH_EXTENSIONS = (".pt", ".pth", ".ts", ".torchscript")
#: --framework choices.
FRAMEWORKS = ("torch", "tensorflow", "cpu")
#: Input name used when a model class is benchmarked without --input.
DEFAULT_INPUT_NAME = "INPUT0"
#: The longest --duration accepted (one day), in seconds.
MAX_DURATION_S = 86_400.0
# Dimensions longer than this cannot be a size; the bytes of one array are capped by
# numpy's index type.
_MAX_DIM_DIGITS = 19
_MAX_ARRAY_BYTES = 2**63 - 1
# Exceptions that end a command with one `error:` line and EXIT_USAGE.
_USER_ERRORS = (
    ValueError,
    TypeError,
    OSError,
    ImportError,
    NotImplementedError,
    RuntimeError,
    MemoryError,
)
# A qualified exception name of this package in a message ("neuronperf_native._x.Name: ").
_QUALIFIED_NAME = re.compile(r"\bneuronperf_native((?:\.\w+)*)\.(\w+): ")

_INDEX_COLS = (
    "filename",
    "input_idx",
    "batch_size",
    "pipeline_size",
    "performance_level",
    "cast_mode",
    "compile_s",
    "status",
)


class UsageError(ValueError):
    """A bad command line: printed as one `error:` line, exit status 2."""


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


def _exit_status(reports: Sequence[dict[str, Any]]) -> int:
    """EXIT_FAILED when a configuration did not finish (the benchmark has logged each
    failure as it happened, one line each)."""
    return EXIT_FAILED if any(r.get("status") != "finished" for r in reports) else EXIT_OK


def _note(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr (silenced by -q)."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


# Stability stopping, the bench default (perf_analyzer's defaults would be 10% over
# 3 windows of 5 s; intervals on 0.1 s windows answer in seconds).
_DEFAULT_STABILITY_PERCENTAGE = 2.0
_STABILITY_WINDOW_S = 0.1
_DEFAULT_MAX_TRIALS = 100
# perf_analyzer's default --max-threads with a request rate.
_OPEN_LOOP_THREADS = 4
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


# Argument types -------------------------------------------------------------


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _duration(text: str) -> float:
    value = _number(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(
            f"must be > 0 and at most {MAX_DURATION_S:g} s (one day), got {text}"
        )
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _int_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(1, text)


def _non_negative_int(text: str) -> int:
    return _int_at_least(0, text)


def _nodes(text: str) -> int | str:
    return "all" if text == "all" else _positive_int(text)


def _percentile(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be in [0, 100], got {text}")
    return value


def _range_arg(integer: bool) -> Any:
    """perf_analyzer's START[:END[:STEP]] -> (start, end or None, step)."""

    def parse(text: str) -> tuple[float, float | None, float]:
        parts = text.split(":")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise argparse.ArgumentTypeError(f"must be START:END:STEP, got {text!r}")
        number = _positive_int if integer else _positive_float
        try:
            values = [number(p) for p in parts]
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
        start, end = values[0], values[1] if len(values) > 1 else None
        step = values[2] if len(values) == 3 else 1
        if end is not None and end < start:
            raise argparse.ArgumentTypeError(f"END must be >= START, got {text!r}")
        return start, end, step

    return parse


def _range_values(span: tuple[float, float | None, float]) -> list[float]:
    """START, START+STEP, ... up to END (just START without an END)."""
    start, end, step = span
    if end is None:
        return [start]
    count = math.floor((end - start) / step * (1 + 1e-12)) + 1
    return [float(f"{start + k * step:.12g}") for k in range(count)]


def _id_range(text: str) -> tuple[int, int | None]:
    """perf_analyzer's START:END (END excluded; "START" or "START:" has no end)."""
    start_text, _, end_text = text.partition(":")
    try:
        start = int(start_text)
        end = int(end_text) if end_text.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END with integers (END optional), got {text!r}"
        ) from None
    return start, end


def _flatten(values: Sequence[Sequence[Any]] | None) -> list[Any] | None:
    """Values of a repeatable nargs="+" option as one list (None when not given)."""
    if values is None:
        return None
    return [v for group in values for v in group]


def parse_input_arg(arg: str, option: str = "--input") -> Any:
    """Parse `--input NAME:DTYPE:d1,d2` (or --output) into a TensorSpec (NAME may
    contain ':').

    DTYPE is a Triton name (FP32, INT64, BYTES, ...) or a numpy dtype; dims exclude
    the batch dimension, -1 marks a variable one; no dims means a scalar per sample.
    """
    from neuronperf_native.inputs import InputDataError, TensorSpec

    parts = arg.rsplit(":", 2)
    if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
        raise InputDataError(
            f"{option} {arg!r}: expected NAME:DTYPE:d1,d2 (e.g. IMAGE:FP32:3,224,224)"
        )
    name, dtype, dims_text = (p.strip() for p in parts)
    dims = []
    for part in dims_text.split(",") if dims_text else []:
        text = part.strip()
        if not (text.isdigit() or text == "-1"):
            raise InputDataError(
                f"{option} {arg!r}: dimension {part!r} of '{name}' is not an integer >= -1"
            )
        if len(text) > _MAX_DIM_DIGITS:
            raise InputDataError(f"{option} {arg!r}: dimension {text} of '{name}' is too large")
        dims.append(int(text))
    try:
        spec = TensorSpec(name, dtype, tuple(dims))
    except InputDataError as error:  # said of the option the user wrote
        reason = str(error).removeprefix(f"TensorSpec '{name}': ")
        raise InputDataError(f"{option} {name}: {reason}") from None
    _check_sample_size(option, spec, spec.shape)
    return spec


def _check_sample_size(option: str, spec: Any, dims: Sequence[int]) -> None:
    """Refuses a per-sample shape whose bytes no array can hold (numpy would say only
    "array is too big"), naming the tensor. Variable (-1) dims are not counted."""
    itemsize = spec.numpy_dtype.itemsize
    elements = math.prod(d for d in dims if d > 0)
    if elements * itemsize > _MAX_ARRAY_BYTES:
        raise UsageError(
            f"{option} {spec.name}: shape {list(dims)} of {spec.dtype} holds {elements} "
            f"elements ({elements * itemsize} bytes a sample), more than any array can hold"
        )


# bench ----------------------------------------------------------------------


def add_string_data_args(parser: argparse.ArgumentParser) -> None:
    """perf_analyzer's options for generated BYTES inputs ("random" and "zero" data)."""
    parser.add_argument(
        "--string-length",
        type=_non_negative_int,
        default=128,
        metavar="N",
        help="length of the random strings generated for BYTES inputs (default 128)",
    )
    parser.add_argument(
        "--string-data",
        metavar="TEXT",
        help="the string every generated BYTES element holds (--string-length is then unused)",
    )


def add_sequence_args(parser: argparse.ArgumentParser) -> None:
    """perf_analyzer's sequence-model options; sequence_options() reads them."""
    parser.add_argument(
        "--sequence-length",
        type=_positive_int,
        metavar="N",
        help="steps per sequence, looping each stream's data (default: each stream's own "
        "length); plays sequences",
    )
    parser.add_argument(
        "--sequence-length-variation",
        type=float,
        default=20.0,
        metavar="PERCENT",
        help="each sequence's length varies uniformly within +-PERCENT of --sequence-length "
        "(default 20)",
    )
    parser.add_argument(
        "--sequence-id-range",
        type=_id_range,
        metavar="START:END",
        help="sequence ids from START to END (excluded), reused round-robin; no END: no "
        "bound (default 1:)",
    )
    parser.add_argument(
        "--sequences",
        action="store_true",
        help="play each stream of the input data as a sequence, whole, on one worker",
    )


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


def _is_class_spec(model: str) -> bool:
    head, sep, tail = model.rpartition(":")
    return bool(sep and head and tail.isidentifier() and not os.path.exists(model))


def _import_class(spec: str) -> type:
    """`module:Class` or `path/to/file.py:Class` -> the class (the module is imported)."""
    target, _, class_name = spec.rpartition(":")
    if target.endswith(".py"):
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise UsageError(f"model file {target!r} not found")
        directory = os.path.dirname(path)
        # Children started by spawn re-import the module by name: keep it on sys.path.
        if directory not in sys.path:
            sys.path.insert(0, directory)
        module_name = os.path.splitext(os.path.basename(path))[0]
        loaded = sys.modules.get(module_name)
        if loaded is None or os.path.abspath(getattr(loaded, "__file__", "") or "") != path:
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise UsageError(f"cannot import {target!r} as a Python module")
            loaded = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = loaded
            module_spec.loader.exec_module(loaded)
        module = loaded
    else:
        # As `python -m` does: modules in the current directory import by name.
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise UsageError(f"cannot import module {target!r}: {error}") from None
    model_class = getattr(module, class_name, None)
    if not isinstance(model_class, type):
        raise UsageError(f"{target!r} has no class {class_name!r}")
    return model_class


def _index_framework(index: dict[str, Any], path: str) -> str:
    """Framework of an index's artifacts, from their extensions (or SavedModel dirs)."""
    kinds = set()
    for config in index["model_configs"]:
        filename = str(config["filename"])
        if filename.lower().endswith(TORCH_EXTENSIONS):
            kinds.add("torch")
        elif os.path.isdir(filename) or not os.path.splitext(filename)[1]:
            kinds.add("tensorflow")
    if len(kinds) != 1:
        raise UsageError(
            f"cannot infer the framework of model index {path} from its artifacts "
            f"({', '.join(sorted(kinds)) or 'no known extension'}): pass --framework"
        )
    return kinds.pop()


def _resolve_model(model: str, framework: str | None) -> tuple[str, Any, str]:
    """(kind, model argument, framework) with kind one of "class", "index", "file"."""
    if _is_class_spec(model):
        return "class", _import_class(model), framework or "cpu"
    if not os.path.exists(model):
        raise UsageError(
            f"model {model!r} not found: give a model file, a model index (.json), a "
            "SavedModel directory, or module:Class / file.py:Class"
        )
    if framework == "cpu":
        raise UsageError("--framework cpu benchmarks a model class: give MODEL as module:Class")
    if model.endswith(".json"):
        from neuronperf_native import model_index

        index = model_index.load(model)
        return "index", index, framework or _index_framework(index, model)
    if os.path.isdir(model):
        if framework is None and not os.path.isfile(os.path.join(model, "saved_model.pb")):
            raise UsageError(
                f"{model} is a directory without saved_model.pb: pass --framework if it is a model"
            )
        return "file", model, framework or "tensorflow"
    if framework is None:
        if not model.lower().endswith(TORCH_EXTENSIONS):
            raise UsageError(
                f"cannot infer the framework of {model} from its extension: pass "
                "--framework (torch for .pt/.pth/.ts)"
            )
        framework = "torch"
    return "file", model, framework


def _framework_benchmark(framework: str) -> Any:
    """The benchmark function of a framework submodule, with a clear error if missing."""
    if framework == "cpu":
        from neuronperf_native import cpu

        return cpu.benchmark
    try:
        module = importlib.import_module(f"neuronperf_native.{framework}")
    except ImportError as error:
        raise UsageError(
            f"framework {framework!r} is not available (neuronperf_native.{framework}: "
            f"{error}); install it with: pip install 'neuronperf-native[{framework}]'"
        ) from None
    return module.benchmark


def _input_specs(args: argparse.Namespace, shapes: dict[str, list[int]]) -> list[Any]:
    """The declared model inputs; a model class without --input gets one FP32 input."""
    from neuronperf_native.inputs import TensorSpec

    if args.input:
        specs = [parse_input_arg(text) for text in args.input]
        for spec in specs:
            if spec.name in shapes:
                _check_sample_size("--shape", spec, shapes[spec.name])
        return specs
    if len(shapes) == 1:
        name, dims = next(iter(shapes.items()))
        spec = TensorSpec(name, "FP32", tuple(dims))
        _check_sample_size("--shape", spec, spec.shape)
        return [spec]
    raise UsageError(
        "declare the model inputs with --input NAME:DTYPE:d1,d2 (repeat per input), or "
        "for a single FP32 input give only its shape with --shape NAME:d1,d2"
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
    load: list[str] = []
    if any(r.get("load_mode") == "open" for r in reports):
        head[1:1] = ["request_rate", "request_rate_achieved"]
        load = ["schedule_lag_ms_p99", "backlog_max", "saturated"]
    if any(r.get("slo") for r in reports):
        load += ["slo_met", "slo_best"]
    cols = [*head, *_percentile_cols(percentiles, head), *load]
    return [*cols, *PRINT_COLS[3:-1], "stable", "status"]


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
        head = (
            f"{key[0]} batch {key[1]}: p{slo['percentile']:g} latency threshold "
            f"{slo['target_ms']:g} ms:"
        )
        best = next((r for r in mine if r["slo"]["best"]), None)
        if best is None:
            lines.append(f"{head} no {what} probed met it ({len(mine)} probes)")
        else:
            doubt = "" if best["slo"]["confident"] else ", its interval straddles the threshold"
            lines.append(
                f"{head} highest {what} that met it: {best['slo']['value']:g}{unit} "
                f"(p{slo['percentile']:g} {best['slo']['latency_ms']:.4g} ms{doubt}; "
                f"{len(mine)} probes)"
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
    from neuronperf_native._feeds import mismatch_location

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

    options = _bench_options(args)
    kind, model, framework = _resolve_model(args.model, args.framework)
    data = _bench_data(args)
    batch_sizes = _bench_batch_sizes(args, kind, model)
    if kind == "index":
        missing = sorted(set(batch_sizes) - {c["batch_size"] for c in model["model_configs"]})
        if missing:
            raise UsageError(f"model index {args.model} has no config of batch size {missing[0]}")
        model = args.model  # benchmark() loads it and filters by batch size
    benchmark = _framework_benchmark(framework)
    if args.dry_run:
        print(benchmark(model, data, batch_sizes=batch_sizes, dry_run=True, **options).table())
        return 0
    reports = benchmark(model, data, batch_sizes=batch_sizes, **options)
    if not reports:
        raise UsageError("no configuration to benchmark")
    _bench_output(args, npf, reports)
    return _exit_status(reports)


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
    if args.request_distribution == "poisson":
        options.update(arrival="poisson", seed=args.seed)
    return options


def _threshold_options(
    args: argparse.Namespace,
    concurrency: list[int] | None,
    rates: list[float] | None,
    opened: bool,
) -> dict[str, Any]:
    """--latency-threshold: step through the range (stopping at the first miss), or
    with --binary-search bisect within it (or bracket from a single start value)."""
    if args.latency_threshold is None:
        if args.binary_search:
            raise UsageError("--binary-search needs --latency-threshold MS")
        return {}
    options: dict[str, Any] = {"latency_slo_ms": args.latency_threshold}
    if args.percentile:
        options["slo_percentile"] = args.percentile[0]
    span = args.request_rate_range if opened else args.concurrency_range
    values = rates if opened else concurrency
    if not args.binary_search:
        if values is None or len(values) < 2:
            raise UsageError(
                "--latency-threshold steps through a --request-rate-range or "
                "--concurrency-range (START:END:STEP) and stops at the first over the "
                "threshold: give a range, or --binary-search"
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
        "percentile": args.percentile[0] if args.percentile else 99.0,
        "max_s": max_s,
        "min_s": min(1.0, max_s),
    }
    return {**options, "duration": max_s, "stability": rule}


def _bench_output(args: argparse.Namespace, npf: Any, reports: list[dict[str, Any]]) -> None:
    """The table on stdout, validation notes on stderr, and the files asked for."""
    percentiles = list(dict.fromkeys(args.percentile or []))
    table = _flat_slo(reports)
    npf.print_reports(table, cols=_table_cols(percentiles, reports), units=True)
    for line in _slo_summary(reports):
        print(line)
    for report in reports:
        if report.get("validation") is not None:
            _note(args, _validation_line(report))
    if args.csv:
        extra = _percentile_cols(percentiles, npf.CSV_COLS)
        stats_cols = ["throughput_ci", "latency_ms_p99_ci", "stable", "measured_s"]
        load_cols = [c for c in _LOAD_CSV_COLS if any(r.get(c) is not None for r in table)]
        cols = [*npf.CSV_COLS, *extra, *stats_cols, *load_cols, "status"]
        npf.write_csv(table, args.csv, cols=cols)
        _note(args, f"wrote {args.csv}")
    if args.json:
        npf.write_json(reports, args.json)
        _note(args, f"wrote {args.json}")
    if args.html:
        _note(args, f"wrote {npf.write_html(reports, args.html)}")


# index ----------------------------------------------------------------------


def _format_value(value: Any) -> str:
    if value is None:
        return "N/A"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _print_index(index: dict[str, Any], source: str) -> None:
    configs = index["model_configs"]
    print(f"{source}: model {index['model_name']}, {len(configs)} config(s)")
    if configs:
        extra = sorted({k for c in configs for k in c} - set(_INDEX_COLS))
        cols = [*_INDEX_COLS, *extra]
        _print_table([cols, *([_format_value(c.get(k)) for k in cols] for c in configs)])


def _index(args: argparse.Namespace) -> int:
    from neuronperf_native import model_index

    action = args.action
    if action == "show":
        _print_index(model_index.load(args.index), args.index)
    elif action == "filter":
        index = model_index.filter(
            model_index.load(args.index),
            batch_size=_flatten(args.batch_size),
            pipeline_size=_flatten(args.pipeline_size),
            performance_level=_flatten(args.performance_level),
            status=args.status,
        )
        if args.output:
            _note(args, f"wrote {model_index.save(index, args.output)}")
        else:
            _print_index(index, f"{args.index} (filtered)")
    elif action == "append":
        index = model_index.append(*[model_index.load(path) for path in args.indexes])
        _note(args, f"wrote {model_index.save(index, args.output)}")
    elif action == "copy":
        _note(args, f"wrote {model_index.copy(args.index, args.new_index, args.new_dir)}")
    elif action == "move":
        moved = model_index.move(
            args.index, args.new_index, args.new_dir, allow_outside=args.allow_outside
        )
        _note(args, f"wrote {moved}")
    elif action == "delete":
        return _index_delete(args)
    return EXIT_OK


def _index_delete(args: argparse.Namespace) -> int:
    """Deletes an index and its artifacts: lists what will go (asking first on a
    terminal, unless --yes), then counts what was removed and what was skipped."""
    from neuronperf_native import model_index

    plan = model_index.plan_delete(args.index, allow_outside=args.allow_outside)
    what = f"{args.index} and {len(plan.removed)} artifact(s)"
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {what} without --yes")
        for path in plan.removed:
            print(f"  remove {path}", file=sys.stderr)
        for path in plan.skipped:
            print(f"  keep   {path} (outside the index's folder)", file=sys.stderr)
        answer = input(f"delete {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            _note(args, "not deleted")
            return EXIT_OK
    removal = model_index.delete(args.index, allow_outside=args.allow_outside)
    summary = f"deleted {args.index}: removed {len(removal.removed)} artifact(s)"
    if removal.skipped:
        summary += (
            f", skipped {len(removal.skipped)} outside the index's folder "
            "(--allow-outside removes them)"
        )
    _note(args, summary)
    return EXIT_OK


# report ---------------------------------------------------------------------


def _load_reports(path: str) -> list[dict[str, Any]]:
    """Reports saved by write_json (a usage error, exit status 2, when unreadable)."""
    from neuronperf_native.reporting import ReportFileError, read_json

    try:
        return read_json(path)
    except ReportFileError as error:
        raise UsageError(str(error)) from None


def _report(args: argparse.Namespace) -> int:
    import neuronperf_native as npf

    reports = _load_reports(args.file)
    if args.plot:
        from neuronperf_native import _plot

        _plot.require_matplotlib()
    if args.cols:
        cols = [col for group in args.cols for col in group]
    else:
        percentiles = sorted({p for r in reports for p in r.get("percentiles") or []})
        cols = _table_cols(percentiles, reports)
    sort_by = args.sort_by if args.sort_by != "none" else None
    if sort_by is not None and sort_by not in cols:
        cols.insert(1, sort_by)  # a sort shows its column
    npf.print_reports(_flat_slo(reports), cols=cols, sort_by=sort_by, units=True)
    if args.plot:
        from neuronperf_native import _plot

        _plot.plot_reports(reports, args.plot, title=os.path.basename(args.file))
        _note(args, f"wrote {args.plot}")
    if args.html:
        _note(args, f"wrote {npf.write_html(reports, args.html)}")
    return EXIT_OK


# compare --------------------------------------------------------------------


def _threshold_percent(text: str) -> float:
    """--threshold PCT: a percentage ("5" or "5%") -> a fraction (0.05)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a percentage, got {text!r}") from None
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a percentage >= 0, got {text!r}")
    return value / 100.0


def _confidence(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def _compare(args: argparse.Namespace) -> int:
    from neuronperf_native.comparing import compare

    metrics = None
    if args.metric:
        metrics = [m.strip() for text in args.metric for m in text.split(",") if m.strip()]
    comparison = compare(
        args.base, args.new, threshold=args.threshold, metrics=metrics, confidence=args.confidence
    )
    sys.stdout.write(comparison.table())
    if args.html:
        from neuronperf_native.reporters.html import write_comparison_html

        _note(args, f"wrote {write_comparison_html(comparison, args.html)}")
    if not comparison.rows:
        raise UsageError(f"no configuration of {args.base} matches one of {args.new}")
    return EXIT_FAILED if comparison.regressed else EXIT_OK


def _add_compare(sub: Any, parent: argparse.ArgumentParser) -> None:
    cmp = sub.add_parser(
        "compare",
        parents=[parent],
        help="compare two saved runs (write_json); exit status 1 when NEW is slower",
        description=(
            "Compare NEW.json against BASE.json (reports from --json or write_json). "
            "Configurations are matched on model name, batch size, n_models, workers, "
            "pipeline size (and load mode/rate when present). A metric is slower or "
            "faster only when the change is statistically significant at --confidence "
            "and beyond --threshold: throughput from the window series (Mann-Whitney U), "
            "latency percentiles from the saved HDR histograms (order-statistic "
            "intervals). Exit status: 0 nothing regressed, 1 a metric got slower or a "
            "configuration failed, 2 usage error."
        ),
    )
    cmp.add_argument("base", metavar="BASE.json", help="the reference run (--json, write_json)")
    cmp.add_argument("new", metavar="NEW.json", help="the run to check against BASE")
    cmp.add_argument(
        "--threshold",
        type=_threshold_percent,
        default=0.05,
        metavar="PCT",
        help="smallest change, in percent, that counts as slower/faster (default 5)",
    )
    cmp.add_argument(
        "--metric",
        action="append",
        metavar="M[,M...]",
        help="metrics to compare: throughput_avg, latency_ms_pXX (repeatable; default "
        "throughput_avg,latency_ms_p50,latency_ms_p99)",
    )
    cmp.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        help="confidence of the significance decision (default 0.95)",
    )
    cmp.add_argument(
        "--html", metavar="OUT.html", help="also write the comparison as HTML, runs overlaid"
    )
    cmp.set_defaults(handler=_compare)


# parser ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see --help)\n")


def _verbosity_parent() -> _Parser:
    """-v/-q for subcommands (SUPPRESS keeps a top-level -v from being overridden)."""
    parent = _Parser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs and tracebacks",
    )
    parent.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="warnings and errors only on stderr",
    )
    return parent


def _add_bench(sub: Any, parent: argparse.ArgumentParser) -> None:
    bench = sub.add_parser(
        "bench",
        parents=[parent],
        help="benchmark a model file, model index, SavedModel or module:Class",
        description=(
            "Benchmark MODEL: a TorchScript file (.pt/.pth/.ts -> torch), a model index "
            "(.json; framework from --framework or the artifacts' extensions), a SavedModel "
            "directory (tensorflow), or module:Class / path/to/file.py:Class (a callable "
            "class, instantiated in each model process; --framework cpu by default). "
            "The model's inputs must be declared with --input NAME:DTYPE:d1,d2, in the "
            "model's argument order: perf_analyzer reads them from the model server, this "
            "tool cannot. A model class without --input takes one FP32 input whose shape "
            "is the single --shape NAME:d1,d2 given. Load: closed loop by default "
            "(--concurrency N is 1 model copy x N workers), open loop with --request-rate; "
            "--latency-threshold searches the highest rate or concurrency meeting it."
        ),
    )
    bench.add_argument(
        "model",
        metavar="MODEL",
        help="a model file, model index (.json), SavedModel directory, or module:Class",
    )
    bench.add_argument("--framework", choices=FRAMEWORKS, help="default: from MODEL")
    bench.add_argument(
        "-b",
        "--batch-size",
        type=_positive_int,
        nargs="+",
        action="append",
        help="batch sizes (repeatable; default: the index's, else 1)",
    )
    bench.add_argument(
        "--input",
        action="append",
        metavar="NAME:DTYPE:d1,d2",
        help="declare a model input (repeatable, in argument order); dims exclude the "
        "batch dimension, -1 = variable; DTYPE: FP32, INT64, BYTES, ... or a numpy dtype",
    )
    bench.add_argument(
        "--shape",
        action="append",
        metavar="NAME:d1,d2",
        help="the dims of a variable-sized input (repeatable)",
    )
    bench.add_argument(
        "--input-data",
        action="append",
        metavar="random|zero|DIR|FILE",
        help="input data: random (default), zero, a directory of raw files, or "
        "perf_analyzer JSON files (repeatable: steps appended in order)",
    )
    bench.add_argument(
        "--output",
        action="append",
        metavar="NAME:DTYPE:d1,d2",
        help="declare a model output that the input data's validation_data (or a directory's "
        "output file) gives expected values for (repeatable, in output order)",
    )
    bench.add_argument(
        "--rtol",
        type=float,
        default=1e-5,
        help="relative tolerance of float outputs (default 1e-05)",
    )
    bench.add_argument(
        "--atol",
        type=float,
        default=1e-8,
        help="absolute tolerance of float outputs (default 1e-08)",
    )
    bench.add_argument(
        "--strict-validation",
        action="store_true",
        help="an output mismatch fails the run (default: counted in the report)",
    )
    bench.add_argument(
        "--shared-memory",
        choices=("none", "system"),
        default="none",
        help="system: model processes map the inputs from POSIX shared memory (default none)",
    )
    bench.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of random input data and of Poisson arrivals (>= 0; default 0)",
    )
    add_string_data_args(bench)
    add_sequence_args(bench)
    bench.add_argument(
        "--duration",
        type=_duration,
        help="run each configuration for this many seconds (at most one day) instead of "
        "until its numbers are stable",
    )
    bench.add_argument(
        "--stability-percentage",
        type=_positive_float,
        metavar="P",
        help="stop a configuration once the confidence intervals of its throughput and of "
        f"the --percentile latency are within +-P%% (default {_DEFAULT_STABILITY_PERCENTAGE:g})",
    )
    bench.add_argument(
        "--measurement-interval",
        type=_positive_float,
        metavar="MS",
        help="window length in ms: throughput samples and stability checks (default "
        f"{_STABILITY_WINDOW_S * 1e3:g}, or 1000 with --duration)",
    )
    bench.add_argument(
        "--max-trials",
        type=_positive_int,
        metavar="N",
        help="at most N windows per configuration before it ends unstable (default "
        f"{_DEFAULT_MAX_TRIALS})",
    )
    bench.add_argument(
        "--n-models",
        type=_positive_int,
        nargs="+",
        action="append",
        metavar="N",
        help="model copies (repeatable; default 1 and MAX: NeuronCores, GPUs or usable cores; "
        "1 in open loop and in a --latency-threshold search)",
    )
    bench.add_argument(
        "--workers-per-model",
        type=_positive_int,
        nargs="+",
        action="append",
        metavar="N",
        help="worker threads per model copy (repeatable; default 1 and 2; in open loop "
        "--max-threads)",
    )
    bench.add_argument(
        "--pipeline-size",
        type=_positive_int,
        nargs="+",
        action="append",
        metavar="N",
        help="pipeline sizes (repeatable; default: the index's, else 1)",
    )
    bench.add_argument("--device-type", help="neuron, cpu or gpu (default: the framework's)")
    _add_load_options(bench)
    bench.add_argument(
        "--percentile",
        type=_percentile,
        action="append",
        metavar="P",
        help="extra latency percentile to report (repeatable); the first one is also the "
        "percentile stability and --latency-threshold are judged on (default 99)",
    )
    bench.add_argument("--model-name", help="name in the reports (default: from MODEL)")
    bench.add_argument(
        "--dry-run",
        action="store_true",
        help="print the configurations that would run and the time estimate; run nothing",
    )
    bench.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="ADDRESS",
        help="run on a Ray cluster: auto (default), ray://HOST:PORT or HOST:PORT "
        "(needs the 'ray' extra); configurations spread across its nodes",
    )
    bench.add_argument(
        "--nodes",
        type=_nodes,
        metavar="N|all",
        help="with --ray: run each configuration on N nodes at once, merged (scale-out)",
    )
    bench.add_argument("--csv", metavar="FILE", help="write the reports as CSV")
    bench.add_argument("--json", metavar="FILE", help="write the reports as JSON")
    bench.add_argument("--html", metavar="FILE", help="write an HTML report with plots")
    bench.set_defaults(handler=_bench)


def _add_load_options(bench: argparse.ArgumentParser) -> None:
    """perf_analyzer's load options, with its names and meanings."""
    load = bench.add_argument_group(
        "load (perf_analyzer's options)",
        "Closed loop (default): each worker sends its next request when the previous one "
        "completes. Open loop (--request-rate, --request-rate-range, --request-intervals): "
        "requests arrive on a schedule whatever the model does, latency counts from when "
        "each was due, and 1 model copy serves them unless --n-models says otherwise.",
    )
    load.add_argument(
        "--concurrency",
        type=_positive_int,
        nargs="+",
        action="append",
        metavar="N",
        help="closed-loop concurrency: 1 model copy with N workers (perf_analyzer's meaning)",
    )
    load.add_argument(
        "--concurrency-range",
        type=_range_arg(integer=True),
        metavar="START:END:STEP",
        help="closed loop: concurrency START, START+STEP, ... up to END (END and STEP "
        "default to START and 1)",
    )
    load.add_argument(
        "--request-rate",
        type=_positive_float,
        nargs="+",
        action="append",
        metavar="R",
        help="open loop: R requests/s of all model copies together (repeatable: one "
        "configuration per rate)",
    )
    load.add_argument(
        "--request-rate-range",
        type=_range_arg(integer=False),
        metavar="START:END:STEP",
        help="open loop: request rates START, START+STEP, ... up to END (requests/s)",
    )
    load.add_argument(
        "--request-distribution",
        choices=("constant", "poisson"),
        help="open loop: gaps between requests, constant or Poisson (exponential, seeded "
        "by --seed); default constant",
    )
    load.add_argument(
        "--request-intervals",
        metavar="FILE",
        help="open loop: replay the gaps in FILE (one per line, in microseconds), looped",
    )
    load.add_argument(
        "--max-threads",
        type=_positive_int,
        metavar="N",
        help="open loop: requests each model copy may have in flight (its workers; "
        "default 4, perf_analyzer's)",
    )
    load.add_argument(
        "--latency-threshold",
        type=_positive_float,
        metavar="MS",
        help="search for the highest request rate (open loop) or concurrency (closed loop) "
        "whose --percentile latency is at most MS: with a range, step through it and stop "
        "at the first rate over MS; with --binary-search, bracket and bisect",
    )
    load.add_argument(
        "--binary-search",
        action="store_true",
        help="with --latency-threshold: binary search within the range given (its STEP "
        "is the precision), or from --request-rate / --concurrency (2%% of the value)",
    )


_INDEX_HELP = "the model index (.json, as compile writes it)"


def _add_index(sub: Any, parent: argparse.ArgumentParser) -> None:
    index = sub.add_parser("index", parents=[parent], help="show and edit model indexes")
    actions = index.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", parents=[parent], help="print an index's configs")
    show.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    filt = actions.add_parser(
        "filter", parents=[parent], help="keep the matching configs (print, or -o to save)"
    )
    filt.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    for option, what in (
        ("--batch-size", "batch sizes"),
        ("--pipeline-size", "pipeline sizes"),
        ("--performance-level", "performance levels"),
    ):
        filt.add_argument(
            option,
            type=int,
            nargs="+",
            action="append",
            metavar="N",
            help=f"keep these {what} (repeatable; default: any)",
        )
    filt.add_argument(
        "--status", choices=("finished", "error"), help="keep this compile status (default: any)"
    )
    filt.add_argument("-o", "--output", metavar="OUT", help="write the filtered index here")
    app = actions.add_parser("append", parents=[parent], help="combine indexes into one")
    app.add_argument("indexes", nargs="+", metavar="INDEX", help="the indexes to combine")
    app.add_argument("-o", "--output", metavar="OUT", required=True, help="the index to write")
    for name, text in (("copy", "copy"), ("move", "move")):
        p = actions.add_parser(
            name, parents=[parent], help=f"{text} the artifacts to NEW_DIR, write NEW_INDEX"
        )
        p.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
        p.add_argument("new_index", metavar="NEW_INDEX", help="the index to write")
        p.add_argument("new_dir", metavar="NEW_DIR", help=f"where to {text} the artifacts")
        if name == "move":
            _add_allow_outside(p, "move")
    delete = actions.add_parser(
        "delete",
        parents=[parent],
        help="delete an index and the artifacts it lists inside its folder",
    )
    delete.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    delete.add_argument(
        "--yes", action="store_true", help="do not ask (required when not interactive)"
    )
    _add_allow_outside(delete, "delete")
    index.set_defaults(handler=_index)


def _add_allow_outside(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--allow-outside",
        action="store_true",
        help=f"also {verb} artifacts outside the index's folder (default: left in place)",
    )


def _add_report(sub: Any, parent: argparse.ArgumentParser) -> None:
    report = sub.add_parser(
        "report", parents=[parent], help="re-print saved reports (write_json), optionally plot"
    )
    report.add_argument("file", metavar="FILE.json", help="reports written by --json or write_json")
    report.add_argument(
        "--plot",
        metavar="OUT.png",
        help="draw latency percentiles (log scale) and throughput timelines (needs matplotlib)",
    )
    report.add_argument(
        "--html",
        metavar="OUT.html",
        help="write a self-contained HTML report (tables and plots, no network)",
    )
    report.add_argument("--cols", nargs="+", action="append", help="columns to print")
    report.add_argument(
        "--sort-by",
        default="none",
        metavar="COLUMN",
        help="sort the rows by COLUMN (printed too); default none: the run's order",
    )
    report.set_defaults(handler=_report)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neuronperf-native",
        description="Inference benchmarking with a native timing engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parent = _verbosity_parent()
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        parents=[parent],
        help="benchmark a built-in numpy model on this machine (no framework needed)",
        description="Benchmark a 256x256 linear layer with ReLU in numpy: every pair of "
        "--n-models and --workers, --duration seconds each; prints the report table.",
    )
    demo.add_argument(
        "--duration", type=_duration, default=1.0, help="seconds per configuration (default 1)"
    )
    demo.add_argument(
        "--n-models",
        type=_positive_int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="model copies (default 1 2)",
    )
    demo.add_argument(
        "--workers",
        type=_positive_int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="worker threads per model copy (default 1 2)",
    )
    demo.set_defaults(handler=_demo)
    _add_bench(sub, parent)
    _add_index(sub, parent)
    _add_report(sub, parent)
    _add_compare(sub, parent)
    run = sub.add_parser(
        "run",
        parents=[parent],
        help="run an unchanged NeuronPerf script with 'import neuronperf' served by this package",
        usage="%(prog)s [-h] [-v] [-q] SCRIPT [ARG ...]",
    )
    run.add_argument("script", metavar="SCRIPT", help="the Python script to run as __main__")
    run.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARG",
        help="arguments passed to the script (optional; everything after SCRIPT)",
    )
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from neuronperf_native.launcher import run_script

    return run_script(args.script, args.args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.handler is _run:  # the script owns its warnings and logging
        return args.handler(args)
    with _cli_output(args.verbose):
        try:
            return args.handler(args)
        except _USER_ERRORS as error:
            if args.verbose:
                traceback.print_exc()
            print(f"error: {_error_text(error)}", file=sys.stderr)
            return EXIT_USAGE


def _error_text(error: BaseException) -> str:
    """One line for an error that ends a command."""
    lines = _user_text(str(error)).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if isinstance(error, RecursionError):
        return f"input nested too deeply to process ({text})"
    if isinstance(error, MemoryError):
        return f"not enough memory: {text}"
    return text


def _user_text(text: str) -> str:
    """``text`` without this package's qualified exception names: an internal
    (underscore-module) one is dropped, a public one shortened to its class name."""

    def shorten(match: re.Match[str]) -> str:
        internal = any(part.startswith("_") for part in match.group(1).split("."))
        return "" if internal else f"{match.group(2)}: "

    return _QUALIFIED_NAME.sub(shorten, text)


class _LogFormatter(logging.Formatter):
    """The package's log records, one line each (the first) unless verbose; verbose,
    a traceback already shown is not shown again."""

    def __init__(self, verbose: bool) -> None:
        super().__init__("%(asctime)s %(name)s %(levelname)s: %(message)s")
        self.verbose = verbose
        self._shown: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        head, _, rest = super().format(record).partition("\n")
        head = _user_text(head)
        if not self.verbose or not rest:
            return head
        # The same failure in another configuration: the same frames, perhaps
        # another worker or value in the message.
        frames = "\n".join(line for line in rest.splitlines() if line.startswith('  File "'))
        if frames in self._shown:
            return f"{head} (traceback as above)"
        self._shown.add(frames)
        return f"{head}\n{rest}"


@contextlib.contextmanager
def _cli_output(verbose: bool) -> Iterator[None]:
    """Routes the package's logs and Python warnings to stderr as short lines while a
    command runs."""
    logger = logging.getLogger("neuronperf_native")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(verbose))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        where = f" ({category.__name__}, {filename}:{lineno})" if verbose else ""
        print(f"warning: {_user_text(str(message))}{where}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


if __name__ == "__main__":
    sys.exit(main())
