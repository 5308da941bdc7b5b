"""NeuronPerf-compatible ``Timer`` and ``timestamp_convert``.

Timestamps are int64 nanoseconds from ``time.monotonic_ns()`` (CLOCK_MONOTONIC),
the clock the C++ engine uses, so Python timers and engine timestamps from any
process on the host can be compared directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["TIME_UNITS", "Timer", "timestamp_convert"]

# Nanoseconds per unit.
_NS_PER_UNIT = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
TIME_UNITS = tuple(_NS_PER_UNIT)

_now_ns = time.monotonic_ns


def _ns_per(unit: Any, name: str = "unit") -> int:
    """Nanoseconds in one ``unit``; ValueError naming the argument and value otherwise."""
    if not isinstance(unit, str) or unit not in _NS_PER_UNIT:
        raise ValueError(f"{name} must be one of {', '.join(TIME_UNITS)}; got {unit!r}")
    return _NS_PER_UNIT[unit]


def timestamp_convert(values: Any, from_unit: str, to_unit: str) -> Any:
    """Convert times (a number or array-like) from ``from_unit`` to ``to_unit``.

    Conversions to a finer unit multiply by an exact integer factor (integers
    stay integers); conversions to a coarser unit divide once, so the result
    is the correctly rounded float. Same-unit conversion returns the values
    as an array without copying.
    """
    src = _ns_per(from_unit, "from_unit")
    dst = _ns_per(to_unit, "to_unit")
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"values must be numeric, got dtype {arr.dtype} from {type(values).__name__}"
        )
    if src == dst:
        result = arr
    elif src > dst:
        result = arr * (src // dst)
    else:
        result = arr / (dst // src)
    return result[()] if result.ndim == 0 else result


def _check_timestamps(timestamps: Any) -> np.ndarray:
    """Validate an (n, 2) int64 array of (start_ns, end_ns) pairs without copying it."""
    if not isinstance(timestamps, np.ndarray):
        raise TypeError(
            f"timestamps must be a numpy.ndarray of shape (n, 2), got {type(timestamps).__name__}"
        )
    if timestamps.dtype != np.int64:
        raise TypeError(f"timestamps must have dtype int64, got {timestamps.dtype}")
    if timestamps.ndim != 2 or timestamps.shape[1] != 2:
        raise ValueError(f"timestamps must have shape (n, 2), got {timestamps.shape}")
    return timestamps


# Not thread-safe: one Timer belongs to one thread (workers each own theirs).
class Timer:
    """Records (start, end) intervals in monotonic nanoseconds.

    Use it as a context manager (``with timer: ...`` records one interval) or
    call ``start()``/``stop()``/``next()``. A Timer can also wrap an existing
    (n, 2) int64 array of timestamps without copying (``from_timestamps``), which
    is how engine buffers are exposed; intervals recorded afterwards are kept
    separately and appended when the timestamps are read.
    """

    __slots__ = ("_base", "_ends", "_start_ns", "_starts")

    def __init__(self, timestamps: np.ndarray | None = None) -> None:
        self._base: np.ndarray | None = (
            None if timestamps is None else _check_timestamps(timestamps)
        )
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._start_ns: int | None = None

    @classmethod
    def from_timestamps(cls, timestamps: np.ndarray) -> Timer:
        """A Timer backed by ``timestamps`` ((n, 2) int64 ns, shared, not copied)."""
        return cls(timestamps)

    # Recording -----------------------------------------------------------

    def start(self) -> None:
        """Start an interval (restarts a pending one)."""
        self._start_ns = _now_ns()

    def stop(self) -> None:
        """End the pending interval and record it."""
        end = _now_ns()
        if self._start_ns is None:
            raise RuntimeError("Timer.stop() called without a matching start()")
        self._starts.append(self._start_ns)
        self._ends.append(end)
        self._start_ns = None

    def next(self) -> None:
        """End the pending interval and start the next one at the same instant."""
        now = _now_ns()
        if self._start_ns is None:
            raise RuntimeError("Timer.next() called without a matching start()")
        self._starts.append(self._start_ns)
        self._ends.append(now)
        self._start_ns = now

    def reset(self) -> None:
        """Forget every interval, including a wrapped timestamp buffer."""
        self._base = None
        self._starts.clear()
        self._ends.clear()
        self._start_ns = None

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Reading -------------------------------------------------------------

    def _timestamps_ns(self) -> np.ndarray:
        """All intervals as an (n, 2) int64 array; the wrapped buffer itself when possible."""
        if not self._starts:
            if self._base is not None:
                return self._base
            return np.empty((0, 2), dtype=np.int64)
        recorded = np.column_stack(
            (np.asarray(self._starts, dtype=np.int64), np.asarray(self._ends, dtype=np.int64))
        )
        if self._base is None or len(self._base) == 0:
            return recorded
        return np.concatenate((self._base, recorded))

    def timestamps(self, unit: str = "s") -> np.ndarray:
        """(start, end) pairs, shape (n, 2): int64 for "ns" (no copy if wrapping), else float64."""
        return timestamp_convert(self._timestamps_ns(), "ns", unit)

    def durations(self, unit: str = "s") -> np.ndarray:
        """Length of each interval, shape (n,): int64 for "ns", else float64."""
        _ns_per(unit)
        ts = self._timestamps_ns()
        return timestamp_convert(ts[:, 1] - ts[:, 0], "ns", unit)

    def total_duration(self, unit: str = "s") -> float:
        """Sum of all interval lengths (0.0 when empty)."""
        return self._total_ns() / _ns_per(unit)

    def avg(self, unit: str = "s") -> float:
        """Mean interval length; NaN when the timer has no intervals."""
        per_unit = _ns_per(unit)
        n = len(self)
        if n == 0:
            return float("nan")
        return self._total_ns() / (n * per_unit)

    def _total_ns(self) -> int:
        ts = self._timestamps_ns()
        return int((ts[:, 1] - ts[:, 0]).sum())

    def __len__(self) -> int:
        return (0 if self._base is None else len(self._base)) + len(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Yield (start_ns, end_ns) pairs as Python ints."""
        yield from map(tuple, self._timestamps_ns().tolist())

    def __getitem__(self, index: int | slice) -> tuple[int, int] | Timer:
        """``timer[i]`` is the (start_ns, end_ns) pair; ``timer[a:b]`` a Timer over a view."""
        ts = self._timestamps_ns()
        if isinstance(index, slice):
            return Timer(ts[index])
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Timer index must be an int or slice, got {type(index).__name__}")
        start, end = ts[index].tolist()
        return start, end

    def __repr__(self) -> str:
        return f"Timer(n={len(self)}, total_s={self.total_duration('s'):.6g})"

    # Pickling ------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"timestamps": self._timestamps_ns(), "start_ns": self._start_ns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._base = _check_timestamps(np.asarray(state["timestamps"], dtype=np.int64))
        self._starts = []
        self._ends = []
        self._start_ns = state["start_ns"]
