"""One scale-out configuration's node results -> one fleet result, merged exactly.

Every node ran the same configuration with the same settings, so their results
merge without loss: the fleet's copies are all nodes' copies (reporting adds their
latency histograms bucket for bucket and sums their throughput windows; the copies'
start/end stamps are already in wall-clock ns from the shared start, so window i of
every node covers the same interval), counts add up, and the status and error are
the worst node's, named. Per-node identities go into the config; per-node figures
(throughput, p99) are computed by reporting from the copies' node ids.
"""

from __future__ import annotations

from typing import Any

from neuronperf_native.copies.validation import merge_validation
from neuronperf_native.planning import Configuration
from neuronperf_native.run import RESULTS_SCHEMA, ConfigurationResult

# The worst status first: the fleet's status is the worst of its nodes'.
_STATUS_ORDER = ("error", "timeout", "stopped", "finished")
# What the report says about each node besides its figures.
_NODE_KEYS = ("hostname", "node_id", "instance_type", "clock_offset_ms", "clock_uncertainty_ms")


def merge(
    configuration: Configuration,
    config: dict[str, Any],
    nodes: list[tuple[dict[str, Any], ConfigurationResult | None, str | None]],
) -> ConfigurationResult:
    """The fleet result of one configuration from (node identity, its result or None,
    why it has none) per node."""
    results = [r for _, r, _ in nodes if r is not None]
    copies = [copy for r in results for copy in r.results["copies"]]
    statuses = [r.status for r in results] + ["error"] * (len(nodes) - len(results))
    merged: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "status": min(statuses, key=_STATUS_ORDER.index),
        "error": _error(nodes),
        "workers_per_model": configuration.workers_per_model,
        "n_infs": sum(r.results["n_infs"] for r in results),
        "total_s": max((r.results["total_s"] for r in results), default=0.0),
        "cpu_percents": [p for r in results for p in r.results["cpu_percents"]],
        "mem_percents": [p for r in results for p in r.results["mem_percents"]],
        "copies": copies,
        "start_skew_ms": start_skew_ms(copies),
    }
    validation = merge_validation(
        [r.results["validation"] for r in results if r.results.get("validation")]
    )
    if validation is not None:
        merged["validation"] = validation
    config = dict(config)
    config["nodes"] = [
        {k: identity[k] for k in _NODE_KEYS if k in identity} for identity, _, _ in nodes
    ]
    config["n_nodes"] = len(nodes)
    types = sorted({str(identity["instance_type"]) for identity, _, _ in nodes})
    config["instance_type"] = types[0] if len(types) == 1 else ",".join(types)
    if results:
        config["start_dts"] = min(r.config["start_dts"] for r in results)
        config["stop_dts"] = max(r.config["stop_dts"] for r in results)
        config["start_method"] = results[0].config.get("start_method")
    return ConfigurationResult(
        configuration,
        config,
        merged,
        timestamps=[t for r in results for t in r.timestamps],
        requests=[q for r in results for q in r.requests],
        interrupted=any(r.interrupted for r in results),
        strict_validation_failed=any(r.strict_validation_failed for r in results),
    )


def start_skew_ms(copies: list[dict[str, Any]]) -> float | None:
    """Spread of the instants (wall clock) at which the copies of all nodes began
    timing; None unless copies of two nodes started from a shared instant."""
    started = [copy for copy in copies if "start_late_ns" in copy]
    if len({copy["node_id"] for copy in started}) < 2:
        return None
    starts = [copy["start_ns"] for copy in started]
    return (max(starts) - min(starts)) / 1e6


def _error(nodes: list[tuple[dict[str, Any], ConfigurationResult | None, str | None]]) -> Any:
    """The first node's error, named by its node (None when every node finished)."""
    from neuronperf_native.executors._node import describe_node

    for identity, result, reason in nodes:
        error = reason if result is None else result.results.get("error")
        if error:
            return f"{describe_node(identity)}: {error}"
    return None
