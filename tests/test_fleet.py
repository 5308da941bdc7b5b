"""Fleet runs on a local 3-node Ray cluster: exact merge, spread, faults, clean-up.

One cluster for the session (ray.cluster_utils.Cluster, started by the first test that
needs it): 3 nodes of 1 CPU and a custom neuron_cores resource of 2 each, so that Ray
pins each runner's copies through NEURON_RT_VISIBLE_CORES as on a Neuron host, all on
127.0.0.1. The tests assert relations the code guarantees (merges, counts, who ran
where, which errors), never rates; the spread test compares two runs of its own.
These tests run last (conftest): Ray leaves threads in the process that connects.
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import neuronperf_native as npf
from neuronperf_native import cli, engine, model_index
from neuronperf_native.engine import Histogram
from neuronperf_native.executors import _cluster
from neuronperf_native.executors.fleet import spread_out
from neuronperf_native.planning import Host, model_configs, plan

pytestmark = pytest.mark.fleet
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="needs the 'ray' extra"
)

_NODE = {"num_cpus": 1, "resources": {"neuron_cores": 2}, "node_ip_address": "127.0.0.1"}
_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray on 127.0.0.1
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_memory_monitor_refresh_ms": "0",  # others' tests share this machine's memory
    "RAY_DEDUP_LOGS": "0",
}
# Ray reads these when it is imported: set before any test here imports it. Without
# the first, Ray replaces 127.0.0.1 in a cluster address by this machine's network
# address, where the local cluster does not listen.
os.environ.update(_ENV)
# What the runners and copies of a fleet run are called in the process table.
_OURS = ("ray::NodeRunner", "ray::Barrier", "spawn_main")


class LocalCluster:
    """The session's cluster and what the tests need of it."""

    def __init__(self, temp_dir: str) -> None:
        from ray.cluster_utils import Cluster

        self.temp_dir = temp_dir
        head = dict(_NODE, include_dashboard=False, temp_dir=os.path.join(temp_dir, "ray"))
        self.cluster = Cluster(initialize_head=True, connect=False, head_node_args=head)
        self.workers = [self.cluster.add_node(**_NODE) for _ in range(2)]
        self.address = self.cluster.address

    def remove_worker(self, node) -> None:
        self.cluster.remove_node(node)
        self.workers.remove(node)

    def add_worker(self) -> None:
        """A new worker node (Ray starts nodes from the main thread only)."""
        self.workers.append(self.cluster.add_node(**_NODE))

    def processes(self) -> list[psutil.Process]:
        """Every process of the cluster (they are this process's descendants)."""
        return psutil.Process().children(recursive=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    temp_dir = tempfile.mkdtemp(prefix="npff", dir="/tmp")  # short: AF_UNIX paths
    os.makedirs(os.path.join(temp_dir, "ray"))
    saved = {key: os.environ.get(key) for key in (*_ENV, "RAY_TMPDIR", "PYTHONPATH")}
    # The nodes' processes import this module to unpickle the loaders defined here.
    path = [os.path.dirname(__file__), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ.update(_ENV, RAY_TMPDIR=temp_dir, PYTHONPATH=os.pathsep.join(path))
    cluster = LocalCluster(temp_dir)
    try:
        yield cluster
    finally:
        cluster.cluster.shutdown()
        left = _wait_gone(lambda: [p for p in cluster.processes() if _is_ray(p)], 30)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert left == [], f"Ray processes left behind: {[p.pid for p in left]}"


def _is_ray(process: psutil.Process) -> bool:
    try:
        text = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "ray" in text or "spawn_main" in text


def _wait_gone(find, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while (found := find()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def _ours(cluster: LocalCluster) -> list[psutil.Process]:
    found = []
    for process in cluster.processes():
        with_name = ""
        try:
            with_name = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if any(name in with_name for name in _OURS):
            found.append(process)
    return found


def _spin(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    """A seeded lognormal spin model, its seed from the copy and its pinning."""
    cores = os.environ.get("NEURON_RT_VISIBLE_CORES", "")
    seed = device_id * 100 + sum(map(ord, cores))
    return engine.native_model(
        "spin", latency_ns=100_000, distribution="lognormal", sigma=0.3, seed=seed
    )


def _pinned(record_dir: str, model_filename: str, device_id: int = 0) -> engine.NativeModel:
    """_spin, writing down the cores its copy was pinned to."""
    path = Path(record_dir) / f"{os.getpid()}.json"
    path.write_text(json.dumps([device_id, os.environ.get("NEURON_RT_VISIBLE_CORES")]))
    return _spin(model_filename, device_id)


def _from_file(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    """A 'model file': JSON naming the spin latency (read on the node)."""
    with open(model_filename, encoding="utf-8") as f:
        latency_ns = json.load(f)["latency_ns"]
    return engine.native_model("spin", latency_ns=latency_ns)


class _Marks:
    """A model of 1 ms calls whose copy says when it is measuring: its call number
    `mark_call` (warm-up is call 1) creates a file in mark_dir, then waits until
    `wait_for` copies have marked (at most 120 s). Tests act on what the copies do,
    not on how long they take, however loaded the machine."""

    def __init__(self, mark_dir: str, mark_call: int, wait_for: int) -> None:
        self.mark_dir = Path(mark_dir)
        self.mark_call = mark_call
        self.wait_for = wait_for
        self.calls = 0

    def __call__(self, *inputs: object) -> None:
        self.calls += 1
        if self.calls == self.mark_call:
            (self.mark_dir / f"{uuid.uuid4().hex}.measuring").touch()
            deadline = time.monotonic() + 120
            while len(list(self.mark_dir.glob("*.measuring"))) < self.wait_for:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        time.sleep(0.001)


def _marking(
    mark_dir: str, mark_call: int, wait_for: int, model_filename: str, device_id: int = 0
) -> _Marks:
    return _Marks(mark_dir, mark_call, wait_for)


def _fleet(address: str, load_fn=_spin, model="spin", **keywords) -> list:
    options = {
        "duration": 2,
        "n_models": 1,
        "workers_per_model": 1,
        "window_s": 0.25,
        "verbosity": 0,
        "cluster": address,
        **keywords,
    }
    inputs = [1] * len(keywords.get("batch_sizes", [1])) if not model.endswith(".json") else 1
    return npf.benchmark(load_fn, model, inputs, **options)


# Errors before any work ---------------------------------------------------------------


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(_cluster.ClusterError, match=r"pip install 'neuronperf-native\[ray\]'"):
        _fleet("auto")


@needs_ray
def test_an_unreachable_address_is_named():
    with pytest.raises(_cluster.ClusterError, match=r"cluster '127\.0\.0\.1:1' is not reachable"):
        _fleet("127.0.0.1:1")


def test_nodes_needs_a_cluster_and_the_cli_says_so(capsys):
    with pytest.raises(ValueError, match="pass cluster too"):
        npf.benchmark(_spin, "spin", [1], nodes=2)
    argv = ["bench", "neuronperf_native.cpu:DummyModel", "--shape", "X:4", "--nodes", "2"]
    assert cli.main(argv) == 2
    assert (
        "error: --nodes 2 runs each configuration on several nodes of a Ray cluster: give "
        "--ray too" in capsys.readouterr().err
    )


# Scale-out ---------------------------------------------------------------------------


@needs_ray
def test_scale_out_merges_every_node_exactly(ray_cluster, tmp_path):
    pairs = _fleet(
        ray_cluster.address,
        functools.partial(_pinned, str(tmp_path)),
        nodes=3,
        n_models=2,
        device_type="neuron",
        return_timers=True,
    )
    (report,) = npf.get_reports(pairs)
    (config, results) = pairs[0]
    assert report["status"] == "finished", report["error"]
    copies = results["copies"]
    assert len(copies) == 6 and len({c["node_id"] for c in copies}) == 3
    # the fleet histogram is the sum of the copies' histograms, bucket for bucket
    expected = Histogram()
    for copy in copies:
        expected.merge(Histogram.decode(copy["histograms"]["e2e"]))
    merged = Histogram.decode(report["latency_hist"])
    assert merged == expected
    assert merged.count == sum(c["iterations"] for c in copies) == report["total_infs"]
    # the windows of all nodes line up (one shared start) and add up to every iteration
    assert {c["start_ns"] for c in copies} == {min(c["start_ns"] for c in copies)}
    assert sum(report["throughput_timeline"]) * config["window_s"] == pytest.approx(merged.count)
    # per-node figures, start skew and clock offsets
    assert [n["node_id"] for n in report["nodes"]] == [n["node_id"] for n in config["nodes"]]
    assert sum(n["total_infs"] for n in report["nodes"]) == report["total_infs"]
    assert all(n["throughput_avg"] > 0 and n["latency_ms_p99"] > 0 for n in report["nodes"])
    assert report["start_skew_ms"] >= 0 and report["n_nodes"] == 3
    assert all(n["clock_uncertainty_ms"] >= 0 for n in report["nodes"])
    # each node pinned its 2 copies to its own 2 NeuronCores, from Ray's assignment
    pinned = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert sorted(pinned) == [[0, "0"], [0, "0"], [0, "0"], [1, "1"], [1, "1"], [1, "1"]]


@needs_ray
def test_scale_out_stops_every_node_together_on_the_fleets_windows(ray_cluster):
    """The barrier merges the live windows of every copy on every node and judges the
    rule on them: all nodes stop early, stable, and the merge stays exact."""
    rule = {"rel_ci": 0.25, "percentile": 50, "min_s": 1.0, "max_s": 30.0}
    options = {"multiprocess": False, "window_s": 0.1, "duration": 30}
    (report,) = _fleet(ray_cluster.address, nodes=3, n_models=2, stability=rule, **options)
    assert report["status"] == "finished", report["error"]
    assert report["stable"] is True and report["stopping"]["reason"] == "within_target"
    assert 1.0 <= report["stopping"]["at_s"] < 30.0 and report["total_s"] < 30.0
    assert report["n_nodes"] == 3
    assert sum(n["total_infs"] for n in report["nodes"]) == report["total_infs"]
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


@needs_ray
def test_the_cluster_talks_on_loopback_only(ray_cluster):
    seen = 0
    for process in [psutil.Process(), *ray_cluster.processes()]:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.Error:
            continue
        for conn in connections:
            seen += 1
            for ip in [conn.laddr.ip] + ([conn.raddr.ip] if conn.raddr else []):
                address = ipaddress.ip_address(ip.split("%")[0])
                address = getattr(address, "ipv4_mapped", None) or address
                assert address.is_loopback, (process.name(), conn)
    assert seen > 0


# Spread ------------------------------------------------------------------------------


def _copy_runs(pairs) -> list[tuple[int, int, str]]:
    """(start_ns, end_ns, node id) of every copy's run in (config, results) pairs."""
    return [
        (c["start_ns"], c["end_ns"], cfg["node"]["node_id"])
        for cfg, res in pairs
        for c in res["copies"]
    ]


def _most_at_once(runs) -> int:
    """The most runs in progress at one instant (the nodes share one monotonic clock)."""
    return max(sum(s <= start < e for s, e, _ in runs) for start, _, _ in runs)


@needs_ray
def test_spread_runs_configurations_in_parallel_each_on_one_node(
    ray_cluster, monkeypatch, tmp_path
):
    """Copies as threads (multiprocess=False): on this 2-core machine a fresh
    interpreter per copy costs seconds of CPU that 3 nodes cannot share out. The nodes
    share this machine's monotonic clock, so the runs' intervals show the parallelism;
    benchmarks/fleet.py measures the speed-up itself. A node's runner may start seconds
    after the others' on a loaded machine (the others would then have run every
    configuration): each copy's first timed call waits until 3 copies are measuring,
    which only 3 nodes at once can be."""
    sizes = [1, 2, 3, 4, 5, 6]
    options = {"batch_sizes": sizes, "device_type": "neuron", "multiprocess": False}
    marks = functools.partial(_marking, str(tmp_path), 2, 3)
    pairs = _fleet(ray_cluster.address, load_fn=marks, return_timers=True, **options)
    reports = npf.get_reports(pairs)
    assert [r["batch_size"] for r in reports] == sizes
    assert all(r["status"] == "finished" for r in reports), [r["error"] for r in reports]
    assert len({r["node"]["node_id"] for r in reports}) == 3
    assert all(r["node"]["hostname"] and "instance_type" in r for r in reports)
    # at most one configuration per node at a time, and all 3 nodes busy at once
    runs = _copy_runs(pairs)
    for start, end, node in runs:
        assert not any(n == node and s < end and start < e for s, e, n in runs if s != start)
    assert _most_at_once(runs) == 3
    # the same plan on one node of the cluster runs its configurations one at a time
    alive = _cluster.alive_nodes
    monkeypatch.setattr(_cluster, "alive_nodes", lambda ray: alive(ray)[:1])
    one = _fleet(ray_cluster.address, return_timers=True, **options)
    assert len({cfg["node"]["node_id"] for cfg, _ in one}) == 1
    assert _most_at_once(_copy_runs(one)) == 1
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


def test_spread_cuts_a_copy_group_into_parts_of_similar_time_for_idle_nodes():
    settings = npf.BenchmarkSettings(
        workers_per_model=(1, 2, 3, 4, 5, 6), n_models=(1, 2), duration_s=2, device_type="cpu"
    )
    the_plan = plan(settings, model_configs("m.pt", settings, 1), Host({1: 2}))
    (group,) = the_plan.groups()

    def cut(nodes):
        return [
            [(c.n_models, c.workers_per_model, c.loads) for c in part]
            for part in spread_out([group], nodes, settings)
        ]

    assert cut(1) == [[(c.n_models, c.workers_per_model, c.loads) for c in group]]
    # each part loads its copies on its own node: the first configuration of a part
    # loads n_models copies, the rest reuse them (or load the extra ones)
    assert cut(3) == [
        [(1, 1, 1), (1, 2, 0), (1, 3, 0), (1, 4, 0)],
        [(1, 5, 1), (1, 6, 0), (2, 1, 1), (2, 2, 0)],
        [(2, 3, 2), (2, 4, 0), (2, 5, 0), (2, 6, 0)],
    ]
    assert len(cut(12)) == 12 and len(cut(40)) == 12


@needs_ray
def test_spread_splits_one_models_sweep_over_idle_nodes(ray_cluster, monkeypatch, tmp_path):
    """One model's workers sweep is one copy group; on 3 nodes it runs as 3 parts of 2
    configurations, each part on its own node, all 3 at once (issue 21: all 6 ran on
    one node). benchmarks/fleet.py measures the time against one node. As in the test
    above, a part's copy waits in its 7th call (timed: at most 6 workers warm up) until
    3 copies are measuring, so a runner that starts late cannot leave its part to
    another node."""
    workers = [1, 2, 3, 4, 5, 6]
    options = {"device_type": "cpu", "multiprocess": False, "workers_per_model": workers}
    marks = functools.partial(_marking, str(tmp_path), 7, 3)
    pairs = _fleet(ray_cluster.address, load_fn=marks, return_timers=True, **options)
    reports = npf.get_reports(pairs)
    assert [r["workers_per_model"] for r in reports] == workers
    assert all(r["status"] == "finished" for r in reports), [r["error"] for r in reports]
    nodes = [r["node"]["node_id"] for r in reports]
    assert len(set(nodes)) == 3
    assert nodes[0] == nodes[1] and nodes[2] == nodes[3] and nodes[4] == nodes[5]
    assert _most_at_once(_copy_runs(pairs)) == 3
    alive = _cluster.alive_nodes
    monkeypatch.setattr(_cluster, "alive_nodes", lambda ray: alive(ray)[:1])
    one = _fleet(ray_cluster.address, return_timers=True, **options)
    assert len({cfg["node"]["node_id"] for cfg, _ in one}) == 1
    assert _most_at_once(_copy_runs(one)) == 1  # in one part, one at a time


@needs_ray
def test_spread_configurations_stop_on_stability_on_their_node(ray_cluster):
    """Each node judges its configuration's rule on the copies' live windows, as one
    host does: a stationary spin model stops well before max_s, stable."""
    rule = {"rel_ci": 0.25, "percentile": 50, "min_s": 1.0, "max_s": 30.0}
    options = {"batch_sizes": [1, 2, 3], "multiprocess": False, "window_s": 0.1, "duration": 30}
    reports = _fleet(ray_cluster.address, stability=rule, **options)
    assert all(r["status"] == "finished" for r in reports), [r["error"] for r in reports]
    for r in reports:
        assert r["stable"] is True and r["stopping"]["reason"] == "within_target"
        assert 1.0 <= r["stopping"]["at_s"] < 30.0 and r["total_s"] < 30.0
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


@needs_ray
def test_a_relative_model_index_ships_its_folder_and_an_absolute_one_is_read(
    ray_cluster, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    os.mkdir("models")
    configs = []
    for batch_size in (1, 2):
        artifact = f"models/spin_b{batch_size}.txt"
        Path(artifact).write_text(json.dumps({"latency_ns": 50_000 * batch_size}))
        configs.append(model_index.create(artifact, model_name="spin", batch_size=batch_size))
    model_index.save(model_index.append(*configs), "models/spin.json")
    for index in ("models/spin.json", str(tmp_path / "models" / "spin.json")):
        reports = _fleet(ray_cluster.address, _from_file, index, duration=1, device_type="cpu")
        assert [r["status"] for r in reports] == ["finished", "finished"], reports[0]["error"]
        folder = "" if index.startswith("models") else f"{tmp_path}/"
        assert [r["model_filename"] for r in reports] == [
            f"{folder}models/spin_b1.txt",
            f"{folder}models/spin_b2.txt",
        ]


@needs_ray
def test_the_cli_runs_on_the_cluster(ray_cluster, tmp_path):
    out = tmp_path / "out.json"
    argv = ["bench", "neuronperf_native.cpu:DummyModel", "--shape", "X:4", "--duration", "1"]
    argv += ["--concurrency", "1", "--ray", ray_cluster.address, "--nodes", "2"]
    assert cli.main([*argv, "--json", str(out), "-q"]) == 0
    (report,) = json.loads(out.read_text())
    assert report["status"] == "finished" and report["n_nodes"] == 2
    assert len({n["node_id"] for n in report["nodes"]}) == 2


# Streamed responses -------------------------------------------------------------------


def _stream(model_filename: str, device_id: int = 0) -> engine.NativeModel:
    """A native stream model (no GIL held): the first token 300 us after the call, then
    one every 100 us, 8 tokens."""
    return engine.native_model("stream", first_token_ns=300_000, token_ns=100_000, tokens=8)


_TTFT_RULE = {"metric": "ttft", "rel_ci": 0.25, "percentile": 50, "min_s": 1.0, "max_s": 30.0}


def _check_token_merge(report: dict, copies: list[dict]) -> None:
    """The report's token figures are the copies' (of every node), merged exactly."""
    assert report["status"] == "finished", report["error"]
    for metric in ("ttft", "itl", "tpot"):
        expected = Histogram()
        for copy in copies:
            expected.merge(Histogram.decode(copy["tokens"][metric]))
        assert Histogram.decode(report[f"{metric}_hist"]) == expected
    requests = sum(copy["tokens"]["requests"] for copy in copies)
    assert report["requests_streamed"] == requests == report["total_infs"] > 0
    assert report["output_tokens_total"] == 8 * requests
    assert report["good_requests"] == sum(copy["tokens"]["good_requests"] for copy in copies)
    assert Histogram.decode(report["itl_hist"]).count == 7 * requests  # 7 gaps each
    assert report["ttft_ms_p50"] >= 0.3 * 0.999  # the first token is never early


@needs_ray
def test_scale_out_streams_merges_every_nodes_tokens_and_stops_on_ttft(ray_cluster, tmp_path):
    """The barrier judges the rule on every copy's live TTFT windows: all nodes stop
    together, the token figures merge exactly, and each request line names its node."""
    export = tmp_path / "requests.jsonl"
    options = {"streaming": True, "goodput": {"ttft": 0.5}, "multiprocess": False}
    options.update(stability=_TTFT_RULE, window_s=0.1, duration=30, return_timers=True)
    options["export_requests"] = str(export)
    pairs = _fleet(ray_cluster.address, _stream, nodes=3, n_models=2, **options)
    (report,) = npf.get_reports(pairs)
    copies = pairs[0][1]["copies"]
    assert len(copies) == 6 and len({c["node_id"] for c in copies}) == 3
    _check_token_merge(report, copies)
    assert report["stable"] is True and report["stopping"]["reason"] == "within_target"
    assert 1.0 <= report["stopping"]["at_s"] < 30.0
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(lines) == report["requests_streamed"]
    assert {(line["node_id"], line["copy_id"]) for line in lines} == {
        (c["node_id"], c["copy_id"]) for c in copies
    }
    assert all(line["output_tokens"] == 8 for line in lines)


@needs_ray
def test_spread_streams_and_stops_on_ttft_on_each_node(ray_cluster):
    """Each configuration runs whole on one node (which of them depends on how fast
    their runners start), judged there on its copies' live TTFT windows."""
    options = {"workers_per_model": [1, 2, 3], "multiprocess": False, "window_s": 0.1}
    options.update(streaming=True, goodput={"ttft": 0.5}, stability=_TTFT_RULE, duration=30)
    options["return_timers"] = True
    pairs = _fleet(ray_cluster.address, _stream, **options)
    assert [config["workers_per_model"] for config, _ in pairs] == [1, 2, 3]
    for config, results in pairs:
        (report,) = npf.get_reports([(config, results)])
        _check_token_merge(report, results["copies"])
        assert {c["node_id"] for c in results["copies"]} == {config["node"]["node_id"]}
        assert report["stable"] is True and report["stopping"]["reason"] == "within_target"
        assert 1.0 <= report["stopping"]["at_s"] < 30.0
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


# Faults ------------------------------------------------------------------------------


@needs_ray
def test_ctrl_c_returns_what_was_measured_and_leaves_nothing(ray_cluster, sigint_raises, tmp_path):
    def interrupt_when_measuring() -> None:
        deadline = time.monotonic() + 120
        while not any(tmp_path.glob("*.measuring")):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_measuring, daemon=True).start()
    reports = _fleet(
        ray_cluster.address,
        load_fn=functools.partial(_marking, str(tmp_path), 20, 1),
        batch_sizes=[1, 2, 3, 4, 5, 6],
        duration=30,
    )
    assert 1 <= len(reports) < 6
    assert {r["status"] for r in reports} == {"stopped"}  # ended by Ctrl-C, as on one host
    assert all(r["total_s"] < 30 for r in reports)
    # the copy that marked had made 18 timed calls (one still loading measured nothing)
    assert max(r["total_infs"] or 0 for r in reports) >= 18
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


@needs_ray
def test_a_dead_node_fails_its_configuration_naming_it_and_the_rest_finish(ray_cluster):
    victim = ray_cluster.workers[0]
    victim_id = victim.node_id

    def kill_when_running() -> None:
        raylet = psutil.Process(victim.all_processes["raylet"][0].process.pid)
        _wait_gone(lambda: not [p for p in raylet.children(recursive=True) if _copy(p)], 60)
        time.sleep(1.0)
        ray_cluster.remove_worker(victim)

    killer = threading.Thread(target=kill_when_running, daemon=True)
    killer.start()
    reports = _fleet(ray_cluster.address, batch_sizes=[1, 2, 3, 4], duration=4)
    killer.join(60)
    ray_cluster.add_worker()  # for the tests that follow
    failed = [r for r in reports if r["status"] == "error"]
    assert len(reports) == 4 and len(failed) == 1, [r["error"] for r in reports]
    assert victim_id[:12] in failed[0]["error"] and "died" in failed[0]["error"]
    assert failed[0]["node"]["node_id"] == victim_id
    assert all(r["status"] == "finished" for r in reports if r is not failed[0])
    assert _wait_gone(lambda: _ours(ray_cluster), 10) == []


def _copy(process: psutil.Process) -> bool:
    try:
        return "spawn_main" in " ".join(process.cmdline())
    except psutil.Error:
        return False
