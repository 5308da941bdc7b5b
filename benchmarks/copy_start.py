"""What starting model copies costs: forked from this process vs fresh interpreters.

    python benchmarks/copy_start.py [--repeats 7]

Each npf.cpu.benchmark() call runs one configuration of a CPU no-op model (1 worker,
a 0.05 s timed run) with 1 or 2 copies, started by fork (multiprocess=True) or as
fresh interpreters (multiinterpreter=True, what start_method="auto" picks when the
parent holds other threads). Its wall time minus the timed run is what starting,
loading, warming up and stopping the copies cost. Prints the medians of --repeats
calls per start method and copy count, side by side, the extra cost of spawning and
the ratio. The script guards its entry point, as spawned copies import it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import neuronperf_native as npf

DURATION_S = 0.05


class NoOp:
    """The model: returns its input."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x


def overhead_s(n_copies: int, spawn: bool) -> float:
    """Wall time of one benchmark() call of n_copies copies, less the timed run."""
    mode = {"multiinterpreter": True} if spawn else {"multiprocess": True}
    start = time.perf_counter()
    (report,) = npf.cpu.benchmark(
        NoOp,
        [np.ones((1, 4), np.float32)],
        duration=DURATION_S,
        n_models=n_copies,
        workers_per_model=1,
        verbosity=0,
        **mode,
    )
    elapsed = time.perf_counter() - start
    if report["status"] != "finished":
        raise RuntimeError(f"{n_copies} copies, spawn={spawn}: {report['status']}")
    return elapsed - DURATION_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="calls per figure (median)")
    args = parser.parse_args()
    overhead_s(1, spawn=False)  # warm the page cache and imports
    print(f"copy start-up cost, median of {args.repeats} calls (s)")
    print(f"{'copies':>6}  {'fork':>8}  {'spawn':>8}  {'spawn-fork':>10}  {'per copy':>8}  ratio")
    for n_copies in (1, 2):
        fork = statistics.median(overhead_s(n_copies, False) for _ in range(args.repeats))
        spawn = statistics.median(overhead_s(n_copies, True) for _ in range(args.repeats))
        extra = spawn - fork
        print(
            f"{n_copies:>6}  {fork:>8.3f}  {spawn:>8.3f}  {extra:>10.3f}  "
            f"{extra / n_copies:>8.3f}  {spawn / fork:>5.1f}x"
        )


if __name__ == "__main__":
    main()
