"""Input data for model copies: the batches of each batch size, built once per benchmark.

benchmark() turns an InputData into one Feed per batch size: the batches every copy
cycles through (each copy starting at its own offset, as perf_analyzer's concurrent
requests do), optionally held once in a POSIX shared-memory segment (copies/shm.py)
that spawned copies map instead of unpickling a private copy, and a ValidationPlan
(copies/validation.py) saying which expected outputs each copy checks, untimed,
before the timed run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory

from neuronperf_native.copies.shm import SharedBatches, share_batches, share_trace
from neuronperf_native.copies.validation import (
    ValidationPlan,
    make_sequence_validation,
    make_validation,
)
from neuronperf_native.engine import IntervalTrace
from neuronperf_native.inputs import (
    InputData,
    InputDataError,
    SequenceFeed,
    SequenceOptions,
    sequence_feed,
)


@dataclass
class Feed:
    """The batches of one batch size as one copy sees them (picklable).

    ``batches`` holds the arrays (or ``shared`` says where they lie); ``names`` turns
    each batch into one dict name -> array for models with named inputs.
    """

    batches: list[tuple] | None = None
    shared: SharedBatches | None = None
    names: tuple[str, ...] | None = None

    @property
    def n_batches(self) -> int:
        """How many batches there are, wherever they lie."""
        return len(self.shared.layout if self.shared is not None else self.batches or ())

    def start(self, copy_id: int, n_copies: int) -> int:
        """The batch this copy starts at: copies spread evenly over the data."""
        return (copy_id * self.n_batches // max(1, n_copies)) % self.n_batches

    def for_copy(self, copy_id: int, n_copies: int) -> list[tuple]:
        """This copy's argument tuples, rotated to its starting batch."""
        batches = self.shared.open() if self.shared is not None else self.batches
        assert batches is not None
        start = self.start(copy_id, n_copies)
        rotated = batches[start:] + batches[:start]
        if self.names is None:
            return rotated
        return [(dict(zip(self.names, batch, strict=True)),) for batch in rotated]


def make_feed(
    data: InputData, batch_size: int, input_names: Sequence[str] | None, by_name: bool
) -> Feed:
    """The Feed of ``data`` at ``batch_size``; tensors in ``input_names`` order."""
    specs = [s.name for s in data.inputs]
    order = list(input_names) if input_names is not None else specs
    if input_names is not None and sorted(order) != sorted(specs):
        raise InputDataError(
            f"input_names {order} must name each input of the data once (inputs: {specs})"
        )
    positions = [specs.index(name) for name in order]
    batches = [tuple(batch[i] for i in positions) for batch in data.batches(batch_size)]
    return Feed(batches=batches, names=tuple(order) if by_name else None)


class FeedCache:
    """Feeds and validation plans per batch size, built on first use, for one
    benchmark() call; owns their shared-memory segments until closed (a context
    manager). With no data, every lookup is None."""

    def __init__(
        self,
        data: InputData | None,
        input_names: Sequence[str] | None = None,
        by_name: bool = False,
        shared_memory: bool = False,
        rtol: float = 1e-5,
        atol: float = 1e-8,
        strict: bool = False,
    ) -> None:
        self.data = data
        self.input_names = input_names
        self.by_name = by_name
        self.shared_memory = shared_memory
        self.tolerances = (rtol, atol, strict)
        self._feeds: dict[int, Feed] = {}
        self._sequence_feeds: dict[int, SequenceFeed] = {}
        self._plans: dict[int, ValidationPlan | None] = {}
        self._sequence_plan: ValidationPlan | None = None
        self._segments: list[SharedMemory] = []
        self._traces: dict[IntervalTrace, str] = {}

    def feed(self, batch_size: int) -> Feed | None:
        """The Feed at ``batch_size``; its batches lie in shared memory when asked."""
        if self.data is None:
            return None
        if batch_size not in self._feeds:
            feed = make_feed(self.data, batch_size, self.input_names, self.by_name)
            if self.shared_memory:
                assert feed.batches is not None
                feed.shared, segment = share_batches(feed.batches)
                self._segments.append(segment)
                feed.batches = None
            self._feeds[batch_size] = feed
        return self._feeds[batch_size]

    def sequence_feed(self, batch_size: int, options: SequenceOptions) -> SequenceFeed:
        """Every step of every stream at ``batch_size``, for sequence playback."""
        assert self.data is not None
        if batch_size not in self._sequence_feeds:
            self._sequence_feeds[batch_size] = sequence_feed(
                self.data, options, batch_size, self.input_names, self.by_name
            )
        return self._sequence_feeds[batch_size]

    def plan(self, batch_size: int) -> ValidationPlan | None:
        """The validation plan at ``batch_size`` (None without expected outputs)."""
        if self.data is None:
            return None
        if batch_size not in self._plans:
            rtol, atol, strict = self.tolerances
            self._plans[batch_size] = make_validation(self.data, batch_size, rtol, atol, strict)
        return self._plans[batch_size]

    def sequence_plan(self) -> ValidationPlan | None:
        """The validation plan of sequence playback (the same at every batch size)."""
        if self.data is None or not self.data.has_validation_data:
            return None
        if self._sequence_plan is None:
            self._sequence_plan = make_sequence_validation(self.data, *self.tolerances)
        return self._sequence_plan

    def trace_file(self, trace: IntervalTrace) -> str:
        """The file the copies map ``trace`` from (written on first use)."""
        if trace not in self._traces:
            self._traces[trace] = share_trace(trace)
        return self._traces[trace]

    def close(self) -> None:
        """Releases and removes the shared-memory segments and trace files."""
        for segment in self._segments:
            segment.close()
            segment.unlink()
        self._segments.clear()
        for path in self._traces.values():
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._traces.clear()

    def __enter__(self) -> FeedCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
