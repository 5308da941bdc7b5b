"""Input data for model copies: batches per batch size, shared memory, output validation.

benchmark() turns an InputData into one Feed per batch size: the batches every copy
cycles through (each copy starting at its own offset, as perf_analyzer's concurrent
requests do), optionally held once in a POSIX shared-memory segment that spawned
copies map instead of unpickling a private copy, and a ValidationPlan saying which
expected outputs each copy checks, untimed, before the timed run.

A segment's name says which process created it (pid namespace, pid, start time), so
that a segment whose creator died without removing it (SIGKILL of the whole process
group takes the resource tracker along) can be proven stale: the next share_batches
sweeps such segments, and a copy that finds its parent gone removes the one it maps.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from neuronperf_native.engine import IntervalTrace, _as_args
from neuronperf_native.inputs import (
    InputData,
    InputDataError,
    SequenceFeed,
    SequenceOptions,
    TensorSpec,
    ValidationTally,
    load_input_data,
    sequence_feed,
)

_SHM_DIR = "/dev/shm"
_ALIGN_BYTES = 64
# npf_<pid namespace inode>_<creator pid>_<creator start time, clock ticks>_<random>
_SEGMENT_NAME = re.compile(r"npf_(\d+)_(\d+)_(\d+)_[0-9a-f]+")

log = logging.getLogger("neuronperf_native")


def as_numpy(value: Any) -> np.ndarray:
    """A model output as numpy: torch (detach, to CPU), TensorFlow, MXNet or array-like."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "asnumpy"):
        return value.asnumpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return value.numpy()
    return np.asarray(value)


# Resolving the inputs argument ------------------------------------------------------


def _example_specs(inputs: Any, names: Sequence[str] | None) -> list[TensorSpec]:
    """TensorSpecs from example inputs (one array, a tuple or a dict, or a list of them
    per batch size): dtype and shape without the leading batch dim of the first one."""
    example = inputs[0] if isinstance(inputs, list) and inputs else inputs
    if isinstance(example, Mapping):
        keys = list(example)
        values = list(example.values())
    else:
        values = list(_as_args(example))
        keys = list(names) if names is not None else [f"INPUT{i}" for i in range(len(values))]
    if names is not None and len(names) != len(values):
        raise ValueError(
            f"input_names has {len(names)} names but the example inputs hold {len(values)} tensors"
        )
    specs = []
    for key, value in zip(keys, values, strict=True):
        array = as_numpy(value)
        if array.ndim == 0:
            raise ValueError(
                f"input {key!r}: the example input is a scalar; input_data needs example "
                "inputs with a leading batch dimension"
            )
        dtype = "BYTES" if array.dtype.kind in "OSU" else array.dtype
        specs.append(TensorSpec(str(key), dtype, tuple(array.shape[1:])))
    return specs


def resolve_input_data(
    inputs: Any, input_data: Any, input_names: Sequence[str] | None
) -> InputData | None:
    """The InputData a benchmark feeds, or None for plain inputs.

    ``inputs`` may itself be an InputData. ``input_data`` is an InputData or a source
    for load_input_data ("random", "zero", a directory, JSON file(s)); a source's
    tensors are described by the example ``inputs`` (dtypes and per-sample shapes),
    named by ``input_names`` (or the example dict's keys, or INPUT0, INPUT1, ...).
    """
    if input_names is not None:
        if isinstance(input_names, str) or not all(isinstance(n, str) for n in input_names):
            raise TypeError(f"input_names must be a list of str, got {input_names!r}")
        input_names = list(input_names)
        if len(set(input_names)) != len(input_names):
            raise ValueError(f"input_names has duplicates: {input_names}")
    if isinstance(inputs, InputData):
        if input_data is not None:
            raise ValueError("give input data either as inputs or as input_data=, not both")
        return inputs
    if input_data is None:
        return None
    if isinstance(input_data, InputData):
        return input_data
    if isinstance(input_data, (str, os.PathLike, list, tuple)):
        if inputs is None or (isinstance(inputs, list) and not inputs):
            raise ValueError(
                "input_data given as a source needs example inputs (one batch) to describe "
                "the tensors' dtypes and shapes"
            )
        specs = _example_specs(inputs, input_names)
        return load_input_data(input_data, specs)
    raise TypeError(
        "input_data must be an InputData or a source ('random', 'zero', a directory, JSON "
        f"file paths), got {type(input_data).__name__}"
    )


