"""HDR histogram buckets as numpy arrays: rank lookups, merging, per-window counts.

Histogram.buckets() lists the non-empty buckets as (lowest, highest_equivalent, count)
in increasing value order; all histograms of one run share the bucket geometry, so a
bucket is identified by its lowest value and arrays from several windows can be merged
by value. Converting once and caching the arrays keeps repeated evaluations (one per
window during a run) free of Python-level loops over buckets.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

_EMPTY = np.zeros(0, dtype=np.int64)


class Buckets:
    """The non-empty buckets of one histogram: lowest_ns, highest_ns, counts (int64 arrays)."""

    __slots__ = ("counts", "cumulative", "highest_ns", "lowest_ns")

    def __init__(self, lowest_ns: np.ndarray, highest_ns: np.ndarray, counts: np.ndarray) -> None:
        self.lowest_ns = lowest_ns
        self.highest_ns = highest_ns
        self.counts = counts
        self.cumulative = np.cumsum(counts)

    @classmethod
    def from_histogram(cls, histogram: Any) -> Buckets:
        """From anything with Histogram's buckets() method."""
        rows = histogram.buckets()
        if not rows:
            return cls(_EMPTY, _EMPTY, _EMPTY)
        flat = itertools.chain.from_iterable(rows)
        table = np.fromiter(flat, dtype=np.int64, count=3 * len(rows)).reshape(-1, 3)
        return cls(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())

    @classmethod
    def merge(cls, parts: Sequence[Buckets]) -> Buckets:
        """The buckets of the sum of several histograms with the same settings."""
        parts = [p for p in parts if p.lowest_ns.size]
        if not parts:
            return cls(_EMPTY, _EMPTY, _EMPTY)
        if len(parts) == 1:
            return parts[0]
        lowest = np.concatenate([p.lowest_ns for p in parts])
        highest = np.concatenate([p.highest_ns for p in parts])
        counts = np.concatenate([p.counts for p in parts])
        values, first, inverse = np.unique(lowest, return_index=True, return_inverse=True)
        summed = np.bincount(inverse, weights=counts, minlength=values.size)
        return cls(values, highest[first], np.rint(summed).astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.cumulative[-1]) if self.cumulative.size else 0

    def index_of_rank(self, rank: int) -> int:
        """Index of the bucket holding the rank-th smallest value (1 <= rank <= total)."""
        return int(np.searchsorted(self.cumulative, rank, side="left"))

    def percentile_rank(self, percentile: float) -> int:
        """The rank Histogram.value_at_percentile reports: round(p * n / 100), at least 1."""
        total = self.total
        rank = int(percentile * total / 100.0 + 0.5)
        return min(max(rank, 1), total)

    def value_at_percentile(self, percentile: float) -> int:
        """Histogram.value_at_percentile on these buckets (0 when empty)."""
        if not self.total:
            return 0
        index = self.index_of_rank(self.percentile_rank(percentile))
        return int(self.highest_ns[index] if percentile > 0 else self.lowest_ns[index])


class WindowBuckets:
    """Buckets of consecutive window histograms, for per-window counts below a value.

    append() is O(1); counts_at_or_below() is one binary search per window
    (O(windows x log buckets)); since() is a view of the later windows.
    """

    def __init__(self, windows: Sequence[Buckets] = ()) -> None:
        self.windows: list[Buckets] = list(windows)
        self._totals = [float(w.total) for w in self.windows]

    def __len__(self) -> int:
        return len(self.windows)

    def append(self, window: Buckets) -> None:
        self.windows.append(window)
        self._totals.append(float(window.total))

    def since(self, first: int) -> WindowBuckets:
        """The windows from index `first` on."""
        view = WindowBuckets()
        view.windows = self.windows[max(0, first) :]
        view._totals = self._totals[max(0, first) :]
        return view

    @property
    def totals(self) -> np.ndarray:
        """Samples per window (float64)."""
        return np.asarray(self._totals, dtype=np.float64)

    def counts_at_or_below(self, value_ns: int) -> np.ndarray:
        """Per window, how many values lie in buckets whose lowest value is <= value_ns."""
        out = np.zeros(len(self.windows), dtype=np.float64)
        for i, window in enumerate(self.windows):
            index = int(np.searchsorted(window.lowest_ns, value_ns, side="right"))
            if index:
                out[i] = window.cumulative[index - 1]
        return out

    def merged(self) -> Buckets:
        return Buckets.merge(self.windows)
