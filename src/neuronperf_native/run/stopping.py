"""Statistical stopping in the run loop: end a configuration once its numbers are known.

The copies of a configuration forward each window they close (completions and an
e2e histogram). StabilityObserver sums them over the copies, window by window, feeds
complete windows to a stats.StabilityMonitor and ends the configuration as soon as
the rule holds (settings.stability); the run's duration is the rule's max_s, where
a configuration ends anyway, reported as not stable.
"""

from __future__ import annotations

import logging
from typing import Any

from neuronperf_native.engine import Histogram
from neuronperf_native.planning import Configuration
from neuronperf_native.run.observers import RunObserver
from neuronperf_native.stats import StabilityMonitor, StoppingDecision, StoppingRule

log = logging.getLogger("neuronperf_native")

# A decision costs time in proportion to the windows so far (~10 us each: 12 ms at 1,200
# windows), so deciding after every window would cost O(n^2) over a run, 12% of a core
# at 0.1 s windows two minutes in. After the first 50 windows the rule is judged once
# every 2% of the windows so far: a stop comes at most 2% of the elapsed time late.
_DECIDE_EVERY_WINDOW = 50
_DECISION_SPACING = 0.02


class StabilityObserver(RunObserver):
    """Stops each configuration when its stopping rule holds; remembers the last
    decision per configuration. Driven from the executor's thread only."""

    wants_histograms = True

    def __init__(self, rule: StoppingRule, hosts: int = 1) -> None:
        self.rule = rule
        self.hosts = hosts  # a window is complete once n_models copies on each host sent it
        self.decisions: dict[int, StoppingDecision] = {}
        self._monitor: StabilityMonitor | None = None
        self._copies = 1
        self._pending: dict[int, tuple[int, Histogram, int]] = {}  # index -> sum, merged, copies
        self._next = 0  # the next window index to hand to the monitor
        self._fresh = False  # windows arrived since the last decision
        self._decide_at = 0  # the windows handed over before the next decision
        self._running: int | None = None  # the configuration the monitor holds

    def started(self, configuration: Configuration, start_ns: int) -> None:
        self._monitor = StabilityMonitor(
            self.rule, configuration.settings.window_s, batch_size=configuration.batch_size
        )
        self._copies = configuration.n_models * self.hosts
        self._pending = {}
        self._next = 0
        self._fresh = False
        self._decide_at = 0
        self._running = configuration.index

    def progress(
        self, configuration: Configuration, copy_id: int, iterations: int, windows: list
    ) -> None:
        for index, count, encoded in windows:
            histogram = Histogram.decode(encoded)
            total, merged, seen = self._pending.get(index, (0, None, 0))
            if merged is not None:
                histogram.merge(merged)
            self._pending[index] = (total + count, histogram, seen + 1)
        assert self._monitor is not None
        while self._pending.get(self._next, (0, None, 0))[2] == self._copies:
            total, merged, _ = self._pending.pop(self._next)
            self._monitor.add([total], [merged])
            self._next += 1
            self._fresh = True

    def should_stop(self, configuration: Configuration) -> bool:
        if not self._fresh or self._monitor is None or self._next < self._decide_at:
            return False
        decision = self._decide(configuration)
        if self._next >= _DECIDE_EVERY_WINDOW:
            self._decide_at = self._next + max(1, int(self._next * _DECISION_SPACING))
        return decision.stop and decision.stable  # at max_s the duration ends the run

    def _decide(self, configuration: Configuration) -> StoppingDecision:
        assert self._monitor is not None
        self._fresh = False
        decision = self._monitor.decide()
        self.decisions[configuration.index] = decision
        return decision

    def verdict(self, configuration: Configuration) -> dict[str, Any] | None:
        """The rule's decision on a configuration, JSON-safe (it travels from a fleet's
        nodes): whether it stopped it (stable) or let it run to max_s, after how many
        seconds, and how wide the intervals were; None if none came. A run the rule did
        not stop is judged once more on all its windows."""
        decision = self.decisions.get(configuration.index)
        held = self._running == configuration.index and self._monitor is not None
        if held and self._fresh and (decision is None or not decision.stop):
            decision = self._decide(configuration)  # on every window, as the run ended
        if decision is None:
            return None
        throughput, latency = decision.throughput, decision.latency
        return {
            "stable": decision.stable,
            "reason": decision.reason,
            "at_s": decision.elapsed_s,
            "throughput_rel_half_width": None if throughput is None else throughput.rel_half_width,
            "latency_rel_half_width": None if latency is None else latency.rel_half_width,
        }

    def report_unstable(
        self, configuration: Configuration, verdict: dict[str, Any] | None, total: int
    ) -> None:
        """Logs a warning when a configuration ended without meeting the rule (its
        verdict: from this observer, or from the node that ran it)."""
        if verdict is not None and verdict["stable"]:
            return
        widths = []
        if verdict is not None and verdict["throughput_rel_half_width"] is not None:
            widths.append(f"throughput +-{verdict['throughput_rel_half_width']:.1%}")
        if verdict is not None and verdict["latency_rel_half_width"] is not None:
            widths.append(f"p{self.rule.percentile:g} +-{verdict['latency_rel_half_width']:.1%}")
        known = f" ({', '.join(widths)})" if widths else ""
        log.warning(
            "Config %d/%d (%s) not stable after %g s%s: target +-%.1f%% at %g%% confidence",
            configuration.index + 1,
            total,
            configuration.describe(),
            self.rule.max_s or configuration.settings.duration_s,
            known,
            self.rule.rel_ci * 100,
            self.rule.confidence * 100,
        )
