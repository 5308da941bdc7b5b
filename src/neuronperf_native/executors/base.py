"""The executor protocol: run copy groups somewhere, yield results, cancel.

Every executor takes copy groups (the configurations that share loaded copies, in
order) and yields one ConfigurationResult per configuration as each is measured,
telling a RunObserver as it goes. A group may be a list, or an iterable that yields
its next configuration only after the previous result was yielded (an adaptive
search chooses each probe from the last result). cancel() ends a run from any thread
as Ctrl-C does: the running configurations stop and keep what they measured (status
"stopped"), and nothing further starts.

Executors: LocalExecutor (model copies on this host, copies/), FleetExecutor (a Ray
cluster), FakeExecutor (starts nothing: for tests). executors.create() picks one from
the settings and the workload's target kind.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterable, Iterator

from neuronperf_native.planning import Configuration
from neuronperf_native.run import ConfigurationResult, Observers, RunObserver


class Executor(abc.ABC):
    """Runs configurations somewhere; one run() per executor. Thread-safe: cancel() only."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    @abc.abstractmethod
    def run(
        self, groups: Iterable[Iterable[Configuration]], observer: RunObserver | None = None
    ) -> Iterator[ConfigurationResult]:
        """Yields one result per configuration as each is measured; stops early (after
        yielding it) at an interrupted configuration or a strict validation failure."""

    def cancel(self) -> None:
        """Ends the run as Ctrl-C does, from any thread (the next observer tick)."""
        self._cancelled.set()

    def observing(self, observer: RunObserver | None) -> RunObserver:
        """The observer to drive: ``observer`` (or none) plus the cancel check, whose
        tick() raises KeyboardInterrupt once after cancel()."""
        return Observers(observer or RunObserver(), _CancelCheck(self._cancelled))


def ends_benchmark(result: ConfigurationResult) -> bool:
    """Whether nothing may run after this result: Ctrl-C (or cancel) ended it, or its
    outputs failed strict validation."""
    return result.interrupted or result.strict_validation_failed


class _CancelCheck(RunObserver):
    """Raises KeyboardInterrupt on the executor's thread once cancel() was called: the
    executors' Ctrl-C handling (stop the copies, keep what they measured) does the rest."""

    def __init__(self, cancelled: threading.Event) -> None:
        self._cancelled = cancelled
        self._raised = False

    def tick(self) -> None:
        if self._cancelled.is_set() and not self._raised:
            self._raised = True  # once: the copies' grace period must not be cut short
            raise KeyboardInterrupt("cancelled")
