"""Runs a plan's configurations on this host, one copy group at a time.

Each copy group (the configurations of one model config) loads its copies once, as
they are needed, and runs each configuration in the first n_models of them (re-warmed,
measured separately). Fresh interpreters then stay up to load the next model config
(planning.keeps_interpreters); forked processes and threads end, as they are cheap to
start. A configuration that fails ends its group's copies; the next configuration of
the group starts fresh ones. CPU and memory are
sampled while the copies run. The results are JSON-safe (the schema the copies send),
so a remote executor can run the same code on another host.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Iterable, Iterator
from typing import Any

import psutil

from neuronperf_native import _fork_safety, devices
from neuronperf_native.copies.feeds import FeedCache
from neuronperf_native.copies.parent import CopiesOutcome, CopyGroup, CopyPool, RunWatch
from neuronperf_native.copies.protocol import CopyFailure, CopySpec, RunSpec
from neuronperf_native.executors._outcome import configuration_result
from neuronperf_native.executors.base import Executor, ends_benchmark
from neuronperf_native.planning import Configuration, keeps_interpreters
from neuronperf_native.run import ConfigurationResult, RunObserver
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.workload import Workload

log = logging.getLogger("neuronperf_native")


class _Sampler:
    """Samples system CPU and memory percent every interval while copies run."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.cpu: list[float] = []
        self.mem: list[float] = []
        self._next = 0.0
        self._active = False

    def start(self) -> None:
        psutil.cpu_percent(interval=None)  # primes the counter
        self._next = time.monotonic() + self.interval_s
        self._active = True

    def tick(self) -> None:
        if self._active and time.monotonic() >= self._next:
            self.cpu.append(psutil.cpu_percent(interval=None))
            self.mem.append(psutil.virtual_memory().percent)
            self._next += self.interval_s


