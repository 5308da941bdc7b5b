"""Open-loop (request-rate) figures of the engine, printed side by side from one run.

    python benchmarks/load_modes.py [seconds-per-rate-run] [seconds-per-slo-probe] [sections]

sections: a comma-separated subset of accuracy,ceiling,loadgen,slo,wakeup,trace (all).

1. Rate accuracy: native spin model (10 us), 4 workers, constant 1k, 10k and 100k
   requests/s: achieved vs target, and schedule_lag p50/p99, with the default final spin
   (spin_wait_us=20) and with pure sleeps (spin_wait_us=0).
2. Open-loop ceiling: the highest constant rate a Python no-op and the native no-op
   sustain with 1 worker without saturating (doubling, then bisection to 5%).
3. MLPerf LoadGen's Server scenario with a null SUT (its issue callback completes each
   query at once) beside our open loop with a Python no-op (Poisson arrivals, as
   LoadGen's), at the same target QPS, each in its own process: the latency each harness
   adds to a query that costs nothing (mean, p50, p99 from scheduled issue to
   completion) and the process CPU time per query, with the ratios ours/LoadGen.
   Skipped with a message when `mlperf_loadgen` (pip install mlcommons-loadgen) is missing.
4. Latency-SLO search: native spin model with a fixed 1 ms service time, 1 worker,
   Poisson arrivals, p99 <= 5 ms: npf.benchmark(latency_slo_ms=5) against the M/D/1
   answer. The waiting time W of M/D/1 has Erlang's (Crommelin's) distribution, with D
   the service time and rho = lambda D,
       P(W <= t) = (1 - rho) sum_{k=0}^{floor(t/D)} (rho (k - t/D))^k / k! e^{-rho (k - t/D)};
   the sojourn time is W + D, so p99 <= 5 ms means P(W <= 4 ms) >= 0.99, solved for rho
   by bisection and checked by a seeded Lindley simulation (W' = max(0, W + D - A)).
   Before the measured search, the search's own decisions (search.BinarySearch,
   search.verdict) run on seeded simulated M/D/1 probes of the same length (10 searches),
   with its rule (the p99 estimate decides; the interval says whether the verdict is
   confident) and with the rule not chosen (met only when the interval's upper end is
   under 5 ms: a lower bound of the answer, low by about the interval's width).
5. Wake-up: native no-op, 1 worker, constant 10, 100, 1,000 and 10,000 requests/s, each
   rate run with the margin each worker learns (wakes by the 7/8 quantile of its last 32
   sleeps' lateness, then spins; the default) and with the fixed margin of spin_wait_us
   only (learn_wakeup=False, the engine before issue 22), alternating: schedule_lag
   p50/p99, e2e p50, achieved rate and process CPU per request.
6. A 10-million-line interval trace (40 MB of "100"): IntervalTrace.read time and peak
   memory in a fresh process, then a 1 s npf.cpu.benchmark of a Python no-op with 2
   copies replaying it (each maps the one written trace): wall time and status.
Targets (issue 11): achieved within 0.5% of target; schedule_lag p99 <= 20 us at 10k/s;
ceilings >= 500k/s (Python) and >= 5M/s (native); our cost per query <= 0.1x LoadGen's
(read here as the latency added per query; the CPU ratio is printed beside it); the SLO
search's rate within 3% of the M/D/1 answer in at most 12 probes.
Figures depend on the machine's load (a busy core stretches a spin and the dispatcher's
wake-ups): run it on a quiet machine for reference numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

import neuronperf_native as npf
from neuronperf_native import engine, search, stats

_LOADGEN_QPS = (10_000, 50_000)

# A child process measures one harness: its process CPU time over the run per query.
_OURS = textwrap.dedent(
    """
    import json, sys, time
    from neuronperf_native import engine
    qps, seconds = float(sys.argv[1]), float(sys.argv[2])
    noop = lambda: None
    engine.run(noop, max_iterations=1000, request_rate=qps)  # warm the code paths
    cpu = time.process_time()
    r = engine.run(noop, duration_s=seconds, request_rate=qps, arrival="poisson")
    cpu = time.process_time() - cpu
    p50, p99 = r.latency.percentiles([50, 99])
    print(json.dumps({"queries": r.iterations, "cpu_s": cpu, "mean_ns": r.latency.mean,
                      "p50_ns": p50, "p99_ns": p99}))
    """
)
_LOADGEN = textwrap.dedent(
    r"""
    import json, os, re, sys, tempfile, time
    import mlperf_loadgen as lg
    qps, seconds = float(sys.argv[1]), float(sys.argv[2])
    queries = [0]
    def issue(samples):
        queries[0] += len(samples)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    ts = lg.TestSettings()
    ts.scenario = lg.TestScenario.Server
    ts.mode = lg.TestMode.PerformanceOnly
    ts.server_target_qps = qps
    ts.server_target_latency_ns = 1_000_000_000
    ts.min_duration_ms = int(seconds * 1000)
    ts.max_duration_ms = int(seconds * 1000)
    ts.min_query_count = 1
    log = lg.LogSettings()
    log.log_output.outdir = tempfile.mkdtemp()
    log.log_output.copy_summary_to_stdout = False
    cpu = time.process_time()
    lg.StartTestWithLogSettings(sut, qsl, ts, log)
    cpu = time.process_time() - cpu
    summary = open(os.path.join(log.log_output.outdir, "mlperf_log_summary.txt")).read()
    def stat(label):
        return float(re.search(re.escape(label) + r"\s*:\s*([\d.]+)", summary).group(1))
    print(json.dumps({"queries": queries[0], "cpu_s": cpu, "mean_ns": stat("Mean latency (ns)"),
                      "p50_ns": stat("50.00 percentile latency (ns)"),
                      "p99_ns": stat("99.00 percentile latency (ns)")}))
    """
)


def rate_accuracy(seconds: float) -> None:
    spin = engine.native_model("spin", latency_ns=10_000)
    print(f"1. rate accuracy: spin 10 us, 4 workers, constant arrivals, {seconds:g} s per run")
    for rate in (1_000, 10_000, 100_000):
        cells = []
        for spin_us in (20.0, 0.0):
            r = engine.run(
                spin, workers=4, duration_s=seconds, request_rate=rate, spin_wait_us=spin_us
            )
            lag = r.stage("schedule_lag")
            cells.append(
                f"spin {spin_us:>4g} us: achieved {r.achieved_rate:>9.1f}/s "
                f"({100 * (r.achieved_rate / rate - 1):+.3f}%), lag p50 "
                f"{lag.value_at_percentile(50) / 1e3:7.1f} us p99 "
                f"{lag.value_at_percentile(99) / 1e3:9.1f} us{' SATURATED' if r.saturated else ''}"
            )
        print(f"  {rate:>7,}/s  " + "\n             ".join(cells))
    print("  targets: achieved within 0.5%; lag p99 <= 20 us at 10,000/s")


def _sustains(model, rate: float, seconds: float) -> bool:
    r = engine.run(model, workers=1, duration_s=seconds, request_rate=rate)
    return not r.saturated


def ceiling(model, start: float, seconds: float) -> float:
    """The highest constant rate `model` sustains with 1 worker (to 5%)."""
    low, high = 0.0, start
    while _sustains(model, high, seconds):
        low, high = high, high * 2
        if high > engine.MAX_REQUEST_RATE:
            return low
    while high - low > 0.05 * high:
        mid = (low + high) / 2
        low, high = (mid, high) if _sustains(model, mid, seconds) else (low, mid)
    return low


def open_loop_ceilings(seconds: float) -> None:
    print(f"2. open-loop ceiling, 1 worker, constant arrivals, {seconds:g} s per probe")
    python = ceiling(lambda: None, 250_000, seconds)
    print(f"  Python no-op   {python:>12,.0f} requests/s  (target >= 500,000)")
    native = ceiling(engine.native_model("noop"), 2_000_000, seconds)
    print(f"  native no-op   {native:>12,.0f} requests/s  (target >= 5,000,000)")


def _child(code: str, qps: float, seconds: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, str(qps), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def versus_loadgen(seconds: float) -> None:
    print(f"3. vs MLPerf LoadGen Server, null SUT, Poisson arrivals, {seconds:g} s each")
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        print("  skipped: mlperf_loadgen is not installed (pip install mlcommons-loadgen)")
        return
    for qps in _LOADGEN_QPS:
        ours = _child(_OURS, qps, seconds)
        theirs = _child(_LOADGEN, qps, seconds)
        print(f"  {qps:,} queries/s ({ours['queries']:,} ours, {theirs['queries']:,} LoadGen's)")
        for key, label in (("mean_ns", "mean"), ("p50_ns", "p50"), ("p99_ns", "p99")):
            print(
                f"    latency added, {label:4s}  ours {ours[key] / 1e3:10.1f} us   LoadGen "
                f"{theirs[key] / 1e3:10.1f} us   ratio {ours[key] / theirs[key]:.3f}"
            )
        ours_cpu = ours["cpu_s"] * 1e9 / ours["queries"]
        theirs_cpu = theirs["cpu_s"] * 1e9 / theirs["queries"]
        print(
            f"    CPU per query     ours {ours_cpu / 1e3:10.1f} us   LoadGen "
            f"{theirs_cpu / 1e3:10.1f} us   ratio {ours_cpu / theirs_cpu:.3f}"
        )
    print("  target: ours <= 0.1x LoadGen's cost per query")


# 4. The latency-SLO search against M/D/1 ----------------------------------------------

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
    if not len(arrivals_s):
        return {"status": "finished", "saturated": False, f"latency_ms_p{PERCENTILE:g}": None}
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


def simulated_search(
    seconds: float, seed: int, upper_end: bool = False
) -> tuple[float | None, int]:
    """The search's own decisions (search.BinarySearch, search.verdict) on simulated
    probes: what it finds without a machine's noise. upper_end: call a probe met only
    when its interval's upper end is under the target (the rule not chosen)."""
    low = max(100.0 / 1024, 1 / seconds)  # as npf.benchmark's search: a copy's request
    s = search.BinarySearch(100.0, low=low, high=engine.MAX_REQUEST_RATE)
    while (rate := s.next_value()) is not None:
        report = simulated_probe(rate, seconds, seed=seed + len(s.probes))
        met = search.verdict(report, TARGET_MS, PERCENTILE)["met"]
        if upper_end:
            interval = report.get(stats.ci_key(PERCENTILE))
            met = met and interval is not None and interval[1] <= TARGET_MS
        s.record(rate, met, ceiling=1e3 / SERVICE_MS)
    return s.best, len(s.probes)


