"""NeuronPerf-compatible benchmark orchestration: configurations, copies, stats, reports.

benchmark() expands model configs x workers_per_model x n_models, runs each
configuration's model copies together (processes, fresh interpreters or threads;
_processes.py), samples CPU and memory while they run, and turns the engine results
into reports (reporting.py).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from neuronperf_native import _feeds, devices, model_index, reporting, timing
from neuronperf_native._processes import CopiesOutcome, CopyJob, _as_args, run_copies
from neuronperf_native.engine import RunResult

log = logging.getLogger("neuronperf_native")

#: Default seconds per configuration (NeuronPerf's default).
BENCHMARK_SECS = 120

# Fixed per-configuration cost used for the up-front time estimate.
_ESTIMATED_SETUP_S = 2.0

_EXTENSIONS = {
    "load_mode",
    "request_rate",
    "arrival",
    "seed",
    "warmup_iterations",
    "max_iterations",
    "window_s",
    "call_timeout_s",
    "percentiles",
    "stability",
    "instance_type",
    "load_timeout_s",
    "eval_metrics",
    "input_transform_fn",
    "dataset",
    "loop_dataset",
    "input_data",
    "input_names",
    "feed_by_name",
    "rtol",
    "atol",
    "strict_validation",
    "shared_memory",
}
_UNIMPLEMENTED_EXTENSIONS = {"request_rate", "arrival", "seed", "stability", "eval_metrics"}
_VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
_TIMER_STAGES = ("input", "preprocess", "infer", "postprocess", "e2e")


def set_verbosity(verbosity: int) -> None:
    """0: warnings only, 1: progress (default), 2: debug.

    Logs go to the `neuronperf_native` logger; when the application has configured no
    logging at all, a stderr handler is added so progress is visible by default.
    """
    if verbosity not in _VERBOSITY_LEVELS:
        raise ValueError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    log.setLevel(_VERBOSITY_LEVELS[verbosity])
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        log.addHandler(handler)


def _as_list(name: str, value: Any, kind: type | tuple[type, ...]) -> list | None:
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{name} must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise TypeError(f"{name} must hold {getattr(kind, '__name__', kind)} values, got {v!r}")
    return values


def _positive_ints(name: str, value: Any) -> list[int] | None:
    values = _as_list(name, value, int)
    for v in values or ():
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v!r}")
    return values


def _validation_options(extensions: dict[str, Any]) -> dict[str, Any]:
    """rtol, atol and strict_validation, checked, as FeedCache keywords."""
    options: dict[str, Any] = {}
    for name, default in (("rtol", 1e-5), ("atol", 1e-8)):
        value = extensions.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        options[name] = float(value)
    strict = extensions.get("strict_validation", False)
    if not isinstance(strict, bool):
        raise TypeError(f"strict_validation must be a bool, got {strict!r}")
    options["strict"] = strict
    return options


def _shared_memory_option(value: Any) -> bool:
    """shared_memory: None / "none" (each copy gets its own inputs) or "system"."""
    if value is None or value == "none":
        return False
    if value == "system":
        return True
    raise ValueError(f"shared_memory must be 'system', 'none' or None, got {value!r}")


def _check_callable(name: str, fn: Any) -> None:
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")


def _model_configs(
    model_filename: Any,
    inputs: list[Any] | None,
    batch_sizes: list[int] | None,
    pipeline_sizes: list[int] | None,
    performance_levels: list[int] | None,
) -> list[dict[str, Any]]:
    """The model configs to run: from an index (filtered, finished only) or one model.
    ``inputs`` None means input data, which serves every batch size (input_idx 0)."""
    if isinstance(model_filename, str) and model_filename.endswith(".json"):
        index = model_index.load(model_filename)
        filtered = model_index.filter(
            index,
            batch_size=batch_sizes,
            pipeline_size=pipeline_sizes,
            performance_level=performance_levels,
            status="finished",
        )
        configs = [dict(c) for c in filtered["model_configs"]]
        if not configs:
            raise ValueError(
                f"model index {model_filename} has no finished config matching "
                f"batch_sizes={batch_sizes}, pipeline_sizes={pipeline_sizes}, "
                f"performance_levels={performance_levels}"
            )
        for c in configs:
            if inputs is None:
                c["input_idx"] = 0
            elif c["input_idx"] >= len(inputs):
                raise ValueError(
                    f"model index {model_filename}: config {c['filename']} has input_idx "
                    f"{c['input_idx']} but only {len(inputs)} inputs were given"
                )
            c.setdefault("model_name", index.get("model_name"))
        return configs
    if inputs is not None and batch_sizes is not None and len(batch_sizes) != len(inputs):
        raise ValueError(
            f"batch_sizes has {len(batch_sizes)} values but {len(inputs)} inputs were given "
            "(one input per batch size)"
        )
    sizes = batch_sizes or [1] * (1 if inputs is None else len(inputs))
    filename = (
        model_filename if isinstance(model_filename, str) else _qualified_name(model_filename)
    )
    return [
        {
            "filename": filename,
            "input_idx": 0 if inputs is None else i,
            "batch_size": size,
            "pipeline_size": pipeline,
            "performance_level": None if performance_levels is None else level,
        }
        for (i, size), pipeline, level in itertools.product(
            enumerate(sizes), pipeline_sizes or [1], performance_levels or [None]
        )
    ]


def _qualified_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".lstrip(".")


def _default_workers(pipeline_size: int) -> list[int]:
    return [1, 2] if pipeline_size == 1 else sorted({1, pipeline_size - 1})


def _default_n_models(device_type: str, pipeline_size: int) -> list[int]:
    most = devices.max_model_copies(device_type, pipeline_size)
    return [1] if not most or most <= 1 else [1, most]


class _Stats:
    """Samples system CPU and memory percent every interval while copies run."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.cpu: list[float] = []
        self.mem: list[float] = []
        self._next = 0.0
        self._active = False

    def start(self) -> None:
        psutil.cpu_percent(interval=None)  # primes the counter
        self._next = time.monotonic() + self.interval_s
        self._active = True

    def tick(self) -> None:
        if self._active and time.monotonic() >= self._next:
            self.cpu.append(psutil.cpu_percent(interval=None))
            self.mem.append(psutil.virtual_memory().percent)
            self._next += self.interval_s


