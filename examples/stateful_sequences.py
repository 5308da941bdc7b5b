"""A stateful model played as sequences, with perf_analyzer's semantics.

The model keeps a hidden state per sequence id (as an RNN or a decoder's cache
does): it fails if a sequence's steps arrive out of order, interleaved on a worker,
or without their start and end flags. Three data streams of different lengths,
each looped to about 20 steps per sequence, are played by 3 worker threads.

    python examples/stateful_sequences.py [SECONDS]
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from neuronperf_native import engine
from neuronperf_native.inputs import (
    SequenceOptions,
    SequencePlayer,
    TensorSpec,
    load_input_data,
    sequence_feed,
)


class RunningState:
    """h = tanh(h + x) per sequence; the state lives from the start flag to the end flag."""

    def __init__(self):
        self.state = {}

    def __call__(self, x, *, sequence_id, sequence_start, sequence_end):
        if sequence_start:
            self.state[sequence_id] = np.zeros_like(x)
        h = self.state[sequence_id] = np.tanh(self.state[sequence_id] + x)  # KeyError if unstarted
        if sequence_end:
            del self.state[sequence_id]
        return h


def main(duration_s: float) -> None:
    # perf_analyzer's JSON: one list of steps per stream (here 3 streams).
    streams = [[{"x": [0.1 * s + 0.01 * k] * 8} for k in range(n)] for s, n in enumerate([3, 5, 8])]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "streams.json"
        path.write_text(json.dumps({"data": streams}))
        data = load_input_data(str(path), [TensorSpec("x", "FP32", [8])])
    options = SequenceOptions(sequence_length=20, sequence_length_variation=20)
    player = SequencePlayer(sequence_feed(data, options), options, workers=3, warmup=1, seed=0)
    model = RunningState()
    result = engine.run(
        player.wrap(model), player.inputs(), workers=3, duration_s=duration_s, warmup=1
    )
    if result.status != "finished":
        raise SystemExit(f"the run failed: {result.error}")
    summary = player.stats().summary()
    print(f"steps: {result.iterations}, p50 {result.latency.value_at_percentile(50) / 1e3:.1f} us")
    p50, p99 = summary["sequence_latency_ms_p50"], summary["sequence_latency_ms_p99"]
    print(
        f"sequences completed: {summary['sequences_completed']}, sequence latency "
        f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"
    )
    print(f"sequences still open at the end: {len(model.state)} (at most one per worker)")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 2.0)
