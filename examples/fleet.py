"""A fleet run on a Ray cluster: spread, then scale-out (docs/fleet.md).

    python examples/fleet.py HEAD:6379     # a cluster started with `ray start`
    python examples/fleet.py --local       # a local 3-node cluster on 127.0.0.1, for trying

The model is the native spin model (a busy wait of about 200 us per call), so the
example needs no framework and no accelerator; `device_type="cpu"` asks each node for
one CPU per model copy. The loader is defined here, in __main__: Ray sends it to the
nodes by value.
"""

from __future__ import annotations

import os
import sys
import tempfile

import neuronperf_native as npf
from neuronperf_native import engine


def load_spin(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    return engine.native_model(
        "spin", latency_ns=200_000, distribution="lognormal", sigma=0.3, seed=device_id + 1
    )


def main(address: str) -> None:
    common = {"duration": 3, "n_models": 1, "device_type": "cpu", "cluster": address}
    # Spread: 3 batch sizes x 2 workers settings = 6 configurations, one copy group per
    # batch size, the groups in parallel on the cluster's nodes.
    reports = npf.benchmark(
        load_spin, "spin", [1, 1, 1], batch_sizes=[1, 2, 3], workers_per_model=[1, 2], **common
    )
    for report in reports:
        report["hostname/node"] = f"{report['node']['hostname']}/{report['node']['node_id'][:8]}"
    npf.print_reports(
        reports,
        cols=[
            "batch_size",
            "workers_per_model",
            "throughput_avg",
            "latency_ms_p99",
            "hostname/node",
        ],
        sort_by=None,
    )
    # Scale-out: one configuration on every node at once, merged exactly.
    (fleet,) = npf.benchmark(load_spin, "spin", [1], workers_per_model=1, nodes="all", **common)
    print(
        f"\nscale-out on {fleet['n_nodes']} nodes: {fleet['throughput_avg']:.0f} inf/s, "
        f"p99 {fleet['latency_ms_p99']:.3f} ms, start skew {fleet['start_skew_ms']:.3f} ms"
    )
    for node in fleet["nodes"]:
        print(
            f"  {node['hostname']}/{node['node_id'][:8]}: {node['throughput_avg']:.0f} inf/s, "
            f"p99 {node['latency_ms_p99']:.3f} ms, clock {node['clock_offset_ms']:+.3f} ms"
        )


def local_cluster() -> object:
    """3 nodes of 1 CPU on 127.0.0.1 (ray.cluster_utils), Ray's own test tool."""
    # Read when Ray is imported: keep Ray on 127.0.0.1, no usage report.
    os.environ.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0")
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="npfx", dir="/tmp")  # short socket paths
    os.makedirs(os.path.join(os.environ["RAY_TMPDIR"], "ray"))
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(**node)
    return cluster


if __name__ == "__main__":
    if sys.argv[1:] == ["--local"]:
        cluster = local_cluster()
        try:
            main(cluster.address)
        finally:
            cluster.shutdown()
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "auto")
