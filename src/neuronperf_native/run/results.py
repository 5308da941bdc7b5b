"""What every executor produces: one ConfigurationResult per configuration.

NeuronPerf's `config` dict and a JSON-safe `results` dict (status, error, the
copies' versioned RunResult dicts, counts, utilisation samples, validation), plus
raw timestamps when recorded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from neuronperf_native import timing
from neuronperf_native.engine import RunResult
from neuronperf_native.planning import Configuration

#: Version of the layout of ConfigurationResult.results.
RESULTS_SCHEMA = 1

_TIMER_STAGES = ("input", "preprocess", "infer", "postprocess", "e2e")


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


def _interval(seconds: float) -> np.ndarray:
    return np.array([[0, round(seconds * 1e9)]], dtype=np.int64)
