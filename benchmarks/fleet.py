"""Fleet runs on a local 3-node Ray cluster: dispatch overhead, start skew, merge cost,
spread speed-up (issue 13's targets), printed side by side from one run.

    python benchmarks/fleet.py            # about 3 minutes on a quiet 2-core machine

The cluster is ray.cluster_utils.Cluster on 127.0.0.1 (3 nodes of 1 CPU and 2
neuron_cores each); the model is the native spin model (200 us, seeded lognormal).
The three nodes share this machine's cores: on a 2-core machine, starting copies in
parallel is CPU-bound, so the speed-up is a lower bound of what separate hosts give.
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.update(
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # before Ray is imported: 127.0.0.1 only
    RAY_USAGE_STATS_ENABLED="0",
    RAY_memory_monitor_refresh_ms="0",
)

import numpy as np

import neuronperf_native as npf
from neuronperf_native import engine
from neuronperf_native.executors import _cluster, _merge

_NODE = {"num_cpus": 1, "resources": {"neuron_cores": 2}, "node_ip_address": "127.0.0.1"}
DURATION_S = 2.0


def load_spin(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    return engine.native_model(
        "spin", latency_ns=200_000, distribution="lognormal", sigma=0.3, seed=device_id + 1
    )


def timed(**keywords) -> tuple[float, list]:
    options = {
        "duration": DURATION_S,
        "n_models": 1,
        "workers_per_model": 1,
        "window_s": 0.25,
        "verbosity": 0,
        "device_type": "neuron",
        **keywords,
    }
    inputs = [1] * len(options.get("batch_sizes", [1]))
    started = time.perf_counter()
    out = npf.benchmark(load_spin, "spin", inputs, **options)
    return time.perf_counter() - started, out


def dispatch(address: str, local: dict[str, float]) -> None:
    """Wall time of the same plans locally and on one node of the fleet: the first
    includes the call's one-off costs (connecting, starting the node's runner, ending
    it); the difference between the two shows the cost per further configuration."""
    fleet = {}
    for name, keywords in (
        ("1 configuration", {}),
        ("4 configurations, 1 copy group", {"workers_per_model": [1, 2, 3, 4]}),
    ):
        count = len(keywords.get("workers_per_model", [1]))
        fleet_s, reports = timed(cluster=address, **keywords)
        assert all(r["status"] == "finished" for r in reports), reports[0]["error"]
        fleet[name] = fleet_s
        for method in ("fork", "spawn"):
            extra = (fleet_s - local[f"{name} {method}"]) / count
            print(
                f"dispatch, {name}: fleet {fleet_s:.2f} s vs local ({method} copies) "
                f"{local[f'{name} {method}']:.2f} s -> {extra:+.2f} s per configuration"
            )
    one, four = "1 configuration", "4 configurations, 1 copy group"
    for method in ("fork", "spawn"):
        local_more = local[f"{four} {method}"] - local[f"{one} {method}"]
        marginal = (fleet[four] - fleet[one] - local_more) / 3
        once = fleet[one] - local[f"{one} {method}"] - marginal
        print(
            f"dispatch overhead vs local {method}: {marginal:+.2f} s per further configuration "
            f"(target <= 1 s), {once:.2f} s once per call (connect, start and end the runners)"
        )


def local_baselines() -> dict[str, float]:
    """Local wall times, in this process before any Ray is here (fork is safe)."""
    out = {}
    for method in ("fork", "spawn"):
        out[f"1 configuration {method}"] = timed(start_method=method)[0]
        out[f"4 configurations, 1 copy group {method}"] = timed(
            start_method=method, workers_per_model=[1, 2, 3, 4]
        )[0]
    out["skew_ms"] = first_iterations_ms(timed(n_models=3, return_timers=True)[1])
    return out


def first_iterations_ms(pairs: list) -> float:
    """Spread (ms) of the copies' first timed iterations, on one timeline: the copies'
    start stamps (wall clock in a fleet, engine clock locally) plus each copy's delay
    from its start to its first iteration (raw timestamps)."""
    _, results = pairs[0]
    firsts = []
    for copy, stamps in zip(results["copies"], results["timers"]["e2e"], strict=True):
        first_ns = int(stamps.timestamps("ns")[:, 0].min())  # that node's engine clock
        firsts.append(copy["start_ns"] + (first_ns - copy.get("engine_start_ns", copy["start_ns"])))
    return (max(firsts) - min(firsts)) / 1e6


def skew(address: str, local_ms: float) -> None:
    """Start skew across 3 nodes (1 copy each): as reported (how late each node began
    timing behind the shared instant) and end to end from the first iterations, next to
    the same for 3 copies on this host (what its scheduler alone costs)."""
    pairs = timed(cluster=address, nodes=3, return_timers=True)[1]
    (report,) = npf.get_reports(pairs)
    offsets = [n["clock_offset_ms"] for n in report["nodes"]]
    print(
        f"start skew, 3 nodes x 1 copy: {report['start_skew_ms']:.3f} ms as reported, "
        f"{first_iterations_ms(pairs):.3f} ms between the copies' first iterations "
        f"(3 local copies: {local_ms:.3f} ms; target <= 5 ms); clock offsets "
        f"{', '.join(f'{o:+.3f}' for o in offsets)} ms "
        f"(+/- {max(n['clock_uncertainty_ms'] for n in report['nodes']):.3f} ms)"
    )
    merge_cost(timed(cluster=address, nodes=3, n_models=2, return_timers=True)[1])


def merge_cost(pairs: list) -> None:
    """Time to merge one scale-out configuration (3 nodes) and report it."""
    config, results = pairs[0]
    repeats = 20
    started = time.perf_counter()
    for _ in range(repeats):
        npf.get_reports([(config, {k: v for k, v in results.items() if k != "timers"})])
    report_ms = (time.perf_counter() - started) / repeats * 1e3
    merged = _merge_only(pairs)
    print(
        f"merge cost per configuration (3 nodes x 2 copies): merge {merged:.3f} ms + report "
        f"{report_ms:.2f} ms (histograms added, windows summed; target < 10 ms)"
    )


def _merge_only(pairs: list) -> float:
    """Milliseconds for _merge.merge on node results split back out of the pair."""
    from neuronperf_native.run import ConfigurationResult

    config, results = pairs[0]
    configuration = npf.plan("spin", [1], n_models=1, workers_per_model=1, duration=1)[0]
    parts = []
    for node in config["nodes"]:
        copies = [c for c in results["copies"] if c["node_id"] == node["node_id"]]
        node_results = {**results, "copies": copies, "error": None}
        node_config = {**config, "start_dts": "x", "stop_dts": "x"}
        parts.append((node, ConfigurationResult(configuration, node_config, node_results), None))
    repeats = 200
    started = time.perf_counter()
    for _ in range(repeats):
        _merge.merge(configuration, config, parts)
    return (time.perf_counter() - started) / repeats * 1e3


def speed_up(address: str) -> None:
    """6 configurations x 2 s on 3 nodes vs the same on one node of the cluster: 6 copy
    groups (batch sizes), and one model's workers sweep (one copy group, split in 3)."""
    sizes = {"batch_sizes": [1, 2, 3, 4, 5, 6]}
    sweep = {"workers_per_model": [1, 2, 3, 4, 5, 6]}
    alive = _cluster.alive_nodes
    for what, keywords in (
        ("6 groups, process copies", sizes),
        ("6 groups, thread copies", {**sizes, "multiprocess": False}),
        ("1 group (a workers sweep), process copies", sweep),
    ):
        spread_s = timed(cluster=address, **keywords)[0]
        _cluster.alive_nodes = lambda ray: alive(ray)[:1]
        try:
            one_s = timed(cluster=address, **keywords)[0]
        finally:
            _cluster.alive_nodes = alive
        print(
            f"spread, 6 configurations x {DURATION_S:g} s ({what}): 3 nodes {spread_s:.1f} s, "
            f"1 node {one_s:.1f} s -> {spread_s / one_s:.2f}x (target <= 0.5x), "
            f"speed-up {one_s / spread_s:.2f}"
        )


def main() -> None:
    local = local_baselines()
    from ray.cluster_utils import Cluster

    temp_dir = tempfile.mkdtemp(prefix="npfb", dir="/tmp")
    os.makedirs(os.path.join(temp_dir, "ray"))
    os.environ["RAY_TMPDIR"] = temp_dir
    head = dict(_NODE, include_dashboard=False, temp_dir=os.path.join(temp_dir, "ray"))
    started = time.perf_counter()
    cluster = Cluster(initialize_head=True, connect=False, head_node_args=head)
    for _ in range(2):
        cluster.add_node(**_NODE)
    print(f"local 3-node cluster started in {time.perf_counter() - started:.1f} s")
    try:
        dispatch(cluster.address, local)
        skew(cluster.address, local["skew_ms"])
        speed_up(cluster.address)
    finally:
        cluster.shutdown()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(load average at the end: {load}; numpy {np.__version__})")


if __name__ == "__main__":
    main()
