"""InputData: the decoded tensors by stream and step, and their batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuronperf_native.inputs.memory import check_fits
from neuronperf_native.inputs.specs import (
    InputDataError,
    TensorSpec,
    _fits_numpy,
    _is_int,
    _readonly,
    _too_large,
)


class InputData:
    """Decoded input (and expected output) tensors, by stream and step.

    A stream is a sequence of steps (one per request); sequence models get one
    stream per sequence. ``batches(n)`` precomputes full batches once.
    """

    def __init__(
        self,
        inputs: Sequence[TensorSpec],
        outputs: Sequence[TensorSpec],
        streams: list[list[dict[str, np.ndarray]]],
        expected: list[list[dict[str, np.ndarray] | None]],
        source: str,
    ) -> None:
        self._inputs = tuple(inputs)
        self._outputs = tuple(outputs)
        self._streams = streams
        self._expected = expected
        self._source = source
        self._batches: dict[int, list[tuple]] = {}

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        """The model inputs, in the order of each batch tuple."""
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The model outputs validation data may refer to."""
        return self._outputs

    @property
    def source(self) -> str:
        """A description of where the data came from."""
        return self._source

    @property
    def num_streams(self) -> int:
        """Number of data streams (1 unless the JSON nests steps in per-stream lists)."""
        return len(self._streams)

    @property
    def total_steps(self) -> int:
        """Steps over all streams."""
        return sum(len(s) for s in self._streams)

    @property
    def has_validation_data(self) -> bool:
        """True when at least one step has an expected output."""
        return any(e for stream in self._expected for e in stream)

    def num_steps(self, stream: int) -> int:
        """Number of steps in ``stream``."""
        self._check_stream(stream)
        return len(self._streams[stream])

    def _check_stream(self, stream: int) -> None:
        if not _is_int(stream) or not 0 <= stream < len(self._streams):
            raise InputDataError(
                f"stream {stream!r} out of range: the data has {len(self._streams)} stream(s)"
            )

    def _check_step(self, stream: int, step: int) -> None:
        self._check_stream(stream)
        n = len(self._streams[stream])
        if not _is_int(step) or not 0 <= step < n:
            raise InputDataError(f"step {step!r} out of range: stream {stream} has {n} step(s)")

    def get(self, stream: int, step: int, name: str) -> np.ndarray | None:
        """Input ``name`` at (stream, step), in the step's shape; None for an absent optional."""
        self._check_step(stream, step)
        if name not in {s.name for s in self._inputs}:
            raise InputDataError(
                f"unknown input '{name}' (inputs: {[s.name for s in self._inputs]})"
            )
        return self._streams[stream][step].get(name)

    def get_output(self, stream: int, step: int, name: str) -> np.ndarray | None:
        """Expected output ``name`` at (stream, step), or None when none was given."""
        self._check_step(stream, step)
        if name not in {s.name for s in self._outputs}:
            raise InputDataError(
                f"unknown output '{name}' (outputs: {[s.name for s in self._outputs]})"
            )
        expected = self._expected[stream][step]
        return None if expected is None else expected.get(name)

    def step_order(self) -> list[tuple[int, int]]:
        """(stream, step) pairs in the order batches consume them."""
        return [(i, k) for i, stream in enumerate(self._streams) for k in range(len(stream))]

    def batches(self, batch_size: int) -> list[tuple]:
        """Full batches: tuples of inputs (in ``inputs`` order), batch dim first.

        Steps are consumed in order (stream by stream) and wrap round-robin so
        that every batch is full; there are ceil(total_steps / batch_size)
        batches, and the runner cycles over the list. Computed once per size.
        An optional input absent from every step of a batch is None.
        """
        cached = self._batches.get(batch_size)
        if cached is not None:
            return cached
        _check_batch_size(batch_size)
        order = self.step_order()
        n_batches = -(-len(order) // batch_size)
        if batch_size > 1:
            self._check_batch_memory(batch_size, n_batches)
        if batch_size <= len(order):
            result = [
                tuple(self._stack(spec, picks) for spec in self._inputs)
                for picks in self.batch_steps(batch_size)
            ]
        else:  # one batch that cycles through every step: no per-row Python objects
            result = [tuple(self._cycle(spec, order, batch_size) for spec in self._inputs)]
        self._batches[batch_size] = result
        return result

    def _check_batch_memory(self, batch_size: int, n_batches: int) -> None:
        """Refuse batches that numpy cannot make or that exceed the memory available."""
        row_bytes = {spec.name: self._row_bytes(spec, batch_size) for spec in self._inputs}
        name = max(row_bytes, key=row_bytes.__getitem__)
        spec = next(s for s in self._inputs if s.name == name)
        check_fits(
            f"{self._source}: {n_batches} batch(es) of batch_size={batch_size} (largest input "
            f"'{name}', {list(spec.shape)} {spec.dtype})",
            n_batches * batch_size * sum(row_bytes.values()),
        )

    def _row_bytes(self, spec: TensorSpec, batch_size: int) -> int:
        """The most one batch row of ``spec`` takes (an object array holds references)."""
        largest = 0
        for stream in self._streams:
            for step in stream:
                array = step.get(spec.name)
                if array is None:
                    continue
                if not _fits_numpy((batch_size, *array.shape), array.itemsize):
                    raise InputDataError(
                        f"{self._source}: input '{spec.name}' at batch_size={batch_size}: "
                        + _too_large((batch_size, *array.shape))
                    )
                largest = max(largest, array.size * 8 if array.dtype.kind == "O" else array.nbytes)
        return largest

    def _cycle(self, spec: TensorSpec, order: list[tuple[int, int]], rows: int):
        """One batch of ``rows`` rows cycling through every step in order."""
        base = self._stack(spec, order)
        if base is None:
            return None
        return _readonly(np.resize(base, (rows, *base.shape[1:])))

    def batch_steps(self, batch_size: int) -> list[list[tuple[int, int]]]:
        """The (stream, step) of each row of each batch of ``batches(batch_size)``."""
        _check_batch_size(batch_size)
        order = self.step_order()
        n_batches = -(-len(order) // batch_size)
        return [
            [order[(b * batch_size + j) % len(order)] for j in range(batch_size)]
            for b in range(n_batches)
        ]

    def _stack(self, spec: TensorSpec, picks: list[tuple[int, int]]) -> np.ndarray | None:
        if len(picks) == 1:  # a view of a read-only array is read-only
            array = self._streams[picks[0][0]][picks[0][1]].get(spec.name)
            return None if array is None else array[np.newaxis]
        arrays = [self._streams[i][k].get(spec.name) for i, k in picks]
        present = [a is not None for a in arrays]
        if not any(present):
            return None
        if not all(present):
            i, k = picks[present.index(False)]
            raise InputDataError(
                f"{self._source}: stream {i}, step {k}, input '{spec.name}': optional input is "
                "absent here but present in other steps of the same batch; cannot batch them"
            )
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            first = arrays[0].shape
            j = next(j for j, a in enumerate(arrays) if a.shape != first)
            (i0, k0), (i1, k1) = picks[0], picks[j]
            raise InputDataError(
                f"{self._source}: input '{spec.name}': stream {i1}, step {k1} has shape "
                f"{list(arrays[j].shape)} but stream {i0}, step {k0} in the same batch has "
                f"{list(first)}; steps of different shapes cannot be batched"
            )
        return _readonly(np.stack(arrays))

    def __repr__(self) -> str:
        return (
            f"InputData(source={self._source!r}, streams={self.num_streams}, "
            f"steps={self.total_steps}, inputs={[s.name for s in self._inputs]})"
        )


def _check_batch_size(batch_size: object) -> None:
    if not _is_int(batch_size) or batch_size < 1:  # type: ignore[operator]
        raise InputDataError(f"batch_size must be an integer >= 1, got {batch_size!r}")