def simulated_summary(seconds: float, exact: float, upper_end: bool) -> str:
    """Found/exact over 10 seeded simulated searches: median, range, most probes."""
    runs = [simulated_search(seconds, 1000 * k, upper_end) for k in range(10)]
    ratios = sorted(best / exact for best, _ in runs if best is not None)
    within = sum(abs(r - 1) <= WITHIN for r in ratios)
    found = (
        f"found/exact median {np.median(ratios):.4f}, range [{ratios[0]:.4f}, {ratios[-1]:.4f}], "
        if ratios
        else ""
    )
    nothing = f"{10 - len(ratios)}/10 found nothing, " if len(ratios) < 10 else ""
    return (
        f"{found}{nothing}{within}/10 within {WITHIN:.0%}, at most {max(n for _, n in runs)} probes"
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


def slo_search(seconds: float) -> None:
    print(
        f"4. latency-SLO search: spin 1 ms, 1 worker, Poisson, p99 <= 5 ms, {seconds:g} s a probe"
    )
    exact = md1_rate(SERVICE_MS, TARGET_MS, PERCENTILE)
    check = simulated_percentile_ms(exact, SERVICE_MS, PERCENTILE, 2_000_000)
    print(
        f"  M/D/1 answer (Erlang's formula): {exact:.1f} requests/s (rho "
        f"{exact * SERVICE_MS / 1e3:.4f}); a seeded simulation of 2M requests at it: "
        f"p99 {check:.3f} ms"
    )
    print("  the search's decisions on simulated M/D/1 probes, 10 seeded searches:")
    print(f"    p99 estimate decides (the rule): {simulated_summary(seconds, exact, False)}")
    print(f"    interval's upper end decides:    {simulated_summary(seconds, exact, True)}")
    reports, took_s = measured_search(seconds)
    print(f"  npf.benchmark(latency_slo_ms=5), measured: {len(reports)} probes in {took_s:.0f} s")
    print("    probe  rate (req/s)  p99 (ms)  p99 95% interval (ms)  saturated  met    best")
    for r in reports:
        slo = r["slo"]
        ci = slo["latency_ms_ci"]
        interval = "N/A" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        p99 = "N/A" if slo["latency_ms"] is None else f"{slo['latency_ms']:.3f}"
        print(
            f"    {slo['probe']:>5}  {r['request_rate']:>12.1f}  {p99:>8}  {interval:>21}  "
            f"{r['saturated']!s:>9}  {slo['met']!s:<6} {slo['best']}"
        )
    best = next((r for r in reports if r["slo"]["best"]), None)
    if best is None:
        print("  no probe met the SLO")
    else:
        ratio = best["request_rate"] / exact
        print(
            f"  found {best['request_rate']:.1f} requests/s vs M/D/1 {exact:.1f}: ratio "
            f"{ratio:.4f} ({'within' if abs(ratio - 1) <= WITHIN else 'NOT within'} "
            f"{WITHIN:.0%}), {len(reports)} probes"
        )
    print(f"  targets: within {WITHIN:.0%} of the M/D/1 answer, at most {MAX_PROBES} probes")


def wakeup(seconds: float) -> None:
    noop = engine.native_model("noop")
    print(
        f"5. wake-up: native no-op, 1 worker, constant arrivals, >= {seconds:g} s and 100 "
        "requests per run; learned margin vs fixed spin_wait_us=20"
    )
    for rate in (10, 100, 1_000, 10_000):
        duration = max(seconds, 100 / rate)
        for learn in (False, True):
            r = engine.run(noop, duration_s=duration, request_rate=rate, learn_wakeup=learn)
            lag_p50, lag_p99 = r.stage("schedule_lag").percentiles([50, 99])
            print(
                f"  {rate:>6,}/s {'learned' if learn else 'fixed  '}: lag p50 "
                f"{lag_p50 / 1e3:7.2f} us p99 {lag_p99 / 1e3:8.2f} us, e2e p50 "
                f"{r.latency.value_at_percentile(50) / 1e3:7.2f} us, achieved "
                f"{r.achieved_rate:9.2f}/s, CPU {r.cpu_s * 1e6 / max(r.iterations, 1):7.2f} "
                "us/request"
            )
    print("  target: lag within ~20 us at every rate on an idle core, without spinning through")


_TRACE_CHILD = textwrap.dedent(
    """
    import json, re, sys, time
    from neuronperf_native import engine
    def peak_mb():  # this process's peak RSS (ru_maxrss would carry the parent's over exec)
        status = open("/proc/self/status").read()
        return int(re.search(r"VmHWM:\\s*(\\d+) kB", status).group(1)) / 1024
    before = peak_mb()
    t0 = time.perf_counter()
    trace = engine.IntervalTrace.read(sys.argv[1])
    elapsed = time.perf_counter() - t0
    print(json.dumps({"n": len(trace), "read_s": elapsed, "before_mb": before,
                      "peak_mb": peak_mb()}))
    """
)


class _Noop:
    def __call__(self, x):
        return x


def trace(seconds: float) -> None:
    print("6. a 10,000,000-line interval trace (40 MB of '100', 100 us apart)")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trace.txt")
        with open(path, "w") as f:
            f.write("100\n" * 10_000_000)
        out = subprocess.run(
            [sys.executable, "-c", _TRACE_CHILD, path], capture_output=True, text=True, check=True
        )
        read = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  IntervalTrace.read: {read['n']:,} intervals in {read['read_s']:.2f} s; peak RSS "
            f"{read['peak_mb']:.0f} MB ({read['peak_mb'] - read['before_mb']:.0f} MB over the "
            "interpreter's)"
        )
        t0 = time.perf_counter()
        reports = npf.cpu.benchmark(
            _Noop,
            [np.ones(4)],
            duration=seconds,
            n_models=2,
            workers_per_model=1,
            request_intervals=path,
            verbosity=0,
        )
        r = reports[0]
        print(
            f"  benchmark, 2 copies, {seconds:g} s: {time.perf_counter() - t0:.2f} s wall, status "
            f"{r['status']}, {r['total_infs']:,} requests, schedule_lag p50 "
            f"{r['schedule_lag_ms_p50'] * 1e3:.1f} us"
        )


_SECTIONS = ("accuracy", "ceiling", "loadgen", "slo", "wakeup", "trace")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    probe_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    sections = sys.argv[3].split(",") if len(sys.argv) > 3 else list(_SECTIONS)
    unknown = sorted(set(sections) - set(_SECTIONS))
    if unknown:
        sys.exit(f"unknown sections {unknown}: choose from {', '.join(_SECTIONS)}")
    if "accuracy" in sections:
        rate_accuracy(seconds)
    if "ceiling" in sections:
        open_loop_ceilings(min(seconds, 1.0))
    if "loadgen" in sections:
        versus_loadgen(min(seconds, 5.0))
    if "slo" in sections:
        slo_search(probe_seconds)
    if "wakeup" in sections:
        wakeup(seconds)
    if "trace" in sections:
        trace(min(seconds, 1.0))


if __name__ == "__main__":
    main()
