"""Sequence playback for stateful models, with perf_analyzer's semantics.

A sequence model (an RNN with per-sequence state, a decoder holding a cache per
sequence) must see each sequence's steps in order, on one correlation id. As in
perf_analyzer, each sequence gets a data stream of its own (streams assigned to
sequences round-robin); ``sequence_length=N`` loops the stream's steps to N steps,
varied per sequence within +-``sequence_length_variation`` percent (seeded);
without it a sequence is its stream, whole.

The engine serves inputs from one iterator shared by its worker threads (under a
lock) and calls the model on the worker that took the input. A SequencePlayer
builds sequence mode on that, without engine changes: its iterator gives the
calling worker thread the next step of *that worker's* current sequence (a worker
plays whole sequences, one at a time, never interleaved), and its model wrapper
passes the step's flags on. Per copy:

    player = SequencePlayer(feed, options, copy_id=c, n_copies=n, workers=w, warmup=1)
    result = engine.run(player.wrap(model), player.inputs(), workers=w, warmup=1, ...)
    stats = player.stats()          # sequences completed, sequence-latency histogram

The sequence latency runs from taking the first step's inputs to the model's return
on the last step; sequences begun during the warm-up are played but not counted.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronperf_native._engine import Histogram, NativeModel, now_ns
from neuronperf_native.inputs.data import InputData
from neuronperf_native.inputs.specs import InputDataError, _is_int

__all__ = [
    "SequenceFeed",
    "SequenceOptions",
    "SequencePlayer",
    "SequenceSchedule",
    "SequenceStats",
    "sequence_feed",
]

_MAX_ID = 2**64 - 1  # correlation ids are unsigned 64-bit, as in Triton
STATS_SCHEMA = 1


_DEFAULT_VARIATION = 20.0  # perf_analyzer's --sequence-length-variation, percent


@dataclass(frozen=True)
class SequenceOptions:
    """perf_analyzer's sequence options, validated (each error names its option).

    ``sequences``: play whole sequences (also on whenever ``sequence_length`` is set).
    ``sequence_length``: steps per sequence (looping its stream), else the stream's.
    ``sequence_length_variation``: percent, 0-100, each sequence's length varies
    uniformly within +-that (only with ``sequence_length``; perf_analyzer's default 20).
    ``sequence_id_range``: (start, end), ids from start up to end excluded, reused
    round-robin; end None: no bound (perf_analyzer's --sequence-id-range, start 1).
    ``sequence_kwargs``: the model gets ``sequence_id``, ``sequence_start`` and
    ``sequence_end`` keywords; False: ``sequence_fn(sequence_id, start, end)`` (if
    given) is called before each step instead.
    """

    sequences: bool = False
    sequence_length: int | None = None
    sequence_length_variation: float = _DEFAULT_VARIATION
    sequence_id_range: tuple[int, int | None] = (1, None)
    sequence_kwargs: bool = True
    sequence_fn: Callable[[int, bool, bool], Any] | None = None

    def __post_init__(self) -> None:
        for name in ("sequences", "sequence_kwargs"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        length = self.sequence_length
        if length is not None:
            if not _is_int(length):
                raise TypeError(f"sequence_length must be an int or None, got {length!r}")
            if length < 1:
                raise ValueError(f"sequence_length must be >= 1, got {length}")
            object.__setattr__(self, "sequence_length", int(length))
        variation = self.sequence_length_variation
        if isinstance(variation, bool) or not isinstance(variation, (int, float, np.number)):
            raise TypeError(f"sequence_length_variation must be a number, got {variation!r}")
        if not (math.isfinite(variation) and 0 <= variation <= 100):
            raise ValueError(
                f"sequence_length_variation must be a percentage in [0, 100], got {variation}"
            )
        object.__setattr__(self, "sequence_length_variation", float(variation))
        object.__setattr__(self, "sequence_id_range", _check_id_range(self.sequence_id_range))
        if self.sequence_fn is not None and not callable(self.sequence_fn):
            raise TypeError(f"sequence_fn must be callable or None, got {self.sequence_fn!r}")
        if self.sequence_fn is not None and self.sequence_kwargs:
            raise ValueError(
                "sequence_fn is called instead of passing keywords: give it with "
                "sequence_kwargs=False"
            )
        if not self.active:  # options that shape sequences would be ignored: refuse them
            for name, default in (
                ("sequence_length_variation", _DEFAULT_VARIATION),
                ("sequence_id_range", (1, None)),
            ):
                if getattr(self, name) != default:
                    raise ValueError(
                        f"{name} shapes sequences, which play with sequences=True (or "
                        "sequence_length): give one of them, or leave it out"
                    )

    @property
    def active(self) -> bool:
        """Whether the run plays sequences."""
        return self.sequences or self.sequence_length is not None

    def check_data(self, data: InputData) -> None:
        """Reject data that cannot make sequences (before any work starts)."""
        one_step = all(data.num_steps(s) == 1 for s in range(data.num_streams))
        if self.active and self.sequence_length is None and one_step:
            raise ValueError(
                f"sequences=True: every stream of {data.source} has one step, so each "
                "sequence would be one request; give sequence_length=N (loops the "
                "data) or data with several steps per stream"
            )

    def check_concurrency(
        self, workers: int, n_copies: int, name: str = "sequence_id_range"
    ) -> None:
        """With an id range, every live sequence (one per worker) needs its own id; an
        error names the range as `name`."""
        start, end = self.sequence_id_range
        if end is not None and (end - start) // n_copies < workers:
            raise ValueError(
                f"{name} {start}:{end} holds {end - start} id(s), fewer than "
                f"the {workers * n_copies} sequences live at once ({n_copies} model cop"
                f"{'y' if n_copies == 1 else 'ies'} x {workers} worker(s)): ids would collide"
            )


def _check_id_range(value: Any) -> tuple[int, int | None]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"sequence_id_range must be a (start, end) pair, got {value!r}")
    start, end = value
    if not _is_int(start) or not (end is None or _is_int(end)):
        raise TypeError(f"sequence_id_range must hold integers (end may be None), got {value!r}")
    if not 0 <= start <= _MAX_ID or (end is not None and not 0 <= end <= _MAX_ID + 1):
        raise ValueError(f"sequence_id_range {tuple(value)} must lie within [0, 2**64]")
    if end is not None and end <= start:
        raise ValueError(
            f"sequence_id_range ({start}, {end}) is empty or inverted: end (excluded) must "
            "be greater than start"
        )
    return int(start), None if end is None else int(end)


# Feeds ---------------------------------------------------------------------------------


@dataclass
class SequenceFeed:
    """The model argument tuples of every step of every stream (picklable).

    ``steps`` holds them stream after stream; ``lengths`` says how many each stream
    has. A step's tensors have a batch dim of ``batch_size`` (the step's row repeated).
    """

    steps: list[tuple]
    lengths: list[int]
    batch_size: int = 1

    def streams(self) -> list[list[tuple]]:
        """The steps split per stream."""
        out, at = [], 0
        for n in self.lengths:
            out.append(self.steps[at : at + n])
            at += n
        return out


def sequence_feed(
    data: InputData,
    options: SequenceOptions,
    batch_size: int = 1,
    input_names: Sequence[str] | None = None,
    by_name: bool = False,
) -> SequenceFeed:
    """The SequenceFeed of ``data``: tensors in ``input_names`` order (one dict per
    step when ``by_name``), batch dim first. Checks the data can make sequences."""
    options.check_data(data)
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    specs = [s.name for s in data.inputs]
    order = list(input_names) if input_names is not None else specs
    if sorted(order) != sorted(specs):
        raise InputDataError(
            f"input_names {order} must name each input of the data once (inputs: {specs})"
        )
    steps, lengths = [], []
    for stream in range(data.num_streams):
        lengths.append(data.num_steps(stream))
        for step in range(data.num_steps(stream)):
            tensors = tuple(_batched(data.get(stream, step, name), batch_size) for name in order)
            steps.append((dict(zip(order, tensors, strict=True)),) if by_name else tensors)
    return SequenceFeed(steps, lengths, int(batch_size))


def _batched(array: np.ndarray | None, batch_size: int) -> np.ndarray | None:
    """One step as a batch: a view for batch 1, else the row repeated (read-only)."""
    if array is None:
        return None
    if batch_size == 1:
        return array[np.newaxis]
    batch = np.repeat(array[np.newaxis], batch_size, axis=0)
    batch.flags.writeable = False
    return batch


# Schedule ------------------------------------------------------------------------------


class SequenceSchedule:
    """Which id, stream and length each of one copy's sequences gets (deterministic).

    The copy's k-th sequence is the run's sequence g = k * n_copies + copy_id: its
    stream is g modulo the number of streams (round-robin over the run), its length
    the stream's, or sequence_length varied by the copy's k-th seeded draw, as
    perf_analyzer does: N + trunc(u * variation / 100 * N), u uniform in [-1, 1), at
    least 1. Ids come in their own order: the copy's j-th id is start + j * n_copies
    + copy_id, without an end unique in the run; with one, copy c cycles through
    start + c, start + c + n_copies, ... below end, so copies never share an id, and
    the player skips an id still held by a live sequence (perf_analyzer reuses ids
    the same way). Not thread-safe: the player calls it under the engine's input lock.
    """

    _DRAWS = 1024  # lengths drawn at a time

    def __init__(
        self,
        options: SequenceOptions,
        stream_lengths: Sequence[int],
        copy_id: int = 0,
        n_copies: int = 1,
        seed: int = 0,
    ) -> None:
        if not _is_int(n_copies) or n_copies < 1:
            raise ValueError(f"n_copies must be an integer >= 1, got {n_copies!r}")
        if not _is_int(copy_id) or not 0 <= copy_id < n_copies:
            raise ValueError(f"copy_id must be an integer in [0, {n_copies}), got {copy_id!r}")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self._options = options
        self._stream_lengths = list(stream_lengths)
        self._copy_id = int(copy_id)
        self._n_copies = int(n_copies)
        self._rng = np.random.default_rng([int(seed), self._copy_id])
        self._lengths: list[int] = []

    def sequence(self, k: int) -> tuple[int, int]:
        """(stream, length) of this copy's k-th sequence (k from 0)."""
        stream = (k * self._n_copies + self._copy_id) % len(self._stream_lengths)
        return stream, self._length(k, stream)

    def sequence_id(self, j: int) -> int:
        """This copy's j-th sequence id (j from 0)."""
        start, end = self._options.sequence_id_range
        if end is None:
            return start + j * self._n_copies + self._copy_id
        per_copy = (end - start - self._copy_id + self._n_copies - 1) // self._n_copies
        return start + self._copy_id + self._n_copies * (j % per_copy)

    def _length(self, k: int, stream: int) -> int:
        base = self._options.sequence_length
        if base is None:
            return self._stream_lengths[stream]
        while len(self._lengths) <= k:
            u = self._rng.uniform(-1.0, 1.0, self._DRAWS)
            ratio = self._options.sequence_length_variation / 100.0
            offsets = np.trunc(u * ratio * base).astype(np.int64)
            self._lengths.extend(np.maximum(1, base + offsets).tolist())
        return self._lengths[k]


# Playback ------------------------------------------------------------------------------


class _Worker:
    """One worker thread's current sequence (touched only on that thread, and by the
    iterator under the engine's input lock)."""

    __slots__ = (
        "first",
        "histogram",
        "last",
        "left",
        "played",
        "sequence_id",
        "started_ns",
        "steps",
        "timed",
    )

    def __init__(self) -> None:
        self.first = False  # the step just taken is its sequence's first
        self.last = False  # ... or its last
        self.left = 0  # steps of the sequence not taken yet
        self.played = 0  # steps taken by this worker before its current sequence
        self.sequence_id = -1
        self.started_ns = 0
        self.steps: Iterator[tuple] = iter(())
        self.timed = False  # begun after the warm-up
        self.histogram = Histogram()


class SequencePlayer:
    """Sequence playback for one model copy: a shared input iterator and a model
    wrapper for engine.run. Thread-safety: the iterator runs under the engine's input
    lock (one caller at a time); each worker thread's state is its own."""

    def __init__(
        self,
        feed: SequenceFeed,
        options: SequenceOptions,
        *,
        copy_id: int = 0,
        n_copies: int = 1,
        workers: int = 1,
        warmup: int = 1,
        seed: int = 0,
    ) -> None:
        if not isinstance(options, SequenceOptions):
            raise TypeError(f"options must be a SequenceOptions, got {type(options).__name__}")
        if not _is_int(workers) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if not _is_int(warmup) or warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
        options.check_concurrency(int(workers), int(n_copies))
        self._streams = feed.streams()
        self._arity = len(feed.steps[0]) if feed.steps else 0
        self._options = options
        self._schedule = SequenceSchedule(options, feed.lengths, copy_id, n_copies, seed)
        self._warmup = int(warmup)
        self._next = 0  # this copy's next sequence
        self._next_id = 0  # and its next id
        self._local = threading.local()
        self._workers: list[_Worker] = []

    def inputs(self) -> Iterator[tuple]:
        """The input iterator, shared by the workers (never exhausted)."""
        return self._steps()

    def resume(self, previous: SequencePlayer) -> None:
        """Goes on from where ``previous`` (an earlier run of this copy, e.g. its
        warm-up) stopped: the next sequences and ids, so that no id of the run repeats.
        Call it before the run starts."""
        self._next = previous._next
        self._next_id = previous._next_id

    def _steps(self) -> Iterator[tuple]:
        local = self._local
        while True:
            try:
                worker = local.worker
            except AttributeError:
                worker = local.worker = _Worker()
                self._workers.append(worker)
            left = worker.left
            if left:
                worker.first = False
            else:
                left = self._begin(worker)
            left -= 1
            worker.left = left
            worker.last = not left
            yield next(worker.steps)

    def _begin(self, worker: _Worker) -> int:
        """Starts the worker's next sequence (under the engine's input lock); returns
        its length."""
        stream, length = self._schedule.sequence(self._next)
        self._next += 1
        worker.sequence_id = self._take_id(worker)
        worker.steps = itertools.cycle(self._streams[stream])  # the stream, looped
        worker.timed = worker.played >= self._warmup  # every earlier step was taken
        worker.played += length
        worker.left = length
        worker.first = True
        worker.started_ns = now_ns()
        return length

    def _take_id(self, worker: _Worker | None = None) -> int:
        """The copy's next sequence id for ``worker``."""
        sequence_id = self._schedule.sequence_id(self._next_id)
        self._next_id += 1
        if self._options.sequence_id_range[1] is not None:
            # Ids wrap: skip one another worker's sequence may still hold (its last
            # step running); this ends, as the copy's share of ids outnumbers workers.
            live = {w.sequence_id for w in self._workers if w is not worker}
            while sequence_id in live:
                sequence_id = self._schedule.sequence_id(self._next_id)
                self._next_id += 1
        return sequence_id

    def play_stream(
        self,
        model: Callable[..., Any],
        stream: int,
        preprocess_fn: Callable[..., Any] | None = None,
    ) -> list[Any]:
        """Plays stream ``stream`` whole, in order, on the calling thread as one
        sequence with the player's next id, through the timed run's wrapper (the same
        flags), untimed and not counted (the output checks of a stateful model);
        returns the model's output of each step. Not on a thread that plays steps."""
        from neuronperf_native.engine import _as_args

        step = self.wrap(model)
        worker = _Worker()  # not timed: its sequence is not counted
        worker.sequence_id = self._take_id()
        self._local.worker = worker
        try:
            steps = self._streams[stream]
            outputs = []
            for k, args in enumerate(steps):
                if preprocess_fn is not None:
                    args = _as_args(preprocess_fn(*args))
                worker.first, worker.last = k == 0, k == len(steps) - 1
                outputs.append(step(*args))
            return outputs
        finally:
            del self._local.worker

    def wrap(self, model: Callable[..., Any]) -> Callable[..., Any]:
        """The model as engine.run calls it: each step's tensors plus its flags (as
        keywords, or through sequence_fn), recording each sequence's latency."""
        from neuronperf_native.engine import WithThreadContext, _fast_callable

        if isinstance(model, WithThreadContext):
            return WithThreadContext(self.wrap(model.model), model.context)
        if isinstance(model, NativeModel) or not callable(model):
            raise TypeError(
                "sequence playback calls a Python model with each step's flags; got "
                f"{type(model).__name__}"
            )
        call = _fast_callable(model)
        if self._options.sequence_kwargs:
            return self._with_keywords(call)
        return self._with_hook(call, self._options.sequence_fn)

    def _with_keywords(self, call: Callable[..., Any]) -> Callable[..., Any]:
        local = self._local

        def step(*args: Any) -> Any:
            worker = local.worker
            out = call(
                *args,
                sequence_id=worker.sequence_id,
                sequence_start=worker.first,
                sequence_end=worker.last,
            )
            if worker.last and worker.timed:
                worker.histogram.record(now_ns() - worker.started_ns)
            return out

        def step1(x: Any) -> Any:  # one tensor: no *args call (it builds a kwargs dict)
            worker = local.worker
            out = call(
                x,
                sequence_id=worker.sequence_id,
                sequence_start=worker.first,
                sequence_end=worker.last,
            )
            if worker.last and worker.timed:
                worker.histogram.record(now_ns() - worker.started_ns)
            return out

        return step1 if self._arity == 1 else step

    def _with_hook(
        self, call: Callable[..., Any], hook: Callable[[int, bool, bool], Any] | None
    ) -> Callable[..., Any]:
        local = self._local

        def step(*args: Any) -> Any:
            worker = local.worker
            if hook is not None:
                hook(worker.sequence_id, worker.first, worker.last)
            out = call(*args)
            if worker.last and worker.timed:
                worker.histogram.record(now_ns() - worker.started_ns)
            return out

        return step

    def stats(self) -> SequenceStats:
        """The completed (timed) sequences of every worker so far, merged."""
        stats = SequenceStats()
        for worker in list(self._workers):
            stats.latency.merge(worker.histogram)
        return stats


# Results -------------------------------------------------------------------------------


@dataclass
class SequenceStats:
    """Completed sequences and their latency (ns) histogram: per copy, then merged.

    ``to_dict`` is JSON-safe (the histogram encoded) for a copy to send its parent;
    ``summary`` is what a report shows.
    """

    latency: Histogram = field(default_factory=Histogram)

    @property
    def completed(self) -> int:
        """Sequences completed after the warm-up."""
        return int(self.latency.count)

    def merge(self, other: SequenceStats) -> None:
        self.latency.merge(other.latency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": STATS_SCHEMA,
            "completed": self.completed,
            "latency_histogram": self.latency.encode(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequenceStats:
        if not isinstance(data, Mapping) or data.get("schema") != STATS_SCHEMA:
            raise ValueError(f"not a sequence stats dict of schema {STATS_SCHEMA}: {data!r}")
        stats = cls(Histogram.decode(data["latency_histogram"]))
        if stats.completed != data["completed"]:
            raise ValueError("sequence stats dict: the count disagrees with its histogram")
        return stats

    def summary(self, percentiles: Sequence[float] = (50.0, 90.0, 99.0)) -> dict[str, Any]:
        """Sequences completed and sequence-latency statistics in milliseconds."""
        out: dict[str, Any] = {"sequences_completed": self.completed}
        if self.completed:
            out["sequence_latency_ms_mean"] = self.latency.mean / 1e6
            for p in percentiles:
                out[f"sequence_latency_ms_p{p:g}"] = self.latency.value_at_percentile(p) / 1e6
        return out
