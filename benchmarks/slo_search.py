"""The latency-SLO search against queueing theory, printed side by side from one run.

    python benchmarks/slo_search.py [seconds-per-probe]   (default 60)

Issue 11's target: a native spin model with a fixed 1 ms service time, 1 worker, Poisson
arrivals, p99 <= 5 ms. That system is an M/D/1 queue, whose answer is known: the waiting
time W has Erlang's (Crommelin's) distribution, with D the service time and rho = lambda D,

    P(W <= t) = (1 - rho) sum_{k=0}^{floor(t/D)} (rho (k - t/D))^k / k! e^{-rho (k - t/D)},

the sojourn time is W + D, so p99 <= 5 ms means P(W <= 4 ms) >= 0.99; the highest such
rate is found by bisection on rho, and checked here by a seeded Lindley simulation
(W_{n+1} = max(0, W_n + D - A_n)). npf.benchmark(latency_slo_ms=5, load_mode="open",
arrival="poisson") then searches the rate, and the two are printed with their ratio,
the probes and how many there were.

Targets: the found rate within 3% of the M/D/1 answer, in at most 12 probes. Before the
measured search, the search's decision logic runs on seeded simulated M/D/1 probes of
the same length (10 searches each), once with its rule (the p99 estimate decides; the
interval says whether the verdict is confident) and once calling a probe met only when
the interval's upper end is under 5 ms, which finds a lower bound of the answer, low by
about the interval's width. Figures of the measured search depend on the machine's load
(a busy core stretches the spin and the dispatcher's wake-ups): run it on a quiet
machine for reference numbers.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

import neuronperf_native as npf
from neuronperf_native import engine, search, stats

SERVICE_MS = 1.0
TARGET_MS = 5.0
PERCENTILE = 99.0
MAX_PROBES = 12
WITHIN = 0.03


def md1_wait_cdf(rho: float, t_over_d: float) -> float:
    """P(W <= t) of the M/D/1 queue at load rho (t in units of the service time)."""
    total = 0.0
    for k in range(math.floor(t_over_d) + 1):
        x = rho * (k - t_over_d)
        total += x**k / math.factorial(k) * math.exp(-x)
    return (1 - rho) * total


def md1_rate(service_ms: float, target_ms: float, percentile: float) -> float:
    """Requests/s at which the M/D/1 sojourn time's percentile equals target_ms."""
    wait_d = (target_ms - service_ms) / service_ms
    lo, hi = 1e-6, 1 - 1e-9
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if md1_wait_cdf(mid, wait_d) >= percentile / 100 else (lo, mid)
    return lo / (service_ms / 1e3)


def simulated_percentile_ms(rate: float, service_ms: float, percentile: float, n: int) -> float:
    """The sojourn-time percentile of a seeded M/D/1 simulation (Lindley's recursion)."""
    gaps_ms = np.random.default_rng(2026).exponential(1e3 / rate, n)
    waits = np.empty(n)
    wait = 0.0
    for i, gap in enumerate(gaps_ms.tolist()):
        waits[i] = wait
        wait = max(0.0, wait + service_ms - gap)
    return float(np.percentile(waits + service_ms, percentile))


def simulated_probe(rate: float, seconds: float, seed: int) -> dict:
    """A report-like dict of one probe run on a seeded M/D/1 simulation instead of the
    machine: the same interval (stats.summarize on 0.1 s windows) and verdict inputs."""
    rng = np.random.default_rng(seed)
    arrivals_s = np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 1.2) + 10))
    arrivals_s = arrivals_s[arrivals_s < seconds]
    service_s, free_s = SERVICE_MS / 1e3, 0.0
    done_s = np.empty(len(arrivals_s))
    for i, arrival in enumerate(arrivals_s.tolist()):
        free_s = max(free_s, arrival) + service_s
        done_s[i] = free_s
    latency_ns = np.round((done_s - arrivals_s) * 1e9).astype(np.int64)
    window = np.minimum((done_s / 0.1).astype(int), int(seconds / 0.1) - 1)
    merged, per_window = engine.Histogram(), [engine.Histogram() for _ in range(window.max() + 1)]
    merged.record_many(latency_ns)
    for w, hist in enumerate(per_window):
        hist.record_many(latency_ns[window == w])
    counts = np.bincount(window, minlength=len(per_window)).tolist()
    summary = stats.summarize(
        merged, counts, 0.1, window_histograms=per_window, percentiles=[PERCENTILE]
    )
    interval = summary.latency[PERCENTILE]
    return {
        "status": "finished",
        "saturated": rate * service_s >= 1,  # an unstable queue: its backlog grows
        f"latency_ms_p{PERCENTILE:g}": merged.value_at_percentile(PERCENTILE) / 1e6,
        stats.ci_key(PERCENTILE): None if interval is None else interval.ms(),
    }


