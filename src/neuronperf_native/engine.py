"""The native timing engine for Python: run(), Runner, RunResult, Histogram, native_model().

Worker threads, clocks and HDR histograms live in C++ (`_engine`); a worker holds
the GIL only while Python code runs (the model, preprocess, postprocess, an input
iterator), plus at most one short time slice between consecutive Python calls.
"""

from __future__ import annotations

import atexit
import collections.abc
import dataclasses
import functools
import math
import os
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from neuronperf_native import _engine
from neuronperf_native._engine import Histogram, NativeModel, RequestFailed, now_ns
from neuronperf_native._numbers import is_number
from neuronperf_native.streaming import TOKEN_METRICS, StreamOptions, TokenMetrics

__all__ = [
    "ARRIVALS",
    "MAX_INTERVAL_US",
    "MAX_REQUEST_RATE",
    "MAX_SECONDS",
    "MAX_TRACE_INTERVALS",
    "MAX_WORKERS",
    "MIN_INTERVAL_US",
    "RESULT_SCHEMA",
    "STAGES",
    "Histogram",
    "IntervalTrace",
    "NativeModel",
    "RequestFailed",
    "RunOptions",
    "RunResult",
    "Runner",
    "StreamOptions",
    "TokenMetrics",
    "Window",
    "WithThreadContext",
    "native_model",
    "now_ns",
    "run",
]

#: Timed stages, in the order an iteration passes through them (e2e spans all).
#: schedule_lag (open loop only): from when a request was due to when a worker began it.
STAGES: tuple[str, ...] = _engine.STAGES
#: Request arrival patterns of the open loop (with request_rate).
ARRIVALS: tuple[str, ...] = _engine.ARRIVALS
#: Most workers a run may have (each is a thread with a 1 MiB stack).
MAX_WORKERS: int = _engine.MAX_WORKERS
#: Highest open-loop request rate (requests per second).
MAX_REQUEST_RATE: float = _engine.MAX_REQUEST_RATE
#: Bounds of one replayed interval, in microseconds, and the most intervals a trace
#: may hold (its text has one per line, each line at most MAX_TRACE_LINE_BYTES).
MIN_INTERVAL_US: float = _engine.MIN_INTERVAL_US
MAX_INTERVAL_US: float = _engine.MAX_INTERVAL_US
MAX_TRACE_INTERVALS: int = _engine.MAX_TRACE_INTERVALS
MAX_TRACE_LINE_BYTES: int = _engine.MAX_TRACE_LINE_BYTES
#: The longest time any setting may give, in seconds (~116 days).
MAX_SECONDS: float = _engine.MAX_SECONDS
#: At interpreter exit, active runs are stopped and their workers waited for this long
#: before finalization; a call stuck longer keeps its thread, which never touches
#: Python again (exiting mid-run never aborts the process).
EXIT_WAIT_S = 5.0


@atexit.register
def _stop_runs_at_exit() -> None:
    _engine._stop_runs_at_exit(EXIT_WAIT_S)


#: Version of the dict layout produced by RunResult.to_dict(); from_dict() reads
#: every version listed in READABLE_SCHEMAS (keys a version lacks get defaults).
RESULT_SCHEMA = 3
READABLE_SCHEMAS = (1, 2, 3)
#: Percentiles summarised in RunResult.to_dict()["latency"].
SUMMARY_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99)

_SPIN_DISTRIBUTIONS = ("fixed", "uniform", "bimodal", "lognormal")
# RunResult.to_dict() keys of the open loop (None in closed-loop results).
_OPEN_LOOP_KEYS = (
    "arrival",
    "request_rate_target",
    "achieved_rate",
    "requests_due",
    "backlog_max",
    "backlog_end",
    "saturated",
    "window_backlog",
)
_DIRECT_CALLABLES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    functools.partial,
    type,
)


@dataclasses.dataclass(frozen=True)
class Window:
    """One closed throughput window of a run, as Runner.poll_windows() delivers it.

    The window spans [start_ns, start_ns + window_s): `count` iterations of all
    workers completed in it, and `histogram` holds their e2e latencies (ns). Streamed
    runs add `metrics`: the TTFT, ITL and TPOT histograms of the same requests.
    """

    index: int
    start_ns: int
    count: int
    histogram: Histogram
    metrics: dict[str, Histogram] = dataclasses.field(default_factory=dict)

    def latency(self, metric: str = "e2e") -> Histogram:
        """The window's histogram of `metric`: "e2e", or a token metric in streamed runs."""
        return self.histogram if metric == "e2e" else self.metrics[metric]


