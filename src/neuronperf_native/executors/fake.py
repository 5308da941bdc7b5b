"""An executor that starts nothing, for tests (hyperfine's mock executor idea).

Each configuration "measures" what its FakeRun says: so many completions per window
on each copy, each with a given latency, or a failure. The copies' results are
synthesized as the real ones are shaped (versioned RunResult dicts with histograms and
windows), so that reports, the stopping rule and the progress output see real-looking
data with known answers. The observer hears what the local executor would tell it
(start, each copy's closed windows, should_stop after each window, tick): an observer
that stops a configuration ends it after that window, and Ctrl-C or cancel() (a
KeyboardInterrupt in tick) ends it "stopped" with what it measured, and nothing runs
after it. The configurations taken, in order, are kept in ``taken``.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native.copies.parent import CopiesOutcome, CopyOutcome
from neuronperf_native.engine import STAGES, Histogram, RunResult
from neuronperf_native.executors._outcome import configuration_result
from neuronperf_native.executors.base import Executor, ends_benchmark
from neuronperf_native.planning import Configuration
from neuronperf_native.run import ConfigurationResult, RunObserver

# The engine clock's instant the fake copies start timing at (any positive value).
_START_NS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class FakeRun:
    """What one configuration measures on a FakeExecutor.

    Every copy completes ``count`` iterations in each of ``windows`` windows (of the
    settings' window_s), each iteration taking ``latency_ns`` (a sequence is cycled),
    unless an observer stops it first. ``status`` and ``error`` are the copies' (a model
    that raised: "error"); ``failure`` fails the configuration before it measures
    anything (a copy that did not load). ``results`` adds keys to the results dict (a
    fleet node's "stopping" verdict).
    """

    windows: int = 4
    count: int | Sequence[int] = 100
    latency_ns: int | Sequence[int] = 1_000_000
    status: str = "finished"
    error: str | None = None
    failure: str | None = None
    strict_validation_failed: bool = False
    results: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class FakeExecutor(Executor):
    """Runs each configuration as ``runs(configuration)`` says (default: FakeRun()),
    yielding results in the order taken, or as ``finish_order`` (a function of the
    taken results, as a fleet finishes in any order) reorders each group's."""

    def __init__(
        self,
        runs: Callable[[Configuration], FakeRun] | None = None,
        finish_order: Callable[[list[ConfigurationResult]], list[ConfigurationResult]]
        | None = None,
    ) -> None:
        super().__init__()
        self.runs = runs or (lambda configuration: FakeRun())
        self.finish_order = finish_order
        self.taken: list[Configuration] = []

    def run(
        self, groups: Iterable[Iterable[Configuration]], observer: RunObserver | None = None
    ) -> Iterator[ConfigurationResult]:
        observer = self.observing(observer)
        for group in groups:
            if self.finish_order is None:
                for configuration in group:
                    result = self._measure(configuration, observer)
                    yield result
                    if ends_benchmark(result):
                        return
                continue
            results = []
            for configuration in group:
                results.append(self._measure(configuration, observer))
                if ends_benchmark(results[-1]):
                    break
            yield from self.finish_order(results)
            if any(ends_benchmark(r) for r in results):
                return

    def _measure(self, configuration: Configuration, observer: RunObserver) -> ConfigurationResult:
        self.taken.append(configuration)
        run = self.runs(configuration)
        config = configuration.config_dict()
        config["start_method"] = "fake"
        config["start_dts"] = config["stop_dts"] = time.strftime("%Y%m%d-%H%M%S")
        if run.failure is not None:
            outcome = CopiesOutcome([CopyOutcome(i) for i in range(configuration.n_models)])
            outcome.error = run.failure
        else:
            outcome = self._copies(configuration, run, observer)
        result = configuration_result(configuration, config, outcome, [50.0], [10.0])
        result.results.update(run.results)
        result.strict_validation_failed = run.strict_validation_failed
        return result

    def _copies(
        self, configuration: Configuration, run: FakeRun, observer: RunObserver
    ) -> CopiesOutcome:
        """Every copy's windows, told to the observer one window at a time."""
        n = configuration.n_models
        counts = list(itertools.islice(itertools.cycle(_seq(run.count)), run.windows))
        latencies = itertools.cycle(_seq(run.latency_ns))
        windows: list[list[Histogram]] = [[] for _ in range(n)]
        outcome = CopiesOutcome([], start_ns=observer.choose_start(configuration, _START_NS))
        observer.started(configuration, outcome.start_ns)
        try:
            for index, count in enumerate(counts):
                for copy_id in range(n):
                    histogram = Histogram()
                    histogram.record_many(np.fromiter(latencies, np.int64, count))
                    windows[copy_id].append(histogram)
                    encoded = histogram.encode() if observer.wants_histograms else None
                    done = sum(counts[: index + 1])
                    observer.progress(configuration, copy_id, done, [[index, count, encoded]])
                observer.tick()
                if observer.should_stop(configuration):
                    outcome.ended_early = True
                    break
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.error = "KeyboardInterrupt: the benchmark was interrupted"
        status = "stopped" if outcome.interrupted or outcome.ended_early else run.status
        outcome.copies = [
            CopyOutcome(
                copy_id,
                result=_copy_result(
                    copy_id, mine, configuration, outcome.start_ns, status, run.error
                ),
                phase="run",
            )
            for copy_id, mine in enumerate(windows)
        ]
        return outcome


def _seq(value: int | Sequence[int]) -> list[int]:
    return [value] if isinstance(value, int) else list(value)


def _copy_result(
    copy_id: int,
    windows: list[Histogram],
    configuration: Configuration,
    start_ns: int,
    status: str,
    error: str | None,
) -> dict[str, Any]:
    """One copy's result dict, shaped as a real copy sends it."""
    window_ns = round(configuration.settings.window_s * 1e9)
    e2e = Histogram()
    for histogram in windows:
        e2e.merge(histogram)
    stages = {name: Histogram() for name in STAGES}
    stages["e2e"] = e2e
    stages["infer"] = e2e + Histogram()
    iterations = [h.count for h in windows]
    workers = configuration.workers_per_model
    per_worker = [
        sum(iterations) // workers + (w < sum(iterations) % workers) for w in range(workers)
    ]
    error_info = None
    if error is not None:
        error_info = {
            "type": "RuntimeError",
            "message": error,
            "traceback": "",
            "stage": "infer",
            "worker": 0,
        }
    result = RunResult(
        status=status,
        stop_reason={"finished": "duration", "stopped": "stop_requested"}.get(status, status),
        error_info=error_info,
        stages=stages,
        warmup=Histogram(),
        per_worker_iterations=per_worker,
        abandoned_workers=0,
        start_ns=start_ns,
        end_ns=start_ns + len(windows) * window_ns,
        window_ns=window_ns,
        windows=iterations,
        cpu_ns=0,
        window_histograms=windows,
    )
    return {
        **result.to_dict(),
        "copy_id": copy_id,
        "env_setup_s": 0.0,
        "load_s": 0.0,
        "setup_s": 0.0,
        "validation": None,
        "sequences": None,
    }
