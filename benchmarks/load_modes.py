"""Open-loop (request-rate) figures of the engine, printed side by side from one run.

    python benchmarks/load_modes.py [seconds-per-rate-run]

1. Rate accuracy: native spin model (10 us), 4 workers, constant 1k, 10k and 100k
   requests/s: achieved vs target, and schedule_lag p50/p99, with the default final spin
   (spin_wait_us=20) and with pure sleeps (spin_wait_us=0).
2. Open-loop ceiling: the highest constant rate a Python no-op and the native no-op
   sustain with 1 worker without saturating (doubling, then bisection to 5%).
3. MLPerf LoadGen's Server scenario with a null SUT (its issue callback completes each
   query at once) beside our open loop with a Python no-op, at the same target QPS:
   harness CPU time per query of each (measured in its own process), and the ratio.
   Skipped with a message when `mlperf_loadgen` (pip install mlcommons-loadgen) is missing.
Targets (issue 11): achieved within 0.5% of target; schedule_lag p99 <= 20 us at 10k/s;
ceilings >= 500k/s (Python) and >= 5M/s (native); our cost per query <= 0.1x LoadGen's.
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
    r = engine.run(noop, workers=1, duration_s=seconds, request_rate=qps)
    cpu = time.process_time() - cpu
    print(json.dumps({"queries": r.iterations, "cpu_s": cpu, "saturated": r.saturated}))
    """
)
_LOADGEN = textwrap.dedent(
    """
    import json, os, sys, tempfile, time
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
    print(json.dumps({"queries": queries[0], "cpu_s": cpu}))
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
    print(f"3. harness CPU per query at the same target QPS, {seconds:g} s each")
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        print("  skipped: mlperf_loadgen is not installed (pip install mlcommons-loadgen)")
        return
    for qps in _LOADGEN_QPS:
        ours = _child(_OURS, qps, seconds)
        theirs = _child(_LOADGEN, qps, seconds)
        ours_ns = ours["cpu_s"] * 1e9 / ours["queries"]
        theirs_ns = theirs["cpu_s"] * 1e9 / theirs["queries"]
        print(
            f"  {qps:>7,}/s  ours (Python no-op, open loop) {ours_ns:8.0f} ns/query "
            f"({ours['queries']:,} queries)   LoadGen Server, null SUT {theirs_ns:8.0f} ns/query "
            f"({theirs['queries']:,})   ratio {ours_ns / theirs_ns:.3f} (target <= 0.1)"
        )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    rate_accuracy(seconds)
    open_loop_ceilings(min(seconds, 1.0))
    versus_loadgen(min(seconds, 5.0))


if __name__ == "__main__":
    main()