class _Progress:
    """Time-left estimate and, on a terminal at verbosity >= 1, a one-line progress bar."""

    def __init__(self, n_configs: int, per_config_s: float, verbosity: int) -> None:
        self.n_configs = n_configs
        self.per_config_s = per_config_s
        self.done = 0
        self.started = time.monotonic()
        self.bar = verbosity >= 1 and sys.stderr.isatty()
        self._last_draw = 0.0

    def remaining_s(self) -> float:
        return max(0.0, (self.n_configs - self.done) * self.per_config_s)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.bar or (not force and now - self._last_draw < 0.5):
            return
        self._last_draw = now
        width = 30
        filled = int(width * self.done / max(1, self.n_configs))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.n_configs} configs, "
            f"~{self.remaining_s():.0f} s left "
        )
        sys.stderr.flush()

    def finish(self) -> None:
        if self.bar:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _results_of(
    outcome: CopiesOutcome,
    config: dict[str, Any],
    stats: _Stats,
    return_timers: bool,
) -> dict[str, Any]:
    copies = [c.result for c in outcome.copies if c.result is not None]
    statuses = {c["status"] for c in copies}
    if outcome.interrupted:
        status = "stopped"
    elif outcome.error is not None:
        status = "error"
    else:
        status = next((s for s in ("error", "timeout", "stopped") if s in statuses), "finished")
    error = outcome.error or next((c["error"] for c in copies if c["error"]), None)
    if outcome.error is not None:
        details = [c.error for c in outcome.copies if c.error]
        if details:
            error = f"{outcome.error}\n{details[0]}"
    iterations = sum(c["iterations"] for c in copies)
    total_s = max((c["wall_s"] for c in copies), default=0.0)
    results: dict[str, Any] = {
        "status": status,
        "error": error,
        "workers_per_model": config["workers_per_model"],
        "n_infs": iterations * config["batch_size"],
        "total_s": total_s,
        "cpu_percents": stats.cpu,
        "mem_percents": stats.mem,
        "copies": copies,
    }
    validation = _feeds.merge_validation([c["validation"] for c in copies if c.get("validation")])
    if validation is not None:
        results["validation"] = validation
    if return_timers:
        results["timers"] = _timers_of(outcome)
    return results


