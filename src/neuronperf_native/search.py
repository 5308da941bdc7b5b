"""Latency-SLO search: the highest request rate (open loop) or concurrency (closed loop,
workers per copy) whose percentile latency meets a target, each probe a measured
configuration.

The decision logic is pure (BinarySearch, LinearSearch, verdict): it sees only the
probed values and whether each met the SLO, so it is tested on synthetic outcomes.
run_search() drives it: per model config, it hands the executor one probe at a time
while the copies stay loaded, decides each probe from its report and marks the best.

Rules (what the reports' ``slo`` dicts and the log state):
- met: the probe finished, was not saturated (a growing backlog: its latencies grow
  with the duration), and its slo_percentile latency is <= latency_slo_ms. confident:
  the percentile's confidence interval (ci_confidence, 95% by default) lies wholly on
  the verdict's side of the target (``decided_by`` "interval"); when it straddles the
  target, or there is none (too few requests), the point estimate decided
  (``decided_by`` "estimate") and a longer probe would be needed to be sure. A
  saturated probe is a confident miss. The point estimate decides, not the interval's
  upper end: that would find a lower bound of the answer, by the interval's width
  (8% low at 30 s probes on the M/D/1 target: benchmarks/load_modes.py).
- binary within a range (slo_range, perf_analyzer's --binary-search): the range's low
  end first (a miss ends the search: nothing in the range meets), then its high end (a
  meet ends it: the high end is the answer), then midpoints, keeping the half that
  meets, while the bracket is wider than the step (slo_range's third value; else
  resolution x low, or one worker in closed loop). No level is measured twice.
- binary from one start value (no range): each met probe raises the value (x2, and in
  open loop at least half the capacity bound copies x workers / mean service time of
  the probe, but not past that bound unless a probe met at it) and each missed probe
  lowers it (/2, and at most half the bound), until one met and one missed value
  bracket the answer; then bisection (the midpoint; geometric when the bracket spans
  more than 2x) until high - low <= resolution x low (one worker in closed loop).
  At most MAX_PROBES probes per model config.
- linear: the given values in order, stopping after the first miss (perf_analyzer's
  --latency-threshold without --binary-search; a list of values does this by default).
- best: the highest value that met; exactly one probe per model config carries
  best=True, or none (logged) when no probe met.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from neuronperf_native import reporting, stats
from neuronperf_native.engine import MAX_REQUEST_RATE as _MAX_RATE
from neuronperf_native.engine import MAX_WORKERS as _MAX_WORKERS
from neuronperf_native.planning import Configuration, Plan, check_schedule
from neuronperf_native.run import ConfigurationResult

log = logging.getLogger("neuronperf_native")

__all__ = [
    "MAX_PROBES",
    "BinarySearch",
    "LinearSearch",
    "Probe",
    "RangeBisection",
    "run_search",
    "verdict",
]

#: Most probes one model config's binary search measures.
MAX_PROBES = 20
#: Default resolution of a binary search: a fraction of the rate (or concurrency).
DEFAULT_RESOLUTION = 0.02
#: Probes a binary search is expected to take (progress estimates only).
EXPECTED_PROBES = 10
#: How far below its start a binary search without a range may go (start / this).
_LOW_SPAN = 1024.0


@dataclasses.dataclass(frozen=True)
class Probe:
    """One measured value and whether it met the SLO; ceiling: the capacity bound
    the probe measured (open loop), or None."""

    value: float
    met: bool
    ceiling: float | None = None


class _Search:
    """The probes of a search so far, and whether it was ended early. Not thread-safe."""

    def __init__(self) -> None:
        self.probes: list[Probe] = []
        self.stopped: str | None = None  # why the search ended before its resolution

    def record(self, value: float, met: bool, ceiling: float | None = None) -> None:
        self.probes.append(Probe(value, met, ceiling))

    def stop(self, reason: str) -> None:
        """Ends the search (a probe failed): no further probe."""
        self.stopped = reason

    @property
    def best(self) -> float | None:
        """The highest value that met the SLO, or None."""
        return max((p.value for p in self.probes if p.met), default=None)

    @property
    def bracket(self) -> tuple[float | None, float | None]:
        """(highest met, lowest missed above it); either None until found."""
        best = self.best
        above = [p.value for p in self.probes if not p.met and (best is None or p.value > best)]
        return best, min(above, default=None)

    def measured(self, value: float) -> bool:
        """Whether a probe measured this value already."""
        return any(p.value == value for p in self.probes)


class BinarySearch(_Search):
    """Bracket, then bisect: the highest value in [low, high] that meets the SLO."""

    def __init__(
        self,
        start: float,
        *,
        low: float,
        high: float,
        resolution: float = DEFAULT_RESOLUTION,
        step: float | None = None,
        integer: bool = False,
        max_probes: int = MAX_PROBES,
    ) -> None:
        if not 0 < low <= start <= high:
            raise ValueError(f"need 0 < low <= start <= high, got {low}, {start}, {high}")
        super().__init__()
        self.start, self.low, self.high = start, low, high
        self.resolution, self.step, self.integer = resolution, step, integer
        self.max_probes = max_probes

    def next_value(self) -> float | None:
        """The next value to probe, or None when the search is over."""
        if self.stopped:
            return None
        if not self.probes:
            return self._round(self.start)
        if len(self.probes) >= self.max_probes:
            self.stopped = f"{self.max_probes} probes"
            return None
        lo, hi = self.bracket
        ceiling = self.probes[-1].ceiling
        if lo is None:
            return self._down(hi, ceiling)
        if hi is None:
            return self._up(lo, ceiling)
        return self._bisect(lo, hi)

    def _down(self, missed: float | None, ceiling: float | None) -> float | None:
        assert missed is not None
        if missed <= self.low:
            return None  # even the lowest value misses
        value = missed / 2
        if ceiling is not None and ceiling / 2 < missed:
            value = min(value, ceiling / 2)
        return self._round(max(self.low, value), floor=True)

    def _up(self, met: float, ceiling: float | None) -> float | None:
        if met >= self.high:
            return None  # the whole range meets the SLO
        value = met * 2
        if ceiling is not None and ceiling > met:
            value = min(max(value, ceiling / 2), ceiling)
        return self._round(min(self.high, value))

    def _bisect(self, lo: float, hi: float) -> float | None:
        tolerance = self.step if self.step is not None else self.resolution * lo
        if self.integer:
            tolerance = max(1.0, math.floor(tolerance))
        if hi - lo <= tolerance:
            return None
        if self.integer:
            return float((lo + hi) // 2)
        return (lo + hi) / 2 if hi <= 2 * lo else math.sqrt(lo * hi)

    def _round(self, value: float, floor: bool = False) -> float:
        if not self.integer:
            return value
        rounded = math.floor(value) if floor else math.ceil(value)
        return float(min(self.high, max(self.low, rounded)))


class RangeBisection(_Search):
    """perf_analyzer's binary search of [low, high]: low, then high, then midpoints."""

    def __init__(
        self,
        low: float,
        high: float,
        *,
        step: float | None = None,
        resolution: float = DEFAULT_RESOLUTION,
        integer: bool = False,
        max_probes: int = MAX_PROBES,
    ) -> None:
        if not 0 < low < high:
            raise ValueError(f"need 0 < low < high, got {low}, {high}")
        super().__init__()
        self.low, self.high, self.step = low, high, step
        self.resolution, self.integer, self.max_probes = resolution, integer, max_probes

    def next_value(self) -> float | None:
        """The next value to probe, or None when the search is over."""
        if self.stopped:
            return None
        if not self.probes:
            return self.low
        if len(self.probes) == 1:  # low met: high next; low missed: nothing meets
            return self.high if self.probes[0].met else None
        if len(self.probes) == 2 and self.probes[1].met:
            return None  # the whole range meets: high is the answer
        lo, hi = self.bracket
        assert lo is not None and hi is not None  # low met, high missed
        tolerance = self.step if self.step is not None else self.resolution * lo
        if self.integer:
            tolerance = max(1.0, tolerance)
        if hi - lo <= tolerance:
            return None
        middle = float((lo + hi) // 2) if self.integer else (lo + hi) / 2
        if self.measured(middle):
            return None
        if len(self.probes) >= self.max_probes:
            self.stopped = f"{self.max_probes} probes"
            return None
        return middle


class LinearSearch(_Search):
    """The values in order, until the first that misses the SLO."""

    def __init__(self, values: Sequence[float]) -> None:
        if not values:
            raise ValueError("a linear search needs values")
        super().__init__()
        self.values = list(values)

    def next_value(self) -> float | None:
        if self.stopped or (self.probes and not self.probes[-1].met):
            return None
        done = len(self.probes)
        return self.values[done] if done < len(self.values) else None


def verdict(report: Mapping[str, Any], target_ms: float, percentile: float) -> dict[str, Any]:
    """Whether one probe's report meets ``percentile`` latency <= target_ms (the rule
    in the module docstring): met, confident, the point estimate, its interval and
    what decided."""
    latency = report.get(f"latency_ms_p{percentile:g}")
    interval = report.get(stats.ci_key(percentile))
    out = {
        "met": False,
        "confident": False,
        "latency_ms": latency,
        "latency_ms_ci": interval,
        "decided_by": None,
    }
    if _unmeasurable(report, out):
        return out
    if latency is None:
        out["decided_by"] = "no latency measured"
        return out
    met = latency <= target_ms
    sure = interval is not None and (interval[1] <= target_ms if met else interval[0] > target_ms)
    out.update(met=met, confident=sure, decided_by="interval" if sure else "estimate")
    return out


def _unmeasurable(report: Mapping[str, Any], out: dict[str, Any]) -> bool:
    """A probe whose figures cannot decide (not finished: unknown; saturated: a
    confident miss) says so in `out`; True then."""
    if report.get("status") != "finished":
        out["decided_by"] = f"status {report.get('status')}"
        return True
    if report.get("saturated"):
        out.update(confident=True, decided_by="saturated")
        return True
    return False


def goodput_verdict(report: Mapping[str, Any], target: float) -> dict[str, Any]:
    """Whether one probe keeps goodput_fraction >= target (MLPerf's Server constraint on
    token latencies): the same rules as verdict(), on the fraction and its interval."""
    fraction = report.get("goodput_fraction")
    interval = report.get("goodput_fraction_ci")
    out = {
        "met": False,
        "confident": False,
        "goodput_fraction": fraction,
        "goodput_fraction_ci": interval,
        "decided_by": None,
    }
    if _unmeasurable(report, out):
        return out
    if fraction is None:
        out["decided_by"] = "no request measured"
        return out
    met = fraction >= target
    sure = interval is not None and (interval[0] >= target if met else interval[1] < target)
    out.update(met=met, confident=sure, decided_by="interval" if sure else "estimate")
    return out


def _target(s: Any) -> str:
    """What a search plan's probes must meet, for logs."""
    if s.latency_slo_ms is not None:
        return f"latency SLO p{s.slo_percentile:g} <= {s.latency_slo_ms:g} ms"
    return f"goodput_fraction >= {s.min_goodput_fraction:g} (goodput SLOs {dict(s.goodput)})"


def capacity_bound(report: Mapping[str, Any]) -> float | None:
    """Requests/s the probe's copies could at most serve: copies x workers / the mean
    service time (input, preprocess, infer, postprocess; the wait for a worker and
    for the GIL excluded). A rate above it cannot be sustained."""
    stages = [report.get(f"{s}_avg_ms") for s in ("input", "preprocess", "infer", "postprocess")]
    service_ms = sum(v for v in stages if v)
    if service_ms <= 0:
        return None
    return report["n_models"] * report["workers_per_model"] / (service_ms / 1e3)


# The driver --------------------------------------------------------------------------

RunGroups = Callable[[Iterable[Iterable[Configuration]]], Iterable[ConfigurationResult]]


def _axis(plan: Plan) -> str:
    return "request_rate" if plan.settings.load_mode == "open" else "workers_per_model"


def _value(configuration: Configuration, axis: str) -> float:
    return float(getattr(configuration, axis))


Search = BinarySearch | RangeBisection | LinearSearch


def new_search(members: Sequence[Configuration]) -> Search:
    """The search of one copy group (model config) of a search plan."""
    first = members[0]
    s = first.settings
    axis = "request_rate" if s.load_mode == "open" else "workers_per_model"
    if s.slo_search == "linear":
        return LinearSearch([_value(c, axis) for c in members])
    start = _value(first, axis)
    integer = axis == "workers_per_model"
    resolution = s.slo_resolution or DEFAULT_RESOLUTION
    if s.slo_range:
        step = s.slo_range[2] if len(s.slo_range) == 3 else None
        low, high = s.slo_range[0], s.slo_range[1]
        if integer:  # no more workers than the sequence ids can serve
            high = min(high, float(_id_capacity(first) or high))
        return RangeBisection(low, high, step=step, resolution=resolution, integer=integer)
    step = None
    if integer:
        low, high = 1.0, float(_id_capacity(first) or _MAX_WORKERS)
    else:
        floor = first.n_models / first.duration_s if first.duration_s else 0.0
        low, high = max(start / _LOW_SPAN, floor, 1e-9), float(_MAX_RATE)
        start = max(start, low)
    return BinarySearch(
        start, low=low, high=high, resolution=resolution, step=step, integer=integer
    )


def _id_capacity(configuration: Configuration) -> int | None:
    """The most workers per copy a bounded sequence_id_range serves (None: no bound)."""
    options = configuration.settings.sequence_options()
    start, end = options.sequence_id_range
    if not options.active or end is None:
        return None
    return max(1, (end - start) // configuration.n_models)


def _probe(
    template: Configuration, axis: str, value: float, index: int, first: bool
) -> Configuration:
    reloads = first or not template.settings.reuse_copies
    changes: dict[str, Any] = {"index": index, "loads": template.loads if reloads else 0}
    changes[axis] = int(value) if axis == "workers_per_model" else value
    probe = dataclasses.replace(template, **changes)
    check_schedule(probe)
    return probe


def run_search(plan: Plan, run_groups: RunGroups) -> list[ConfigurationResult]:
    """Runs the SLO search of each model config of a search plan (planning.plan with
    latency_slo_ms) through run_groups (an executor's: one probe at a time, each group's
    copies kept loaded; with reuse_copies=False each probe is its own group) and
    returns every probe's result, its config carrying ``slo``."""
    axis = _axis(plan)
    owner: dict[int, Search] = {}  # probe index -> its search
    counter = itertools.count()

    def probes(members: list[Configuration]) -> Iterator[Configuration]:
        search = new_search(members)
        for n in itertools.count():
            value = search.next_value()
            if value is None:
                return
            if isinstance(search, LinearSearch):
                probe = members[n]
            elif search.measured(value):  # no level is measured twice
                search.stop(f"{axis}={value:g} was measured already")
                return
            else:
                probe = _probe(members[0], axis, value, next(counter), first=n == 0)
            owner[probe.index] = search
            yield probe

    def groups() -> Iterator[Iterable[Configuration]]:
        for members in _model_groups(plan):
            if plan.settings.reuse_copies:
                yield probes(members)
            else:
                yield from ([probe] for probe in probes(members))

    results: list[ConfigurationResult] = []
    for result in run_groups(groups()):
        search = owner[result.configuration.index]
        _decide(result, search, axis, len(search.probes) + 1)
        results.append(result)
    for search in dict.fromkeys(owner.values()):
        mine = [r for r in results if owner[r.configuration.index] is search]
        _mark_best(mine, search, axis)
    return results


def progress_plan(plan: Plan) -> Plan:
    """What progress output counts on: a linear search's plan; for a binary search,
    EXPECTED_PROBES probes per model config (the issue's target takes about that many;
    the count and time left are estimates)."""
    if plan.settings.slo_search == "linear":
        return plan
    probes = [
        dataclasses.replace(
            members[0], index=i * EXPECTED_PROBES + k, loads=0 if k else members[0].loads
        )
        for i, members in enumerate(_model_groups(plan))
        for k in range(EXPECTED_PROBES)
    ]
    return Plan(tuple(probes), plan.settings)


def _model_groups(plan: Plan) -> list[list[Configuration]]:
    """The plan's configurations by model config (a copy group each unless
    reuse_copies=False), in order."""
    return [list(g) for _, g in itertools.groupby(plan, key=lambda c: c.model)]


def _decide(result: ConfigurationResult, search: Search, axis: str, number: int) -> None:
    s = result.configuration.settings
    report = reporting.get_reports([result.pair()])[0]
    value = _value(result.configuration, axis)
    ceiling = capacity_bound(report) if axis == "request_rate" else None
    if s.latency_slo_ms is None:
        _decide_goodput(result, report, search, axis, number, value, ceiling)
        return
    decision = verdict(report, s.latency_slo_ms, s.slo_percentile)
    search.record(value, decision["met"], ceiling)
    if result.status not in ("finished",):
        search.stop(f"probe {number} ended with status {result.status}")
    result.config["slo"] = {
        "target_ms": s.latency_slo_ms,
        "percentile": s.slo_percentile,
        "met": decision["met"],
        "best": False,
        "latency_ms": decision["latency_ms"],
        "latency_ms_ci": decision["latency_ms_ci"],
        "confident": decision["confident"],
        "decided_by": decision["decided_by"],
        "probe": number,
        "search": s.slo_search,
        "axis": axis,
        "value": value,
    }
    log.info(
        "SLO probe %d (%s=%g): p%g %s ms%s: %s (%s)",
        number,
        axis,
        value,
        s.slo_percentile,
        _ms(decision["latency_ms"]),
        "" if decision["latency_ms_ci"] is None else f" {_interval(decision['latency_ms_ci'])}",
        "met" if decision["met"] else "missed",
        decision["decided_by"],
    )


def _decide_goodput(
    result: ConfigurationResult,
    report: Mapping[str, Any],
    search: Search,
    axis: str,
    number: int,
    value: float,
    ceiling: float | None,
) -> None:
    """A probe of a goodput search: met when its goodput_fraction stays >= the target."""
    s = result.configuration.settings
    assert s.min_goodput_fraction is not None and s.goodput is not None  # a goodput search's
    decision = goodput_verdict(report, s.min_goodput_fraction)
    search.record(value, decision["met"], ceiling)
    if result.status not in ("finished",):
        search.stop(f"probe {number} ended with status {result.status}")
    result.config["slo"] = {
        "min_goodput_fraction": s.min_goodput_fraction,
        "goodput": dict(s.goodput),
        "met": decision["met"],
        "best": False,
        "goodput_fraction": decision["goodput_fraction"],
        "goodput_fraction_ci": decision["goodput_fraction_ci"],
        "confident": decision["confident"],
        "decided_by": decision["decided_by"],
        "probe": number,
        "search": s.slo_search,
        "axis": axis,
        "value": value,
    }
    fraction = decision["goodput_fraction"]
    log.info(
        "SLO probe %d (%s=%g): goodput_fraction %s: %s (%s)",
        number,
        axis,
        value,
        "N/A" if fraction is None else f"{fraction:.4g}",
        "met" if decision["met"] else "missed",
        decision["decided_by"],
    )


def _mark_best(results: list[ConfigurationResult], search: Search, axis: str) -> None:
    """best=True on the probe of the highest value that met (the first such probe);
    one log line with the answer, or saying that nothing met."""
    if not results:
        return
    first = results[0].configuration
    s = first.settings
    fixed = "n_models" if axis == "workers_per_model" else "n_models, workers_per_model"
    setting = ", ".join(f"{k}={getattr(first, k)}" for k in fixed.split(", "))
    what = (
        f"{_target(s)} ({first.model_name} "
        f"batch_size={first.batch_size} {setting}, {first.model.filename})"
    )
    unit = "requests/s" if axis == "request_rate" else "workers per copy"
    ended = f"; search ended early: {search.stopped}" if search.stopped else ""
    best = search.best
    if best is None:
        lowest = min(_value(r.configuration, axis) for r in results)
        log.warning(
            "%s: not met at any probe, even the lowest %s=%g %s (%d probe(s))%s",
            what,
            axis,
            lowest,
            unit,
            len(results),
            ended,
        )
        return
    chosen = next(
        r for r in results if r.config["slo"]["met"] and _value(r.configuration, axis) == best
    )
    slo = chosen.config["slo"]
    slo["best"] = True
    measured = (
        f"p{s.slo_percentile:g} {_ms(slo['latency_ms'])} ms"
        if "latency_ms" in slo
        else f"goodput_fraction {_ms(slo['goodput_fraction'])}"
    )
    log.info("%s: best %s=%g %s (%s) after %d probe(s)%s", what, axis, best, unit, measured,
             len(results), ended)  # fmt: skip
    if "latency_ms" not in slo:
        return
    if not slo["confident"]:
        interval = slo["latency_ms_ci"]
        log.warning(
            "%s: the best probe's p%g %s the target (its estimate decided): longer probes "
            "(duration, stability) would tell whether it truly meets it",
            what,
            s.slo_percentile,
            "has no interval to compare with"
            if interval is None
            else f"interval {_interval(interval)} ms straddles",
        )


def _ms(value: float | None) -> str:
    return "N/A" if value is None else f"{value:.4g}"


def _interval(interval: Sequence[float]) -> str:
    return f"[{interval[0]:.4g}, {interval[1]:.4g}]"
