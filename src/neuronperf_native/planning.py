"""Settings (+ the model's configs) -> a Plan: the ordered, immutable configurations.

plan() is a pure function: it runs nothing and touches nothing. What it needs from
the machine (how many copies fit, the instance type) comes in a Host value, which
tests replace. The configurations of one model config form one copy group: its copies
are loaded once and serve every n_models and workers_per_model setting in turn (a
configuration with n copies runs the first n; settings.reuse_copies), so the plan's
order is model config -> n_models -> workers_per_model.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any

from neuronperf_native import devices, model_index
from neuronperf_native._schedule import first_request_s
from neuronperf_native.engine import RunOptions
from neuronperf_native.settings import BenchmarkSettings, name_of

__all__ = [
    "Configuration",
    "Host",
    "ModelConfig",
    "Plan",
    "default_n_models",
    "default_workers",
    "model_configs",
    "plan",
]

# Set-up seconds per copy started (by where copies run), per model loaded into a kept
# fresh interpreter, and per configuration (warm-up, start lead, results); the
# estimate adds them to the durations (a model's own load time is not known).
_START_S = {"thread": 0.05, "process": 0.2, "interpreter": 1.5}
_RELOAD_S = 0.2
_CONFIG_SETUP_S = 0.15


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """One model to load: an entry of a model index, or the single model given."""

    filename: str
    input_idx: int = 0
    batch_size: int = 1
    pipeline_size: int = 1
    performance_level: int | None = None
    model_name: str | None = None  # the index's model name


@dataclasses.dataclass(frozen=True)
class Host:
    """What planning needs to know about the machine the copies run on."""

    max_copies: dict[int, int | None]  # pipeline size -> copies that fit (None: unknown)
    instance_type: str | None = None
    # True: max_copies counts CPU cores, which more copies share (a warning); False: it
    # counts devices (NeuronCores, GPUs) that a copy needs to itself (an error)
    cores_shared: bool = False
    capacity: devices.Capacity | None = None  # what the machine can still start

    @classmethod
    def local(cls, settings: BenchmarkSettings, pipeline_sizes: Sequence[int]) -> Host:
        """This machine, for the settings' device type and the given pipeline sizes."""
        fits = {p: devices.max_model_copies(settings.device_type, p) for p in set(pipeline_sizes)}
        return cls(
            fits,
            settings.instance_type or devices.instance_type(),
            cores_shared=settings.device_type == "cpu",
            capacity=devices.capacity(),
        )


