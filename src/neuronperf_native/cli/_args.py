"""Argument types of the command line: numbers, durations, ranges, tensor declarations.

Each raises argparse.ArgumentTypeError (or UsageError) with what was expected, so
that a bad value is one `error:` line naming the option.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from neuronperf_native.cli._common import UsageError

#: The longest --duration accepted (one day), in seconds.
MAX_DURATION_S = 86_400.0
#: The most levels a --request-rate-range or --concurrency-range expands to (END 0,
#: perf_analyzer's "no limit", steps up to this many).
MAX_RANGE_LEVELS = 1000
# Dimensions longer than this cannot be a size; the bytes of one array are capped by
# numpy's index type.
_MAX_DIM_DIGITS = 19
_MAX_ARRAY_BYTES = 2**63 - 1


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _duration(text: str) -> float:
    value = _number(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(
            f"must be > 0 and at most {MAX_DURATION_S:g} s (one day), got {text}"
        )
    return value


def _positive_float(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _int_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(1, text)


def _non_negative_int(text: str) -> int:
    return _int_at_least(0, text)


def _nodes(text: str) -> int | str:
    return "all" if text == "all" else _positive_int(text)


def _non_negative_float(text: str) -> float:
    value = _number(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _open_percentage(text: str) -> float:
    """A percentage strictly between 0 and 100."""
    value = _number(text)
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"must be a percentage in (0, 100), got {text}")
    return value


def _percentile(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be in [0, 100], got {text}")
    return value


class Span(NamedTuple):
    """perf_analyzer's START:END:STEP as given; end None: START only; end 0: no limit."""

    start: float
    end: float | None
    step: float
    text: str

    @property
    def unlimited(self) -> bool:
        return self.end == 0


def _range_arg(integer: bool) -> Any:
    """perf_analyzer's START[:END[:STEP]] -> a Span. END 0 is perf_analyzer's "no
    limit" (it needs --latency-threshold, checked with the other options)."""

    def parse(text: str) -> Span:
        parts = text.split(":")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise argparse.ArgumentTypeError(f"must be START:END:STEP, got {text!r}")
        number = _positive_int if integer else _positive_float
        try:
            start = number(parts[0])
            end = None
            if len(parts) > 1:
                end = 0 if _is_zero(parts[1]) else number(parts[1])
            step = number(parts[2]) if len(parts) == 3 else 1
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
        if end is not None and end != 0 and end < start:
            raise argparse.ArgumentTypeError(f"END must be >= START (or 0: no limit), got {text!r}")
        return Span(start, end, step, text)

    return parse


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def _range_values(span: Span, option: str, limit: float) -> list[float]:
    """START, START+STEP, ... up to END (just START without an END; with END 0, up to
    `limit`), at most MAX_RANGE_LEVELS of them, counted before any is made."""
    start, end, step = span.start, span.end, span.step
    if end is None:
        return [start]
    for name, value in (("START", start), ("END", end)):
        if value > limit:
            raise UsageError(f"{option} {span.text}: {name} is beyond the most allowed, {limit:g}")
    top = limit if end == 0 else end
    count = math.floor((top - start) / step * (1 + 1e-12)) + 1
    if end == 0:
        count = min(count, MAX_RANGE_LEVELS)
    elif count > MAX_RANGE_LEVELS:
        raise UsageError(
            f"{option} {span.text} expands to {count:,} levels, more than {MAX_RANGE_LEVELS:,}: "
            "widen STEP or narrow the range (or use --binary-search)"
        )
    return [float(f"{start + k * step:.12g}") for k in range(count)]


def _id_range(text: str) -> tuple[int, int | None]:
    """perf_analyzer's START:END (END excluded; "START" or "START:" has no end)."""
    start_text, _, end_text = text.partition(":")
    try:
        start = int(start_text)
        end = int(end_text) if end_text.strip() else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END with integers (END optional), got {text!r}"
        ) from None
    return start, end


def parse_input_arg(arg: str, option: str = "--input") -> Any:
    """Parse `--input NAME:DTYPE:d1,d2` (or --output) into a TensorSpec (NAME may
    contain ':').

    DTYPE is a Triton name (FP32, INT64, BYTES, ...) or a numpy dtype; dims exclude
    the batch dimension, -1 marks a variable one; no dims means a scalar per sample.
    """
    from neuronperf_native.inputs import InputDataError, TensorSpec

    parts = arg.rsplit(":", 2)
    if len(parts) != 3 or not parts[0].strip() or not parts[1].strip():
        raise InputDataError(
            f"{option} {arg!r}: expected NAME:DTYPE:d1,d2 (e.g. IMAGE:FP32:3,224,224)"
        )
    name, dtype, dims_text = (p.strip() for p in parts)
    dims = []
    for part in dims_text.split(",") if dims_text else []:
        text = part.strip()
        if not (text.isdigit() or text == "-1"):
            raise InputDataError(
                f"{option} {arg!r}: dimension {part!r} of '{name}' is not an integer >= -1"
            )
        if len(text) > _MAX_DIM_DIGITS:
            raise InputDataError(f"{option} {arg!r}: dimension {text} of '{name}' is too large")
        dims.append(int(text))
    try:
        spec = TensorSpec(name, dtype, tuple(dims))
    except InputDataError as error:  # said of the option the user wrote
        reason = str(error).removeprefix(f"TensorSpec '{name}': ")
        raise InputDataError(f"{option} {name}: {reason}") from None
    _check_sample_size(option, spec, spec.shape)
    return spec


def _check_sample_size(option: str, spec: Any, dims: Sequence[int]) -> None:
    """Refuses a per-sample shape whose bytes no array can hold (numpy would say only
    "array is too big"), naming the tensor. Variable (-1) dims are not counted."""
    itemsize = spec.numpy_dtype.itemsize
    elements = math.prod(d for d in dims if d > 0)
    if elements * itemsize > _MAX_ARRAY_BYTES:
        raise UsageError(
            f"{option} {spec.name}: shape {list(dims)} of {spec.dtype} holds {elements} "
            f"elements ({elements * itemsize} bytes a sample), more than any array can hold"
        )


def _threshold_percent(text: str) -> float:
    """--threshold PCT: a percentage ("5" or "5%") -> a fraction (0.05)."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a percentage, got {text!r}") from None
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a percentage >= 0, got {text!r}")
    return value / 100.0


def _confidence(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value
