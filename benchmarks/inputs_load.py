"""Time load_input_data on a large perf_analyzer JSON file and measure its memory.

Writes a JSON file of STEPS steps x 4 FP32 tensors x 1,024 elements to a temp
dir (``--format b64``: each tensor as {"b64": ...}, the compact form
perf_analyzer documents for binary data; ``--format list``: flat lists of
numbers), then loads it in a fresh child process, so the peak RSS it reports
belongs to the load alone. Targets: load under 2 s and a peak RSS increase
within 3x the decoded tensor bytes.

    python3 benchmarks/inputs_load.py [--format b64|list] [--steps N]

Measured with the native JSON reader and base64 decoder on a quiet 2-core AMD EPYC
KVM machine (median of 5 runs; min-max in brackets):

    format  load time (s)       peak RSS increase
    list    2.28 (1.87-2.53)    1.16x decoded
    b64     1.46 (1.29-1.59)    1.58x decoded

The json.loads loader took 15.8 s / 15x (list) and 1.35 s / 2.74x (b64) on an
earlier, faster machine of the same kind, where today's b64 path with Python's
decoder took 2.0-2.7 s. Most of the list time is converting 41 M 17-digit
decimals. List data whose values are not exactly float32 is held as float64
while loading: 2.07x peak.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TENSORS = 4
ELEMENTS = 1024


def write_file(path: str, steps: int, fmt: str) -> None:
    """Write the benchmark JSON, one step at a time, to keep the writer small."""
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"data": [\n')
        for k in range(steps):
            step = {}
            for t in range(TENSORS):
                values = rng.random(ELEMENTS, dtype=np.float32)
                if fmt == "b64":
                    step[f"INPUT{t}"] = {"b64": base64.b64encode(values.tobytes()).decode()}
                else:
                    step[f"INPUT{t}"] = [float(v) for v in values]
            f.write(json.dumps(step))
            f.write(",\n" if k + 1 < steps else "\n")
        f.write("]}\n")


def child(path: str) -> None:
    """Load the file and print timing and memory as JSON (runs in a fresh process)."""
    import psutil

    from neuronperf_native.inputs import TensorSpec, load_input_data

    proc = psutil.Process()
    specs = [TensorSpec(f"INPUT{t}", "FP32", [ELEMENTS]) for t in range(TENSORS)]
    rss_before = proc.memory_info().rss
    start = time.perf_counter()
    data = load_input_data(path, specs)
    load_s = time.perf_counter() - start
    rss_after = proc.memory_info().rss
    peak = _peak_rss_bytes(proc)
    decoded = data.total_steps * TENSORS * ELEMENTS * 4
    print(
        json.dumps(
            {
                "steps": data.total_steps,
                "load_s": load_s,
                "decoded_bytes": decoded,
                "rss_before": rss_before,
                "rss_after": rss_after,
                "peak_rss": peak,
            }
        )
    )


def _peak_rss_bytes(proc) -> int:
    """Peak resident set size of this process (VmHWM on Linux, else current RSS)."""
    try:
        with open(f"/proc/{proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return proc.memory_info().rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=["b64", "list"], default="b64")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "input_data.json")
        write_file(path, args.steps, args.format)
        size = os.path.getsize(path)
        out = subprocess.run(
            [sys.executable, __file__, "--child", path],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    r = json.loads(out)
    mib = 1024 * 1024
    increase = r["peak_rss"] - r["rss_before"]
    ratio = increase / r["decoded_bytes"]
    print(f"format           {args.format}")
    print(f"steps            {r['steps']} x {TENSORS} tensors x {ELEMENTS} FP32")
    print(f"JSON file        {size / mib:.1f} MiB")
    print(f"decoded data     {r['decoded_bytes'] / mib:.1f} MiB")
    print(f"load time        {r['load_s']:.3f} s   (target < 2 s)")
    print(f"peak RSS + load  {increase / mib:.1f} MiB = {ratio:.2f}x decoded   (target <= 3x)")
    print(f"RSS after load   {(r['rss_after'] - r['rss_before']) / mib:.1f} MiB retained")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