class IntervalTrace:
    """Replayed request intervals (perf_analyzer's --request-intervals), held natively.

    Request k of the looped trace arrives at the sum of its first k + 1 intervals
    after the schedule's start: the first one interval after it, as perf_analyzer
    sends it. read() parses a text file (one interval in microseconds per line) in
    C++, bounded (MAX_TRACE_INTERVALS, lines of at most MAX_TRACE_LINE_BYTES) and
    validated before anything runs; model copies map the written form of one trace
    instead of each holding a copy. Immutable; equal traces compare equal; pickles
    as its written form (8 bytes per interval).
    """

    __slots__ = ("_native", "source")

    def __init__(self, native: Any, source: str | None = None) -> None:
        self._native = native
        self.source = source  # the text file it was read from, or None

    @classmethod
    def read(cls, path: str | os.PathLike[str], max_intervals: int | None = None) -> IntervalTrace:
        """The intervals of a text file; ValueError naming the file and line of the
        first bad one (or that it holds more than max_intervals)."""
        text = os.fspath(path)
        limit = MAX_TRACE_INTERVALS if max_intervals is None else max_intervals
        _check_int("max_intervals", limit, 1)
        return cls(_engine.IntervalTrace.read_text(text, min(limit, MAX_TRACE_INTERVALS)), text)

    @classmethod
    def of(cls, intervals_us: Any, name: str = "intervals_us") -> IntervalTrace:
        """From a sequence (or numpy array) of microseconds; errors name `name`[i]."""
        if isinstance(intervals_us, IntervalTrace):
            return intervals_us
        if isinstance(intervals_us, (str, bytes)) or not isinstance(
            intervals_us, (collections.abc.Sequence, np.ndarray)
        ):
            raise TypeError(
                f"{name} must be a sequence of microseconds, got {type(intervals_us).__name__}"
            )
        values = np.asarray(intervals_us) if len(intervals_us) else np.zeros(0)
        if values.ndim != 1 or values.dtype.kind not in "iuf":
            for i, value in enumerate(intervals_us):
                if not is_number(value):
                    raise TypeError(f"{name}[{i}] must be a number, got {value!r}")
            raise TypeError(f"{name} must be a flat sequence of microseconds")
        return cls(_engine.IntervalTrace.of_us(values.astype(np.float64, copy=False), name))

    @classmethod
    def map(cls, path: str) -> IntervalTrace:
        """A trace written by write(), mapped read-only (shared with other mappers)."""
        return cls(_engine.IntervalTrace.map(path))

    def write(self, path: str) -> None:
        """Writes the form map() reads."""
        self._native.write(path)

    def __len__(self) -> int:
        return len(self._native)

    @property
    def cycle_s(self) -> float:
        """The sum of the intervals: the schedule repeats after it."""
        return self._native.cycle_ns / 1e9

    @property
    def max_interval_s(self) -> float:
        return self._native.max_interval_ns / 1e9

    @property
    def mean_us(self) -> float:
        return self._native.cycle_ns / len(self) / 1e3

    @property
    def nbytes(self) -> int:
        """Bytes of the written form."""
        return 64 + 8 * (len(self) + 1)

    def arrival_s(self, index: int) -> float:
        """When request `index` (0-based) of the looped trace arrives, in seconds."""
        return self._native.arrival_ns(index) / 1e9

    def intervals_us(self) -> np.ndarray:
        """The intervals, in microseconds."""
        return np.diff(self._native.offsets_ns()) / 1e3

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalTrace):
            return NotImplemented
        a, b = self._native, other._native
        return (len(a), a.cycle_ns, a.digest) == (len(b), b.cycle_ns, b.digest)

    def __hash__(self) -> int:
        return hash((len(self), self._native.digest))

    def __reduce__(self) -> tuple[Any, ...]:
        return (IntervalTrace, (self._native, self.source))

    def __repr__(self) -> str:
        where = f" from {self.source!r}" if self.source else ""
        return f"<IntervalTrace {len(self)} intervals{where}, mean {self.mean_us:g} us>"


