"""What every executor produces and whom it tells while it runs.

An executor runs a Plan's configurations somewhere (this host: LocalExecutor) and
yields one ConfigurationResult per configuration: NeuronPerf's `config` dict and a
JSON-safe `results` dict (status, error, the copies' versioned RunResult dicts,
counts, utilisation samples, validation), plus raw timestamps when recorded. A
RunObserver hears about progress and may end a configuration early.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from neuronperf_native import _feeds, timing
from neuronperf_native._processes import CopiesOutcome
from neuronperf_native.engine import RunResult
from neuronperf_native.planning import Configuration

#: Version of the layout of ConfigurationResult.results.
RESULTS_SCHEMA = 1

_TIMER_STAGES = ("input", "preprocess", "infer", "postprocess", "e2e")


class RunObserver:
    """Hears what an executor does; the default hears nothing and never stops a run.

    Called on the executor's thread; callbacks must return quickly.
    """

    #: Whether progress() should receive each closed window's latency histogram.
    wants_histograms = False

    def choose_start(self, configuration: Configuration, earliest_ns: int) -> int:
        """Every copy is ready: the instant (engine clock, >= earliest_ns) at which they
        start timing. A fleet executor lines several hosts up here."""
        return earliest_ns

    def started(self, configuration: Configuration, start_ns: int) -> None:
        """The configuration's copies started timing at start_ns (engine clock)."""

    def progress(
        self, configuration: Configuration, copy_id: int, iterations: int, windows: list
    ) -> None:
        """A copy's live count and its newly closed windows ([index, count, histogram])."""

    def should_stop(self, configuration: Configuration) -> bool:
        """True ends the running configuration now (what was measured is kept)."""
        return False

    def tick(self) -> None:
        """Called about every 0.2 s while copies load or run."""


class Observers(RunObserver):
    """Several observers heard as one: each hears everything; any of them may end a
    configuration, and each moves the start instant in turn."""

    def __init__(self, *observers: RunObserver) -> None:
        self.observers = observers
        self.wants_histograms = any(o.wants_histograms for o in observers)

    def choose_start(self, configuration: Configuration, earliest_ns: int) -> int:
        for o in self.observers:
            earliest_ns = o.choose_start(configuration, earliest_ns)
        return earliest_ns

    def started(self, configuration: Configuration, start_ns: int) -> None:
        for o in self.observers:
            o.started(configuration, start_ns)

    def progress(
        self, configuration: Configuration, copy_id: int, iterations: int, windows: list
    ) -> None:
        for o in self.observers:
            o.progress(configuration, copy_id, iterations, windows)

    def should_stop(self, configuration: Configuration) -> bool:
        return any([o.should_stop(configuration) for o in self.observers])  # ask each one

    def tick(self) -> None:
        for o in self.observers:
            o.tick()


@dataclasses.dataclass
class ConfigurationResult:
    """One configuration's outcome: NeuronPerf's (config, results) pair, JSON-safe,
    plus the copies' raw timestamps (None each, unless recorded)."""

    configuration: Configuration
    config: dict[str, Any]
    results: dict[str, Any]
    timestamps: list[np.ndarray | None] = dataclasses.field(default_factory=list)
    requests: list[np.ndarray | None] = dataclasses.field(default_factory=list)  # streaming
    interrupted: bool = False
    strict_validation_failed: bool = False

    @classmethod
    def from_outcome(
        cls,
        configuration: Configuration,
        config: dict[str, Any],
        outcome: CopiesOutcome,
        cpu_percents: list[float],
        mem_percents: list[float],
    ) -> ConfigurationResult:
        copies = [c.result for c in outcome.copies if c.result is not None]
        results: dict[str, Any] = {
            "schema": RESULTS_SCHEMA,
            "status": _status(outcome, copies),
            "error": _error(outcome, copies),
            "workers_per_model": configuration.workers_per_model,
            "n_infs": sum(c["iterations"] for c in copies) * configuration.batch_size,
            "total_s": max((c["wall_s"] for c in copies), default=0.0),
            "cpu_percents": cpu_percents,
            "mem_percents": mem_percents,
            "copies": copies,
        }
        validation = _feeds.merge_validation(
            [c["validation"] for c in copies if c.get("validation")]
        )
        if validation is not None:
            results["validation"] = validation
        return cls(
            configuration,
            config,
            results,
            timestamps=[c.timestamps for c in outcome.copies if c.result is not None],
            requests=[c.requests for c in outcome.copies if c.result is not None],
            interrupted=outcome.interrupted,
            strict_validation_failed=any(c.phase == "validate" and c.error for c in outcome.copies),
        )

    @property
    def status(self) -> str:
        return self.results["status"]

    def pair(self, with_timers: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        """NeuronPerf's (config, results); with_timers adds the Timer objects."""
        results = dict(self.results)
        if with_timers:
            results["timers"] = self.timers()
        return dict(self.config), results

    def timers(self) -> dict[str, list[timing.Timer]]:
        """Timer objects per stage (one per copy) backed by the raw timestamp buffers."""
        return timers_of(self.results["copies"], self.timestamps)


def timers_of(
    copies: list[dict[str, Any]], timestamps: list[np.ndarray | None]
) -> dict[str, list[timing.Timer]]:
    """NeuronPerf Timer objects per stage, one per copy, from the copies' result dicts
    and raw stage boundaries (copies without boundaries get load/setup timers only)."""
    timers: dict[str, list[timing.Timer]] = {s: [] for s in _TIMER_STAGES}
    for name in ("load", "env_setup", "setup", "warmup"):
        timers[name] = []
    for copy, stamps in zip(copies, timestamps, strict=True):
        if stamps is not None:
            result = RunResult.from_dict(copy, boundaries=stamps)
            for stage in _TIMER_STAGES:
                timers[stage].append(timing.Timer.from_timestamps(result.timestamps(stage)))
        for name in ("load", "env_setup", "setup"):
            seconds = copy.get(f"{name}_s", 0.0)
            timers[name].append(timing.Timer.from_timestamps(_interval(seconds)))
    return timers


def _status(outcome: CopiesOutcome, copies: list[dict[str, Any]]) -> str:
    if outcome.interrupted:
        return "stopped"
    if outcome.timed_out:
        return "timeout"
    if outcome.error is not None:
        return "error"
    statuses = {c["status"] for c in copies}
    if outcome.ended_early:  # an observer ended the run: its numbers were known
        statuses.discard("stopped")
    return next((s for s in ("error", "timeout", "stopped") if s in statuses), "finished")


def _error(outcome: CopiesOutcome, copies: list[dict[str, Any]]) -> str | None:
    if outcome.error is None:
        return next((c["error"] for c in copies if c["error"]), None)
    details = [c.error for c in outcome.copies if c.error]
    return f"{outcome.error}\n{details[0]}" if details else outcome.error


def _interval(seconds: float) -> np.ndarray:
    return np.array([[0, round(seconds * 1e9)]], dtype=np.int64)
