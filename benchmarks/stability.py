"""Coverage of the confidence intervals, and stopping rules judged against the truth.

    python benchmarks/stability.py [--runs 400] [--seed 12] [--median-us 1000] [--sigma 0.5]

Simulation only (neuronperf_native.stats.simulation: one closed-loop worker, lognormal
latencies, iid or AR(1) rho = 0.8 between consecutive log-latencies), so the true p99
and throughput are known and every figure is deterministic for a seed; no timing.

1. Coverage: over `runs` seeded 10 s runs (0.1 s windows, 0.5 s window histograms) of
   each series, how often the 95% intervals contain the true value (target >= 93%),
   with and without the warm-up cut of the stability path, next to the independent-
   samples interval (no widening for dependence) and the mean relative half-widths.
   A percentile's coverage counts the runs where it could be bounded; "p99.9 null" is
   the share of runs whose p99.9 interval was null (too few effective samples).
2. Stopping on the same series, extended to 50 s: perf_analyzer's rule (5 s windows,
   stable when max/min of the last 3 windows is within 10% for throughput and p99, at
   most 10 windows; its answer is taken to be the 3 windows merged, as perf_analyzer
   merges its last measurements) and StoppingRule at rel_ci 0.05 and 0.02 (max_s 50,
   judged every 0.5 s): how often each calls the run stable, when, and how often a
   "stable" answer is more than 5% off the true p99 or throughput.

Takes 3-7 minutes (400 runs of 50 s per series); --median-us 200 --sigma 0.25 is the
native lognormal spin model's distribution.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neuronperf_native.engine import Histogram
from neuronperf_native.stats import (
    StabilityMonitor,
    StoppingRule,
    percentile_interval,
    summarize,
)
from neuronperf_native.stats import simulation as sim

COVERAGE_S = 10.0
STOPPING_S = 50.0
WINDOW_S = 0.1
SPAN = 5  # windows per window histogram (0.5 s)
PA_WINDOW_S = 5.0
PA_TRIALS = 10
PA_STABILITY = 0.10
SERIES = (("iid lognormal", 0.0), ("AR(1) rho=0.8", 0.8))
COVERAGE_PERCENTILES = (50.0, 90.0, 99.0, 99.9)
TOLERANCE = 0.05


class Truth:
    def __init__(self, median_ns: float, sigma: float) -> None:
        self.p = {p: sim.true_percentile_ns(median_ns, sigma, p) for p in COVERAGE_PERCENTILES}
        self.throughput = sim.true_throughput(median_ns, sigma)

    def off(self, p99_ns: float, throughput: float) -> bool:
        """More than TOLERANCE away from the truth in p99 or throughput."""
        return (
            abs(p99_ns / self.p[99.0] - 1) > TOLERANCE
            or abs(throughput / self.throughput - 1) > TOLERANCE
        )


class Prepared:
    """One simulated run cut into the views the statistics need."""

    def __init__(self, run: sim.SimulatedRun) -> None:
        self.windows = run.windows()
        self.histograms = run.window_histograms(SPAN)
        self.run = run


def _merged(histograms: list[Histogram]) -> Histogram:
    total = Histogram()
    for h in histograms:
        total.merge(h)
    return total


def coverage_row(prepared: list[Prepared], truth: Truth, drop_warmup: bool) -> dict[str, float]:
    windows = round(COVERAGE_S / WINDOW_S)
    hits = {p: 0 for p in COVERAGE_PERCENTILES}
    bounded = {p: 0 for p in COVERAGE_PERCENTILES}
    hits_iid = hits_throughput = 0
    widths_p99, widths_throughput, dropped = [], [], []
    for run in prepared:
        counts, parts = run.windows[:windows], run.histograms[: windows // SPAN]
        merged = _merged(parts)
        summary = summarize(
            merged,
            counts,
            WINDOW_S,
            window_histograms=parts,
            windows_per_histogram=SPAN,
            percentiles=COVERAGE_PERCENTILES,
            drop_warmup=drop_warmup,
        )
        for p in COVERAGE_PERCENTILES:
            interval = summary.latency[p]
            if interval is not None:
                bounded[p] += 1
                hits[p] += interval.low_ns <= truth.p[p] <= interval.high_ns
        iid = percentile_interval(merged, 99.0)
        hits_iid += iid is not None and iid.low_ns <= truth.p[99.0] <= iid.high_ns
        t = summary.throughput
        hits_throughput += t is not None and t.low <= truth.throughput <= t.high
        if summary.latency[99.0] is not None:
            widths_p99.append(summary.latency[99.0].rel_half_width)
        if t is not None:
            widths_throughput.append(t.rel_half_width)
        dropped.append(summary.warmup.seconds)
    n = len(prepared)
    row = {f"p{p:g}": hits[p] / max(1, bounded[p]) for p in COVERAGE_PERCENTILES}
    row["p99.9_null"] = 1 - bounded[99.9] / n
    row.update(
        p99_iid=hits_iid / n,
        throughput=hits_throughput / n,
        width_p99=float(np.mean(widths_p99)),
        width_throughput=float(np.mean(widths_throughput)),
        dropped_s=float(np.mean(dropped)),
    )
    return row


def perf_analyzer_rule(run: sim.SimulatedRun, truth: Truth) -> tuple[bool, float, bool]:
    """(stable, seconds, answer off by > 5%) under perf_analyzer's 3-window rule."""
    latencies, done = run.latencies_ns, run.completions_ns
    p99s, rates, bounds = [], [], []
    for trial in range(PA_TRIALS):
        lo, hi = np.searchsorted(done, [trial * PA_WINDOW_S * 1e9, (trial + 1) * PA_WINDOW_S * 1e9])
        window = latencies[lo:hi]
        p99s.append(np.percentile(window, 99))
        rates.append(window.size / PA_WINDOW_S)
        bounds.append((lo, hi))
        if trial >= 2:
            last_p99, last_rates = p99s[-3:], rates[-3:]
            if (
                max(last_p99) / min(last_p99) <= 1 + PA_STABILITY
                and max(last_rates) / min(last_rates) <= 1 + PA_STABILITY
            ):
                merged = latencies[bounds[-3][0] : hi]
                p99 = float(np.percentile(merged, 99))
                rate = merged.size / (3 * PA_WINDOW_S)
                return True, (trial + 1) * PA_WINDOW_S, truth.off(p99, rate)
    return False, PA_TRIALS * PA_WINDOW_S, False


