"""Open-loop (request-rate) figures of the engine, printed side by side from one run.

    python benchmarks/load_modes.py [seconds-per-rate-run]

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
Targets (issue 11): achieved within 0.5% of target; schedule_lag p99 <= 20 us at 10k/s;
ceilings >= 500k/s (Python) and >= 5M/s (native); our cost per query <= 0.1x LoadGen's
(read here as the latency added per query; the CPU ratio is printed beside it).
Figures depend on the machine's load: run it on a quiet machine for reference numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from neuronperf_native import engine

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


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    rate_accuracy(seconds)
    open_loop_ceilings(min(seconds, 1.0))
    versus_loadgen(min(seconds, 5.0))


if __name__ == "__main__":
    main()