def _timers_of(outcome: CopiesOutcome) -> dict[str, list[timing.Timer]]:
    """Timer objects per stage (one per copy) backed by the raw timestamp buffers."""
    timers: dict[str, list[timing.Timer]] = {s: [] for s in _TIMER_STAGES}
    for name in ("load", "env_setup", "setup", "warmup"):
        timers[name] = []
    for copy in outcome.copies:
        if copy.result is None:
            continue
        if copy.timestamps is not None:
            result = RunResult.from_dict(copy.result, boundaries=copy.timestamps)
            for stage in _TIMER_STAGES:
                timers[stage].append(timing.Timer.from_timestamps(result.timestamps(stage)))
        for name in ("load", "env_setup", "setup"):
            seconds = copy.result.get(f"{name}_s", 0.0)
            timers[name].append(timing.Timer.from_timestamps(_interval(seconds)))
    return timers


def _interval(seconds: float) -> Any:
    return np.array([[0, round(seconds * 1e9)]], dtype=np.int64)


class Benchmarker(threading.Thread):
    """Drives one model copy in this process by hand (NeuronPerf's Benchmarker).

    A thread: start() loads the model with load_fn(model_filename, device_id=device_id)
    and runs the engine with `workers_per_model` workers until `duration` seconds pass
    or stop() is called. status moves "ready" -> "running" -> "finished" | "error";
    n_infs holds the per-worker inference counts once it has finished.
    """

    def __init__(
        self,
        id: int,
        device_id: int,
        load_fn: Callable[..., Any],
        model_filename: str,
        inputs: Any,
        workers_per_model: int = 1,
        env_setup_fn: Callable[..., Any] | None = None,
        setup_fn: Callable[..., Any] | None = None,
        preprocess_fn: Callable[..., Any] | None = None,
        postprocess_fn: Callable[..., Any] | None = None,
        duration: float = BENCHMARK_SECS,
        warmup_iterations: int = 1,
        window_s: float = 1.0,
        call_timeout_s: float | None = None,
    ) -> None:
        super().__init__(name=f"npf-benchmarker-{id}", daemon=True)
        if not callable(load_fn):
            raise TypeError(f"load_fn must be callable, got {type(load_fn).__name__}")
        _positive_ints("workers_per_model", workers_per_model)
        item = inputs[0] if isinstance(inputs, list) and len(inputs) == 1 else inputs
        self.id = id
        self.device_id = device_id
        self.status = "ready"
        self.n_infs: list[int] = [0] * workers_per_model
        self.error: str | None = None
        self._job = CopyJob(
            copy_id=id,
            device_id=device_id,
            load_fn=load_fn,
            model_filename=model_filename,
            config={},
            inputs=[_as_args(item)],
            env_setup_fn=env_setup_fn,
            setup_fn=setup_fn,
            preprocess_fn=preprocess_fn,
            postprocess_fn=postprocess_fn,
            workers=workers_per_model,
            warmup_iterations=warmup_iterations,
            duration_s=float(duration),
            window_s=window_s,
            call_timeout_s=call_timeout_s,
            record_timestamps=True,
        )
        self._outcome: CopiesOutcome | None = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        self.status = "running"
        outcome = run_copies(
            [self._job],
            "thread",
            ready_timeout_s=None,
            run_timeout_s=None,
            stop=self._stop_requested,
        )
        self._outcome = outcome
        copy = outcome.copies[0]
        if copy.result is not None:
            self.n_infs = list(copy.result["per_worker_iterations"])
        self.error = outcome.error or (copy.result or {}).get("error")
        failed = outcome.error is not None or (copy.result or {}).get("status") == "error"
        self.status = "error" if failed else "finished"

    def stop(self) -> None:
        """Asks the run to stop after the current iterations; results are kept."""
        self._stop_requested.set()

    def results(self) -> dict[str, Any]:
        """The copy's RunResult dict (histograms, windows, counts) and Timer objects."""
        if self._outcome is None:
            raise RuntimeError(f"Benchmarker {self.id} has not finished (status {self.status})")
        copy = self._outcome.copies[0]
        return {
            "status": self.status,
            "error": self.error,
            "n_infs": sum(self.n_infs),
            "result": copy.result,
            "timers": _timers_of(self._outcome),
        }


