"""What a running benchmark tells its user: a live line on a terminal, log lines else.

On a terminal at verbosity >= 1, one line is redrawn about twice a second: the
configuration (i/N), its elapsed and remaining seconds, the live throughput from
the copies' completions, and the time left for the whole plan. Without a terminal
a log line says the same at most every 10 s. The time left adds the remaining
durations to the set-up time measured so far per configuration, so the estimate
corrects itself after the first configuration.
"""

from __future__ import annotations

import logging
import sys
import time

from neuronperf_native.planning import Configuration, Plan
from neuronperf_native.run.observers import RunObserver

log = logging.getLogger("neuronperf_native")

_DRAW_EVERY_S = 0.5
_LOG_EVERY_S = 10.0


class Progress(RunObserver):
    """A RunObserver that reports progress through a plan; call finished() after each
    configuration's result and close() at the end."""

    def __init__(self, plan: Plan, verbosity: int) -> None:
        self.plan = plan
        self.live = verbosity >= 1 and sys.stderr.isatty()
        self.chatty = verbosity >= 1
        self.done = 0
        self._begun = time.monotonic()
        self._measured_s = 0.0  # durations of the finished configurations
        self._current: Configuration | None = None
        self._started = 0.0
        self._iterations: dict[int, int] = {}
        self._last_draw = 0.0
        self._last_log = time.monotonic()

    # RunObserver ------------------------------------------------------------------

    def started(self, configuration: Configuration, start_ns: int) -> None:
        self._current = configuration
        self._started = time.monotonic()
        self._iterations = {}

    def progress(
        self, configuration: Configuration, copy_id: int, iterations: int, windows: list
    ) -> None:
        self._iterations[copy_id] = iterations

    def tick(self) -> None:
        now = time.monotonic()
        if self.live and now - self._last_draw >= _DRAW_EVERY_S:
            self._last_draw = now
            sys.stderr.write(f"\r{self._line()} \033[K")
            sys.stderr.flush()
        elif not self.live and self.chatty and now - self._last_log >= _LOG_EVERY_S:
            self._last_log = now
            log.info("%s", self._line())

    # Between configurations ---------------------------------------------------------

    def finished(self, configuration: Configuration, measured_s: float) -> None:
        self.done += 1
        self._measured_s += measured_s
        self._current = None

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def remaining_s(self) -> float:
        """Seconds left for the rest of the plan (the running configuration included)."""
        setup_per_config = self.plan.setup_s() / max(1, len(self.plan))
        if self.done:
            spent = time.monotonic() - self._begun
            running = time.monotonic() - self._started if self._current else 0.0
            setup_per_config = max(0.0, spent - running - self._measured_s) / self.done
        left = 0.0
        for c in self.plan.configurations[self.done :]:
            left += (c.duration_s or 0.0) + setup_per_config
        if self._current is not None:
            left -= min(time.monotonic() - self._started, self._current.duration_s or 0.0)
        return max(0.0, left)

    def _line(self) -> str:
        total = f"~{self.remaining_s():.0f} s left"
        c = self._current
        if c is None:
            return f"[{self.done}/{len(self.plan)}] loading, {total}"
        elapsed = time.monotonic() - self._started
        rate = sum(self._iterations.values()) * c.batch_size / elapsed if elapsed > 0 else 0.0
        length = f"/{c.duration_s:g}" if c.duration_s else ""
        offered = "" if c.request_rate is None else f" at {c.request_rate:,.6g} req/s"
        return (
            f"[{self.done + 1}/{len(self.plan)}] batch {c.batch_size}, {c.n_models} x "
            f"{c.workers_per_model} workers{offered}: {elapsed:.1f}{length} s, "
            f"{rate:,.0f} inf/s; {total}"
        )