class RunResult:
    """What one engine run produced: status, error, histograms, counts and windows.

    Latencies are integer nanoseconds on the shared monotonic clock. `latency` is
    the end-to-end histogram of all workers merged; `stage(name)` gives the others.
    """

    def __init__(
        self,
        *,
        status: str,
        stop_reason: str,
        error_info: dict[str, Any] | None,
        stages: dict[str, Histogram],
        warmup: Histogram,
        per_worker_iterations: list[int],
        abandoned_workers: int,
        start_ns: int,
        end_ns: int,
        window_ns: int,
        windows: list[int],
        cpu_ns: int,
        timestamps: np.ndarray | None = None,
        window_histograms: list[Histogram] | None = None,
        window_histogram_span: int = 1,
        open_loop: dict[str, Any] | None = None,
        tokens: TokenMetrics | None = None,
        token_window_histograms: dict[str, list[Histogram]] | None = None,
        requests: np.ndarray | None = None,
        requests_failed: int = 0,
        failure_reasons: dict[str, int] | None = None,
    ) -> None:
        self.status = status
        self.stop_reason = stop_reason
        self.error_info = error_info
        self._stages = stages
        self.warmup = warmup
        self.per_worker_iterations = list(per_worker_iterations)
        self.abandoned_workers = abandoned_workers
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.window_s = window_ns / 1e9
        self.windows = list(windows)
        #: e2e histograms per group of window_histogram_span windows: entry j covers
        #: windows [j * span, (j + 1) * span). span is 1 up to 1,024 windows (256 when
        #: streamed: the token metrics' histograms count too) and doubles beyond
        #: (adjacent histograms merged pairwise), so memory stays bounded.
        #: Empty for results read from schema 1.
        self.window_histograms = list(window_histograms or [])
        self.window_histogram_span = window_histogram_span
        self.cpu_s = cpu_ns / 1e9
        self._open = dict(open_loop) if open_loop else None
        self._timestamps = timestamps
        #: Streamed runs: the token metrics of all workers (None otherwise).
        self.tokens = tokens
        #: Streamed runs: per token metric, window histograms as window_histograms.
        self.token_window_histograms = dict(token_window_histograms or {})
        #: With record_requests: (n, 9) int64 records (streaming.REQUEST_FIELDS).
        self.requests = requests
        #: Timed requests whose call raised RequestFailed (no latency recorded for
        #: them), and their count per reason (at most 32 reasons; the rest under
        #: "other reasons").
        self.requests_failed = requests_failed
        self.failure_reasons = dict(failure_reasons or {})

    @property
    def error(self) -> str | None:
        """None, or the exception type, message and traceback text as one string."""
        info = self.error_info
        if info is None:
            return None
        where = f" (worker {info['worker']}, stage {info['stage']})" if info["worker"] >= 0 else ""
        text = f"{info['type']}: {info['message']}{where}"
        if info["traceback"]:
            text += "\n" + info["traceback"].rstrip("\n")
        return text

    @property
    def iterations(self) -> int:
        """Timed iterations completed by all workers."""
        return sum(self.per_worker_iterations)

    @property
    def latency(self) -> Histogram:
        """End-to-end latency histogram (ns) of all workers."""
        return self._stages["e2e"]

    @property
    def streaming(self) -> bool:
        """Whether responses were streamed (tokens holds their metrics)."""
        return self.tokens is not None

    def metric_window_histograms(self, metric: str = "e2e") -> list[Histogram]:
        """The window histograms of "e2e" or (streamed runs) a token metric."""
        if metric == "e2e":
            return self.window_histograms
        if metric not in TOKEN_METRICS or not self.streaming:
            raise ValueError(f"no window histograms of {metric!r} (token metrics: streaming)")
        return self.token_window_histograms.get(metric, [])

    @property
    def load_mode(self) -> str:
        """ "closed" (each worker issues its next request when one completes) or "open"."""
        return "open" if self._open else "closed"

    @property
    def arrival(self) -> str | None:
        """Open loop: "constant", "poisson" or "intervals"; None in closed loop."""
        return self._open["arrival"] if self._open else None

    @property
    def request_rate_target(self) -> float | None:
        """Open loop: the schedule's rate (requests/s; intervals: their mean rate)."""
        return self._open["request_rate_target"] if self._open else None

    @property
    def achieved_rate(self) -> float | None:
        """Open loop: requests completed per second of the schedule that issued them."""
        return self._open["achieved_rate"] if self._open else None

    @property
    def requests_due(self) -> int | None:
        """Open loop: requests that arrived while the run issued them."""
        return self._open["requests_due"] if self._open else None

    @property
    def backlog_max(self) -> int:
        """Open loop: the most requests that waited for a free worker at once (0 closed)."""
        return self._open["backlog_max"] if self._open else 0

    @property
    def backlog_end(self) -> int:
        """Open loop: requests that arrived but were never started (0 closed)."""
        return self._open["backlog_end"] if self._open else 0

    @property
    def saturated(self) -> bool:
        """Open loop: the run fell behind its schedule and was still falling behind.

        True when more requests were left waiting at the end than max(workers, 1% of
        requests_due) and the backlog did not shrink over the run's last quarter (it is
        at least the largest backlog seen in the window three quarters through). Its
        latencies then describe an overload, not the model.
        """
        return bool(self._open and self._open["saturated"])

    @property
    def window_backlog(self) -> list[int]:
        """Open loop: the largest backlog seen in each window (trailing zeros omitted)."""
        return list(self._open["window_backlog"]) if self._open else []

    @property
    def wall_s(self) -> float:
        """Seconds from the timing start to the end of the last timed iteration."""
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def throughput(self) -> float:
        """Completed iterations per second over the timed part of the run."""
        return self.iterations / self.wall_s if self.end_ns > self.start_ns else 0.0

    def stage(self, name: str) -> Histogram:
        """The latency histogram (ns) of one stage: see STAGES.

        Stages that did not run stay empty: preprocess/postprocess without those
        functions, gil_wait for native-only runs, and input for round-robin input
        lists (selecting the next list item is an index increment, not timed).
        """
        try:
            return self._stages[name]
        except KeyError:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {name!r}") from None

    @property
    def boundaries(self) -> np.ndarray | None:
        """(n, 7) int64 stage boundaries b0..b6 per timed iteration, or None if not recorded.

        Stage k of STAGES spans columns k and k + 1; e2e spans columns 0 and 6. b0 is
        when the request was due (open loop: its scheduled time; closed loop: b1).
        """
        return self._timestamps

    def timestamps(self, stage: str = "e2e") -> np.ndarray:
        """(n, 2) int64 array of (start_ns, end_ns) per timed iteration, worker-major.

        A view of the engine's buffer (no copy); only with record_timestamps=True.
        """
        if self._timestamps is None:
            raise ValueError("timestamps were not recorded: pass record_timestamps=True")
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
        rows = self._timestamps
        if stage == "e2e":
            last = rows.shape[1] - 1
            return np.lib.stride_tricks.as_strided(
                rows, shape=(rows.shape[0], 2), strides=(rows.strides[0], last * rows.strides[1])
            )
        k = STAGES.index(stage)
        return rows[:, k : k + 2]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (versioned by RESULT_SCHEMA) with base64 V2 histograms.

        Raw timestamps are not included; they stay available via timestamps().
        """
        latency = self.latency
        summary: dict[str, Any] = {
            "count": latency.count,
            "min_ns": latency.min,
            "max_ns": latency.max,
            "mean_ns": latency.mean,
            "stddev_ns": latency.stddev,
        }
        for p in SUMMARY_PERCENTILES:
            summary[f"p{p:g}_ns"] = latency.value_at_percentile(p)
        return {
            "schema": RESULT_SCHEMA,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "error_info": dict(self.error_info) if self.error_info else None,
            "iterations": self.iterations,
            "per_worker_iterations": list(self.per_worker_iterations),
            "abandoned_workers": self.abandoned_workers,
            "requests_failed": self.requests_failed,
            "failure_reasons": dict(self.failure_reasons),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "window_s": self.window_s,
            "windows": list(self.windows),
            "window_histograms": [h.encode() for h in self.window_histograms],
            "window_histogram_span": self.window_histogram_span,
            "load_mode": self.load_mode,
            **{key: self._open[key] if self._open else None for key in _OPEN_LOOP_KEYS},
            "latency": summary,
            "histograms": {name: hist.encode() for name, hist in self._stages.items()},
            "warmup_histogram": self.warmup.encode(),
            "tokens": self.tokens.to_dict() if self.tokens is not None else None,
            "token_window_histograms": {
                metric: [h.encode() for h in hists]
                for metric, hists in self.token_window_histograms.items()
            },
        }

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        boundaries: np.ndarray | None = None,
        requests: np.ndarray | None = None,
    ) -> RunResult:
        """Rebuilds a result from to_dict() output (e.g. sent by a model process), with
        its raw stage boundaries and request records when they were sent separately."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict from RunResult.to_dict(), got {type(data)}")
        if data.get("schema") not in READABLE_SCHEMAS:
            raise ValueError(
                f"unsupported result schema {data.get('schema')!r} (readable: "
                f"{', '.join(map(str, READABLE_SCHEMAS))})"
            )
        try:
            encoded = data["histograms"]
            stages = {
                name: Histogram.decode(encoded[name])
                if name in encoded or name != "schedule_lag"
                else Histogram()
                for name in STAGES
            }
            return cls(
                status=data["status"],
                stop_reason=data["stop_reason"],
                error_info=data["error_info"],
                stages=stages,
                warmup=Histogram.decode(data["warmup_histogram"]),
                per_worker_iterations=data["per_worker_iterations"],
                abandoned_workers=data["abandoned_workers"],
                requests_failed=data.get("requests_failed", 0),
                failure_reasons=data.get("failure_reasons"),
                start_ns=data["start_ns"],
                end_ns=data["end_ns"],
                window_ns=round(data["window_s"] * 1e9),
                windows=data["windows"],
                cpu_ns=round(data["cpu_s"] * 1e9),
                timestamps=boundaries,
                window_histograms=[Histogram.decode(h) for h in data.get("window_histograms", [])],
                window_histogram_span=data.get("window_histogram_span", 1),
                open_loop=(
                    {key: data[key] for key in _OPEN_LOOP_KEYS}
                    if data.get("load_mode") == "open"
                    else None
                ),
                tokens=TokenMetrics.from_dict(data["tokens"]) if data.get("tokens") else None,
                token_window_histograms={
                    metric: [Histogram.decode(h) for h in hists]
                    for metric, hists in (data.get("token_window_histograms") or {}).items()
                },
                requests=requests,
            )
        except KeyError as missing:
            raise ValueError(f"result dict is missing key {missing}") from None

    def __repr__(self) -> str:
        lat = self.latency
        return (
            f"<RunResult {self.status}: {self.iterations} iterations in {self.wall_s:.3f} s, "
            f"p50={lat.value_at_percentile(50) / 1e3:.3f} us, "
            f"p99={lat.value_at_percentile(99) / 1e3:.3f} us>"
        )