@dataclasses.dataclass(frozen=True)
class Configuration:
    """One configuration: a model config run with n_models copies x workers_per_model
    workers each. Everything needed to run it and to report it (with its settings)."""

    index: int  # position in the plan
    model: ModelConfig
    model_name: str
    n_models: int
    workers_per_model: int
    group: int  # configurations of one group share loaded copies
    loads: int  # copies loaded before this configuration runs (0: all reused)
    instance_type: str | None
    settings: BenchmarkSettings = dataclasses.field(repr=False)
    request_rate: float | None = None  # open loop: requests/s of all copies together

    @property
    def load_mode(self) -> str:
        """ "closed" or "open" (the settings')."""
        return self.settings.load_mode

    @property
    def batch_size(self) -> int:
        return self.model.batch_size

    @property
    def pipeline_size(self) -> int:
        return self.model.pipeline_size

    @property
    def duration_s(self) -> float | None:
        """Seconds of timed run (with stability: at most); None for a dataset run once
        through."""
        rule = self.settings.stability
        if rule is not None and rule.max_s is not None:
            return rule.max_s
        return self.settings.duration_s or None

    def run_options(self, trace_file: str | None = None) -> RunOptions:
        """The engine run of this configuration's copies together: workers and warm-up
        per copy, and in open loop the schedule of all copies (each serves its share).
        Replayed intervals come from trace_file, their written form (copies map it; the
        executor writes it once), or else as their values."""
        s = self.settings
        schedule: dict[str, Any] = {}
        if self.load_mode == "open":
            schedule = {
                "request_rate": self.request_rate,
                "arrival": s.arrival,
                "seed": s.seed,
                "burstiness": s.burstiness,
            }
            if trace_file is not None:
                schedule["request_trace"] = trace_file
            elif s.request_intervals is not None:
                schedule["request_intervals_us"] = s.request_intervals
        return RunOptions(
            workers=self.workers_per_model,
            warmup=s.warmup_iterations,
            duration_s=self.duration_s,
            max_iterations=s.max_iterations,
            window_s=s.window_s,
            call_timeout_s=s.call_timeout_s,
            record_timestamps=s.return_timers,
            stream=s.stream_options(),
            **schedule,
        )

    def config_dict(self) -> dict[str, Any]:
        """NeuronPerf's config dict for this configuration (the report's config keys)."""
        config = self._neuronperf_config()
        if self.settings.sequence_options().active:
            for key in ("sequence_length", "sequence_length_variation", "sequence_id_range"):
                config[key] = getattr(self.settings, key)
            config["sequence_id_range"] = list(config["sequence_id_range"])
        return config

    def _neuronperf_config(self) -> dict[str, Any]:
        s = self.settings
        return {
            "model_filename": self.model.filename,
            "model_name": self.model_name,
            "device_type": s.device_type,
            "instance_type": self.instance_type,
            "batch_size": self.batch_size,
            "n_models": self.n_models,
            "workers_per_model": self.workers_per_model,
            "pipeline_size": self.pipeline_size,
            "n_devices": self.n_models * self.pipeline_size,
            "performance_level": self.model.performance_level,
            "input_idx": self.model.input_idx,
            "multiprocess": s.multiprocess,
            "multiinterpreter": s.multiinterpreter,
            "stats_interval": s.stats_interval_s,
            "duration": s.duration_s,
            "cost_per_hour": s.cost_per_hour,
            "percentiles": self._percentiles(),
            "window_s": s.window_s,
            "stability": None if s.stability is None else s.stability.to_dict(),
            "ci_confidence": s.ci_confidence,
            **self._load_dict(),
            **self._stream_dict(),
        }

    def _stream_dict(self) -> dict[str, Any]:
        """A streamed run's config keys: its goodput SLOs (none without streaming)."""
        s = self.settings
        if not s.streaming:
            return {}
        return {"streaming": True, "goodput": dict(s.goodput) if s.goodput else None}

    def _percentiles(self) -> list[float]:
        """The extra percentiles reported: the settings', and the SLO's when searching
        (its interval decides each probe)."""
        s = self.settings
        extra = [s.slo_percentile] if s.latency_slo_ms is not None else []
        return list(dict.fromkeys([*s.percentiles, *extra]))

    def _load_dict(self) -> dict[str, Any]:
        """The load mode's config keys (None where they do not apply)."""
        s = self.settings
        opened = self.load_mode == "open"
        intervals = s.request_intervals
        out: dict[str, Any] = {
            "load_mode": self.load_mode,
            "request_rate": self.request_rate,
            "arrival": ("intervals" if intervals is not None else s.arrival) if opened else None,
            "seed": s.seed if opened and s.arrival in ("poisson", "gamma") else None,
            "request_intervals": None,
        }
        if opened and s.arrival == "gamma":
            out["burstiness"] = s.burstiness
        if s.max_concurrency is not None:
            out["max_concurrency"] = s.max_concurrency
        if intervals is not None:
            out["request_intervals"] = {
                "count": len(intervals),
                "mean_us": intervals.mean_us,
                "file": intervals.source,
            }
        return out

    def describe(self) -> str:
        """One line naming the configuration, for logs and errors."""
        rate = "" if self.request_rate is None else f"request_rate={self.request_rate:g} "
        return (
            f"batch_size={self.batch_size} n_models={self.n_models} "
            f"workers_per_model={self.workers_per_model} {rate}pipeline_size={self.pipeline_size} "
            f"({self.model.filename})"
        )