class LocalExecutor(Executor):
    """Runs configurations here, in processes, fresh interpreters or threads."""

    def __init__(self, workload: Workload, settings: BenchmarkSettings) -> None:
        super().__init__()
        self.workload = workload
        self.settings = settings
        self.mode = start_method(settings, workload)

    def run(
        self, groups: Iterable[Iterable[Configuration]], observer: RunObserver | None = None
    ) -> Iterator[ConfigurationResult]:
        """Yields one result per configuration, in order. Each group's next configuration
        is taken only after its previous result was yielded, so a caller may choose it
        from that result (an adaptive search) while the group's copies stay loaded."""
        observer = self.observing(observer)
        s = self.settings
        feeds = FeedCache(
            self.workload.data,
            s.input_names,
            by_name=s.feed_by_name,
            shared_memory=s.shared_memory == "system" and self.mode != "thread",
            rtol=s.rtol,
            atol=s.atol,
            strict=s.strict_validation,
        )
        with feeds, CopyPool() as pool:
            kept = pool if keeps_interpreters(s) else None
            for members in groups:
                for result in self._run_group(members, feeds, observer, kept):
                    yield result
                    if ends_benchmark(result):
                        return

    def _run_group(
        self,
        members: Iterable[Configuration],
        feeds: FeedCache,
        observer: RunObserver,
        pool: CopyPool | None,
    ) -> Iterator[ConfigurationResult]:
        """The configurations of one model config, in copies loaded as they are needed
        (a configuration with more copies than loaded so far loads the rest)."""
        group = CopyGroup(self.mode, pool)
        try:
            for configuration in members:
                config = self._config_dict(configuration)
                if len(group) < configuration.n_models:
                    specs = self._specs(configuration, config, feeds, first=len(group))
                    try:
                        group.load(specs, self.settings.load_timeout_s, observer.tick)
                    except (CopyFailure, KeyboardInterrupt) as failure:
                        outcome = group.outcome_of(failure)
                        yield self._result(configuration, config, outcome, _Sampler(1.0))
                        group.discard()
                        if isinstance(failure, KeyboardInterrupt):
                            return
                        continue
                outcome, sampler = self._run_one(group, configuration, observer, feeds)
                yield self._result(configuration, config, outcome, sampler)
                if outcome.failed:
                    group.discard()
            group.close()
        finally:
            group.discard()

    def _config_dict(self, configuration: Configuration) -> dict[str, Any]:
        config = configuration.config_dict()
        config["start_method"] = self.mode
        if self.workload.data is not None:
            config["input_data"] = self.workload.data.source
        return config

    def _specs(
        self,
        configuration: Configuration,
        config: dict[str, Any],
        feeds: FeedCache,
        first: int,
    ) -> list[CopySpec]:
        """Specs of copies first .. n_models - 1 of a configuration's model config."""
        w = self.workload
        model = configuration.model
        return [
            CopySpec(
                copy_id=copy_id,
                device_id=copy_id,
                load_fn=w.load_fn,
                model_filename=model.filename,
                config=config,
                inputs=[w.inputs[model.input_idx]] if w.inputs is not None else [],
                environment=devices.copy_environment(
                    self.settings.device_type, copy_id, model.pipeline_size
                ),
                env_setup_fn=w.env_setup_fn,
                setup_fn=w.setup_fn,
                preprocess_fn=w.preprocess_fn,
                postprocess_fn=w.postprocess_fn,
                input_transform_fn=w.input_transform_fn,
                dataset=w.dataset,
                dataset_loader_fn=w.dataset_loader_fn,
                loop_dataset=self.settings.loop_dataset,
                prompts=w.prompts,
                request_fn=w.request_fn,
                token_count_fn=w.token_count_fn,
                **self._data_of(model.batch_size, feeds),
            )
            for copy_id in range(first, configuration.n_models)
        ]

    def _data_of(self, batch_size: int, feeds: FeedCache) -> dict[str, Any]:
        """The CopySpec fields for input data at batch_size: its batches and expected
        outputs, or every step of every stream when playing sequences."""
        sequences = self.settings.sequence_options(self.workload.sequence_fn)
        if sequences.active:
            return {
                "sequence_feed": feeds.sequence_feed(batch_size, sequences),
                "sequences": sequences,
                "validation": feeds.sequence_plan(),
            }
        return {"feed": feeds.feed(batch_size), "validation": feeds.plan(batch_size)}

    def _run_one(
        self,
        group: CopyGroup,
        configuration: Configuration,
        observer: RunObserver,
        feeds: FeedCache,
    ) -> tuple[CopiesOutcome, _Sampler]:
        s = self.settings
        sampler = _Sampler(s.stats_interval_s)

        def tick() -> None:
            sampler.tick()
            observer.tick()

        def on_start(start_ns: int) -> None:
            sampler.start()
            observer.started(configuration, start_ns)

        watch = RunWatch(
            choose_start=lambda earliest_ns: observer.choose_start(configuration, earliest_ns),
            on_start=on_start,
            on_progress=lambda copy_id, iterations, windows: observer.progress(
                configuration, copy_id, iterations, windows
            ),
            on_tick=tick,
            should_stop=lambda: observer.should_stop(configuration),
            max_rss_mb=s.max_rss_mb,
        )
        trace = s.request_intervals if configuration.load_mode == "open" else None
        run = RunSpec(
            configuration.run_options(None if trace is None else feeds.trace_file(trace)),
            n_copies=configuration.n_models,
            live_histograms=observer.wants_histograms,
            window_metric=s.stability.metric if s.stability is not None else "e2e",
            longest_interval_s=0.0 if trace is None else trace.max_interval_s,
        )
        start_dts = time.strftime("%Y%m%d-%H%M%S")
        outcome = group.run(run, ready_timeout_s=s.load_timeout_s, watch=watch)
        outcome.start_dts = start_dts
        return outcome, sampler

    def _result(
        self,
        configuration: Configuration,
        config: dict[str, Any],
        outcome: CopiesOutcome,
        sampler: _Sampler,
    ) -> ConfigurationResult:
        config = dict(config)
        config["start_dts"] = outcome.start_dts or time.strftime("%Y%m%d-%H%M%S")
        config["stop_dts"] = time.strftime("%Y%m%d-%H%M%S")
        return configuration_result(configuration, config, outcome, sampler.cpu, sampler.mem)


def start_method(settings: BenchmarkSettings, workload: Workload) -> str:
    """How model copies start: "thread", "spawn" (a fresh interpreter) or "fork".

    Process copies fork (NeuronPerf's behaviour) unless this process holds threads or a
    runtime that a fork would break (_fork_safety), or start_method says otherwise.
    """
    if settings.copy_mode == "thread":
        return "thread"
    if settings.copy_mode == "interpreter":
        return "spawn"
    method, hazards = _fork_safety.choose_start_method(settings.start_method)
    if method == "fork" and hazards:
        log.warning(
            "start_method='fork' although forking this process is unsafe (%s): copies may "
            "hang or crash",
            "; ".join(hazards),
        )
    elif method == "spawn" and settings.start_method == "auto":
        reason = _unpicklable(workload)
        if reason is not None:
            log.warning(
                "forking this process is unsafe (%s), but copies cannot start in fresh "
                "interpreters (%s): forking anyway",
                "; ".join(hazards),
                reason,
            )
            return "fork"
        log.info("model copies start in fresh interpreters: %s", "; ".join(hazards))
    return method


def _unpicklable(workload: Workload) -> str | None:
    """Why the workload cannot go to a fresh interpreter, or None when it can."""
    try:
        pickle.dump(workload, _Discard())
    except Exception as error:
        return f"the workload cannot be pickled: {error}"
    return None


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)
