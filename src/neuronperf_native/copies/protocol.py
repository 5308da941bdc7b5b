"""The conversation between the parent and a model copy: what both sides import.

Messages are JSON (plus raw int64 bytes for timestamps), so the parent never
unpickles anything a model process produced.

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

from neuronperf_native._schedule import CopySchedule, split_schedule
from neuronperf_native.copies.feeds import Feed
from neuronperf_native.copies.validation import ValidationPlan
from neuronperf_native.inputs import SequenceFeed, SequenceOptions


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


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One timed run of a loaded copy (JSON-safe: it crosses the pipe as a dict)."""

    workers: int = 1
    n_copies: int = 1  # copies running together: each serves its share of the inputs
    warmup_iterations: int = 1
    duration_s: float | None = None
    max_iterations: int | None = None
    window_s: float = 1.0
    call_timeout_s: float | None = None
    record_timestamps: bool = False
    validate: bool = True  # run the copy's share of the output checks first
    live_histograms: bool = False  # forward each closed window's histogram
    # Open loop: the schedule of all n_copies together (each copy serves its share).
    request_rate: float | None = None
    arrival: str = "constant"
    seed: int = 0
    request_intervals_us: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def schedule(self, copy_id: int) -> CopySchedule | None:
        """This copy's share of the open-loop schedule (None: closed loop)."""
        if self.request_rate is None and self.request_intervals_us is None:
            return None
        return split_schedule(
            self.request_rate,
            self.arrival,
            self.seed,
            self.request_intervals_us,
            self.n_copies,
            copy_id,
        )

    def longest_gap_s(self) -> float:
        """An upper bound of one copy's gap between two scheduled requests (0 closed)."""
        if self.request_intervals_us is not None:
            return self.n_copies * max(self.request_intervals_us) / 1e6
        return self.n_copies / self.request_rate if self.request_rate else 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**data)


class CopyFailure(Exception):
    """A copy failed before measuring (load, setup, warm-up, validation), died or hung;
    the message names the copy and the cause."""


def send(conn: Any, message: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode())


def receive(conn: Any) -> dict[str, Any]:
    return json.loads(conn.recv_bytes().decode())
