"""Concurrency, accuracy and memory figures of the engine, printed from one run.

    python benchmarks/engine_targets.py [seconds-per-run]

Concurrency: throughput ratios of N workers to 1 worker for a model that drops
the GIL (time.sleep), the native CPU-bound spin model, and a Python model that
holds the GIL. Accuracy: the native spin model at fixed latencies and a seeded
bimodal distribution. Memory: peak RSS of 1,024 workers, and resident memory after a
long vs a short run of the Python no-op (each in a fresh process). Figures are
printed, not asserted.
"""

from __future__ import annotations

import subprocess
import sys
import time

from neuronperf_native import engine


def _sleep_1ms():
    time.sleep(0.001)


def _holds_gil():
    total = 0
    for i in range(2000):
        total += i
    return total


def concurrency(seconds: float) -> None:
    cases = [
        ("time.sleep(0.001), 8 vs 1 workers", _sleep_1ms, 8, 7.0),
        (
            "native spin 100us, 2 vs 1 workers",
            engine.native_model("spin", latency_ns=100_000),
            2,
            1.8,
        ),
        ("GIL-holding Python, 2 vs 1 workers", _holds_gil, 2, 0.8),
    ]
    print("concurrency (throughput ratio, target):")
    for name, model, workers, target in cases:
        one = engine.run(model, workers=1, duration_s=seconds).throughput
        many = engine.run(model, workers=workers, duration_s=seconds).throughput
        ratio = many / one
        verdict = "ok" if ratio >= target else "MISSED"
        print(f"  {name:36s} {one:10.0f}/s -> {many:10.0f}/s  x{ratio:.2f} (>= {target}) {verdict}")


def accuracy() -> None:
    print("accuracy (native spin; measured / set):")
    for latency_ns in (50_000, 200_000, 1_000_000, 10_000_000):
        n = max(200, min(20_000, int(2e9 / latency_ns)))
        r = engine.run(engine.native_model("spin", latency_ns=latency_ns), max_iterations=n)
        p50 = r.latency.value_at_percentile(50) / latency_ns
        p99 = r.latency.value_at_percentile(99) / latency_ns
        ok = p50 <= 1.01 and p99 <= 1.02
        print(
            f"  fixed {latency_ns / 1e3:8.0f} us: p50 x{p50:.4f}  p99 x{p99:.4f}  "
            f"(<= 1.01 / 1.02) {'ok' if ok else 'MISSED'}"
        )
    l1, l2 = 100_000, 1_000_000
    model = engine.native_model(
        "spin", distribution="bimodal", latency_ns=l1, second_latency_ns=l2, second_fraction=0.1
    )
    r = engine.run(model, max_iterations=10_000)
    p50 = r.latency.value_at_percentile(50) / l1
    p95 = r.latency.value_at_percentile(95) / l2
    ok = abs(p50 - 1) <= 0.02 and abs(p95 - 1) <= 0.02
    print(
        f"  bimodal 90% {l1 / 1e3:.0f} us / 10% {l2 / 1e3:.0f} us: p50 x{p50:.4f} of L1, "
        f"p95 x{p95:.4f} of L2 (within 2%) {'ok' if ok else 'MISSED'}"
    )


_RSS_CHILD = """
import sys, psutil
from neuronperf_native import engine
engine.run(lambda x: x, [(1,)], duration_s=float(sys.argv[1]))
print(psutil.Process().memory_info().rss)
"""


def memory(long_s: float) -> None:
    def rss_after(seconds: float) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.split()[-1])

    short = rss_after(2.0)
    long = rss_after(long_s)
    diff_mb = (long - short) / 2**20
    verdict = "ok" if abs(diff_mb) <= 10 else "MISSED"
    print(
        f"memory: RSS after {long_s:g} s run {long / 2**20:.1f} MiB vs 2 s run "
        f"{short / 2**20:.1f} MiB: {diff_mb:+.1f} MiB (target within 10 MB) {verdict}"
    )


_WORKERS_CHILD = """
import resource, sys
from neuronperf_native import engine
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model = engine.native_model("noop") if sys.argv[1] == "native" else (lambda: None)
r = engine.run(model, workers=int(sys.argv[2]), duration_s=1.0)
assert r.status == "finished", r.error
print(before * 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def workers_memory(workers: int = 1024) -> None:
    """Peak RSS of a 1 s run with many workers, beyond the process's RSS after import."""
    for kind in ("native", "python"):
        out = subprocess.run(
            [sys.executable, "-c", _WORKERS_CHILD, kind, str(workers)],
            capture_output=True,
            text=True,
            check=True,
        )
        before, peak = (int(v) for v in out.stdout.split())
        extra_mb = (peak - before) / 2**20
        print(
            f"memory: {workers} workers ({kind} no-op, 1 s): peak RSS {peak / 2**20:.0f} MiB, "
            f"{extra_mb:.0f} MiB over import ({extra_mb * 1024 / workers:.0f} KiB per worker; "
            f"target well under 1 GB) {'ok' if peak < 2**30 / 2 else 'MISSED'}"
        )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    concurrency(seconds)
    accuracy()
    memory(20.0)
    workers_memory()


if __name__ == "__main__":
    main()
