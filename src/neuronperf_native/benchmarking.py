"""NeuronPerf-compatible benchmark(): settings -> plan -> run -> report.

benchmark() validates its keywords into a BenchmarkSettings (settings.py) and the
model, inputs and callables into a Workload (workload.py), expands them into a Plan
of configurations (planning.py), runs the plan on this host (executors/), and turns
the results into reports (reporting.py). Benchmarker drives one copy by hand.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from neuronperf_native import _progress, reporting, search
from neuronperf_native._copy import CopySpec, RunSpec
from neuronperf_native._processes import CopiesOutcome, RunWatch, run_copies
from neuronperf_native._stopping import StabilityObserver
from neuronperf_native.engine import _as_args
from neuronperf_native.executors import ConfigurationResult, LocalExecutor, Observers, fleet
from neuronperf_native.executors.base import timers_of
from neuronperf_native.planning import Configuration, Host, Plan, model_configs, plan
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.workload import Workload

log = logging.getLogger("neuronperf_native")

#: Default seconds per configuration (NeuronPerf's default).
BENCHMARK_SECS = 120

_VERBOSITY_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
# Keywords that go into the Workload rather than the settings.
_WORKLOAD_KEYWORDS = ("input_data", "input_transform_fn", "sequence_fn")
# Keywords of features that are not available yet.
_PENDING = ("eval_metrics",)


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
        handler.setFormatter(_OneLineUnlessDebug("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        log.addHandler(handler)


class _OneLineUnlessDebug(logging.Formatter):
    """A record's first line (a failing configuration: which one, the copy, phase and
    cause), with the traceback that follows only at verbosity 2."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if log.getEffectiveLevel() <= logging.DEBUG else text.partition("\n")[0]


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
) -> Any:
    """Benchmarks every configuration and returns one report per configuration.

    Configurations are model configs (from a model index, filtered by batch_sizes,
    pipeline_sizes and performance_levels, or one model) x n_models x
    workers_per_model. Each model copy runs `load_fn(model_filename, device_id=N)` in
    its own process (multiprocess=True), fresh interpreter (multiinterpreter=True) or
    thread (multiprocess=False); all copies warm up, start timing together and stop
    together after `duration` seconds. Copies are loaded once per model config and
    n_models and serve each workers_per_model setting in turn (reuse_copies=False
    reloads them per configuration). A failing configuration is reported with status
    "error" and the rest still run; Ctrl-C returns what was measured so far. With
    return_timers=True, returns (config, results) pairs for get_reports().

    Every keyword is validated before any work starts (see BenchmarkSettings for the
    extensions and their defaults); ``settings=`` passes a whole BenchmarkSettings
    instead of keywords. ``dry_run=True`` returns the Plan without running it.
    Datasets: with dataset_loader_fn(dataset, copy_id, n_copies) -> iterable (or
    dataset=True), `inputs` is a dataset; each copy serves its own share to its workers
    (no item twice, none skipped), once through (duration=0: no time limit) or
    endlessly with loop_dataset=True. Input data (perf_analyzer formats, see
    inputs): ``inputs`` may be an InputData, or ``input_data=`` an InputData or a
    source whose tensors the example ``inputs`` describe, named by ``input_names``;
    expected outputs are checked untimed before each run (``rtol``, ``atol``,
    ``strict_validation``); ``shared_memory="system"`` maps the batches from POSIX
    shared memory. ``input_transform_fn(model, args) -> args`` runs once per input in
    each copy after loading (e.g. to move it to a GPU).
    """
    neuronperf = {
        name: value
        for name, value in locals().items()
        if name in _NEURONPERF_DEFAULTS and name != "model_filename"
    }
    dry_run = extensions.pop("dry_run", False)
    if not isinstance(dry_run, bool):
        raise TypeError(f"dry_run must be a bool, got {dry_run!r}")
    workload_options = {k: extensions.pop(k) for k in _WORKLOAD_KEYWORDS if k in extensions}
    settings = _settings(neuronperf, extensions)
    set_verbosity(settings.verbosity)
    workload = Workload.build(
        load_fn,
        model_filename,
        inputs,
        settings,
        env_setup_fn=env_setup_fn,
        setup_fn=setup_fn,
        preprocess_fn=preprocess_fn,
        postprocess_fn=postprocess_fn,
        dataset_loader_fn=dataset_loader_fn,
        **workload_options,
    )
    with fleet.session(settings, workload):  # connected to settings.cluster, when given
        the_plan = plan_of(settings, workload)
        for line in workload.batch_warnings(list(dict.fromkeys(c.model for c in the_plan))):
            log.warning("%s", line)
        if dry_run:
            return the_plan
        if settings.latency_slo_ms is not None:
            results = search.run_search(
                the_plan,
                lambda groups: _run_groups(search.progress_plan(the_plan), groups, workload),
            )
        else:
            results = run_plan(the_plan, workload)
    pairs = [r.pair(with_timers=settings.return_timers) for r in results]
    return pairs if settings.return_timers else reporting.get_reports(pairs)


