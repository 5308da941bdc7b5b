"""NeuronPerf-compatible benchmark(): settings -> plan -> executor -> report.

benchmark() validates its keywords into a BenchmarkSettings (settings.py) and the
model, inputs and callables into a Workload (workload.py), expands them into a Plan
of configurations (planning.py), runs the plan on the executor that
executors.create() picks (this host, or a Ray cluster), and turns the results into
reports (reporting.py). Benchmarker (executors/benchmarker.py) drives one copy by hand.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from neuronperf_native import analysis, executors, reporting, request_log, search
from neuronperf_native._verbosity import set_verbosity
from neuronperf_native.executors import Executor, fleet
from neuronperf_native.executors.benchmarker import Benchmarker as Benchmarker  # NeuronPerf's name
from neuronperf_native.planning import Configuration, Host, Plan, model_configs, plan
from neuronperf_native.run import ConfigurationResult, Observers
from neuronperf_native.run.progress import Progress
from neuronperf_native.run.stopping import StabilityObserver
from neuronperf_native.settings import BENCHMARK_SECS, BenchmarkSettings
from neuronperf_native.workload import Workload

log = logging.getLogger("neuronperf_native")


# Keywords that go into the Workload rather than the settings.
_WORKLOAD_KEYWORDS = (
    "input_data",
    "input_transform_fn",
    "sequence_fn",
    "request_fn",
    "token_count_fn",
)
# Keywords of features that are not available yet.
_PENDING = ("eval_metrics",)


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
        results = run_plan(the_plan, executors.create(workload, settings))
    if settings.export_requests is not None:
        _export_requests(settings.export_requests, results)
    pairs = [r.pair(with_timers=settings.return_timers) for r in results]
    if settings.return_timers:
        return pairs
    reports = reporting.get_reports(pairs)
    _warn_too_few(reports)
    return reports


def _export_requests(path: str, results: list[ConfigurationResult]) -> None:
    """The request records to `path`; a write that fails is logged, and the reports
    are still returned (the measured results are not lost to a full disk)."""
    try:
        count = request_log.write_requests(path, results)
    except OSError as error:
        log.error("cannot write export_requests %s: %s", path, error.strerror or error)
        return
    log.info("Wrote %d request records to %s", count, path)


def _warn_too_few(reports: list[dict[str, Any]]) -> None:
    """One warning per configuration whose run completed too few requests for a rate."""
    for report in reports:
        if (report.get("ci_flags") or {}).get("throughput_avg") == analysis.TOO_FEW:
            log.warning(
                "%s batch_size=%s n_models=%s: %s request(s) completed in %.3g s, too few to "
                "estimate a rate: throughput is N/A (run longer, or at a higher rate)",
                report.get("model_name"),
                report.get("batch_size"),
                report.get("n_models"),
                report.get("total_infs"),
                report.get("total_s") or 0.0,
            )


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


def run_plan(the_plan: Plan, executor: Executor) -> list[ConfigurationResult]:
    """Runs every configuration on the executor with progress output; Ctrl-C (or a
    strict validation failure) ends early with what was measured. A latency SLO search
    chooses each probe from the last result. The results come in plan order (a fleet's
    finish in any order)."""
    if the_plan.settings.searches_slo:
        progress_plan = search.progress_plan(the_plan)
        return search.run_search(
            the_plan, lambda groups: _run_groups(progress_plan, groups, executor)
        )
    results = _run_groups(the_plan, the_plan.groups(), executor)
    return sorted(results, key=lambda r: r.configuration.index)


def _run_groups(
    the_plan: Plan, groups: Iterable[Iterable[Configuration]], executor: Executor
) -> Iterator[ConfigurationResult]:
    """Runs the copy groups on the executor with progress over the_plan, yielding each
    result as it comes, with the stopping rule's verdict on it."""
    settings = the_plan.settings
    progress = Progress(the_plan, settings.verbosity)
    stability = None if settings.stability is None else StabilityObserver(settings.stability)
    observer = Observers(progress, *([stability] if stability is not None else []))
    log.info(
        "Benchmarking %s%d configuration(s) of %s for %s s each; estimated time %s%.0f s",
        "about " if settings.searches_slo and settings.slo_search == "binary" else "",
        len(the_plan),
        the_plan[0].model_name,
        f"{settings.duration_s:g}" if stability is None else f"up to {the_plan[0].duration_s:g}",
        "" if stability is None else "at most ",
        the_plan.estimate_s(),
    )
    done = 0
    started = time.monotonic()
    try:
        for result in executor.run(groups, observer):
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