@dataclasses.dataclass(frozen=True)
class Plan:
    """The configurations of one benchmark, in run order, with a time estimate."""

    configurations: tuple[Configuration, ...]
    settings: BenchmarkSettings
    warnings: tuple[str, ...] = ()  # for the user, before it runs (e.g. shared cores)

    def __len__(self) -> int:
        return len(self.configurations)

    def __iter__(self) -> Iterator[Configuration]:
        return iter(self.configurations)

    def __getitem__(self, index: int) -> Configuration:
        return self.configurations[index]

    def groups(self) -> list[list[Configuration]]:
        """The configurations split into copy groups, in order."""
        return [
            list(members)
            for _, members in itertools.groupby(self.configurations, key=lambda c: c.group)
        ]

    def estimate_s(self) -> float:
        """Seconds the plan should take: its durations plus set-up_s()."""
        return sum(c.duration_s or 0.0 for c in self.configurations) + self.setup_s()

    def setup_s(self) -> float:
        """Seconds of set-up outside the durations: copies started, models loaded into
        kept interpreters, and per configuration warm-up, start and results (a model's
        own load time is not known here, and not counted)."""
        setup = _CONFIG_SETUP_S * len(self.configurations)
        kept = 0  # fresh interpreters kept from earlier groups
        for members in self.groups():
            loads = sum(c.loads for c in members)
            reloads = min(kept, loads)
            setup += reloads * _RELOAD_S + (loads - reloads) * _START_S[self.settings.copy_mode]
            if keeps_interpreters(self.settings):
                kept = max(kept, loads)
        return setup

    def table(self) -> str:
        """The plan as an aligned text table with its estimate (for dry runs)."""
        opened = self.settings.load_mode == "open"
        header = ["#", "model", "batch", "n_models", "workers", "pipeline", "duration_s", "loads"]
        if opened:
            header.insert(5, "request_rate")
        rows = [header]
        for c in self.configurations:
            row = [
                str(c.index + 1),
                c.model_name,
                str(c.batch_size),
                str(c.n_models),
                str(c.workers_per_model),
                str(c.pipeline_size),
                "once" if c.duration_s is None else f"{c.duration_s:g}",
                str(c.loads),
            ]
            if opened:
                row.insert(5, "intervals" if c.request_rate is None else f"{c.request_rate:g}")
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        ]
        bound = "at most " if self.settings.stability is not None else ""
        lines.append(
            f"{len(self)} configuration(s) in {len(self.groups())} copy group(s); "
            f"estimated time {bound}{self.estimate_s():.0f} s plus model loading"
        )
        s = self.settings
        if s.searches_slo:
            axis = "request rate" if s.load_mode == "open" else "concurrency (workers)"
            how = "in order until one misses" if s.slo_search == "linear" else "bracket, bisect"
            target = (
                f"latency SLO search: the highest {axis} whose p{s.slo_percentile:g} <= "
                f"{s.latency_slo_ms:g} ms"
                if s.latency_slo_ms is not None
                else f"goodput SLO search: the highest {axis} whose goodput_fraction >= "
                f"{s.min_goodput_fraction:g}"
            )
            lines.append(
                f"{target} ({how}); the configurations above are the first probes, later "
                "ones depend on what they measure"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the settings and one config dict per configuration."""
        return {
            "settings": self.settings.to_dict(),
            "estimate_s": self.estimate_s(),
            "configurations": [
                {**c.config_dict(), "index": c.index, "group": c.group} for c in self.configurations
            ],
        }


def model_configs(
    model_filename: Any, settings: BenchmarkSettings, n_inputs: int | None
) -> list[ModelConfig]:
    """The model configs to run: an index's (filtered by the settings' batch sizes,
    pipeline sizes and performance levels; finished ones only) or the one model given.
    ``n_inputs`` is how many example inputs were given (None: input data or a dataset,
    which serve every batch size)."""
    if isinstance(model_filename, (str, os.PathLike)) and os.fspath(model_filename).endswith(
        ".json"
    ):
        return _index_configs(os.fspath(model_filename), settings, n_inputs)
    sizes = settings.batch_sizes
    if n_inputs is not None and sizes is not None and len(sizes) != n_inputs:
        raise ValueError(
            f"batch_sizes has {len(sizes)} values but {n_inputs} inputs were given "
            "(one input per batch size)"
        )
    sizes = sizes or (1,) * (n_inputs or 1)
    filename = (
        os.fspath(model_filename)
        if isinstance(model_filename, (str, os.PathLike))
        else _qualified_name(model_filename)
    )
    return [
        ModelConfig(filename, 0 if n_inputs is None else i, size, pipeline, level)
        for (i, size), pipeline, level in itertools.product(
            enumerate(sizes),
            settings.pipeline_sizes or (1,),
            settings.performance_levels or (None,),
        )
    ]


def _index_configs(
    filename: str, settings: BenchmarkSettings, n_inputs: int | None
) -> list[ModelConfig]:
    index = model_index.load(filename)
    filtered = model_index.filter(
        index,
        batch_size=list(settings.batch_sizes) if settings.batch_sizes else None,
        pipeline_size=list(settings.pipeline_sizes) if settings.pipeline_sizes else None,
        performance_level=list(settings.performance_levels)
        if settings.performance_levels is not None
        else None,
        status="finished",
    )
    entries = filtered["model_configs"]
    if not entries:
        raise ValueError(
            f"model index {filename} has no finished config matching "
            f"batch_sizes={_listed(settings.batch_sizes)}, "
            f"pipeline_sizes={_listed(settings.pipeline_sizes)}, "
            f"performance_levels={_listed(settings.performance_levels)}"
        )
    configs = []
    for entry in entries:
        input_idx = 0 if n_inputs is None else entry["input_idx"]
        if n_inputs is not None and input_idx >= n_inputs:
            raise ValueError(
                f"model index {filename}: config {entry['filename']} has input_idx "
                f"{input_idx} but only {n_inputs} inputs were given"
            )
        configs.append(
            ModelConfig(
                filename=entry["filename"],
                input_idx=input_idx,
                batch_size=entry["batch_size"],
                pipeline_size=entry.get("pipeline_size", 1),
                performance_level=entry.get("performance_level"),
                model_name=entry.get("model_name") or index.get("model_name"),
            )
        )
    return configs


def _listed(values: tuple[int, ...] | None) -> list[int] | None:
    return None if values is None else list(values)


def _qualified_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".lstrip(".")


def default_workers(pipeline_size: int) -> list[int]:
    """NeuronPerf's default workers_per_model: [1, 2], or [1, p-1] for pipeline size p."""
    return [1, 2] if pipeline_size == 1 else sorted({1, pipeline_size - 1})