def plan_benchmark(model_filename: Any, inputs: Any, **keywords: Any) -> Plan:
    """The Plan benchmark() would run for these arguments, without running anything
    (``npf.plan``; the same as ``benchmark(..., dry_run=True)`` without a load_fn)."""
    return benchmark(_not_loaded, model_filename, inputs, dry_run=True, **keywords)


def _not_loaded(model_filename: Any, device_id: int = 0) -> Any:
    raise AssertionError("a dry run loads no model")


def expand_settings(keywords: dict[str, Any]) -> dict[str, Any]:
    """benchmark() keywords with ``settings=`` (a BenchmarkSettings) replaced by the
    keywords it stands for; keywords given beside it win. Framework submodules call
    this first, so their own defaults apply only where neither set a value."""
    given = keywords.get("settings")
    if given is None:
        return {k: v for k, v in keywords.items() if k != "settings"}
    if not isinstance(given, BenchmarkSettings):
        raise TypeError(f"settings must be a BenchmarkSettings, got {type(given).__name__}")
    expanded = {k: v for k, v in keywords.items() if k != "settings"}
    for name, value in given.to_keywords().items():
        expanded.setdefault(name, value)
    return expanded


def _settings(neuronperf: dict[str, Any], extensions: dict[str, Any]) -> BenchmarkSettings:
    """The settings from benchmark()'s keywords (``settings=`` expanded into them:
    NeuronPerf parameters left at their defaults and absent extensions take its
    values)."""
    pending = [k for k in _PENDING if k in extensions]
    if pending:
        raise NotImplementedError(f"{', '.join(pending)}: not available yet")
    given = (
        expand_settings({"settings": extensions.pop("settings")})
        if "settings" in extensions
        else {}
    )
    for name, value in given.items():
        if name in neuronperf and neuronperf[name] is _NEURONPERF_DEFAULTS[name]:
            neuronperf[name] = value
        elif name not in neuronperf:
            extensions.setdefault(name, value)
    if neuronperf["dataset_loader_fn"] is not None:
        extensions.setdefault("dataset", True)
    keywords = {k: v for k, v in neuronperf.items() if k not in _WORKLOAD_PARAMETERS}
    return BenchmarkSettings.from_keywords(**keywords, **extensions)


def plan_of(settings: BenchmarkSettings, workload: Workload, model_name: str | None = None) -> Plan:
    """The plan of a workload on this machine (reads the model index, queries devices)."""
    configs = model_configs(workload.model_filename, settings, workload.n_inputs)
    sizes = [c.pipeline_size for c in configs]
    host = fleet.cluster_host(settings, sizes) if settings.cluster else Host.local(settings, sizes)
    the_plan = plan(settings, configs, host, model_name)
    for warning in the_plan.warnings:
        log.warning("%s", warning)
    return the_plan


def run_plan(the_plan: Plan, workload: Workload) -> list[ConfigurationResult]:
    """Runs every configuration (on this host, or on settings.cluster) with progress
    output; Ctrl-C (or a strict validation failure) ends early with what was measured.
    The results come in plan order (a fleet's finish in any order)."""
    results = _run_groups(the_plan, the_plan.groups(), workload)
    return sorted(results, key=lambda r: r.configuration.index)


