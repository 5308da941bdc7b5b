"""Per-step cost of sequence playback against plain round-robin inputs, on a no-op model.

One worker runs a Python no-op model for ITERATIONS steps four ways: the plain list of
argument tuples the engine serves round-robin (untimed input stage), a plain Python
iterator (itertools.cycle: the engine's shared-iterator path alone), and a
SequencePlayer with keyword flags and with a sequence_fn hook. Prints the median over
REPEAT runs of the mean end-to-end nanoseconds per step, and the overhead against
round-robin.

    python3 benchmarks/sequences_overhead.py [--iterations N] [--repeat R]
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import numpy as np

from neuronperf_native import engine
from neuronperf_native.inputs import (
    InputData,
    SequenceOptions,
    SequencePlayer,
    TensorSpec,
    sequence_feed,
)


def noop(x, sequence_id=None, sequence_start=None, sequence_end=None):
    """A stateful model's signature, doing nothing."""
    return None


def hook(sequence_id, start, end):
    return None


def _data() -> InputData:
    spec = TensorSpec("X", "FP32", [4])
    steps = [{"X": np.full(4, k, dtype=np.float32)} for k in range(8)]
    return InputData([spec], [], [steps], [[None] * 8], "bench")


def _mean_ns(model, inputs, iterations: int) -> float:
    result = engine.run(model, inputs, workers=1, max_iterations=iterations, warmup=100)
    assert result.status == "finished", result.error
    return result.latency.mean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = _data()
    batches = data.batches(1)
    ways = {
        "round-robin list": lambda: (noop, batches),
        "plain iterator": lambda: (noop, itertools.cycle(batches)),
    }
    for name, options in (
        ("sequences, keywords", SequenceOptions(sequence_length=16)),
        (
            "sequences, sequence_fn",
            SequenceOptions(sequence_length=16, sequence_kwargs=False, sequence_fn=hook),
        ),
    ):

        def player(options=options):
            p = SequencePlayer(sequence_feed(data, options), options, warmup=100)
            return p.wrap(noop), p.inputs()

        ways[name] = player
    means = {}
    for name, make in ways.items():
        runs = []
        for _ in range(args.repeat):
            model, inputs = make()
            runs.append(_mean_ns(model, inputs, args.iterations))
        means[name] = statistics.median(runs)
    base = means["round-robin list"]
    print(f"no-op Python model, 1 worker, {args.iterations} steps, median of {args.repeat}")
    for name, ns in means.items():
        print(f"{name:<26}{ns:8.0f} ns/step   overhead {ns - base:+6.0f} ns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