def benchmark(
    load_fn: Callable[..., Any],
    model_filename: Any,
    inputs: Any,
    batch_sizes: Any = None,
    duration: float = BENCHMARK_SECS,
    n_models: Any = None,
    pipeline_sizes: Any = None,
    performance_levels: Any = None,
    workers_per_model: Any = None,
    env_setup_fn: Callable[..., Any] | None = None,
    setup_fn: Callable[..., Any] | None = None,
    preprocess_fn: Callable[..., Any] | None = None,
    postprocess_fn: Callable[..., Any] | None = None,
    dataset_loader_fn: Callable[..., Any] | None = None,
    multiprocess: bool = True,
    multiinterpreter: bool = False,
    return_timers: bool = False,
    stats_interval: float = 0.5,
    device_type: str = "neuron",
    cost_per_hour: float | None = None,
    model_name: str | None = None,
    verbosity: int = 1,
    **extensions: Any,
) -> list[Any]:
    """Benchmarks every configuration and returns one report per configuration.

    Configurations are model configs (from a model index, filtered by batch_sizes,
    pipeline_sizes and performance_levels, or one model) x workers_per_model x
    n_models. Each model copy runs `load_fn(model_filename, device_id=N)` in its own
    process (multiprocess=True), fresh interpreter (multiinterpreter=True) or thread
    (multiprocess=False); all copies warm up, start timing together and stop
    together after `duration` seconds. A failing configuration is reported with
    status "error" and the rest still run; Ctrl-C returns what was measured so far.
    With return_timers=True, returns (config, results) pairs for get_reports().
    Datasets: with dataset_loader_fn(dataset, copy_id, n_copies) -> iterable (or
    dataset=True), `inputs` is a dataset; each copy serves its own share to its workers
    (no item twice, none skipped), once through (duration=0: no time limit) or
    endlessly with loop_dataset=True.
    Input data (perf_analyzer formats, see inputs.py): ``inputs`` may be an InputData,
    or ``input_data=`` an InputData or a source whose tensors the example ``inputs``
    describe, named by ``input_names``. Each batch size gets the data's batches, which
    every copy cycles through from its own starting batch; ``input_names`` orders the
    tensors, and ``feed_by_name=True`` passes each batch as one dict name -> array.
    With expected outputs in the data, the copies first run each validated step once,
    untimed, and compare (``rtol``, ``atol``); the report's "validation" field counts
    steps and mismatches and names the first. ``strict_validation=True`` makes a
    mismatch fail the configuration and end the benchmark. ``shared_memory="system"``
    puts the batches once in POSIX shared memory that model processes map, instead of
    each unpickling its own copy (multiinterpreter) or inheriting it (fork).
    Extensions: warmup_iterations, max_iterations, window_s, call_timeout_s,
    percentiles, instance_type, load_timeout_s, input_transform_fn(model, args) ->
    args (run once per input in each copy after loading, e.g. to move it to a GPU),
    dataset, loop_dataset, and the input-data keywords above.
    """
    unknown = set(extensions) - _EXTENSIONS
    if unknown:
        raise TypeError(f"benchmark() got unexpected keyword arguments: {sorted(unknown)}")
    pending = sorted(set(extensions) & _UNIMPLEMENTED_EXTENSIONS)
    if extensions.get("load_mode", "closed") != "closed":
        pending.insert(0, "load_mode")
    if pending:
        raise NotImplementedError(
            f"{', '.join(pending)}: not available yet (open-loop load modes, stability "
            "stopping and eval_metrics come later); the closed loop is NeuronPerf's behaviour"
        )
    dataset_mode = dataset_loader_fn is not None or bool(extensions.get("dataset"))
    _check_callable("dataset_loader_fn", dataset_loader_fn)
    _check_callable("input_transform_fn", extensions.get("input_transform_fn"))
    if not callable(load_fn):
        raise TypeError(f"load_fn must be callable, got {type(load_fn).__name__}")
    for name, fn in (
        ("env_setup_fn", env_setup_fn),
        ("setup_fn", setup_fn),
        ("preprocess_fn", preprocess_fn),
        ("postprocess_fn", postprocess_fn),
    ):
        _check_callable(name, fn)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise TypeError(f"duration must be a number of seconds, got {duration!r}")
    if not math.isfinite(duration) or duration < 0 or (duration == 0 and not dataset_mode):
        raise ValueError(
            f"duration must be a positive number of seconds (0 only with a dataset: run it "
            f"once through), got {duration!r}"
        )
    if isinstance(stats_interval, bool) or not isinstance(stats_interval, (int, float)):
        raise TypeError(f"stats_interval must be a number of seconds, got {stats_interval!r}")
    if not stats_interval > 0:
        raise ValueError(f"stats_interval must be > 0, got {stats_interval!r}")
    if cost_per_hour is not None and (
        isinstance(cost_per_hour, bool)
        or not isinstance(cost_per_hour, (int, float))
        or cost_per_hour < 0
    ):
        raise ValueError(f"cost_per_hour must be a non-negative number, got {cost_per_hour!r}")
    if verbosity not in _VERBOSITY_LEVELS:
        raise ValueError(f"verbosity must be 0, 1 or 2, got {verbosity!r}")
    for name, flag in (
        ("multiprocess", multiprocess),
        ("multiinterpreter", multiinterpreter),
        ("return_timers", return_timers),
    ):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {flag!r}")
    device_type = devices.normalize_device_type(device_type)
    batch_sizes = _positive_ints("batch_sizes", batch_sizes)
    n_models_list = _positive_ints("n_models", n_models)
    pipeline_sizes = _positive_ints("pipeline_sizes", pipeline_sizes)
    performance_levels = _as_list("performance_levels", performance_levels, int)
    workers_list = _positive_ints("workers_per_model", workers_per_model)
    warmup_iterations = extensions.get("warmup_iterations", 1)
    if isinstance(warmup_iterations, bool) or not isinstance(warmup_iterations, int):
        raise TypeError(f"warmup_iterations must be an int, got {warmup_iterations!r}")
    if warmup_iterations < 0:
        raise ValueError(f"warmup_iterations must be >= 0, got {warmup_iterations!r}")
    percentiles = _as_list("percentiles", extensions.get("percentiles", []) or None, (int, float))
    for p in percentiles or ():
        if not 0 <= p <= 100:
            raise ValueError(f"percentiles must be in [0, 100], got {p!r}")
    window_s = extensions.get("window_s", 1.0)
    data = _feeds.resolve_input_data(
        inputs, extensions.get("input_data"), extensions.get("input_names")
    )
    validation = _validation_options(extensions)
    shared = _shared_memory_option(extensions.get("shared_memory"))
    if data is not None and dataset_mode:
        raise ValueError(
            "input data and a dataset (dataset_loader_fn / dataset=True) exclude each other"
        )
    # A dataset is one source of which each copy iterates its own share.
    input_list = inputs if isinstance(inputs, list) and not dataset_mode else [inputs]
    if data is not None:
        input_list = None
    elif not input_list:
        raise ValueError("inputs must not be empty")
    model_configs = _model_configs(
        model_filename, input_list, batch_sizes, pipeline_sizes, performance_levels
    )
    instance = extensions.get("instance_type") or devices.instance_type()
    name = (
        model_name
        or next((c["model_name"] for c in model_configs if c.get("model_name")), None)
        or os.path.splitext(os.path.basename(str(model_configs[0]["filename"])))[0]
    )

    configurations = []
    for mc in model_configs:
        pipeline = mc.get("pipeline_size", 1)
        for workers, copies in itertools.product(
            workers_list or _default_workers(pipeline),
            n_models_list or _default_n_models(device_type, pipeline),
        ):
            configurations.append((mc, workers, copies))

    set_verbosity(verbosity)
    mode = "spawn" if multiinterpreter else ("fork" if multiprocess else "thread")
    progress = _Progress(len(configurations), duration + _ESTIMATED_SETUP_S, verbosity)
    log.info(
        "Benchmarking %d configuration(s) of %s for %g s each; estimated time %.0f s",
        len(configurations),
        name,
        duration,
        progress.remaining_s(),
    )
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    started = time.monotonic()
    feeds = _feeds.FeedCache(
        data,
        extensions.get("input_names"),
        by_name=bool(extensions.get("feed_by_name", False)),
        shared_memory=shared and mode != "thread",
        **validation,
    )
    with feeds:
        for i, (mc, workers, copies) in enumerate(configurations):
            config = {
                "model_filename": mc["filename"],
                "model_name": name,
                "device_type": device_type,
                "instance_type": instance,
                "batch_size": mc["batch_size"],
                "n_models": copies,
                "workers_per_model": workers,
                "pipeline_size": mc.get("pipeline_size", 1),
                "n_devices": copies * mc.get("pipeline_size", 1),
                "performance_level": mc.get("performance_level"),
                "input_idx": mc["input_idx"],
                "multiprocess": multiprocess,
                "multiinterpreter": multiinterpreter,
                "stats_interval": stats_interval,
                "duration": duration,
                "cost_per_hour": cost_per_hour,
                "percentiles": list(percentiles or []),
                "window_s": window_s,
            }
            log.info(
                "Config %d/%d: batch_size=%d n_models=%d workers_per_model=%d "
                "pipeline_size=%d (%s)",
                i + 1,
                len(configurations),
                config["batch_size"],
                copies,
                workers,
                config["pipeline_size"],
                mc["filename"],
            )
            feed = feeds.feed(mc["batch_size"])
            plan = feeds.plan(mc["batch_size"])
            if data is not None:
                config["input_data"] = data.source
            args = () if input_list is None else _as_args(input_list[mc["input_idx"]])
            dataset = inputs if dataset_mode else None
            jobs = [
                CopyJob(
                    copy_id=copy_id,
                    device_id=copy_id,
                    load_fn=load_fn,
                    model_filename=mc["filename"],
                    config=config,
                    inputs=[] if dataset_mode or feed is not None else [args],
                    feed=feed,
                    validation=None if plan is None else plan.for_copy(copy_id, copies),
                    input_transform_fn=extensions.get("input_transform_fn"),
                    dataset=dataset,
                    dataset_loader_fn=dataset_loader_fn,
                    loop_dataset=bool(extensions.get("loop_dataset", False)),
                    n_copies=copies,
                    environment=devices.copy_environment(
                        device_type, copy_id, config["pipeline_size"]
                    ),
                    env_setup_fn=env_setup_fn,
                    setup_fn=setup_fn,
                    preprocess_fn=preprocess_fn,
                    postprocess_fn=postprocess_fn,
                    workers=workers,
                    warmup_iterations=warmup_iterations,
                    duration_s=float(duration) if duration > 0 else None,
                    max_iterations=extensions.get("max_iterations"),
                    window_s=window_s,
                    call_timeout_s=extensions.get("call_timeout_s"),
                    record_timestamps=return_timers,
                )
                for copy_id in range(copies)
            ]
            stats = _Stats(stats_interval)
            config["start_dts"] = time.strftime("%Y%m%d-%H%M%S")

            def tick(stats: _Stats = stats) -> None:
                stats.tick()
                progress.draw()

            call_timeout = extensions.get("call_timeout_s") or 0.0
            outcome = run_copies(
                jobs,
                mode,
                ready_timeout_s=extensions.get("load_timeout_s"),
                run_timeout_s=duration + call_timeout + 60.0 if duration > 0 else None,
                on_tick=tick,
                on_start=lambda _start_ns, stats=stats: stats.start(),
            )
            config["stop_dts"] = time.strftime("%Y%m%d-%H%M%S")
            results = _results_of(outcome, config, stats, return_timers)
            if results["status"] == "error":
                log.error("Config %d/%d failed: %s", i + 1, len(configurations), results["error"])
            pairs.append((config, results))
            progress.done += 1
            progress.draw(force=True)
            if outcome.interrupted:
                log.warning("Interrupted: returning the %d configuration(s) measured", len(pairs))
                break
            if any(c.phase == "validate" and c.error for c in outcome.copies):
                log.error(
                    "strict_validation: output mismatch; the remaining configurations are skipped"
                )
                break
    progress.finish()
    log.info("Benchmark finished in %.1f s", time.monotonic() - started)
    if return_timers:
        return pairs
    return reporting.get_reports(pairs)