def _run_groups(
    the_plan: Plan, groups: Iterable[Iterable[Configuration]], workload: Workload
) -> Iterator[ConfigurationResult]:
    """Runs the copy groups with progress over the_plan, yielding each result as it
    comes: here (LocalExecutor.run_groups: each group's configurations may be chosen
    one at a time from the previous results), or on the cluster (the whole plan)."""
    settings = the_plan.settings
    progress = _progress.Progress(the_plan, settings.verbosity)
    stability = None if settings.stability is None else StabilityObserver(settings.stability)
    observer = Observers(progress, *([stability] if stability is not None else []))
    log.info(
        "Benchmarking %s%d configuration(s) of %s for %s s each; estimated time %s%.0f s",
        "about " if settings.latency_slo_ms is not None and settings.slo_search == "binary" else "",
        len(the_plan),
        the_plan[0].model_name,
        f"{settings.duration_s:g}" if stability is None else f"up to {the_plan[0].duration_s:g}",
        "" if stability is None else "at most ",
        the_plan.estimate_s(),
    )
    done = 0
    started = time.monotonic()
    if settings.cluster is not None:
        runs = fleet.FleetExecutor(workload, settings).run(the_plan, observer)
    else:
        runs = LocalExecutor(workload, settings).run_groups(groups, observer)
    try:
        for result in runs:
            done += 1
            _log_result(result, len(the_plan))
            if stability is not None and result.status == "finished":
                # on a fleet the node (spread) or the barrier (scale-out) judged it
                verdict = result.results.setdefault(
                    "stopping", stability.verdict(result.configuration)
                )
                stability.report_unstable(result.configuration, verdict, len(the_plan))
            progress.finished(result.configuration, result.results["total_s"])
            yield result
    except KeyboardInterrupt:
        log.warning("Interrupted: returning the %d configuration(s) measured", done)
    finally:
        progress.close()
    log.info("Benchmark finished in %.1f s", time.monotonic() - started)


def _log_result(result: ConfigurationResult, total: int) -> None:
    c = result.configuration
    where = f"Config {c.index + 1}/{total}"
    if result.status == "error" or result.status == "timeout":
        log.error("%s (%s) failed: %s", where, c.describe(), result.results["error"])
    else:
        log.info("%s (%s): %s", where, c.describe(), result.status)
    if result.interrupted:
        log.warning("Interrupted: returning the %d configuration(s) measured", c.index + 1)
    elif result.strict_validation_failed:
        log.error("strict_validation: output mismatch; the remaining configurations are skipped")


_NEURONPERF_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(benchmark).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
# benchmark() parameters that belong to the Workload, not the settings.
_WORKLOAD_PARAMETERS = (
    "env_setup_fn",
    "setup_fn",
    "preprocess_fn",
    "postprocess_fn",
    "dataset_loader_fn",
)


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
        settings = BenchmarkSettings.from_keywords(
            workers_per_model=workers_per_model,
            duration=duration,
            warmup_iterations=warmup_iterations,
            window_s=window_s,
            call_timeout_s=call_timeout_s,
        )
        item = inputs[0] if isinstance(inputs, list) and len(inputs) == 1 else inputs
        self.id = id
        self.device_id = device_id
        self.status = "ready"
        self.n_infs: list[int] = [0] * workers_per_model
        self.error: str | None = None
        self._spec = CopySpec(
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
        )
        self._run = RunSpec(
            workers=workers_per_model,
            warmup_iterations=settings.warmup_iterations,
            duration_s=settings.duration_s,
            window_s=settings.window_s,
            call_timeout_s=settings.call_timeout_s,
            record_timestamps=True,
        )
        self._outcome: CopiesOutcome | None = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        self.status = "running"
        outcome = run_copies(
            [self._spec],
            "thread",
            self._run,
            load_timeout_s=None,
            watch=RunWatch(should_stop=self._stop_requested.is_set),
        )
        self._outcome = outcome
        copy = outcome.copies[0]
        if copy.result is not None:
            self.n_infs = list(copy.result["per_worker_iterations"])
        self.error = outcome.error or (copy.result or {}).get("error")
        failed = outcome.error is not None or (copy.result or {}).get("status") == "error"
        self.status = "error" if failed else "finished"

    def stop(self) -> None:
        """Stops the run after the current iterations and waits for it to end, so that
        status is final ("finished" or "error") and the results are kept."""
        self._stop_requested.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()

    def results(self) -> dict[str, Any]:
        """The copy's RunResult dict (histograms, windows, counts) and Timer objects."""
        if self._outcome is None:
            raise RuntimeError(f"Benchmarker {self.id} has not finished (status {self.status})")
        copy = self._outcome.copies[0]
        measured = [copy.result] if copy.result is not None else []
        return {
            "status": self.status,
            "error": self.error,
            "n_infs": sum(self.n_infs),
            "result": copy.result,
            "timers": timers_of(measured, [copy.timestamps] if measured else []),
        }