# Shared memory ----------------------------------------------------------------------


@dataclass
class SharedBatches:
    """Where the batches' arrays lie in a shared-memory segment (picklable, small).

    Each batch entry is ("shm", dtype, shape, offset), ("inline", array) for object
    arrays (BYTES), or None for an absent optional input.
    """

    segment: str
    layout: list[tuple]

    @property
    def path(self) -> str:
        """The segment's file (under /dev/shm)."""
        return os.path.join(_SHM_DIR, self.segment.lstrip("/"))

    def open(self) -> list[tuple]:
        """Maps the segment read-only (pages pre-faulted) and returns the batches as
        views into it; the views keep the mapping alive."""
        with open(self.path, "rb") as f:
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            mapping = mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
        batches = []
        for entries in self.layout:
            tensors = []
            for entry in entries:
                if entry is None:
                    tensors.append(None)
                elif entry[0] == "inline":
                    tensors.append(entry[1])
                else:
                    _, dtype, shape, offset = entry
                    count = int(np.prod(shape, dtype=np.int64))
                    view = np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)
                    tensors.append(view.reshape(shape))
            batches.append(tuple(tensors))
        return batches


def share_batches(batches: list[tuple]) -> tuple[SharedBatches, shared_memory.SharedMemory]:
    """Copies the batches' numeric arrays into one new shared-memory segment.

    The caller owns the returned segment: close() and unlink() it when the copies are
    done (the multiprocessing resource tracker unlinks it if this process dies first;
    if the tracker dies too, the next call sweeps it). Stale segments of dead creators
    are swept first.
    """
    if not os.path.isdir(_SHM_DIR):
        raise RuntimeError(
            f"shared_memory='system' needs POSIX shared memory at {_SHM_DIR}, which this "
            "system lacks"
        )
    layout: list[tuple] = []
    placed: list[tuple[int, np.ndarray]] = []
    size = 0
    for batch in batches:
        entries: list[Any] = []
        for tensor in batch:
            if tensor is None:
                entries.append(None)
            elif tensor.dtype.kind == "O":
                entries.append(("inline", tensor))
            else:
                size = -(-size // _ALIGN_BYTES) * _ALIGN_BYTES
                entries.append(("shm", tensor.dtype.str, tuple(tensor.shape), size))
                placed.append((size, tensor))
                size += tensor.nbytes
        layout.append(tuple(entries))
    sweep_stale_segments()
    segment = shared_memory.SharedMemory(name=_new_segment_name(), create=True, size=max(size, 1))
    target = np.ndarray((segment.size,), dtype=np.uint8, buffer=segment.buf)
    for offset, tensor in placed:
        target[offset : offset + tensor.nbytes] = (
            np.ascontiguousarray(tensor).reshape(-1).view(np.uint8)
        )
    del target  # release the exported buffer so the segment can be closed
    return SharedBatches(segment.name, layout), segment


def share_trace(trace: IntervalTrace) -> str:
    """Writes a trace of replayed intervals once for the copies to map and returns its
    path: in /dev/shm, named as a segment so that a dead benchmark's is swept, or in
    the temp directory when /dev/shm is missing or too small (a container's 64 MiB).
    The caller removes it."""
    sweep_stale_segments()
    name = _new_segment_name()
    if os.path.isdir(_SHM_DIR):
        path = os.path.join(_SHM_DIR, name)
        try:
            trace.write(path)
            return path
        except ValueError:  # no room: the temp directory's file is cached in memory too
            with contextlib.suppress(OSError):
                os.unlink(path)
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        trace.write(path)
    except ValueError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def _new_segment_name() -> str:
    pid = os.getpid()
    return f"npf_{_pid_namespace()}_{pid}_{_start_ticks(pid)}_{secrets.token_hex(4)}"


def _pid_namespace() -> int:
    """The inode of this process's pid namespace: pids mean something only within it."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), None when there is no
    such process; tells a pid's process from a later one that reuses the pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    # Fields after the parenthesised command name; starttime is field 22 of the line.
    return int(stat.rpartition(")")[2].split()[19])


def _creator_gone(segment: str) -> bool:
    """Whether ``segment`` is one of ours whose creating process provably no longer
    runs: same pid namespace as this process, and no process with that pid and start
    time. Segments of other namespaces or names are never judged gone."""
    match = _SEGMENT_NAME.fullmatch(segment.lstrip("/"))
    if match is None or int(match.group(1)) != _pid_namespace():
        return False
    pid, started = int(match.group(2)), int(match.group(3))
    return _start_ticks(pid) != started


def _unlink_segment(segment: str) -> bool:
    """Removes a segment by name; False when it was already gone."""
    try:
        os.unlink(os.path.join(_SHM_DIR, segment.lstrip("/")))
    except FileNotFoundError:
        return False
    return True


def sweep_stale_segments() -> list[str]:
    """Removes the shared-memory segments whose creator died without removing them
    (see _creator_gone) and returns their names."""
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return []
    removed = []
    for name in names:
        with contextlib.suppress(OSError):
            if _creator_gone(name) and _unlink_segment(name):
                removed.append(name)
    if removed:
        log.info("Removed %d shared-memory segment(s) left by dead benchmarks", len(removed))
    return removed


def unlink_if_orphaned(segment: str) -> bool:
    """In a model copy: removes the segment it maps when the process that created it
    (the benchmark, this copy's parent) is gone; True when it removed it. Safe to
    call at any time: while the creator runs it does nothing. The mapping itself
    stays valid until this process unmaps it or exits."""
    return _creator_gone(segment) and _unlink_segment(segment)


# Feeds --------------------------------------------------------------------------------


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


# Validation ---------------------------------------------------------------------------


@dataclass
class ValidationPlan:
    """Expected outputs by batch: ``checks`` holds (batch index, rows) where each row is
    (row in the batch, stream, step, {output name: expected array}); every validated
    step appears once. Batch indices refer to the unrotated batch list."""

    outputs: tuple[str, ...]
    datatypes: dict[str, str]
    rtol: float
    atol: float
    strict: bool
    checks: list[tuple[int, list[tuple[int, int, int, dict[str, np.ndarray]]]]] = field(
        default_factory=list
    )

    def for_copy(self, copy_id: int, n_copies: int) -> ValidationPlan:
        """The share of the checks that one copy runs (every n-th validated batch)."""
        share = self.checks[copy_id::n_copies]
        return ValidationPlan(
            self.outputs, self.datatypes, self.rtol, self.atol, self.strict, share
        )

    def check(
        self,
        model: Callable[..., Any],
        batch_at: Callable[[int], tuple],
        preprocess_fn: Callable[..., Any] | None,
    ) -> ValidationTally:
        """Runs the model once on each planned batch and compares its outputs."""
        tally = ValidationTally(rtol=self.rtol, atol=self.atol)
        for index, rows in self.checks:
            args = batch_at(index)
            if preprocess_fn is not None:
                args = _as_args(preprocess_fn(*args))
            self._compare(tally, model(*args), rows)
        return tally

    def check_sequences(self, play: Callable[[int], list[Any]]) -> ValidationTally:
        """For a plan of make_sequence_validation: plays each planned stream whole
        (``play(stream)``: the model's output of each of its steps) and compares them."""
        tally = ValidationTally(rtol=self.rtol, atol=self.atol)
        for stream, rows in self.checks:
            outputs = play(stream)
            for check in rows:  # (row, stream, step, expected)
                self._compare(tally, outputs[check[2]], [check])
        return tally

    def _compare(self, tally: ValidationTally, output: Any, rows: list[tuple]) -> None:
        outputs = self._by_name(output)
        for row, stream, step, expected in rows:
            got = {name: _row(value, row) for name, value in outputs.items()}
            tally.check_step(stream, step, expected, got, self.datatypes)

    def _by_name(self, output: Any) -> dict[str, np.ndarray]:
        """Model outputs by output name: a dict by its keys, a tuple/list by position in
        the data's output order, a single tensor as the first output."""
        if isinstance(output, Mapping):
            return {str(k): as_numpy(v) for k, v in output.items()}
        if isinstance(output, (tuple, list)):
            return {n: as_numpy(v) for n, v in zip(self.outputs, output, strict=False)}
        return {self.outputs[0]: as_numpy(output)} if self.outputs else {}


def _row(value: np.ndarray, row: int) -> np.ndarray:
    """Row ``row`` of a batched output; an unbatched output is compared whole (and
    mismatches when its size differs from the expected one)."""
    return value[row] if value.ndim >= 1 and row < value.shape[0] else value


def make_validation(
    data: InputData, batch_size: int, rtol: float, atol: float, strict: bool
) -> ValidationPlan | None:
    """The validation plan at ``batch_size``, or None when the data has no expected
    outputs. A step repeated to fill the last batch is checked only once."""
    if not data.has_validation_data:
        return None
    plan = _empty_plan(data, rtol, atol, strict)
    seen: set[tuple[int, int]] = set()
    for index, picks in enumerate(data.batch_steps(batch_size)):
        rows = []
        for row, (stream, step) in enumerate(picks):
            if (stream, step) in seen:
                continue
            seen.add((stream, step))
            if expected := _expected(data, stream, step):
                rows.append((row, stream, step, expected))
        if rows:
            plan.checks.append((index, rows))
    return plan


def make_sequence_validation(
    data: InputData, rtol: float, atol: float, strict: bool
) -> ValidationPlan | None:
    """The validation plan of sequence playback, or None without expected outputs: a
    stateful model's output at a step depends on the steps before it, so each stream
    with expected outputs is played whole, in order, as one sequence. ``checks`` holds
    (stream, rows); row 0 of each step's batch is compared (a step's batch repeats it)."""
    if not data.has_validation_data:
        return None
    plan = _empty_plan(data, rtol, atol, strict)
    for stream in range(data.num_streams):
        rows = [
            (0, stream, step, expected)
            for step in range(data.num_steps(stream))
            if (expected := _expected(data, stream, step))
        ]
        if rows:
            plan.checks.append((stream, rows))
    return plan


def _empty_plan(data: InputData, rtol: float, atol: float, strict: bool) -> ValidationPlan:
    return ValidationPlan(
        outputs=tuple(s.name for s in data.outputs),
        datatypes={s.name: s.dtype for s in data.outputs},
        rtol=rtol,
        atol=atol,
        strict=strict,
    )


def _expected(data: InputData, stream: int, step: int) -> dict[str, np.ndarray]:
    """The expected outputs of one step, by output name (those the data gives)."""
    return {
        s.name: value
        for s in data.outputs
        if (value := data.get_output(stream, step, s.name)) is not None
    }


def mismatch_location(first: dict[str, Any]) -> str:
    """Where a first mismatch (ValidationTally.first_mismatch) lies and what differed."""
    return (
        f"stream {first['stream']}, step {first['step']}, output '{first['tensor']}', "
        f"index {first['index']}: expected {first['expected']!r}, got {first['got']!r}"
    )


def describe_mismatch(tally: ValidationTally) -> str:
    """One line naming the first mismatch of a tally that has one."""
    assert tally.first_mismatch is not None
    return (
        f"output validation failed: {tally.mismatches} of {tally.steps_checked} step(s) "
        f"mismatched; first at {mismatch_location(tally.first_mismatch)}"
    )


def merge_validation(tallies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The copies' validation dicts as one (first mismatch of the lowest copy), or None."""
    if not tallies:
        return None
    total = ValidationTally()
    for part in tallies:
        total.merge(
            ValidationTally(
                steps_checked=part["steps_checked"],
                mismatches=part["mismatches"],
                first_mismatch=part["first_mismatch"],
            )
        )
    return total.to_dict()


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
        self._segments: list[shared_memory.SharedMemory] = []
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
