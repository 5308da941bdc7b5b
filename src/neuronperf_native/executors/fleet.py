"""Runs a plan on a Ray cluster: spread (each copy group on one node, groups in
parallel) or scale-out (each configuration on N nodes at once, merged exactly).

The unit that runs remotely is executors/_node.NodeRunner: a Ray actor that runs one
copy group's configurations with LocalExecutor on its node, one configuration per
call, sized by Ray resources to the group's largest n_models x pipeline_size
(neuron_cores, GPU, CPU) so that Ray picks the node and assigns its devices.

- Spread: one actor per copy group, all requested at once; Ray queues those that do
  not fit yet and places each as a node frees up. Results come back as they finish.
- Scale-out: a STRICT_SPREAD placement group of N bundles (sized for the plan's
  largest configuration), one actor per bundle running the whole plan, and a Barrier
  actor; each configuration starts on every node at one wall-clock instant (the
  barrier), and the node results merge exactly (executors/_merge).

The workload goes into Ray's object store once (numpy buffers out of band), so each
node fetches it once whatever its number of actors and copies. Relative model paths
ship their folder to the nodes as the job's runtime_env working_dir; absolute paths
are read on each node (shared storage). A node that dies, or a copy that fails there,
ends that configuration as an error naming the node; the rest go on (scale-out places
the remaining configurations again, on N alive nodes). Ctrl-C stops every node, returns
what was measured, and every actor and placement group is gone when run() returns.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import itertools
import logging
import time
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from neuronperf_native.copies.parent import CopiesOutcome
from neuronperf_native.executors import _cluster, _merge, _node
from neuronperf_native.executors._outcome import configuration_result
from neuronperf_native.executors.base import Executor, ends_benchmark
from neuronperf_native.planning import Configuration, Plan, model_configs
from neuronperf_native.run import ConfigurationResult, RunObserver
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.workload import Workload

log = logging.getLogger("neuronperf_native")

_TICK_S = 0.2
# How long stopped nodes get to send what they measured, and closing actors to end
# their copies, before they are killed.
_GRACE_S = 10.0
_CLOSE_S = 3.0
# How long a scale-out group may wait for its N nodes to be free.
_PLACEMENT_TIMEOUT_S = 600.0


# The folder this benchmark's session shipped to the nodes (None: nothing shipped).
_shipped: contextvars.ContextVar[str | None] = contextvars.ContextVar("npf_shipped", default=None)


@contextlib.contextmanager
def session(settings: BenchmarkSettings, workload: Workload) -> Iterator[None]:
    """Connected to settings.cluster for the block (nothing without a cluster),
    shipping the folder of the workload's relative model paths to the nodes."""
    if settings.cluster is None:
        yield
        return
    configs = model_configs(workload.model_filename, settings, workload.n_inputs)
    folder = _cluster.shipped_folder([c.filename for c in configs])
    with _cluster.connected(settings.cluster, folder) as shipped:
        token = _shipped.set(shipped)
        try:
            yield
        finally:
            _shipped.reset(token)


def cluster_host(settings: BenchmarkSettings, pipeline_sizes: list[int]) -> Any:
    """The planning Host of the connected cluster (see _cluster.host)."""
    return _cluster.host(settings, pipeline_sizes)


class FleetExecutor(Executor):
    """Runs configurations on the Ray cluster of a session() (settings.cluster)."""

    def __init__(self, workload: Workload, settings: BenchmarkSettings) -> None:
        super().__init__()
        self.workload = workload
        self.settings = settings

    def run(
        self, groups: Iterable[Iterable[Configuration]], observer: RunObserver | None = None
    ) -> Iterator[ConfigurationResult]:
        """Yields one result per configuration as each finishes (in any order); stops
        early (after yielding them) on Ctrl-C or a strict validation failure. The groups
        are taken whole at the start (nodes run them in parallel): an adaptive search,
        which chooses each configuration from the last result, runs on one host."""
        ray = _cluster.import_ray()
        if not ray.is_initialized():
            raise _cluster.ClusterError("FleetExecutor.run needs a connected session()")
        taken = [list(group) for group in groups]
        fleet = _Fleet(ray, self.workload, self.settings, self.observing(observer))
        try:
            if self.settings.nodes is None:
                yield from fleet.spread(taken)
            else:
                yield from fleet.scale_out([c for group in taken for c in group])
        finally:
            fleet.teardown()