def our_rule(run: Prepared, truth: Truth, rel_ci: float) -> tuple[bool, float, bool]:
    """(stable, seconds, answer off by > 5%) under StoppingRule(rel_ci), judged every 0.5 s."""
    rule = StoppingRule(rel_ci=rel_ci, max_s=STOPPING_S)
    monitor = StabilityMonitor(rule, WINDOW_S, windows_per_histogram=SPAN)
    for step, histogram in enumerate(run.histograms):
        monitor.add(run.windows[step * SPAN : (step + 1) * SPAN], [histogram])
        decision = monitor.decide()
        if decision.stop:
            break
    if not decision.stable:
        return False, decision.elapsed_s, False
    p99 = decision.latency.estimate_ns
    return True, decision.elapsed_s, truth.off(p99, decision.throughput.mean)


def stopping_row(outcomes: list[tuple[bool, float, bool]]) -> str:
    stable = [o for o in outcomes if o[0]]
    share = len(stable) / len(outcomes)
    median_s = float(np.median([o[1] for o in stable])) if stable else float("nan")
    off = sum(o[2] for o in stable) / len(stable) if stable else float("nan")
    return f"stable {share:6.1%}   median time {median_s:5.1f} s   stable but >5% off {off:6.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--median-us", type=float, default=1000.0)
    parser.add_argument("--sigma", type=float, default=0.5)
    args = parser.parse_args()
    median_ns = args.median_us * 1e3
    truth = Truth(median_ns, args.sigma)
    started = time.perf_counter()
    print(
        f"{args.runs} seeded runs per series (seed {args.seed}), lognormal median "
        f"{args.median_us:g} us sigma {args.sigma:g}: true p99 {truth.p[99.0] / 1e6:.4f} ms, "
        f"throughput {truth.throughput:.1f}/s"
    )
    results = {}
    for index, (name, rho) in enumerate(SERIES):
        runs = sim.simulate_runs(
            args.seed + index,
            args.runs,
            duration_s=STOPPING_S,
            window_s=WINDOW_S,
            median_ns=median_ns,
            sigma=args.sigma,
            rho=rho,
        )
        prepared = [Prepared(run) for run in runs]
        results[name] = (
            coverage_row(prepared, truth, drop_warmup=False),
            coverage_row(prepared, truth, drop_warmup=True),
            [perf_analyzer_rule(run, truth) for run in runs],
            {rel: [our_rule(run, truth, rel) for run in prepared] for rel in (0.05, 0.02)},
        )
    print(f"\n1. coverage of 95% intervals, {COVERAGE_S:g} s runs (target >= 93%)")
    header = "".join(f"{f'p{p:g}':>8}" for p in COVERAGE_PERCENTILES)
    print(
        f"  {'series':28}{header}{'p99 iid':>9}{'thrpt':>8}{'+-p99':>8}{'+-thr':>8}"
        f"{'cut s':>7}{'p99.9 null':>12}"
    )
    for name, (plain, cut, _, _) in results.items():
        for label, row in (("", plain), (" +warm-up cut", cut)):
            cells = "".join(f"{row[f'p{p:g}']:8.1%}" for p in COVERAGE_PERCENTILES)
            print(
                f"  {name + label:28}{cells}{row['p99_iid']:9.1%}{row['throughput']:8.1%}"
                f"{row['width_p99']:8.2%}{row['width_throughput']:8.2%}{row['dropped_s']:7.2f}"
                f"{row['p99.9_null']:12.1%}"
            )
    print(f"\n2. stopping, same series up to {STOPPING_S:g} s (truth: +-{TOLERANCE:.0%})")
    for name, (_, _, pa, ours) in results.items():
        print(f"  {name}")
        print(f"    perf_analyzer 3 x 5 s within 10%  {stopping_row(pa)}")
        for rel, outcomes in ours.items():
            print(f"    StoppingRule(rel_ci={rel:<4g})         {stopping_row(outcomes)}")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
