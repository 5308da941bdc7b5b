"""Output validation in model copies: which expected outputs each copy checks, untimed,
before its timed run, and how the copies' tallies add up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronperf_native.engine import _as_args
from neuronperf_native.inputs import InputData, ValidationTally
from neuronperf_native.inputs.arguments import as_numpy


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
