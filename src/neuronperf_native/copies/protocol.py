"""The conversation between the parent and a model copy: what both sides import.

Messages are JSON (plus raw int64 bytes for timestamps), framed as
multiprocessing.Connection frames them and sent and read by the engine (its progress
forwarder writes "progress" natively), so the parent never unpickles anything a model
process produced.

Parent -> copy: {"cmd": "run", "run": RunSpec}, {"cmd": "start", "start_at_ns": N},
{"cmd": "stop"} (end the run early), {"cmd": "abort"} (skip the run), {"cmd": "load",
"spec": CopySpec pickled by the parent} (replace the model), {"cmd": "exit"}.
Copy -> parent: {"event": "loaded"}, {"event": "ready"}, {"event": "progress"},
{"event": "result"}, {"event": "error", "phase": ..., "error": traceback}.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from neuronperf_native import _engine
from neuronperf_native._schedule import CopySchedule, split_schedule
from neuronperf_native.copies.feeds import Feed
from neuronperf_native.copies.validation import ValidationPlan
from neuronperf_native.engine import RunOptions
from neuronperf_native.inputs import SequenceFeed, SequenceOptions
from neuronperf_native.prompts import Prompts


@dataclasses.dataclass
class CopySpec:
    """What one model copy loads and serves, fixed for its lifetime (picklable when its
    callables are, for fresh interpreters)."""

    copy_id: int
    device_id: int
    load_fn: Callable[..., Any]
    model_filename: str
    config: dict[str, Any]  # passed to env_setup_fn and setup_fn
    inputs: list[tuple] = dataclasses.field(default_factory=list)
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    env_setup_fn: Callable[..., Any] | None = None
    setup_fn: Callable[..., Any] | None = None
    preprocess_fn: Callable[..., Any] | None = None
    postprocess_fn: Callable[..., Any] | None = None
    input_transform_fn: Callable[..., Any] | None = None
    dataset: Any = None
    dataset_loader_fn: Callable[..., Any] | None = None
    loop_dataset: bool = False
    feed: Feed | None = None  # input data batches, in place of `inputs`
    validation: ValidationPlan | None = None  # the expected outputs (all copies' checks)
    sequence_feed: SequenceFeed | None = None  # every step of every stream, for sequences
    sequences: SequenceOptions | None = None  # play sequences (with sequence_feed)
    prompts: Prompts | None = None  # generative models: the requests' prompts, in place of inputs
    request_fn: Callable[..., Any] | None = None  # (input_ids, max_new_tokens) -> the arguments
    token_count_fn: Callable[[Any], int] | None = None  # streamed item -> tokens


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One timed run of the loaded copies (JSON-safe: it crosses the pipe as a dict).

    ``options`` is the engine run of the n_copies together: workers and warm-up
    iterations per copy (each copy warms up before the shared start), and in open loop
    the schedule of all copies together, which each copy serves its share of
    (copy_options)."""

    options: RunOptions
    n_copies: int = 1  # copies running together: each serves its share of the inputs
    validate: bool = True  # run the copy's share of the output checks first
    live_histograms: bool = False  # forward each closed window's histogram
    # The latency whose window histograms go to the parent live: "e2e", or a streamed
    # run's token metric (stability judging it).
    window_metric: str = "e2e"
    longest_interval_s: float = 0.0  # replayed intervals: the longest (a copy's silence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "options": self.options.to_dict(),
            "n_copies": self.n_copies,
            "validate": self.validate,
            "live_histograms": self.live_histograms,
            "window_metric": self.window_metric,
            "longest_interval_s": self.longest_interval_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{**data, "options": RunOptions.from_dict(data["options"])})

    def schedule(self, copy_id: int) -> CopySchedule | None:
        """This copy's share of the open-loop schedule (None: closed loop)."""
        o = self.options
        if o.request_rate is None and o.request_intervals_us is None and o.request_trace is None:
            return None
        replayed = o.request_intervals_us is not None or o.request_trace is not None
        return split_schedule(
            o.request_rate, o.arrival, o.seed, replayed, self.n_copies, copy_id, o.burstiness
        )

    def copy_options(self, copy_id: int, start_at_ns: int) -> RunOptions:
        """The timed run of copy ``copy_id`` (warmed up already) from the shared start
        instant: in open loop its share of the schedule, a copy whose first request is
        due later starting later by as much and ending with the others."""
        schedule = self.schedule(copy_id)
        if schedule is None:
            return self.options.replace(warmup=0, start_at_ns=start_at_ns)
        duration_s = self.options.duration_s
        if duration_s is not None:
            duration_s -= schedule.offset_ns / 1e9  # > 0: planning.check_schedule
        return self.options.replace(
            warmup=0,
            duration_s=duration_s,
            start_at_ns=start_at_ns + schedule.offset_ns,
            **schedule.engine_kwargs(),
        )

    def longest_gap_s(self) -> float:
        """An upper bound of one copy's gap between two scheduled requests (0 closed)."""
        o = self.options
        if o.request_intervals_us is not None:
            return self.n_copies * max(o.request_intervals_us) / 1e6
        if o.request_trace is not None:
            return self.n_copies * self.longest_interval_s
        return self.n_copies / o.request_rate if o.request_rate else 0.0


class CopyFailure(Exception):
    """A copy failed before measuring (load, setup, warm-up, validation), died or hung;
    the message names the copy and the cause."""


def send(conn: Any, message: dict[str, Any]) -> None:
    _engine.write_message(conn.fileno(), json.dumps(message).encode())


def receive(conn: Any) -> dict[str, Any]:
    """The next message on conn. The wait happens in the engine, which retakes the GIL
    as a harness thread: workers of this process hand it over at once."""
    return json.loads(_engine.read_message(conn.fileno()).decode())