def default_n_models(most: int | None) -> list[int]:
    """NeuronPerf's default n_models: [1, MAX] (just [1] when MAX is 1 or unknown)."""
    return [1] if not most or most <= 1 else [1, most]


def plan(
    settings: BenchmarkSettings,
    configs: Sequence[ModelConfig],
    host: Host,
    model_name: str | None = None,
) -> Plan:
    """Expands model configs x n_models x workers_per_model into a Plan.

    Raises ValueError naming n_models when a configuration needs more copies than
    the host's devices (NeuronCores, GPUs) can hold (unless
    settings.allow_oversubscription), or more than the machine can start at all
    (tasks, memory); more copies than CPU cores is a warning (Plan.warnings).
    """
    if not configs:
        raise ValueError("no model config to benchmark")
    name = (
        model_name
        or settings.model_name
        or next((c.model_name for c in configs if c.model_name), None)
        or os.path.splitext(os.path.basename(str(configs[0].filename)))[0]
    )
    configurations: list[Configuration] = []
    warnings: list[str] = []
    axes = [_axes(settings, model, host.max_copies.get(model.pipeline_size)) for model in configs]
    _check_size(axes)
    sequences = settings.sequence_options()
    for group, model in enumerate(configs):
        most = host.max_copies.get(model.pipeline_size)
        n_models, workers, rates = axes[group]
        warnings += _check_fits(settings, model, n_models, most, host.cores_shared)
        _check_capacity(settings, n_models, workers, host.capacity)
        loaded = 0
        for copies, worker_count, rate in itertools.product(n_models, workers, rates):
            if sequences.active:  # refused now rather than found at the warm-up
                sequences.check_concurrency(worker_count, copies, name_of("sequence_id_range"))
            reused = loaded if settings.reuse_copies else 0
            configuration = Configuration(
                index=len(configurations),
                model=model,
                model_name=name,
                n_models=copies,
                workers_per_model=worker_count,
                group=group if settings.reuse_copies else len(configurations),
                loads=max(0, copies - reused),
                instance_type=host.instance_type,
                settings=settings,
                request_rate=rate,
            )
            check_schedule(configuration)
            configurations.append(configuration)
            loaded = max(loaded, copies)
    return Plan(tuple(configurations), settings, tuple(dict.fromkeys(warnings)))


#: The first probe of an open-loop SLO search without a given rate or range (requests/s).
SLO_START_RATE = 100.0
#: The most configurations a plan may hold (model configs x n_models x workers_per_model
#: x request_rate): a larger one is a typo or a range meant as a search.
MAX_CONFIGURATIONS = 10_000


def _check_size(axes: Sequence[tuple[Sequence[Any], Sequence[Any], Sequence[Any]]]) -> None:
    """Refuses a plan of more than MAX_CONFIGURATIONS, counted before it is made."""
    total = sum(len(n) * len(w) * len(r) for n, w, r in axes)
    if total > MAX_CONFIGURATIONS:
        raise ValueError(
            f"the plan holds {total:,} configurations (model configs x n_models x "
            f"workers_per_model x request_rate), more than {MAX_CONFIGURATIONS:,}: give fewer "
            "values, or search with latency_slo_ms"
        )


