"""export_requests: one JSON line per timed request of a streamed benchmark.

AIPerf's per-record export, for joining with traces: each line names its
configuration and copy (and in a fleet run the Ray node_id of the copy's node), and
gives the request's stamps on the engine's clock (CLOCK_MONOTONIC ns, the same clock
in every process of the host: of that node in a fleet), its token counts and the
latencies derived from them. Lines of one configuration follow each other,
in copy then worker order. The file is written atomically once the benchmark ends.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from neuronperf_native._files import atomic_write_text
from neuronperf_native.run.results import ConfigurationResult
from neuronperf_native.streaming import request_records

__all__ = ["write_requests"]

# The configuration keys each line repeats.
_CONFIG_KEYS = ("model_name", "batch_size", "n_models", "workers_per_model", "request_rate")


def _derived(record: dict[str, Any]) -> dict[str, float | None]:
    """TTFT, e2e and TPOT (ms) of one record, as the histograms measure them."""
    first, last = record["first_token_ns"], record["last_token_ns"]
    tokens = record["output_tokens"]
    ttft = None if first is None else (first - record["scheduled_ns"]) / 1e6
    tpot = None
    if first is not None and last is not None and tokens and tokens > 1:
        tpot = (last - first) // (tokens - 1) / 1e6
    e2e = (record["end_ns"] - record["scheduled_ns"]) / 1e6
    return {"ttft_ms": ttft, "tpot_ms": tpot, "e2e_ms": e2e}


def lines(results: Iterable[ConfigurationResult]) -> Iterable[str]:
    """The JSON lines of every request of every configuration that recorded them."""
    for result in results:
        config = {key: result.config.get(key) for key in _CONFIG_KEYS}
        config["configuration"] = result.configuration.index
        copies = result.results.get("copies", [])
        for copy, array in zip(copies, result.requests, strict=False):
            for record in request_records(array):
                where = {"copy_id": copy.get("copy_id")}
                if "node_id" in copy:
                    where["node_id"] = copy["node_id"]
                line = {**config, **where, **record, **_derived(record)}
                yield json.dumps(line, separators=(",", ":"))


def write_requests(path: str, results: Iterable[ConfigurationResult]) -> int:
    """Writes the JSON lines to path (replaced atomically); returns how many."""
    buffer = io.StringIO()
    count = 0
    for line in lines(results):
        buffer.write(line)
        buffer.write("\n")
        count += 1
    atomic_write_text(path, buffer.getvalue())
    return count
