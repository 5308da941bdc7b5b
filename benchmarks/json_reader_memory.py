"""Peak memory and time of the native JSON reader against json.load on wide documents.

Writes SIZE_MB documents made of one small element repeated ([[],[],...], [{},...],
[[1],...], and nests 500 deep) and parses each in fresh child processes with
_engine.read_json and with json.load, printing the time and the peak RSS increase
side by side (issue 9.4: the earlier reader took 3.9 GB and 24 s on 90 MB of [[],...]
where json.load took 2.27 GB and 35 s on a loaded machine).

    python3 benchmarks/json_reader_memory.py [--size-mb 90]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ELEMENTS = {
    "[[],...]": "[]",
    "[{},...]": "{}",
    "[[1],...]": "[1]",
    "500-deep nests": "[" * 500 + "]" * 500,
}

CHILD = """
import json, os, sys, time
from neuronperf_native import _engine

def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field))

path, how = sys.argv[1], sys.argv[2]
before = status("VmRSS:")
start = time.perf_counter()
if how == "native":
    doc = _engine.read_json(os.fsencode(path))
else:
    with open(path) as f:
        doc = json.load(f)
print(json.dumps({"s": time.perf_counter() - start, "peak": status("VmHWM:") - before}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=90)
    args = parser.parse_args()
    size = int(args.size_mb * 1024 * 1024)
    print(f"{'document':<18}{'native s':>10}{'native MiB':>12}{'json s':>10}{'json MiB':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, element in ELEMENTS.items():
            path = os.path.join(tmp, "doc.json")
            with open(path, "w", encoding="ascii") as f:
                f.write("[" + ",".join([element] * (size // (len(element) + 1))) + "]")
            got = {}
            for how in ("native", "json"):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, path, how],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                got[how] = json.loads(out)
            n, j = got["native"], got["json"]
            print(
                f"{name:<18}{n['s']:>10.2f}{n['peak'] / 2**20:>12.0f}{j['s']:>10.2f}"
                f"{j['peak'] / 2**20:>10.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