def _axes(
    settings: BenchmarkSettings, model: ModelConfig, most: int | None
) -> tuple[Sequence[int], Sequence[int], Sequence[float | None]]:
    """The n_models, workers_per_model and request_rate values of a model config. A
    binary SLO search plans its first probe only: one copy unless n_models says
    otherwise, the start (or the range's low end) on the searched axis, and in open
    loop the last of NeuronPerf's default workers."""
    s = settings
    workers = s.workers_per_model or default_workers(model.pipeline_size)
    if s.max_concurrency is not None:  # open loop: each copy's workers are its slots
        workers = (s.max_concurrency,)
    rates: Sequence[float | None] = s.request_rate or (None,)
    if not s.searches_slo:
        return s.n_models or default_n_models(most), workers, rates
    n_models = s.n_models or (1,)
    if s.slo_search == "linear":
        return n_models, workers if s.load_mode == "closed" else workers[-1:], rates
    low = s.slo_range[0] if s.slo_range else None
    if s.load_mode == "open":
        return n_models, workers[-1:], [rates[0] or low or SLO_START_RATE]
    return n_models, [int(low) if low else (s.workers_per_model or (1,))[0]], rates


def check_schedule(configuration: Configuration) -> None:
    """Raises ValueError naming request_rate (or request_intervals) when a copy's
    share of the schedule (_schedule.split_schedule) would start after the
    configuration's duration."""
    s, n, duration_s = configuration.settings, configuration.n_models, configuration.duration_s
    if configuration.load_mode != "open" or duration_s is None:
        return
    rate, intervals = configuration.request_rate, s.request_intervals
    if first_request_s(rate, s.arrival, intervals, n) < duration_s:
        return
    if intervals is None:
        raise ValueError(
            f"request_rate={rate:g} over {duration_s:g} s schedules fewer requests than the "
            f"{n} model copies it is dealt to (n_models={n})"
        )
    raise ValueError(
        f"request_intervals: the first {n} requests are not all due within the "
        f"{duration_s:g} s duration, so some of the {n} model copies (n_models={n}) would "
        "get none"
    )


def keeps_interpreters(settings: BenchmarkSettings) -> bool:
    """Whether fresh-interpreter copies stay up between model configs and load the
    next model (saving the interpreter start and framework import). Not on Neuron: a
    new process per model config is what guarantees its NeuronCores are free."""
    return (
        settings.copy_mode == "interpreter"
        and settings.reuse_copies
        and settings.device_type != "neuron"
    )


def _check_fits(
    settings: BenchmarkSettings,
    model: ModelConfig,
    n_models: Sequence[int],
    most: int | None,
    cores_shared: bool,
) -> list[str]:
    """Raises ValueError when n_models needs more devices than there are; returns the
    warning when the copies will share CPU cores instead (NeuronPerf runs them so)."""
    too_many = [n for n in n_models if most is not None and n > most]
    if not too_many or settings.allow_oversubscription:
        return []
    unit = {"cpu": "usable cores", "gpu": "GPUs", "neuron": "NeuronCores"}[settings.device_type]
    if cores_shared:
        return [
            f"n_models={max(too_many)} runs more model copies than this machine's {most} "
            f"{unit} (pipeline_size={model.pipeline_size}): the copies share the cores "
            "(oversubscribed, as NeuronPerf runs them), so their latencies include waiting "
            "for a core; allow_oversubscription=True says this is meant"
        ]
    raise ValueError(
        f"n_models={too_many[0]} needs more copies than this machine's "
        f"{settings.device_type} can host ({most} for pipeline_size={model.pipeline_size}, "
        f"from its {unit}); pass allow_oversubscription=True to run them anyway"
    )


# What a model copy needs at the least: its threads besides the workers (main, progress
# forwarder, one spare), and the memory of a process (a bare Python interpreter).
_COPY_THREADS = 3
_PROCESS_COPY_MB = 16.0


def _check_capacity(
    settings: BenchmarkSettings,
    n_models: Sequence[int],
    workers: Sequence[int],
    capacity: devices.Capacity | None,
) -> None:
    """Raises ValueError naming n_models when its copies cannot all start on this
    machine, whatever the device: more processes and threads than the kernel lets it
    start, or (copies in processes) more memory than is available."""
    if capacity is None or not n_models:
        return
    n, per_copy = max(n_models), max(workers) + _COPY_THREADS
    if capacity.free_tasks is not None and n * per_copy > capacity.free_tasks:
        raise ValueError(
            f"n_models={n} needs more than this machine can start: {n} copies x {per_copy} "
            f"threads (workers_per_model={max(workers)} and the copy's own) is more than the "
            f"{capacity.free_tasks:,} processes and threads it can still start "
            "(kernel.threads-max, kernel.pid_max, ulimit -u)"
        )
    memory = capacity.available_mb
    if settings.copy_mode != "thread" and memory is not None and n * _PROCESS_COPY_MB > memory:
        raise ValueError(
            f"n_models={n} needs more than this machine can hold: {n} model processes "
            f"x {_PROCESS_COPY_MB:g} MiB (a bare Python interpreter) is more than its "
            f"{memory:,.0f} MiB of available memory"
        )
