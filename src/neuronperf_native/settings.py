"""User keywords -> one validated, frozen, serializable BenchmarkSettings.

benchmark() validates its keywords once, here, before any work starts (MLPerf
LoadGen's "user settings -> internal settings"): every bad value is rejected with
the parameter named and nothing is silently replaced. The settings object is
public so that programs and the CLI can build, inspect, save (JSON) and reuse it:

    settings = npf.BenchmarkSettings(duration_s=5, n_models=(1,), workers_per_model=(1, 2))
    npf.benchmark(load_fn, "model.pt", inputs, settings=settings)
    text = settings.to_json(); npf.BenchmarkSettings.from_json(text) == settings

Field names carry units (``duration_s``); benchmark() takes NeuronPerf's keyword
names (``duration``, ``stats_interval``), mapped by KEYWORDS.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import json
import math
import numbers
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native import devices
from neuronperf_native._numbers import is_number as _is_number
from neuronperf_native._verbosity import check_verbosity
from neuronperf_native.engine import ARRIVALS, MAX_REQUEST_RATE, MAX_WORKERS, IntervalTrace
from neuronperf_native.inputs.sequences import SequenceOptions
from neuronperf_native.prompts import PromptOptions, Prompts
from neuronperf_native.stats import StoppingRule, parse_stability
from neuronperf_native.streaming import StreamOptions, parse_goodput

__all__ = ["KEYWORDS", "SETTINGS_SCHEMA", "BenchmarkSettings", "display_names", "name_of"]

#: Version of the dict layout of BenchmarkSettings.to_dict().
SETTINGS_SCHEMA = 1
#: benchmark() keyword -> settings field, where the two differ (the field has its unit).
KEYWORDS = {"duration": "duration_s", "stats_interval": "stats_interval_s"}

#: Default seconds per configuration (NeuronPerf's default).
BENCHMARK_SECS = 120
_MAX_DURATION_S = 86_400.0  # one day
_MAX_BATCH_SIZE = 2**31 - 1
_MAX_COPIES = 4096  # model copies of one configuration: each a process or thread
_MAX_COUNT = 2**62  # iterations: the engine counts them in 64 bits
_MIN_WINDOW_S = 0.001
_SHARED_MEMORY = ("none", "system")
_START_METHODS = ("auto", "fork", "spawn")
# Windows with stability on: the stopping rule needs a handful of windows per second.
_STABILITY_WINDOW_S = 0.1
_LOAD_MODES = ("closed", "open", "rate")  # "rate": SPEC 4.3's name of the open loop
_SLO_SEARCHES = ("binary", "linear")
# A Ray cluster address: "auto", "ray://HOST:PORT" (Ray client) or "HOST:PORT" (GCS).
_CLUSTER_RE = re.compile(r"^(?:auto|(?:ray://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5})$")

# The name errors use for a field: its benchmark() keyword while from_keywords() runs.
_display_names: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "npf_settings_display_names", default=None
)


def _name(field: str) -> str:
    return (_display_names.get() or {}).get(field, field)


def name_of(field: str) -> str:
    """How errors name a settings field here: its display name (display_names()), or
    the field itself."""
    return _name(field)


# Checks: each takes the field name and the value, returns the normalized value ---------


def _flag(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{_name(field)} must be a bool, got {value!r}")
    return value


def _int(field: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_name(field)} must be an int, got {value!r}")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{_name(field)} must be {bound}, got {value!r}")
    return number


def _seconds(field: str, value: Any, *, zero_ok: bool = False, maximum: float | None = None):
    """A finite number of seconds > 0 (>= 0 with zero_ok), at most ``maximum``."""
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number of seconds, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        sign = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{_name(field)} must be a finite number of seconds {sign}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{_name(field)} must be at most {maximum:g} s, got {value!r}")
    return value


def _optional(check: Callable[..., Any]) -> Callable[..., Any]:
    def optional(field: str, value: Any) -> Any:
        return None if value is None else check(field, value)

    return optional


def _int_list(field: str, value: Any, minimum: int = 1, maximum: int = _MAX_BATCH_SIZE):
    """One int or a non-empty list of them -> a tuple (None stays None: the default)."""
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{_name(field)} must not be empty")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{_name(field)} must hold int values, got {v!r}")
        number = int(v)
        if number < minimum:
            raise ValueError(f"{_name(field)} must be >= {minimum}, got {v!r}")
        if number > maximum:
            raise ValueError(f"{_name(field)} must be <= {maximum}, got {v!r}")
        out.append(number)
    return tuple(out)


def _positive_ints(field: str, value: Any) -> tuple[int, ...] | None:
    return _int_list(field, value)


def _levels(field: str, value: Any) -> tuple[int, ...] | None:
    return _int_list(field, value, minimum=0)


def _percentiles(field: str, value: Any) -> tuple[float, ...]:
    if value is None:
        return ()
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    out: list[float] = []
    for p in values:
        if not _is_number(p):
            raise TypeError(f"{_name(field)} must hold numbers, got {p!r}")
        if not (math.isfinite(p) and 0 <= p <= 100):
            raise ValueError(f"{_name(field)} must be in [0, 100], got {p!r}")
        if float(p) not in out:
            out.append(float(p))
    return tuple(out)


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def choice(field: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(
                f"{_name(field)} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            )
        return value

    return choice


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{_name(field)} must be a non-empty str, got {value!r}")
    return value


def _names(field: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{_name(field)} must be a list of str, got {value!r}")
    if not all(isinstance(n, str) and n for n in value):
        raise TypeError(f"{_name(field)} must be a list of non-empty str, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{_name(field)} has duplicates: {list(value)}")
    return tuple(value)


def _device_type(field: str, value: Any) -> str:
    try:
        return devices.normalize_device_type(value)
    except ValueError:
        raise ValueError(
            f"{_name(field)} must be one of 'neuron', 'cpu', 'gpu', 'cuda', got {value!r}"
        ) from None


def _verbosity(field: str, value: Any) -> int:
    return check_verbosity(value, _name(field))


def _shared_memory(field: str, value: Any) -> str:
    return _choice(_SHARED_MEMORY)(field, "none" if value is None else value)


def _tolerance(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{_name(field)} must be a finite number >= 0, got {value!r}")
    return float(value)


def _cost(field: str, value: Any) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{_name(field)} must be a finite number >= 0, got {value!r}")
    return float(value)


def _megabytes(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number of MiB, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{_name(field)} must be a finite number of MiB > 0, got {value!r}")
    return float(value)


def _cluster(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{_name(field)} must be a str (a Ray address) or None, got {value!r}")
    if not _CLUSTER_RE.match(value) or (value != "auto" and int(value.rpartition(":")[2]) > 65535):
        raise ValueError(
            f"{_name(field)} must be 'auto', 'ray://HOST:PORT' or 'HOST:PORT', got {value!r}"
        )
    return value


def _nodes(field: str, value: Any) -> int | str | None:
    if value is None or value == "all":
        return value
    if isinstance(value, str):
        raise ValueError(f"{_name(field)} must be an int >= 1 or 'all', got {value!r}")
    return _int(field, value, 1)


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "batch_sizes": _positive_ints,
    "duration_s": lambda f, v: _seconds(f, v, zero_ok=True, maximum=_MAX_DURATION_S),
    "n_models": lambda f, v: _int_list(f, v, maximum=_MAX_COPIES),
    "pipeline_sizes": _positive_ints,
    "performance_levels": _levels,
    "workers_per_model": lambda f, v: _int_list(f, v, maximum=MAX_WORKERS),
    "multiprocess": _flag,
    "multiinterpreter": _flag,
    "return_timers": _flag,
    "stats_interval_s": _seconds,
    "device_type": _device_type,
    "cost_per_hour": _optional(_cost),
    "model_name": _optional(_text),
    "verbosity": _verbosity,
    "warmup_iterations": lambda f, v: _int(f, v, 0, _MAX_COUNT),
    "max_iterations": _optional(lambda f, v: _int(f, v, 1, _MAX_COUNT)),
    "window_s": _optional(lambda f, v: _window(f, v)),
    "call_timeout_s": _optional(lambda f, v: _seconds(f, v, maximum=_MAX_DURATION_S)),
    "load_timeout_s": _optional(_seconds),
    "percentiles": _percentiles,
    "instance_type": _optional(_text),
    "dataset": _flag,
    "loop_dataset": _flag,
    "input_names": _optional(_names),
    "feed_by_name": _flag,
    "rtol": _tolerance,
    "atol": _tolerance,
    "strict_validation": _flag,
    "shared_memory": _shared_memory,
    "reuse_copies": _flag,
    "start_method": _choice(_START_METHODS),
    "max_rss_mb": _optional(_megabytes),
    "allow_oversubscription": _flag,
    "stability": lambda f, v: v,  # checked with duration_s known, in __post_init__
    "ci_confidence": lambda f, v: _fraction(f, v),
    "load_mode": _optional(_choice(_LOAD_MODES)),  # None: resolved in __post_init__
    "request_rate": lambda f, v: _rates(f, v),
    "arrival": _choice(ARRIVALS),
    "seed": lambda f, v: _int(f, v, 0, 2**64 - 1),
    "request_intervals": lambda f, v: _intervals(f, v),
    "latency_slo_ms": _optional(lambda f, v: _milliseconds(f, v)),
    "slo_percentile": lambda f, v: _slo_percentile(f, v),
    "slo_resolution": _optional(lambda f, v: _fraction(f, v)),
    "slo_range": _optional(lambda f, v: _slo_range(f, v)),
    "slo_search": _optional(_choice(_SLO_SEARCHES)),
    # checked together, by SequenceOptions, in __post_init__
    "sequences": lambda f, v: v,
    "sequence_length": lambda f, v: v,
    "sequence_length_variation": lambda f, v: v,
    "sequence_id_range": lambda f, v: v,
    "sequence_kwargs": lambda f, v: v,
    "cluster": _cluster,
    "nodes": _nodes,
    "streaming": _flag,
    "goodput": lambda f, v: _goodput(f, v),
    "min_goodput_fraction": _optional(lambda f, v: _goodput_fraction(f, v)),
    "export_requests": _optional(lambda f, v: _file(f, v)),
    "burstiness": lambda f, v: _burstiness(f, v),
    "max_concurrency": _optional(lambda f, v: _int(f, v, 1, MAX_WORKERS)),
    # checked together, by PromptOptions, in __post_init__
    "synthetic_input_tokens_mean": lambda f, v: v,
    "synthetic_input_tokens_stddev": lambda f, v: v,
    "output_tokens_mean": lambda f, v: v,
    "output_tokens_stddev": lambda f, v: v,
    "num_prompts": lambda f, v: v,
    "vocab_size": lambda f, v: v,
    "prompt_seed": lambda f, v: v,
    "input_file": lambda f, v: v,
    "tokenizer": lambda f, v: v,
}


# Generative models ---------------------------------------------------------------------


def _goodput(field: str, value: Any) -> tuple[tuple[str, float], ...] | None:
    """SLOs (see streaming.parse_goodput) as sorted (key, ms) pairs, so the settings
    stay hashable and serializable."""
    parsed = parse_goodput(value, _name(field))
    return None if parsed is None else tuple(sorted(parsed.items()))


def _goodput_fraction(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"{_name(field)} must be in (0, 1], got {value!r}")
    return float(value)


def _file(field: str, value: Any) -> str:
    """A file the benchmark writes: its folder must exist (checked before any work)."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise TypeError(f"{_name(field)} must be a file path, got {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or os.path.isdir(path):
        raise ValueError(f"{_name(field)} must be a file path, got {value!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{_name(field)} {path}: folder {folder} does not exist")
    return path


def _burstiness(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.01 <= value <= 100):
        raise ValueError(f"{_name(field)} must be a finite number in [0.01, 100], got {value!r}")
    return float(value)


# The fields PromptOptions checks together, named as PromptOptions names them.
_PROMPT_FIELDS = (
    "synthetic_input_tokens_mean",
    "synthetic_input_tokens_stddev",
    "output_tokens_mean",
    "output_tokens_stddev",
    "num_prompts",
    "vocab_size",
    "prompt_seed",
    "input_file",
    "tokenizer",
)
_PROMPT_FIELD_RE = re.compile(r"\b(" + "|".join(_PROMPT_FIELDS) + r")\b")


@contextlib.contextmanager
def _prompt_names() -> Iterator[None]:
    """PromptOptions' errors (raised inside the block) naming the fields as _name() does."""
    try:
        yield
    except (TypeError, ValueError) as error:
        message = _PROMPT_FIELD_RE.sub(lambda m: _name(m.group(1)), str(error))
        if message == str(error):
            raise
        raise type(error)(message) from None


def _check_streaming(s: BenchmarkSettings) -> None:
    """The generative-model fields: what needs streaming, goodput, or an open loop."""
    if not s.streaming:
        for name in ("goodput", "export_requests"):
            if getattr(s, name) is not None:
                raise ValueError(
                    f"{_name(name)} measures streamed responses: it needs {_name('streaming')}=True"
                )
    if s.stability is not None and s.stability.metric != "e2e" and not s.streaming:
        raise ValueError(
            f"{_name('stability')} on {s.stability.metric!r} is a token metric: it needs "
            f"{_name('streaming')}=True"
        )
    if s.min_goodput_fraction is not None:
        if s.goodput is None:
            raise ValueError(
                f"{_name('min_goodput_fraction')} searches the load that keeps goodput: it "
                f"needs {_name('goodput')} (the SLOs)"
            )
        if s.latency_slo_ms is not None:
            raise ValueError(
                f"give {_name('latency_slo_ms')} or {_name('min_goodput_fraction')} (the "
                "search's target), not both"
            )
    if s.burstiness != 1 and s.arrival != "gamma":
        raise ValueError(
            f"{_name('burstiness')} shapes gamma arrivals: it needs {_name('arrival')}='gamma', "
            f"got {s.arrival!r}"
        )
    if s.max_concurrency is not None:
        if s.load_mode != "open":
            raise ValueError(
                f"{_name('max_concurrency')} caps the requests in flight of an open loop: in "
                f"closed loop {_name('workers_per_model')} is the concurrency"
            )
        if s.workers_per_model is not None and s.workers_per_model != (s.max_concurrency,):
            raise ValueError(
                f"{_name('max_concurrency')} is each copy's workers in open loop: give it or "
                f"{_name('workers_per_model')}, not both"
            )


def _fraction(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 < value < 1):
        raise ValueError(f"{_name(field)} must be in (0, 1), got {value!r}")
    return float(value)


def _stability(value: Any, duration_s: float) -> StoppingRule | None:
    """stability=: True, a target relative half-width, a dict or a StoppingRule; its
    max_s defaults to the duration."""
    try:
        return parse_stability(value, max_s=duration_s or None)
    except (TypeError, ValueError) as error:
        text = str(error)
        raise type(error)(text if text.startswith("stability") else f"stability: {text}") from None


def _window(field: str, value: Any) -> float:
    seconds = _seconds(field, value, maximum=_MAX_DURATION_S)
    if seconds < _MIN_WINDOW_S:
        raise ValueError(f"{_name(field)} must be at least {_MIN_WINDOW_S:g} s, got {value!r}")
    return seconds


# Load modes ------------------------------------------------------------------------


def _rate(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number of requests per second, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_REQUEST_RATE):
        raise ValueError(
            f"{_name(field)} must be a finite number of requests per second in "
            f"(0, {MAX_REQUEST_RATE:g}], got {value!r}"
        )
    return float(value)


def _rates(field: str, value: Any) -> tuple[float, ...] | None:
    """One rate or a non-empty list of them (a configuration axis) -> a tuple."""
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{_name(field)} must not be empty")
    return tuple(_rate(field, v) for v in values)


def _intervals(field: str, value: Any) -> IntervalTrace | None:
    """A file of intervals (perf_analyzer's --request-intervals: one per line, in
    microseconds), a list of them or an IntervalTrace -> an IntervalTrace, read natively
    and validated here (bounded: MAX_TRACE_INTERVALS, lines of MAX_TRACE_LINE_BYTES)."""
    if value is None or isinstance(value, IntervalTrace):
        return value
    if isinstance(value, (str, os.PathLike)):
        try:
            return IntervalTrace.read(value)
        except ValueError as error:
            raise ValueError(f"{_name(field)}: {error}") from None
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{_name(field)} must be a file or a list of microseconds, got {value!r}")
    values = value if isinstance(value, (Sequence, np.ndarray)) else list(value)
    return IntervalTrace.of(values, _name(field))


def _milliseconds(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number of milliseconds, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{_name(field)} must be a finite number of ms > 0, got {value!r}")
    return float(value)


def _slo_percentile(field: str, value: Any) -> float:
    if not _is_number(value):
        raise TypeError(f"{_name(field)} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= 100):
        raise ValueError(f"{_name(field)} must be in (0, 100], got {value!r}")
    return float(value)


def _slo_range(field: str, value: Any) -> tuple[float, ...]:
    """(low, high) or (low, high, step): the bounds of the SLO search and, with a step,
    its absolute resolution (perf_analyzer's --binary-search precision)."""
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        raise TypeError(f"{_name(field)} must be (low, high) or (low, high, step), got {value!r}")
    for v in value:
        if not _is_number(v):
            raise TypeError(f"{_name(field)} must hold numbers, got {v!r}")
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{_name(field)} values must be finite and > 0, got {v!r}")
    if value[0] >= value[1]:
        raise ValueError(f"{_name(field)} low must be < high, got {list(value)}")
    return tuple(float(v) for v in value)


@dataclasses.dataclass(frozen=True)
class BenchmarkSettings:
    """Everything that shapes a benchmark besides the model, its inputs and callables.

    Immutable and validated on construction (TypeError / ValueError naming the field).
    ``None`` for a list field means NeuronPerf's default: batch sizes from the model
    index (else 1), n_models [1, MAX], workers_per_model [1, 2] ([1, p-1] for
    pipeline size p), every pipeline size and performance level of the index.
    """

    # NeuronPerf's benchmark() parameters.
    batch_sizes: tuple[int, ...] | None = None
    duration_s: float = float(BENCHMARK_SECS)
    n_models: tuple[int, ...] | None = None
    pipeline_sizes: tuple[int, ...] | None = None
    performance_levels: tuple[int, ...] | None = None
    workers_per_model: tuple[int, ...] | None = None
    multiprocess: bool = True
    multiinterpreter: bool = False
    return_timers: bool = False
    stats_interval_s: float = 0.5
    device_type: str = "neuron"
    cost_per_hour: float | None = None
    model_name: str | None = None
    verbosity: int = 1
    # Extensions.
    warmup_iterations: int = 1  # untimed iterations per worker (bounded by duration_s)
    max_iterations: int | None = None  # per model copy
    # Throughput window; None (resolved on construction): 1 s, or 0.1 s with stability.
    window_s: float = None  # type: ignore[assignment]
    call_timeout_s: float | None = None  # a model call running longer: status "timeout"
    load_timeout_s: float | None = 600.0  # load + warm-up of a copy; None: no limit
    percentiles: tuple[float, ...] = ()  # extra latency percentiles to report
    instance_type: str | None = None  # default: from the machine's DMI product name
    dataset: bool = False  # inputs is a dataset each copy iterates its share of
    loop_dataset: bool = False
    input_names: tuple[str, ...] | None = None
    feed_by_name: bool = False
    rtol: float = 1e-5
    atol: float = 1e-8
    strict_validation: bool = False
    shared_memory: str = "none"  # "system": inputs in POSIX shared memory
    reuse_copies: bool = True  # loaded copies serve every workers setting of a model config
    start_method: str = "auto"  # model processes: "fork", "spawn" or "auto"
    max_rss_mb: float | None = None  # a copy whose resident memory exceeds this is stopped
    allow_oversubscription: bool = False  # more copies than NeuronCores/GPUs; no CPU warning
    stability: StoppingRule | None = None  # stop each configuration once its numbers are known
    ci_confidence: float = 0.95  # of the intervals in the reports
    # Load modes: closed loop (NeuronPerf's) or open loop at a request rate.
    load_mode: str = None  # type: ignore[assignment]  # None: "open" given a rate, else "closed"
    request_rate: tuple[float, ...] | None = None  # requests/s of a configuration; list: an axis
    arrival: str = "constant"  # or "poisson" (open loop)
    seed: int = 0  # of the Poisson arrivals (copy i draws from seed + i)
    request_intervals: IntervalTrace | None = None  # us between requests (a file, or a list)
    # Latency-SLO search: the highest rate (open) or concurrency (closed) meeting it.
    latency_slo_ms: float | None = None
    slo_percentile: float = 99.0
    slo_resolution: float | None = None  # fraction of the rate; None: 2%, or slo_range's step
    slo_range: tuple[float, ...] | None = None  # (low, high) or (low, high, step)
    # "linear": the request_rate / workers_per_model list in order (the default for a
    # list), "binary": bisect slo_range, or bracket from one value (None: resolved)
    slo_search: str | None = None
    # Sequence models (perf_analyzer's options; see inputs.SequenceOptions).
    sequences: bool = False  # play each stream of the input data as a sequence
    sequence_length: int | None = None  # steps per sequence, looping the stream
    sequence_length_variation: float = 20.0  # percent
    sequence_id_range: tuple[int, int | None] = (1, None)
    sequence_kwargs: bool = True  # pass sequence_id/start/end as keywords
    cluster: str | None = None  # a Ray cluster to run on: "auto", "ray://HOST:PORT", "HOST:PORT"
    nodes: int | str | None = None  # scale-out: each configuration on this many nodes ("all")
    # Generative models: streamed responses and their token metrics (streaming.py).
    streaming: bool = False  # the model's call returns an iterator of tokens
    goodput: tuple[tuple[str, float], ...] | None = None  # SLOs in ms ({"ttft_ms": 200, ...})
    min_goodput_fraction: float | None = None  # search: the most load keeping goodput_fraction
    export_requests: str | None = None  # a JSON-lines file: one line per timed request
    burstiness: float = 1.0  # arrival="gamma": the gamma shape (1: Poisson; < 1: burstier)
    max_concurrency: int | None = None  # open loop: requests in flight per copy (its workers)
    # Prompts (prompts.PromptOptions): synthetic, or from input_file.
    synthetic_input_tokens_mean: int | None = None
    synthetic_input_tokens_stddev: float = 0.0
    output_tokens_mean: int | None = None
    output_tokens_stddev: float = 0.0
    num_prompts: int = 100
    vocab_size: int = 32_000
    prompt_seed: int = 0
    input_file: str | None = None  # ShareGPT JSON, or JSON lines of prompt/input_ids
    tokenizer: str | None = None  # a local tokenizer folder, for text prompts

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = _CHECKS[field.name](field.name, getattr(self, field.name))
            object.__setattr__(self, field.name, value)
        if self.duration_s == 0 and not self.dataset:
            raise ValueError(
                f"{_name('duration_s')} must be a positive number of seconds (0 only with a "
                "dataset: run it once through), got 0"
            )
        options = self.sequence_options()
        for name in ("sequence_length", "sequence_length_variation", "sequence_id_range"):
            object.__setattr__(self, name, getattr(options, name))
        if options.active and self.shared_memory == "system":
            raise ValueError(
                "shared_memory='system' maps batches; with sequences each copy gets the "
                "steps of its streams instead: leave shared_memory unset"
            )
        rule = _stability(self.stability, self.duration_s)
        if rule is not None and rule.max_s is not None and rule.max_s > _MAX_DURATION_S:
            raise ValueError(
                f"{_name('stability')} max_s must be at most {_MAX_DURATION_S:g} s (one day), "
                f"got {rule.max_s:g}"
            )
        object.__setattr__(self, "stability", rule)
        if self.window_s is None:
            object.__setattr__(self, "window_s", 1.0 if rule is None else _STABILITY_WINDOW_S)
        object.__setattr__(self, "load_mode", _load_mode(self))
        _check_slo(self)
        _check_streaming(self)
        self.prompt_options()  # validates the prompt fields together
        if self.cluster is not None and self.searches_slo:
            target = "latency_slo_ms" if self.latency_slo_ms is not None else "min_goodput_fraction"
            raise ValueError(
                f"{_name(target)} searches with probes on this host: it does not "
                f"run on {_name('cluster')} (run the search on one node of the cluster)"
            )
        if self.nodes is not None and self.cluster is None:
            raise ValueError(
                f"{_name('nodes')}={self.nodes!r} runs configurations on several nodes of a "
                f"Ray cluster: pass {_name('cluster')} too"
            )

    # Construction from benchmark()'s keywords ---------------------------------------

    @classmethod
    def from_keywords(cls, **keywords: Any) -> BenchmarkSettings:
        """Settings from benchmark() keywords (``duration``, ``stats_interval``, ...);
        errors name the keyword as the caller wrote it (or as display_names() says)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        unknown = []
        for keyword, value in keywords.items():
            field = KEYWORDS.get(keyword, keyword)
            if field not in fields or keyword in KEYWORDS.values():
                unknown.append(keyword)
            else:
                values[field] = value
        if unknown:
            raise TypeError(f"benchmark() got unexpected keyword arguments: {sorted(unknown)}")
        with _naming({**{v: k for k, v in KEYWORDS.items()}, **(_display_names.get() or {})}):
            return cls(**values)

    def to_keywords(self) -> dict[str, Any]:
        """benchmark() keywords for the fields that differ from the defaults:
        ``BenchmarkSettings.from_keywords(**s.to_keywords()) == s``."""
        default = _defaults()
        names = {v: k for k, v in KEYWORDS.items()}
        return {
            names.get(f.name, f.name): getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def replace(self, **changes: Any) -> BenchmarkSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # Serialization --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (tuples as lists) with the schema version."""
        out: dict[str, Any] = {"schema": SETTINGS_SCHEMA}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, StoppingRule):
                value = value.to_dict()
            if isinstance(value, IntervalTrace):  # its file (read again), or the list
                value = value.source or value.intervals_us().tolist()
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkSettings:
        """Settings from to_dict() output; unknown keys and other schemas are rejected."""
        if not isinstance(data, Mapping):
            raise TypeError(f"settings must be a dict, got {type(data).__name__}")
        if data.get("schema") != SETTINGS_SCHEMA:
            raise ValueError(
                f"unsupported settings schema {data.get('schema')!r} (expected {SETTINGS_SCHEMA})"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields - {"schema"})
        if unknown:
            raise ValueError(f"settings: unknown keys {unknown}")
        return cls(**{k: v for k, v in data.items() if k != "schema"})

    @classmethod
    def from_json(cls, text: str) -> BenchmarkSettings:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"settings: not JSON: {error}") from None
        return cls.from_dict(data)

    # Derived values ---------------------------------------------------------------------

    def sequence_options(self, sequence_fn: Any = None) -> SequenceOptions:
        """The sequence options (validated: errors name the option), with the hook."""
        return SequenceOptions(
            sequences=self.sequences,
            sequence_length=self.sequence_length,
            sequence_length_variation=self.sequence_length_variation,
            sequence_id_range=self.sequence_id_range,
            sequence_kwargs=self.sequence_kwargs,
            sequence_fn=sequence_fn,
        )

    def stream_options(self) -> StreamOptions | None:
        """The engine's stream options (None without streaming)."""
        if not self.streaming:
            return None
        return StreamOptions(
            goodput=dict(self.goodput) if self.goodput else None,
            record_requests=self.export_requests is not None,
        )

    def prompt_options(self) -> PromptOptions:
        """The prompt options (validated: errors name the option)."""
        with _prompt_names():
            return PromptOptions(**{name: getattr(self, name) for name in _PROMPT_FIELDS})

    def build_prompts(self) -> Prompts | None:
        """The prompts the requests cycle through (None without prompt options): the
        file read, the tokenizer loaded, the synthetic ones drawn; errors name the option."""
        options = self.prompt_options()
        if not options.active:
            return None
        with _prompt_names():
            return options.build()

    @property
    def searches_slo(self) -> bool:
        """Whether configurations are an SLO search (latency, or goodput fraction)."""
        return self.latency_slo_ms is not None or self.min_goodput_fraction is not None

    @property
    def copy_mode(self) -> str:
        """Where copies run: "process" (fork or spawn, see start_method), "interpreter"
        (a fresh interpreter each, NeuronPerf's multiinterpreter) or "thread"."""
        if self.multiinterpreter:
            return "interpreter"
        return "process" if self.multiprocess else "thread"


def _load_mode(s: BenchmarkSettings) -> str:
    """The load mode, checked against the open-loop fields (None: "open" when a rate or
    intervals are given)."""
    scheduled = "request_rate" if s.request_rate is not None else None
    if s.request_intervals is not None:
        if scheduled:
            raise ValueError(
                f"give {_name('request_rate')} or {_name('request_intervals')}, not both "
                "(request_intervals replay their own gaps)"
            )
        scheduled = "request_intervals"
    mode = {"rate": "open"}.get(s.load_mode, s.load_mode) or ("open" if scheduled else "closed")
    if mode == "closed" and scheduled:
        raise ValueError(
            f"{_name(scheduled)} schedules an open loop: it needs {_name('load_mode')}='open' "
            "(got 'closed')"
        )
    if mode == "open" and not scheduled and not s.searches_slo:
        raise ValueError(
            f"{_name('load_mode')}='open' needs {_name('request_rate')} or "
            f"{_name('request_intervals')} (or {_name('latency_slo_ms')}, to search the rate)"
        )
    drawn = s.arrival in ("poisson", "gamma")
    if drawn and mode == "closed":
        raise ValueError(
            f"{_name('arrival')}={s.arrival!r} draws open-loop arrivals: it needs a rate"
        )
    if drawn and scheduled == "request_intervals":
        raise ValueError(
            f"{_name('arrival')}={s.arrival!r} does not apply to {_name('request_intervals')} "
            "(they replay their own gaps)"
        )
    if s.seed != 0 and not drawn:
        raise ValueError(
            f"{_name('seed')} draws Poisson or gamma arrivals: it needs {_name('arrival')}="
            f"'poisson' or 'gamma', got seed={s.seed} with arrival={s.arrival!r}"
        )
    return mode


def _check_slo(s: BenchmarkSettings) -> None:
    """The SLO-search fields: they need a search target (latency_slo_ms, or
    min_goodput_fraction), and the search has one axis."""
    if not s.searches_slo:
        given = [
            f
            for f, unset in (
                ("slo_resolution", s.slo_resolution is None),
                ("slo_range", s.slo_range is None),
                ("slo_search", s.slo_search is None),
                ("slo_percentile", s.slo_percentile == 99.0),
            )
            if not unset
        ]
        if given:
            raise ValueError(
                f"{_name(given[0])} needs {_name('latency_slo_ms')} (the SLO to search)"
            )
        return
    target = "latency_slo_ms" if s.latency_slo_ms is not None else "min_goodput_fraction"
    if s.request_intervals is not None:
        raise ValueError(
            f"{_name(target)} searches a request rate: {_name('request_intervals')} "
            "replay fixed gaps"
        )
    if s.n_models is not None and len(s.n_models) > 1:
        raise ValueError(
            f"{_name(target)} searches with one {_name('n_models')} value, got {list(s.n_models)}"
        )
    axis = "request_rate" if s.load_mode == "open" else "workers_per_model"
    other = "workers_per_model" if s.load_mode == "open" else None
    if other and getattr(s, other) is not None and len(getattr(s, other)) > 1:
        raise ValueError(
            f"{_name(target)} in open loop searches the rate with one "
            f"{_name(other)} value, got {list(getattr(s, other))}"
        )
    values = getattr(s, axis)
    if s.slo_search is None:  # a list is walked in order (perf_analyzer's linear search)
        several = values is not None and len(values) > 1 and s.slo_range is None
        object.__setattr__(s, "slo_search", "linear" if several else "binary")
    if s.slo_search == "linear":
        if values is None or s.slo_range is not None:
            raise ValueError(
                f"{_name('slo_search')}='linear' steps through the {_name(axis)} values in "
                f"order (give them as a list; {_name('slo_range')} is for 'binary')"
            )
        return
    _check_binary(s, axis, values, target)


def _check_binary(
    s: BenchmarkSettings, axis: str, values: tuple[Any, ...] | None, target: str
) -> None:
    if values is not None and len(values) > 1:
        raise ValueError(
            f"{_name(target)} with {_name('slo_search')}='binary' starts from one "
            f"{_name(axis)} value, got {list(values)} (bound the search with "
            f"{_name('slo_range')}=(low, high), or step through them with slo_search='linear')"
        )
    if s.slo_range is None:
        return
    if values is not None:
        raise ValueError(
            f"give {_name(axis)} (the first probe) or {_name('slo_range')} (the bounds; the "
            "first probe is low), not both"
        )
    if len(s.slo_range) == 3 and s.slo_resolution is not None:
        raise ValueError(
            f"give {_name('slo_resolution')} (a fraction of the rate) or a step in "
            f"{_name('slo_range')} (absolute), not both"
        )
    if axis == "workers_per_model" and not all(float(v).is_integer() for v in s.slo_range):
        raise ValueError(
            f"{_name('slo_range')} of a closed-loop search bounds the workers: whole numbers, "
            f"got {list(s.slo_range)}"
        )


@functools.cache
def _defaults() -> BenchmarkSettings:
    return BenchmarkSettings()


def display_names(names: Mapping[str, str]) -> contextlib.AbstractContextManager[None]:
    """While active, errors of settings made in this context name each field by
    ``names[field]``: a front end's own option (the command line's --request-rate for
    request_rate) instead of benchmark()'s keyword."""
    return _naming(names)


@contextlib.contextmanager
def _naming(names: Mapping[str, str]) -> Iterator[None]:
    token = _display_names.set(names)
    try:
        yield
    finally:
        _display_names.reset(token)