def _check_int(name: str, value: Any, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def _check_seconds(name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number of seconds, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How one engine run goes: the C++ RunSettings, field for field (names, units and
    defaults; _engine.RUN_SETTINGS_FIELDS lists them), validated once when made.

    Types are checked here (a TypeError naming the field), ranges by the engine's own
    rules (a ValueError naming the field). Frozen and JSON-safe (to_dict/from_dict):
    a model copy's timed run crosses the process pipe as its RunOptions. See run() for
    what each field does. A group of fields added later (say, for streaming responses)
    goes in as one nested options type mirroring a nested C++ struct.
    """

    workers: int = 1
    duration_s: float | None = None
    max_iterations: int | None = None
    warmup: int = 1
    window_s: float = 1.0
    call_timeout_s: float | None = None
    record_timestamps: bool = False
    start_at_ns: int = 0
    request_rate: float | None = None
    arrival: str = "constant"
    seed: int = 0
    request_intervals_us: tuple[float, ...] | None = None
    request_trace: str | None = None  # a file IntervalTrace.write wrote: mapped, not copied
    share_index: int = 0
    share_count: int = 1
    spin_wait_us: float = _engine.DEFAULT_SPIN_WAIT_US
    learn_wakeup: bool = True
    burstiness: float = 1.0
    stream: StreamOptions | None = None

    def __post_init__(self) -> None:
        normal = {
            "workers": _integer("workers", self.workers),
            "duration_s": _number("duration_s", self.duration_s, "seconds", optional=True),
            "max_iterations": _integer("max_iterations", self.max_iterations, optional=True),
            "warmup": _integer("warmup", self.warmup),
            "window_s": _number("window_s", self.window_s, "seconds"),
            "call_timeout_s": _number("call_timeout_s", self.call_timeout_s, "seconds", True),
            "start_at_ns": _integer("start_at_ns", self.start_at_ns),
            "request_rate": _number(
                "request_rate", self.request_rate, "requests per second", optional=True
            ),
            "seed": _integer("seed", self.seed),
            "request_intervals_us": _intervals(self.request_intervals_us),
            "share_index": _integer("share_index", self.share_index),
            "share_count": _integer("share_count", self.share_count),
            "spin_wait_us": _number("spin_wait_us", self.spin_wait_us, "microseconds"),
            "burstiness": _number("burstiness", self.burstiness, "(a gamma shape)"),
            "stream": _stream_options(self.stream),
        }
        for name in ("record_timestamps", "learn_wakeup"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.request_trace is not None and not isinstance(self.request_trace, str):
            raise TypeError(f"request_trace must be a file name (str), got {self.request_trace!r}")
        if not isinstance(self.arrival, str):
            raise TypeError(f"arrival must be a str, got {self.arrival!r}")
        if not 0 <= normal["seed"] < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {self.seed!r}")
        for name, value in normal.items():
            object.__setattr__(self, name, value)
        _engine.check_run_settings(self)

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with some fields changed (validated as a new one)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data; from_dict() makes the same options from it."""
        data = dataclasses.asdict(self)
        if self.request_intervals_us is not None:
            data["request_intervals_us"] = list(self.request_intervals_us)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOptions:
        stream = data.get("stream")
        if stream is not None:
            data = {**data, "stream": StreamOptions(**stream)}
        return cls(**data)


def _integer(name: str, value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return int(value)


def _number(name: str, value: Any, unit: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if not is_number(value):
        raise TypeError(f"{name} must be a number of {unit}, got {value!r}")
    return float(value)


def _intervals(value: Any) -> tuple[float, ...] | None:
    """request_intervals_us as a tuple of floats (each must be a number; an
    IntervalTrace gives its intervals)."""
    if value is None:
        return None
    if isinstance(value, IntervalTrace):
        return tuple(value.intervals_us().tolist())
    if isinstance(value, (str, bytes)) or not isinstance(
        value, (collections.abc.Sequence, np.ndarray)
    ):
        raise TypeError(
            f"request_intervals_us must be a sequence of microseconds, got {type(value).__name__}"
        )
    for i, gap in enumerate(value):
        if not is_number(gap):
            raise TypeError(f"request_intervals_us[{i}] must be a number, got {gap!r}")
    return tuple(float(gap) for gap in value)


def _check_callable(name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")


def _as_args(item: Any) -> tuple:
    return item if isinstance(item, tuple) else (item,)


def _split_inputs(inputs: Any) -> tuple[list[tuple], Any]:
    """Returns (argument tuples served round-robin, iterator) with one of them empty."""
    if inputs is None:
        return [], None
    if isinstance(inputs, list):
        if not inputs:
            raise ValueError("inputs must not be empty")
        return [_as_args(item) for item in inputs], None
    if isinstance(inputs, (str, bytes, dict, np.ndarray)) or not isinstance(inputs, Iterable):
        raise TypeError(
            "inputs must be a list of argument tuples or an iterator of them, got "
            f"{type(inputs).__name__} (wrap a single input as [(x,)])"
        )
    iterator = inputs if isinstance(inputs, collections.abc.Iterator) else iter(inputs)
    return [], iterator


def _fast_callable(model: Callable[..., Any]) -> Callable[..., Any]:
    """The bound __call__ of a callable instance (e.g. a torch Module), looked up once.

    Calling an instance makes CPython look up __call__ on every call (~15 ns); the bound
    method is the same call without that lookup.
    """
    if isinstance(model, _DIRECT_CALLABLES):
        return model
    call = next((vars(k)["__call__"] for k in type(model).__mro__ if "__call__" in vars(k)), None)
    return model.__call__ if isinstance(call, types.FunctionType) else model


class WithThreadContext:
    """A model that must run inside a per-thread context, such as torch.inference_mode.

    Called directly, it enters ``context()`` around each call. The engine instead
    enters ``context()`` once on each worker thread, before the warm-up, leaves it
    on that thread when the worker ends, and calls ``model`` directly: entering
    torch.inference_mode() around each call cost ~6 us, a third of a 256x256 linear
    layer's latency (benchmarks/torch_overhead.py), which a measurement should not
    carry. preprocess and postprocess run inside the context too.
    """

    def __init__(self, model: Callable[..., Any] | NativeModel, context: Callable[[], Any]) -> None:
        if not callable(context):
            raise TypeError(
                f"context must be a callable returning a context manager, got {context!r}"
            )
        if not (callable(model) or isinstance(model, NativeModel)):
            raise TypeError(f"model must be callable or a NativeModel, got {type(model).__name__}")
        self.model = model
        self.context = context

    def __call__(self, *args: Any) -> Any:
        with self.context():
            return self.model(*args)


def _stream_options(stream: Any) -> StreamOptions | None:
    """RunOptions.stream: None (not streamed), True (StreamOptions()) or StreamOptions."""
    if stream is None or stream is False:
        return None
    if stream is True:
        return StreamOptions()
    if not isinstance(stream, StreamOptions):
        raise TypeError(f"stream must be a StreamOptions, True or None, got {stream!r}")
    return stream


def _input_tokens(input_tokens: Any, arg_list: list[tuple]) -> list[int]:
    """Each round-robin input's prompt length (a streamed run's input tokens)."""
    if input_tokens is None:
        return []
    if not arg_list:
        raise ValueError("input_tokens counts the prompts of a list of inputs (not an iterator)")
    counts = list(input_tokens)
    if len(counts) != len(arg_list):
        raise ValueError(
            f"input_tokens must hold one count per input ({len(arg_list)}), got {len(counts)}"
        )
    for i, n in enumerate(counts):
        _check_int(f"input_tokens[{i}]", n, 0)
    return [int(n) for n in counts]


def _make_pipeline(
    model: Any,
    inputs: Any,
    preprocess: Any,
    postprocess: Any,
    gil_slice_us: float,
    stream: StreamOptions | None = None,
    token_count_fn: Any = None,
    input_tokens: Any = None,
) -> Any:
    thread_context = None
    if isinstance(model, WithThreadContext):
        model, thread_context = model.model, model.context
    native = model if isinstance(model, NativeModel) else None
    if native is None and not callable(model):
        raise TypeError(f"model must be callable or a NativeModel, got {type(model).__name__}")
    _check_callable("preprocess", preprocess)
    _check_callable("postprocess", postprocess)
    _check_seconds("gil_slice_us", gil_slice_us)
    _check_callable("token_count_fn", token_count_fn)
    if stream is None and (token_count_fn is not None or input_tokens is not None):
        raise ValueError("token_count_fn and input_tokens count streamed tokens: pass stream=")
    if stream is not None and postprocess is not None:
        raise ValueError(
            "postprocess does not apply to streamed responses (the engine draws the stream)"
        )
    arg_list, iterator = _split_inputs(inputs)
    counts = _input_tokens(input_tokens, arg_list)
    plain = iterator is None and preprocess is None and postprocess is None
    if plain and thread_context is None:
        if native is None and callable(getattr(model, "native_model", None)):
            return _engine.native_pipeline(model.native_model(arg_list, counts))
        if native is not None and not counts:
            return _engine.native_pipeline(native)
    return _engine.python_pipeline(
        model=None if native is not None else _fast_callable(model),
        native=native,
        preprocess=preprocess,
        postprocess=postprocess,
        inputs=arg_list,
        iterator=iterator,
        thread_context=thread_context,
        gil_slice_ns=round(gil_slice_us * 1e3),
        token_count_fn=token_count_fn,
        input_tokens=counts,
    )


class Runner:
    """One engine run that can be started, stopped from another thread, and awaited.

    See run() for the arguments. A stuck call (beyond call_timeout_s) cannot be
    killed: its thread is abandoned, the run ends with status "timeout" and keeps
    what was measured. Run each model copy in its own process to contain that.
    """

    def __init__(
        self,
        model: Callable[..., Any] | NativeModel,
        inputs: list[Any] | Iterable[Any] | None = None,
        options: RunOptions | None = None,
        *,
        preprocess: Callable[..., Any] | None = None,
        postprocess: Callable[[Any], Any] | None = None,
        gil_slice_us: float = 200.0,
        token_count_fn: Callable[[Any], int] | None = None,
        input_tokens: Sequence[int] | None = None,
        **settings: Any,
    ) -> None:
        options = _options(options, settings)
        pipeline = _make_pipeline(
            model,
            inputs,
            preprocess,
            postprocess,
            gil_slice_us,
            stream=options.stream,
            token_count_fn=token_count_fn,
            input_tokens=input_tokens,
        )
        self.options = options
        self._runner = _engine.Runner(pipeline, options)

    def start(self) -> None:
        """Starts the worker threads and returns at once."""
        self._runner.start()

    def stop(self) -> None:
        """Asks every worker to stop after its current iteration (thread-safe)."""
        self._runner.stop()

    @property
    def done(self) -> bool:
        """True once every worker has finished (or been abandoned by the watchdog)."""
        return self._runner.done

    @property
    def live_iterations(self) -> int:
        """Timed iterations completed so far by all workers (cheap; any thread)."""
        return self._runner.live_iterations

    def poll_windows(self) -> list[Window]:
        """The windows closed since the previous call, in order (thread-safe).

        Callable from any thread while the run goes and after it ends; each window is
        delivered once, and together they hold exactly the final result's `windows`
        and `window_histograms` (while its span is 1). Window k is closed once no
        worker can add to it: each worker has finished (or was abandoned), or has
        completed an iteration in a later window, and window k has ended. So a call
        in flight across a window's end holds that window open until it returns
        (`live_iterations` shows progress meanwhile). At most 1,024 windows per call
        (256 when streamed); a caller further behind misses the oldest (indices jump).
        """
        return [Window(*raw) for raw in self._runner.poll_windows()]

    def forward_progress(
        self, fd: int, *, period_s: float, histograms: bool, metric: str = "e2e"
    ) -> Any:
        """Sends this run's progress to another process, natively (no Python thread,
        so nothing waits on the GIL the workers hold); returns a handle whose finish()
        sends the rest and ends it (call it after wait()).

        Every period_s, and at finish(), one message goes to the pipe or socket with
        file descriptor fd, framed as multiprocessing.Connection.send_bytes frames it:
        JSON {"event": "progress", "iterations": live_iterations, "p99_ns": the highest
        p99 of the latest window so far, "windows": [[index, count, base64 HdrHistogram
        or None], ...]} with the windows closed since the previous message (histograms
        only when asked for: of `metric`, "e2e" or a streamed run's token metric, as
        Window.latency() names them). The first message that arrives on fd (the other
        side's "stop"), end of file or a failed write stops the run. Nothing else may
        read or write fd until finish() returns.
        """
        _check_seconds("period_s", period_s)
        return self._runner.forward_progress(
            fd, period_s=float(period_s), histograms=histograms, metric=metric
        )

    def wait(self) -> RunResult:
        """Blocks until the run ends and returns its result (starts it if needed).

        Ctrl-C (or any exception raised by a signal handler) stops the run; the
        result then has status "stopped", keeps everything measured so far, and
        its error names the exception.
        """
        raw = self._runner.wait()
        error_info = raw["error"]
        if raw["interrupted"] is not None and error_info is None:
            error_info = {
                "type": raw["interrupted"],
                "message": "the run was interrupted; measurements so far are kept",
                "traceback": "",
                "stage": "",
                "worker": -1,
            }
        return RunResult(
            status=raw["status"],
            stop_reason="interrupted" if raw["interrupted"] is not None else raw["stop_reason"],
            error_info=error_info,
            stages=raw["stages"],
            warmup=raw["warmup"],
            per_worker_iterations=raw["worker_iterations"],
            abandoned_workers=raw["abandoned_workers"],
            start_ns=raw["start_ns"],
            end_ns=raw["end_ns"],
            window_ns=raw["window_ns"],
            windows=raw["windows"],
            cpu_ns=raw["cpu_ns"],
            timestamps=raw["timestamps"],
            window_histograms=raw["window_histograms"],
            window_histogram_span=raw["window_histogram_span"],
            open_loop=raw["open_loop"],
            tokens=TokenMetrics.from_engine(raw["tokens"]) if raw["tokens"] is not None else None,
            token_window_histograms=raw["token_window_histograms"],
            requests=raw["requests"],
            requests_failed=raw["requests_failed"],
            failure_reasons=raw["failure_reasons"],
        )

    def run(self) -> RunResult:
        """start() then wait()."""
        return self.wait()


def run(
    model: Callable[..., Any] | NativeModel,
    inputs: list[Any] | Iterable[Any] | None = None,
    options: RunOptions | None = None,
    *,
    preprocess: Callable[..., Any] | None = None,
    postprocess: Callable[[Any], Any] | None = None,
    gil_slice_us: float = 200.0,
    token_count_fn: Callable[[Any], int] | None = None,
    input_tokens: Sequence[int] | None = None,
    **settings: Any,
) -> RunResult:
    """Runs `model` on `workers` threads and measures every iteration.

    model: any Python callable, or a NativeModel (native_model()), optionally in a
        WithThreadContext that each worker thread enters once (e.g. inference mode).
        A callable with a method native_model(inputs, input_tokens) -> NativeModel (a
        served endpoint's client, targets/) runs as that NativeModel when inputs is a
        list and there is no preprocess or postprocess: no Python per request.
    inputs: a list of argument tuples served round-robin (a non-tuple item is one
        argument), an iterator/iterable of them (shared by the workers; running out
        ends the run cleanly), or None to call the model with no arguments.
    options: a RunOptions; its fields may also be given as keywords (workers=2,
        duration_s=1.0), which override the options' fields.
    Each iteration is: next input -> preprocess(*args) -> model(*args) ->
    postprocess(output), each stage timed, after `warmup` untimed iterations per
    worker. Stops at duration_s, max_iterations, input exhaustion, the first error,
    stop(), Ctrl-C, or a call running beyond call_timeout_s (status "timeout").
    window_s: width of the throughput windows. record_timestamps: keep the raw
    stage boundaries of every iteration (memory grows with the run; off by
    default). start_at_ns: start timing no earlier than this engine-clock time
    (to line up several processes; 0, the default: at once). gil_slice_us: the
    longest a worker keeps the GIL across consecutive iterations before handing it on.

    Closed loop (the default): each worker issues its next request when its previous
    one completes. Open loop, with request_rate (requests/s; arrival "constant",
    "poisson" or "gamma", drawn from the stream `seed`) or request_intervals_us (the
    gaps between requests in microseconds, replayed in order and looped, the first
    request one interval after the start; perf_analyzer's --request-intervals) or
    request_trace (the same from a file IntervalTrace.write wrote, mapped: every
    process that maps it shares it; share_index and share_count serve only the
    trace's requests share_index, share_index + share_count, ...): requests arrive on
    that schedule from the timing start, `workers` may be in flight, and requests
    that find every worker busy wait in order (the backlog). e2e latency counts from
    when a request was due (no coordinated omission); the wait for a worker is also
    reported as the "schedule_lag" stage, with achieved_rate, backlog_max,
    backlog_end and saturated. duration_s ends the schedule: requests due later are
    not issued, none is started after it, and the run lasts the whole duration even
    when its last request came early. A worker waiting for a request sleeps
    (clock_nanosleep) until its learned wake-up lateness before the due time
    (learn_wakeup; a running estimate per worker), then spins the rest plus
    spin_wait_us. arrival="gamma" draws gaps from a gamma distribution of shape
    `burstiness` with the same mean (vLLM's and AIPerf's bursty arrivals: 1 is
    Poisson, lower is burstier).

    Streamed responses, with stream=True or a StreamOptions (goodput SLOs,
    record_requests): the model's call returns an iterator (a generator or any
    iterable); each worker draws its items one by one, stamping each as next() returns,
    holding the GIL only while Python runs (and at most gil_slice_us between items while
    others wait). An int item is one token, a 1-D list/tuple of ints or integer numpy
    array its length, an empty str/list none (not an item), anything else one, unless
    token_count_fn(item) says. input_tokens: each input's prompt length. The result's
    `tokens` holds TTFT (first item, from when the request was due), ITL (gaps between
    items), TPOT ((last - first item) / (tokens - 1)), token counts and goodput; e2e
    latency ends when the stream does. postprocess does not apply.
    """
    return Runner(
        model,
        inputs,
        options,
        preprocess=preprocess,
        postprocess=postprocess,
        gil_slice_us=gil_slice_us,
        token_count_fn=token_count_fn,
        input_tokens=input_tokens,
        **settings,
    ).run()


def _options(options: RunOptions | None, settings: dict[str, Any]) -> RunOptions:
    """``options`` (or the defaults) with the keyword settings applied."""
    if options is not None and not isinstance(options, RunOptions):
        raise TypeError(f"options must be a RunOptions, got {type(options).__name__}")
    unknown = sorted(set(settings) - set(_engine.RUN_SETTINGS_FIELDS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
    if options is None:
        return RunOptions(**settings)
    return options.replace(**settings) if settings else options


def native_model(
    kind: str,
    *,
    latency_ns: int | None = None,
    distribution: str = "fixed",
    seed: int = 0,
    low_ns: int | None = None,
    high_ns: int | None = None,
    second_latency_ns: int | None = None,
    second_fraction: float = 0.1,
    sigma: float = 0.25,
    first_token_ns: int | None = None,
    token_ns: int | None = None,
    tokens: int | None = None,
) -> NativeModel:
    """A native (C++) model that runs without the GIL: "noop", "spin" or "stream".

    spin busy-waits per call, drawing its latency per worker from a seeded stream:
    fixed (latency_ns), uniform (low_ns..high_ns), bimodal (latency_ns, or
    second_latency_ns with probability second_fraction), lognormal (median
    latency_ns, shape sigma).

    stream answers a streamed run with `tokens` one-token items, the first
    first_token_ns after the call starts and then one every token_ns (due times from
    the call's start, busy-waited); zero delays stream as fast as the engine stamps.
    """
    if kind == "stream":
        stream_values = {"first_token_ns": first_token_ns, "token_ns": token_ns, "tokens": tokens}
        for name, value in stream_values.items():
            if value is None:
                raise ValueError(f"the stream model needs {name}")
            _check_int(name, value, 1 if name == "tokens" else 0)
        return _engine.stream_spin_model(int(first_token_ns), int(token_ns), int(tokens))  # type: ignore[arg-type]
    if kind == "noop":
        given = [n for n, v in (("latency_ns", latency_ns), ("low_ns", low_ns)) if v is not None]
        if given:
            raise ValueError(f"the noop model takes no parameters, got {', '.join(given)}")
        return _engine.noop_model()
    if kind != "spin":
        raise ValueError(f"kind must be 'noop', 'spin' or 'stream', got {kind!r}")
    if distribution not in _SPIN_DISTRIBUTIONS:
        raise ValueError(
            f"distribution must be one of {', '.join(_SPIN_DISTRIBUTIONS)}, got {distribution!r}"
        )
    required = {
        "fixed": ("latency_ns",),
        "uniform": ("low_ns", "high_ns"),
        "bimodal": ("latency_ns", "second_latency_ns"),
        "lognormal": ("latency_ns",),
    }[distribution]
    values = {
        "latency_ns": latency_ns,
        "low_ns": low_ns,
        "high_ns": high_ns,
        "second_latency_ns": second_latency_ns,
    }
    for name in required:
        if values[name] is None:
            raise ValueError(f"the {distribution} spin model needs {name}")
    for name, value in values.items():
        _check_int(name, value, 0, optional=True)
    _check_int("seed", seed, 0)
    return _engine.spin_model(
        distribution,
        int(latency_ns or 0),
        int(low_ns or 0),
        int(high_ns or 0),
        int(second_latency_ns or 0),
        float(second_fraction),
        float(sigma),
        int(seed),
    )
