"""The Ray cluster seen from the driver: connecting, what its nodes hold, what a copy
group asks of a node, and how the model files reach the nodes.

Ray is an optional extra: it is imported only here and in executors/_node.py, when
a benchmark is given ``cluster=``. Connecting checks that the address answers first
(a Ray driver pointed at a closed port retries for minutes), so an unreachable
cluster fails within CONNECT_TIMEOUT_S naming the address.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

from neuronperf_native.planning import Configuration, Host
from neuronperf_native.settings import BenchmarkSettings

log = logging.getLogger("neuronperf_native")

#: Seconds within which an unreachable cluster address is reported.
CONNECT_TIMEOUT_S = 30.0
# The Ray resource that counts a device type's devices on a node.
_DEVICE_RESOURCE = {"neuron": "neuron_cores", "gpu": "GPU", "cpu": "CPU"}


class ClusterError(RuntimeError):
    """The Ray cluster cannot be used: Ray missing, unreachable, too small."""


def import_ray() -> Any:
    """The ray module; ClusterError naming the extra when it is not installed."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "cluster= runs on Ray, which is not installed: pip install 'neuronperf-native[ray]'"
        ) from None
    return ray


@contextlib.contextmanager
def connected(address: str, folder: str | None = None) -> Iterator[str | None]:
    """Ray connected to ``address`` for the block, shipping ``folder`` (when given) to
    the nodes as the job's working directory; yields the folder shipped (or None). An
    existing connection (ray.init done by the caller) is used as it is; one made here
    is shut down at the end, which also ends anything of this benchmark still on the
    cluster."""
    ray = import_ray()
    if ray.is_initialized():
        if folder is not None:
            log.warning(
                "Ray was connected before this benchmark: %s is not shipped to the nodes "
                "(give absolute model paths on shared storage, or a working_dir to ray.init)",
                folder,
            )
        yield None
        return
    if address != "auto":
        _check_reachable(address)
    runtime_env = {"working_dir": folder} if folder is not None else None
    try:
        ray.init(
            address=address, runtime_env=runtime_env, log_to_driver=True, configure_logging=False
        )
    except ConnectionError as error:
        raise ClusterError(f"cluster {address!r}: cannot connect: {error}") from None
    try:
        yield folder
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """ClusterError naming the address unless its port accepts a connection within
    CONNECT_TIMEOUT_S."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=10.0):
                return
        except OSError as error:
            if isinstance(error, ConnectionRefusedError) or time.monotonic() >= deadline:
                raise ClusterError(
                    f"cluster {address!r} is not reachable: {error.strerror or error}"
                ) from None
            time.sleep(1.0)


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    """The alive nodes of the cluster, as ray.nodes() describes them."""
    return [n for n in ray.nodes() if n.get("Alive")]


def device_resource(settings: BenchmarkSettings) -> str:
    return _DEVICE_RESOURCE[settings.device_type]


def host(settings: BenchmarkSettings, pipeline_sizes: Sequence[int]) -> Host:
    """What planning needs, from the cluster's alive nodes: the copies that fit on one
    node (spread: the largest; scale-out over N nodes: the N-th largest)."""
    ray = import_ray()
    nodes = alive_nodes(ray)
    resource = device_resource(settings)
    counts = sorted((int(n["Resources"].get(resource, 0)) for n in nodes), reverse=True)
    wanted = n_nodes(settings, len(counts))
    if wanted > len(counts):
        raise ValueError(f"nodes={settings.nodes} but the cluster has {len(counts)} alive node(s)")
    devices_per_node = counts[wanted - 1] if counts else 0
    fits = {p: devices_per_node // p or None for p in set(pipeline_sizes)}
    return Host(fits, settings.instance_type)


def n_nodes(settings: BenchmarkSettings, alive: int) -> int:
    """Nodes per configuration: 1 in spread mode, settings.nodes in scale-out."""
    if settings.nodes is None:
        return 1
    return alive if settings.nodes == "all" else int(settings.nodes)


def request(settings: BenchmarkSettings, configurations: Sequence[Configuration]) -> dict:
    """Ray resources of configurations on one node: their largest n_models x
    pipeline_size devices (neuron_cores, GPU) and one CPU, or that many CPUs."""
    devices = max(c.n_models * c.pipeline_size for c in configurations)
    if settings.device_type == "cpu":
        return {"CPU": float(devices)}
    return {"CPU": 1.0, device_resource(settings): float(devices)}


def ray_options(need: dict[str, float]) -> dict[str, Any]:
    """Actor options asking for ``need``."""
    options: dict[str, Any] = {"num_cpus": need.get("CPU", 0.0)}
    if "GPU" in need:
        options["num_gpus"] = need["GPU"]
    custom = {k: v for k, v in need.items() if k not in ("CPU", "GPU")}
    if custom:
        options["resources"] = custom
    return options


def fits(need: dict[str, float], node: dict[str, Any]) -> bool:
    """Whether ``node`` (as ray.nodes() describes it) holds ``need`` in all."""
    return all(node["Resources"].get(k, 0.0) >= v for k, v in need.items())


def unplaceable(need: dict[str, float], nodes: list[dict[str, Any]], count: int) -> str | None:
    """Why ``count`` distinct nodes cannot each host ``need`` (None when they can)."""
    fitting = [n for n in nodes if fits(need, n)]
    if len(fitting) >= count:
        return None
    wanted = ", ".join(f"{v:g} {k}" for k, v in need.items())
    where = "a node" if count == 1 else f"{count} nodes"
    return (
        f"needs {wanted} on {where}; {len(fitting)} of the cluster's {len(nodes)} alive "
        "node(s) can host that"
    )


def shipped_folder(filenames: Sequence[str]) -> str | None:
    """The folder to ship to the nodes (Ray's runtime_env working_dir): the common
    folder of the relative model paths, or None when every path is absolute (read on
    each node: shared storage) or the models are classes."""
    relative = [
        os.path.abspath(name)
        for name in filenames
        if not os.path.isabs(name) and os.path.exists(name)
    ]
    if not relative:
        return None
    return os.path.commonpath([os.path.dirname(p) for p in relative])


def as_shipped(configuration: Configuration, folder: str | None) -> Configuration:
    """The configuration with its model path relative to the shipped folder (where
    the node's working directory is)."""
    filename = configuration.model.filename
    if folder is None or os.path.isabs(filename) or not os.path.exists(filename):
        return configuration
    model = dataclasses.replace(
        configuration.model, filename=os.path.relpath(os.path.abspath(filename), folder)
    )
    return dataclasses.replace(configuration, model=model)
