"""The remote unit of a fleet run: one Ray actor on one node runs a copy group there.

A NodeRunner is created (as a Ray actor, by executors/fleet.py) on one node with the
workload and the settings, and is handed configurations (a copy group, or in
scale-out the whole plan) that it runs there with LocalExecutor, exactly as they run
locally: copies load once and serve every configuration of their group, pinned inside
the node from the accelerator ids Ray assigned to the actor (NEURON_RT_VISIBLE_CORES /
CUDA_VISIBLE_DEVICES, which devices.copy_environment indexes into). The driver asks
for one configuration at a time (next()), so each result comes back when measured.

In scale-out mode every node of a configuration meets the others at a Barrier actor
once its copies are ready: the barrier answers with one wall-clock instant, which
each node converts to its own engine clock. Latencies stay on each node's monotonic
clock; only the copies' start/end stamps move to wall-clock nanoseconds, so that the
windows of all nodes line up in the merged report.

This module imports Ray only inside the actor (it is the caller's optional extra).
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from neuronperf_native import devices, engine
from neuronperf_native.copies.parent import _MainFinder
from neuronperf_native.copies.protocol import CopyFailure
from neuronperf_native.executors.local import LocalExecutor
from neuronperf_native.planning import Configuration, Plan
from neuronperf_native.run import ConfigurationResult, Observers, RunObserver
from neuronperf_native.run.stopping import StabilityObserver
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.stats import StoppingRule
from neuronperf_native.workload import CALLABLES, Workload

# Wall-clock lead between the barrier's answer and the shared start: the answer must
# reach every node (one Ray call) and each node's copies (a pipe) before it.
START_LEAD_NS = 200_000_000
# How often a node waiting at the barrier checks whether it was told to stop.
_POLL_S = 0.2
_WORKLOAD_CALLABLES = ("load_fn", *CALLABLES)


def node_identity(settings: BenchmarkSettings) -> dict[str, Any]:
    """This node: hostname, Ray node id and instance type (the settings' when given)."""
    import ray

    return {
        "hostname": socket.gethostname(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "instance_type": settings.instance_type or devices.instance_type(),
    }


class Barrier:
    """Lines up the nodes of scale-out configurations (a threaded Ray actor).

    arrive() blocks until every node of the configuration has arrived, then answers
    all of them with the same wall-clock start instant: the latest earliest-start of
    the nodes plus START_LEAD_NS, and each its rank. abort() answers the waiting (and
    later) arrivals of a configuration with a reason instead: a node failed or the run
    was cancelled. With a stopping rule, the nodes send it their copies' live windows
    (windows()), which it merges over every copy of every node and judges as one host
    does; its answer tells every node when to stop, and verdict() what it decided.
    """

    def __init__(self, parties: int, rule: StoppingRule | None = None) -> None:
        self._parties = parties
        self._rule = rule
        self._lock = threading.Condition()
        self._arrivals: dict[int, list[int]] = {}
        self._answers: dict[int, dict[str, Any]] = {}
        self._stability: dict[int, tuple[StabilityObserver, Configuration]] = {}
        self._stopped: set[int] = set()

    def arrive(
        self, key: int, earliest_wall_ns: int, configuration: Configuration | None = None
    ) -> dict[str, Any]:
        with self._lock:
            rank = len(self._arrivals.get(key, []))
            if key not in self._answers:
                self._arrivals.setdefault(key, []).append(earliest_wall_ns)
                if len(self._arrivals[key]) == self._parties:
                    start = max(self._arrivals[key]) + START_LEAD_NS
                    self._answers[key] = {"start_wall_ns": start, "abort": None}
                    self._judge(key, configuration)
                    self._lock.notify_all()
            while key not in self._answers:
                self._lock.wait()
            return {**self._answers[key], "rank": rank}

    def _judge(self, key: int, configuration: Configuration | None) -> None:
        if self._rule is not None and configuration is not None:
            observer = StabilityObserver(self._rule, hosts=self._parties)
            observer.started(configuration, 0)
            self._stability[key] = (observer, configuration)

    def windows(self, key: int, rank: int, copy_id: int, windows: list) -> bool:
        """One copy's newly closed windows; True once the rule has stopped ``key``."""
        with self._lock:
            if key in self._stability and key not in self._stopped:
                observer, configuration = self._stability[key]
                global_copy = rank * configuration.n_models + copy_id
                observer.progress(configuration, global_copy, 0, windows)
                if observer.should_stop(configuration):
                    self._stopped.add(key)
            return key in self._stopped

    def verdict(self, key: int) -> dict[str, Any] | None:
        """The stopping rule's decision on ``key`` (StabilityObserver.verdict)."""
        with self._lock:
            if key not in self._stability:
                return None
            observer, configuration = self._stability[key]
            return observer.verdict(configuration)

    def abort(self, key: int, reason: str) -> None:
        with self._lock:
            self._answers.setdefault(key, {"start_wall_ns": None, "abort": reason})
            self._lock.notify_all()


class _NodeObserver(RunObserver):
    """The node's RunObserver: stops when the driver says so, and (scale-out) takes
    the start instant from the barrier and, with a stopping rule, sends it the copies'
    live windows and stops when it says so."""

    def __init__(self, barrier: Any, node: str, stability: bool = False) -> None:
        self.stop_all = threading.Event()
        self.stopped: set[int] = set()  # configurations to end (stop() may come late)
        self._barrier = barrier
        self._node = node
        self.arrived: set[int] = set()
        #: configuration index -> (shared start, wall-clock ns; its engine-clock ns here)
        self.starts: dict[int, tuple[int, int]] = {}
        self.wants_histograms = stability and barrier is not None
        self._ranks: dict[int, int] = {}  # configuration index -> this node's rank
        self._verdicts: list[Any] = []  # the barrier's answers to windows() not read yet

    def progress(
        self, configuration: Configuration, copy_id: int, iterations: int, windows: list
    ) -> None:
        rank = self._ranks.get(configuration.index)
        if self.wants_histograms and windows and rank is not None:
            ref = self._barrier.windows.remote(configuration.index, rank, copy_id, windows)
            self._verdicts.append(ref)

    def should_stop(self, configuration: Configuration) -> bool:
        if self._verdicts:
            import ray

            ready, self._verdicts = ray.wait(
                self._verdicts, num_returns=len(self._verdicts), timeout=0
            )
            try:
                if any(ray.get(ready)):
                    self.stopped.add(configuration.index)
            except ray.exceptions.RayError:
                pass  # the barrier is gone: the driver ends this configuration
        return self.stop_all.is_set() or configuration.index in self.stopped

    def choose_start(self, configuration: Configuration, earliest_ns: int) -> int:
        if self._barrier is None:
            return earliest_ns
        import ray

        earliest_wall_ns = time.time_ns() + (earliest_ns - engine.now_ns())
        self.arrived.add(configuration.index)
        answer_ref = self._barrier.arrive.remote(
            configuration.index, earliest_wall_ns, configuration
        )
        while not ray.wait([answer_ref], timeout=_POLL_S)[0]:
            if self.should_stop(configuration):
                raise CopyFailure(f"{self._node}: stopped before the shared start")
        answer = ray.get(answer_ref)
        if answer["abort"] is not None:
            raise CopyFailure(f"{self._node}: not started: {answer['abort']}")
        self._ranks[configuration.index] = answer["rank"]
        self._verdicts = []
        start_wall_ns = answer["start_wall_ns"]
        start_ns = engine.now_ns() + (start_wall_ns - time.time_ns())
        self.starts[configuration.index] = (start_wall_ns, start_ns)
        return start_ns


class NodeRunner:
    """Runs copy groups on this node, one configuration per next() call.

    Created as a threaded Ray actor (max_concurrency=2) so that stop() can arrive
    while next() runs; close() ends the copies. Not for use outside an actor.
    """

    def __init__(
        self, workload: Workload, settings: BenchmarkSettings, barrier: Any = None
    ) -> None:
        self.identity = node_identity(settings)
        self._label = describe_node(self.identity)
        self._observer = _NodeObserver(barrier, self._label, settings.stability is not None)
        # Spread: each configuration runs here whole, so its stopping rule is judged
        # here, on the copies' live windows (scale-out's need every node's: max_s).
        self._stability = None
        if settings.stability is not None and barrier is None:
            self._stability = StabilityObserver(settings.stability)
        self._barrier = barrier
        if settings.copy_mode != "thread" and settings.start_method != "fork":
            workload = by_value(workload)  # copies will start in fresh interpreters
        self._executor = LocalExecutor(workload, settings)
        self._settings = settings
        self._results: Iterator[ConfigurationResult] = iter(())

    def describe(self) -> dict[str, Any]:
        """Where this runner is: its node's identity, process and assigned devices."""
        visible = {
            key: os.environ[key]
            for key in ("NEURON_RT_VISIBLE_CORES", "CUDA_VISIBLE_DEVICES")
            if key in os.environ
        }
        return {**self.identity, "pid": os.getpid(), "visible_devices": visible}

    def clock(self) -> int:
        """This node's wall clock (ns), for the driver's clock-offset estimate."""
        return time.time_ns()

    def next(self, configurations: list[Configuration] | None = None) -> Any:
        """Runs the next configuration and returns its result (None when done); given
        configurations, first ends the current ones and takes those (in order)."""
        if configurations is not None:
            self.close()
            plan = Plan(tuple(configurations), self._settings)
            observer: RunObserver = self._observer
            if self._stability is not None:
                observer = Observers(self._observer, self._stability)
            self._results = self._executor.run(plan.groups(), observer)
        result = next(self._results, None)
        if result is None:
            return None
        if self._stability is not None and result.status == "finished":
            result.results["stopping"] = self._stability.verdict(result.configuration)
        index = result.configuration.index
        if self._barrier is not None and index not in self._observer.arrived:
            # Failed before the barrier: the other nodes must not wait for this one.
            self._barrier.abort.remote(index, f"{self._label} failed: {result.results['error']}")
        return _annotated(result, self.identity, self._observer.starts.get(index))

    def stop(self, index: int | None = None) -> None:
        """Ends configuration ``index`` (None: every one) now, keeping what was measured."""
        if index is None:
            self._observer.stop_all.set()
        else:
            self._observer.stopped.add(index)

    def close(self) -> None:
        """Ends the current configurations' copies."""
        close = getattr(self._results, "close", None)
        if close is not None:
            close()
        self._results = iter(())


def describe_node(identity: dict[str, Any]) -> str:
    """'node HOSTNAME (ID)': how errors and logs name a node."""
    return f"node {identity['hostname']} ({identity['node_id'][:12]})"


def _annotated(
    result: ConfigurationResult, identity: dict[str, Any], start: tuple[int, int] | None
) -> ConfigurationResult:
    """The result with its node in config (and instance type), and each copy tagged
    with the node; with a shared start, copy stamps move to wall-clock ns."""
    config = dict(result.config)
    config["node"] = {"hostname": identity["hostname"], "node_id": identity["node_id"]}
    config["instance_type"] = identity["instance_type"]
    results = dict(result.results)
    copies = []
    for copy in results["copies"]:
        copy = {**copy, "node_id": identity["node_id"]}
        if start is not None and "start_ns" in copy:
            start_wall_ns, start_ns = start
            copy["start_late_ns"] = copy["start_ns"] - start_ns
            copy["engine_start_ns"] = copy["start_ns"]
            copy["start_ns"] = start_wall_ns + (copy["start_ns"] - start_ns)
            copy["end_ns"] = start_wall_ns + (copy["end_ns"] - start_ns)
        copies.append(copy)
    results["copies"] = copies
    return dataclasses.replace(result, config=config, results=results)


# Callables defined in the driver's __main__, for copies in fresh interpreters --------


class _ByValue:
    """Stands for a callable or dataset that plain pickle cannot send to a fresh
    interpreter (defined in the driver's __main__, which Ray sent by value): it
    pickles as cloudpickle's bytes, which plain pickle.loads turns back into it."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        from ray import cloudpickle

        return pickle.loads, (cloudpickle.dumps(self.value),)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.value(*args, **kwargs)


def _needs_value(value: Any) -> bool:
    finder = _MainFinder()
    try:
        finder.dump(value)
    except Exception:
        return True
    return finder.found


def by_value(workload: Workload) -> Workload:
    """The workload with each callable (and the dataset) that plain pickle cannot
    send to a spawned copy wrapped so that it goes by value."""
    changes: dict[str, Any] = {
        name: _ByValue(getattr(workload, name))
        for name in (*_WORKLOAD_CALLABLES, "dataset")
        if getattr(workload, name) is not None and _needs_value(getattr(workload, name))
    }
    return dataclasses.replace(workload, **changes) if changes else workload