def simulated_search(seconds: float, seed: int, upper_end: bool = False) -> tuple[float, int]:
    """The search's own decisions (search.BinarySearch, search.verdict) on simulated
    probes: what it finds without a machine's noise. upper_end: call a probe met only
    when its interval's upper end is under the target (the rule not chosen)."""
    s = search.BinarySearch(100.0, low=100.0 / 1024, high=engine.MAX_REQUEST_RATE)
    while (rate := s.next_value()) is not None:
        report = simulated_probe(rate, seconds, seed=seed + len(s.probes))
        met = search.verdict(report, TARGET_MS, PERCENTILE)["met"]
        if upper_end:
            interval = report[stats.ci_key(PERCENTILE)]
            met = met and interval is not None and interval[1] <= TARGET_MS
        s.record(rate, met, ceiling=1e3 / SERVICE_MS)
    assert s.best is not None
    return s.best, len(s.probes)


def simulated_summary(seconds: float, exact: float, upper_end: bool) -> str:
    """Found/exact over 10 seeded simulated searches: median, range, most probes."""
    runs = [simulated_search(seconds, 1000 * k, upper_end) for k in range(10)]
    ratios = sorted(best / exact for best, _ in runs)
    within = sum(abs(r - 1) <= WITHIN for r in ratios)
    return (
        f"found/exact median {np.median(ratios):.4f}, range [{ratios[0]:.4f}, "
        f"{ratios[-1]:.4f}], {within}/10 within {WITHIN:.0%}, at most "
        f"{max(n for _, n in runs)} probes"
    )


def load_spin(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    return engine.native_model("spin", latency_ns=round(SERVICE_MS * 1e6))


def measured_search(seconds: float) -> tuple[list[dict], float]:
    started = time.monotonic()
    reports = npf.benchmark(
        load_spin,
        "spin-1ms",
        [()],
        duration=seconds,
        n_models=1,
        workers_per_model=1,
        load_mode="open",
        arrival="poisson",
        seed=1,
        latency_slo_ms=TARGET_MS,
        slo_percentile=PERCENTILE,
        device_type="cpu",
        verbosity=0,
    )
    return reports, time.monotonic() - started


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    exact = md1_rate(SERVICE_MS, TARGET_MS, PERCENTILE)
    check = simulated_percentile_ms(exact, SERVICE_MS, PERCENTILE, 2_000_000)
    print(f"M/D/1, D = {SERVICE_MS:g} ms, p{PERCENTILE:g} sojourn <= {TARGET_MS:g} ms:")
    print(f"  Erlang's formula: {exact:.1f} requests/s (rho {exact * SERVICE_MS / 1e3:.4f})")
    print(f"  seeded simulation at that rate (2M requests): p99 {check:.3f} ms")
    print(f"\nthe search's decisions on seeded simulated M/D/1 probes ({seconds:g} s each):")
    print(f"  point estimate decides (the rule): {simulated_summary(seconds, exact, False)}")
    print(f"  interval's upper end decides:      {simulated_summary(seconds, exact, True)}")
    reports, took_s = measured_search(seconds)
    print(f"\nnpf.benchmark latency_slo_ms={TARGET_MS:g}, Poisson, {seconds:g} s per probe:")
    print("  probe  rate (req/s)  p99 (ms)  p99 95% interval (ms)  saturated  met   best")
    for r in reports:
        slo = r["slo"]
        ci = slo["latency_ms_ci"]
        interval = "N/A" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        p99 = "N/A" if slo["latency_ms"] is None else f"{slo['latency_ms']:.3f}"
        print(
            f"  {slo['probe']:>5}  {r['request_rate']:>12.1f}  {p99:>8}  {interval:>21}  "
            f"{r['saturated']!s:>9}  {slo['met']!s:<5} {slo['best']}"
        )
    best = next((r for r in reports if r["slo"]["best"]), None)
    print(f"  {len(reports)} probes in {took_s:.0f} s")
    if best is None:
        print("\nno probe met the SLO: FAIL")
        return
    found = best["request_rate"]
    ratio = found / exact
    print(f"\nfound {found:.1f} requests/s vs M/D/1 {exact:.1f}: ratio {ratio:.4f}")
    print(
        f"target: within {WITHIN:.0%} ({'met' if abs(ratio - 1) <= WITHIN else 'missed'}), "
        f"at most {MAX_PROBES} probes ({'met' if len(reports) <= MAX_PROBES else 'missed'})"
    )


if __name__ == "__main__":
    main()
