"""Whom an executor tells while it runs: a RunObserver hears about progress (copies
ready, started, their live windows) and may end a configuration early."""

from __future__ import annotations

from neuronperf_native.planning import Configuration


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