@dataclasses.dataclass
class _Slot:
    """One node in spread mode: its runner, the copy group it runs (configurations
    still to come) and the call in flight (describe() first, then next())."""

    node: dict[str, Any]
    need: dict[str, float]
    actor: Any = None
    identity: dict[str, Any] | None = None
    remaining: collections.deque[Configuration] = dataclasses.field(
        default_factory=collections.deque
    )
    pending: Any = None


class _Fleet:
    """One fleet run's state: the actors, barriers and placement groups it made."""

    def __init__(
        self, ray: Any, workload: Workload, settings: BenchmarkSettings, observer: RunObserver
    ) -> None:
        self.ray = ray
        self.settings = settings
        self.observer = observer
        self.workload_ref = ray.put(workload)
        self.runner_class = ray.remote(_node.NodeRunner)
        self.barrier_class = ray.remote(_node.Barrier)
        self.actors: list[Any] = []
        self.placement_groups: list[Any] = []
        self.folder = _shipped.get()
        self.lost: set[str] = set()  # nodes whose runner died: not used again in this run

    def alive(self) -> list[dict[str, Any]]:
        """The cluster's alive nodes, less those lost during this run (Ray may list a
        node that just died as alive for a while)."""
        return [n for n in _cluster.alive_nodes(self.ray) if n["NodeID"] not in self.lost]

    # Spread ---------------------------------------------------------------------

    def spread(self, groups: list[list[Configuration]]) -> Iterator[ConfigurationResult]:
        """Copy groups in parallel, one per node at a time (a node runs one
        configuration at a time, as one host does), each on a node that can host it;
        groups are split over nodes that would otherwise idle (spread_out)."""
        nodes = self.alive()
        placeable: list[list[Configuration]] = []
        for group in groups:
            reason = _cluster.unplaceable(_cluster.request(self.settings, group), nodes, 1)
            if reason is None:
                placeable.append(group)
            else:
                yield from (_failed(c, reason) for c in group)
        queue = collections.deque(spread_out(placeable, len(nodes), self.settings))
        slots = [s for s in (self._slot(n, queue) for n in nodes[: len(queue)]) if s is not None]
        try:
            while any(slot.pending is not None for slot in slots):
                refs = {slot.pending: slot for slot in slots if slot.pending is not None}
                ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=_TICK_S)
                self.observer.tick()
                for ref in ready:
                    for result in self._advance(refs[ref], ref, queue):
                        yield result
                        if ends_benchmark(result):
                            return
                slots += [s for s in self._replacements(slots, queue) if s is not None]
        except KeyboardInterrupt:
            log.warning("Interrupted: stopping the configurations running on the cluster")
            yield from self._stop_slots(slots)

    def _slot(self, node: dict[str, Any], queue: collections.deque) -> _Slot | None:
        """A runner on ``node`` sized for the largest queued group it can host."""
        fitting = [g for g in queue if _cluster.fits(_cluster.request(self.settings, g), node)]
        if not fitting:
            return None
        need = _cluster.request(self.settings, [c for g in fitting for c in g])
        need = {k: min(v, node["Resources"].get(k, 0.0)) for k, v in need.items()}
        slot = _Slot(node, need)
        slot.actor = self._runner(None, _on_node(node["NodeID"]), need)
        slot.pending = slot.actor.describe.remote()
        return slot

    def _replacements(self, slots: list[_Slot], queue: collections.deque) -> list[_Slot | None]:
        """New runners for queued groups on alive nodes that have none (after a
        runner died on a node that lives on)."""
        if not queue:
            return []
        busy = {slot.node["NodeID"] for slot in slots if slot.pending is not None}
        free = [n for n in self.alive() if n["NodeID"] not in busy]
        return [self._slot(node, queue) for node in free[: len(queue)]]

    def _advance(
        self, slot: _Slot, ref: Any, queue: collections.deque
    ) -> Iterator[ConfigurationResult]:
        """Handles the answer to a slot's call in flight, and makes the next call."""
        try:
            answer = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            reason = self._failure(slot.identity, error)
            if isinstance(error, self.ray.exceptions.RayActorError):
                self.lost.add(slot.node["NodeID"])
            if slot.remaining:
                yield _failed(slot.remaining.popleft(), reason, slot.identity)
            if slot.remaining:
                queue.appendleft(list(slot.remaining))  # the rest, on another node
            slot.remaining.clear()
            self._end_actor(slot.actor)
            slot.pending = None
            return
        if slot.identity is None:
            slot.identity = answer
        elif answer is not None:
            yield self._own(answer, slot.remaining)
        if slot.remaining:
            slot.pending = slot.actor.next.remote()
            return
        group = _take(queue, self.settings, slot.need)
        if group is None:
            self._end_actor(slot.actor)
            slot.pending = None
            return
        slot.remaining = collections.deque(group)
        shipped = [_cluster.as_shipped(c, self.folder) for c in group]
        slot.pending = slot.actor.next.remote(shipped)

    def _stop_slots(self, slots: list[_Slot]) -> Iterator[ConfigurationResult]:
        """Ctrl-C: stops every node and yields what the running ones measured (the
        last result marked interrupted)."""
        running = {}
        for slot in slots:
            if slot.pending is not None and slot.identity is not None:
                slot.actor.stop.remote()
                running[slot.pending] = slot
        measured = []
        deadline = time.monotonic() + _GRACE_S
        while running and time.monotonic() < deadline:
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=_TICK_S)
            for ref in ready:
                slot = running.pop(ref)
                with contextlib.suppress(self.ray.exceptions.RayError):
                    answer = self.ray.get(ref)
                    if answer is not None:
                        measured.append(self._own(answer, slot.remaining))
        for result in measured:  # what Ctrl-C ended is "stopped", as on one host
            result.interrupted = True
            result.results["status"] = "stopped"
        yield from measured

    # Scale-out ------------------------------------------------------------------

    def scale_out(self, configurations: list[Configuration]) -> Iterator[ConfigurationResult]:
        """Every configuration on N nodes, in order, by one runner per node for all of
        them (placed again, for the rest, if a node is lost)."""
        remaining = collections.deque(configurations)
        while remaining:
            placed = yield from self._place(remaining)
            if placed is None:
                return
            for result in self._run_placed(remaining, *placed):
                yield result
                if ends_benchmark(result):
                    return

    def _place(
        self, remaining: collections.deque[Configuration]
    ) -> Generator[ConfigurationResult, None, tuple[list[Any], list[Any], Any, Any] | None]:
        """Places the remaining configurations on N nodes (bundles sized for the
        largest): (actors, node identities, barrier, placement group); None (errors
        yielded) when it cannot."""
        from ray.util.placement_group import placement_group

        nodes = self.alive()
        count = _cluster.n_nodes(self.settings, len(nodes))
        need = _cluster.request(self.settings, remaining)
        reason = _cluster.unplaceable(need, nodes, count)
        if reason is None:
            group = placement_group([need] * count, strategy="STRICT_SPREAD")
            self.placement_groups.append(group)
            if not self._wait([group.ready()], _PLACEMENT_TIMEOUT_S):
                reason = f"no {count} nodes were free within {_PLACEMENT_TIMEOUT_S:g} s"
        if reason is not None:
            yield from (_failed(c, reason) for c in remaining)
            remaining.clear()
            return None
        here = self._here()
        barrier = self.barrier_class.options(num_cpus=0, max_concurrency=count + 4, **here).remote(
            count, self.settings.stability
        )
        self.actors.append(barrier)
        actors = [self._runner(barrier, _bundle(group, i), need) for i in range(count)]
        try:
            identities = self.ray.get([a.describe.remote() for a in actors])
            for actor, identity in zip(actors, identities, strict=True):
                identity.update(self._clock_offset(actor))
        except self.ray.exceptions.RayError as error:
            yield from (_failed(c, self._failure(None, error)) for c in remaining)
            remaining.clear()
            return None
        return actors, identities, barrier, group

    def _run_placed(
        self,
        remaining: collections.deque[Configuration],
        actors: list[Any],
        identities: list[dict[str, Any]],
        barrier: Any,
        group: Any,
    ) -> Iterator[ConfigurationResult]:
        """Runs configurations on the placed nodes until done or a node is lost."""
        first: list[Configuration] | None = [_cluster.as_shipped(c, self.folder) for c in remaining]
        try:
            while remaining:
                configuration = remaining.popleft()
                outcomes, lost, interrupted = self._gather(
                    configuration, actors, identities, barrier, first
                )
                first = None
                merged = _merge.merge(configuration, configuration.config_dict(), outcomes)
                if self.settings.stability is not None and merged.status == "finished":
                    merged.results["stopping"] = self._verdict(barrier, configuration)
                if interrupted:
                    merged.interrupted = True
                    merged.results["status"] = "stopped"
                yield merged
                if lost or interrupted:
                    return
        finally:
            for actor in actors:
                self._end_actor(actor)
            self._end_actor(barrier)
            self._remove_group(group)

    def _gather(
        self,
        configuration: Configuration,
        actors: list[Any],
        identities: list[dict[str, Any]],
        barrier: Any,
        first: list[Configuration] | None,
    ) -> tuple[list[tuple[dict[str, Any], ConfigurationResult | None, str | None]], bool, bool]:
        """One configuration on every node (handing them ``first``, the plan, at the
        start): (identity, result, reason) per node, whether a node was lost, whether
        Ctrl-C ended it."""
        refs = {actor.next.remote(first): i for i, actor in enumerate(actors)}
        answers: dict[int, tuple[ConfigurationResult | None, str | None]] = {}
        lost = interrupted = False
        deadline = None
        while refs and (deadline is None or time.monotonic() < deadline):
            try:
                ready, _ = self.ray.wait(list(refs), num_returns=1, timeout=_TICK_S)
                self.observer.tick()
            except KeyboardInterrupt:
                log.warning("Interrupted: stopping the nodes of this configuration")
                interrupted, deadline = True, time.monotonic() + _GRACE_S
                self._abort(configuration, "the benchmark was interrupted", actors, barrier)
                continue
            for ref in ready:
                i = refs.pop(ref)
                try:
                    answer = self.ray.get(ref)
                except self.ray.exceptions.RayError as error:
                    reason = self._failure(identities[i], error)
                    answers[i] = (None, reason)
                    lost = True
                    self.lost.add(identities[i]["node_id"])
                    self._abort(configuration, reason, actors, barrier)
                    continue
                if answer is None:
                    answers[i] = (None, "its runner ended before this configuration")
                else:
                    answers[i] = (self._own(answer, collections.deque([configuration])), None)
                    if answer.status in ("error", "timeout"):
                        failed = f"{_node.describe_node(identities[i])} failed"
                        self._abort(configuration, failed, actors, barrier)
        for i in refs.values():
            answers[i] = (None, "sent no result after the stop")
        outcomes = [(identities[i], *answers[i]) for i in range(len(actors))]
        return outcomes, lost, interrupted

    def _abort(
        self, configuration: Configuration, reason: str, actors: list[Any], barrier: Any
    ) -> None:
        """Ends a configuration on every node: the barrier turns away those not started
        yet, and the running ones stop (keeping what they measured)."""
        barrier.abort.remote(configuration.index, reason)
        for actor in actors:
            actor.stop.remote(configuration.index)

    # Shared ---------------------------------------------------------------------

    def _verdict(self, barrier: Any, configuration: Configuration) -> dict[str, Any] | None:
        """The barrier's stopping decision on a scale-out configuration."""
        try:
            verdict: dict[str, Any] | None = self.ray.get(
                barrier.verdict.remote(configuration.index), timeout=_TICK_S * 10
            )
        except self.ray.exceptions.RayError:
            return None
        return verdict

    def _runner(self, barrier: Any, placement: dict[str, Any], need: dict[str, float]) -> Any:
        """A NodeRunner actor holding ``need`` where ``placement`` says."""
        options = {**_cluster.ray_options(need), **placement}
        actor = self.runner_class.options(max_concurrency=2, **options).remote(
            self.workload_ref, self.settings, barrier
        )
        self.actors.append(actor)
        return actor

    def _own(
        self, result: ConfigurationResult, remaining: collections.deque[Configuration]
    ) -> ConfigurationResult:
        """A node's result with the driver's configuration (the model path as given)."""
        configuration = next(c for c in remaining if c.index == result.configuration.index)
        remaining.remove(configuration)
        config = dict(result.config, model_filename=configuration.model.filename)
        return dataclasses.replace(result, configuration=configuration, config=config)

    def _failure(self, identity: dict[str, Any] | None, error: Exception) -> str:
        """Why a node's runner gave no result, naming the node."""
        if identity is None:
            return f"the node runner failed before it started: {_first_line(error)}"
        where = _node.describe_node(identity)
        if isinstance(error, self.ray.exceptions.RayActorError):
            alive = {n["NodeID"] for n in _cluster.alive_nodes(self.ray)}
            if identity["node_id"] not in alive:
                return f"{where} died"
            return f"the runner on {where} died: {_first_line(error)}"
        return f"{where}: {_first_line(error)}"

    def _here(self) -> dict[str, Any]:
        """Placement on the driver's node (soft), where the barrier is as likely to
        live as the driver itself; none through the Ray client."""
        try:
            return _on_node(self.ray.get_runtime_context().get_node_id(), soft=True)
        except Exception:
            return {}

    def _clock_offset(self, actor: Any, probes: int = 5) -> dict[str, float]:
        """The node's wall clock minus this one (ms), from the probe with the shortest
        round trip, and its uncertainty (half that round trip): what a start instant
        shared by wall clock can be off by on that node, beyond the start skew."""
        best = None
        for _ in range(probes):
            sent = time.time_ns()
            node_ns = self.ray.get(actor.clock.remote())
            back = time.time_ns()
            if best is None or back - sent < best[1]:
                best = (node_ns - (sent + back) // 2, back - sent)
        assert best is not None
        return {"clock_offset_ms": best[0] / 1e6, "clock_uncertainty_ms": best[1] / 2e6}

    def _wait(self, refs: list[Any], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ray.wait(refs, num_returns=len(refs), timeout=_TICK_S)[0]:
                return True
            self.observer.tick()
        return False

    def _end_actor(self, actor: Any) -> None:
        """Lets an actor end its copies, then kills it."""
        if actor not in self.actors:
            return
        self.actors.remove(actor)
        close = getattr(actor, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                self.ray.wait([close.remote()], timeout=_CLOSE_S)
        with contextlib.suppress(Exception):
            self.ray.kill(actor)

    def _remove_group(self, group: Any) -> None:
        from ray.util.placement_group import remove_placement_group

        if group in self.placement_groups:
            self.placement_groups.remove(group)
            with contextlib.suppress(Exception):
                remove_placement_group(group)

    def teardown(self) -> None:
        """Nothing of this run stays on the cluster."""
        for actor in list(self.actors):
            self._end_actor(actor)
        for group in list(self.placement_groups):
            self._remove_group(group)


def spread_out(
    groups: list[list[Configuration]], nodes: int, settings: BenchmarkSettings
) -> list[list[Configuration]]:
    """The copy groups cut into parts for up to `nodes` nodes at once: while nodes
    outnumber the parts, the group whose parts take longest gets the fewest more parts
    that make its longest part shorter (none: it stays as it is). A part is a copy group
    of its own (its node loads its copies once), of consecutive configurations of
    similar total time."""
    parts = [1] * len(groups)

    def longest_s(group: list[Configuration], count: int) -> float:
        return max(_estimate_s(part, settings) for part in _cut(group, count, settings))

    settled: set[int] = set()
    while sum(parts) < nodes:
        candidates = [i for i in range(len(groups)) if i not in settled]
        if not candidates:
            break
        i = max(candidates, key=lambda j: longest_s(groups[j], parts[j]))
        now_s, most = (
            longest_s(groups[i], parts[i]),
            min(len(groups[i]), nodes - sum(parts) + parts[i]),
        )
        shorter = [k for k in range(parts[i] + 1, most + 1) if longest_s(groups[i], k) < now_s]
        if shorter:
            parts[i] = shorter[0]
        else:
            settled.add(i)
    cut = zip(groups, parts, strict=True)
    return [part for group, count in cut for part in _cut(group, count, settings)]


def _cut(
    group: list[Configuration], count: int, settings: BenchmarkSettings
) -> list[list[Configuration]]:
    """`group` in `count` runs of consecutive configurations, each cut where the running
    total of their estimated times comes closest to its share of the whole; each run's
    loads counted afresh (it starts on a node of its own)."""
    if count <= 1:
        return [group]
    running = list(itertools.accumulate(_estimate_s([c], settings) for c in group))
    bounds = [0]
    for k in range(1, count):
        share = running[-1] * k / count
        left = range(bounds[-1] + 1, len(group) - (count - k) + 1)
        bounds.append(min(left, key=lambda j: abs(running[j - 1] - share)))
    bounds.append(len(group))
    return [_reloaded(group[a:b]) for a, b in itertools.pairwise(bounds)]


def _reloaded(part: list[Configuration]) -> list[Configuration]:
    """A part of a copy group with its loads as a group of its own: each configuration
    loads the copies beyond those loaded before it in the part."""
    loaded, out = 0, []
    for c in part:
        out.append(dataclasses.replace(c, loads=max(0, c.n_models - loaded)))
        loaded = max(loaded, c.n_models)
    return out


def _estimate_s(part: list[Configuration], settings: BenchmarkSettings) -> float:
    return Plan(tuple(_reloaded(part)), settings).estimate_s()


def _take(
    queue: collections.deque, settings: BenchmarkSettings, need: dict[str, float]
) -> list[Configuration] | None:
    """The first queued copy group that a runner holding ``need`` can run (removed
    from the queue), or None."""
    for group in queue:
        wanted = _cluster.request(settings, group)
        if all(need.get(k, 0.0) >= v for k, v in wanted.items()):
            queue.remove(group)
            return group
    return None


def _on_node(node_id: str, soft: bool = False) -> dict[str, Any]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=node_id, soft=soft)}


def _bundle(group: Any, index: int) -> dict[str, Any]:
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    return {
        "scheduling_strategy": PlacementGroupSchedulingStrategy(
            placement_group=group, placement_group_bundle_index=index
        )
    }


def _failed(
    configuration: Configuration, reason: str, identity: dict[str, Any] | None = None
) -> ConfigurationResult:
    """An error result for a configuration that produced no measurement."""
    config = configuration.config_dict()
    if identity is not None:
        config["node"] = {"hostname": identity["hostname"], "node_id": identity["node_id"]}
        config["instance_type"] = identity["instance_type"]
    config["start_dts"] = config["stop_dts"] = time.strftime("%Y%m%d-%H%M%S")
    outcome = CopiesOutcome([], error=reason)
    return configuration_result(configuration, config, outcome, [], [])


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
