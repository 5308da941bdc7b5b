"""Seeded synthetic runs with known answers, for checking the statistics.

A simulated run is one closed-loop worker: request i starts when request i - 1 ends,
so completions are the cumulative sum of the latencies, and windows count completions
as the engine does. Latencies are lognormal (median, sigma) with an AR(1) correlation
rho between consecutive log-latencies, so the true percentiles and throughput are
known in closed form. Used by tests/test_stats_*.py and benchmarks/stability.py.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from neuronperf_native.engine import Histogram
from neuronperf_native.stats._distributions import normal_quantile


def ar1_normals(rng: np.random.Generator, runs: int, length: int, rho: float) -> np.ndarray:
    """(runs, length) standard normal series with lag-1 correlation rho, stationary from
    the first element."""
    noise = rng.standard_normal((runs, length))
    if rho == 0.0:
        return noise
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    scale = math.sqrt(1.0 - rho * rho)
    for i in range(1, length):
        out[:, i] = rho * out[:, i - 1] + scale * noise[:, i]
    return out


def true_percentile_ns(median_ns: float, sigma: float, percentile: float) -> float:
    """The exact percentile (0 < percentile < 100) of a lognormal latency."""
    return median_ns * math.exp(sigma * normal_quantile(percentile / 100.0))


def true_throughput(median_ns: float, sigma: float) -> float:
    """Completions per second of one closed-loop worker: 1 / E[latency]."""
    return 1e9 / (median_ns * math.exp(0.5 * sigma * sigma))


@dataclass(frozen=True)
class SimulatedRun:
    """One worker's latencies (ns) in order and the window width; views for the stats."""

    latencies_ns: np.ndarray
    window_s: float
    duration_s: float

    @property
    def completions_ns(self) -> np.ndarray:
        return np.cumsum(self.latencies_ns)

    def _window_index(self) -> np.ndarray:
        done = self.completions_ns
        done = done[done <= self.duration_s * 1e9]
        return np.floor(done / (self.window_s * 1e9)).astype(np.int64)

    def windows(self) -> list[int]:
        """Completions per window (the last window partial when duration_s is not a
        multiple of window_s)."""
        count = math.ceil(self.duration_s / self.window_s - 1e-9)
        return np.bincount(self._window_index(), minlength=count)[:count].tolist()

    def window_histograms(self, windows_per_histogram: int = 1) -> list[Histogram]:
        """One e2e histogram per group of windows, samples assigned by completion time."""
        index = self._window_index() // windows_per_histogram
        groups = math.ceil(len(self.windows()) / windows_per_histogram)
        bounds = np.searchsorted(index, np.arange(groups + 1), side="left")
        histograms = []
        for start, end in itertools.pairwise(bounds):
            histogram = Histogram()
            histogram.record_many(self.latencies_ns[start:end])
            histograms.append(histogram)
        return histograms

    def histogram(self) -> Histogram:
        """All samples completed within duration_s."""
        histogram = Histogram()
        histogram.record_many(self.latencies_ns[: self._window_index().size])
        return histogram


def _samples_needed(duration_s: float, median_ns: float, sigma: float) -> int:
    """Comfortably more requests than fit in duration_s (slow starts and drift need fewer)."""
    mean_ns = median_ns * math.exp(0.5 * sigma * sigma)
    return int(duration_s * 1e9 / mean_ns * 1.2) + 1000


def simulate_runs(
    seed: int,
    runs: int,
    *,
    duration_s: float,
    window_s: float,
    median_ns: float = 1e6,
    sigma: float = 0.5,
    rho: float = 0.0,
    slow_start_s: float = 0.0,
    slow_factor: float = 1.0,
    drift_per_window: float = 0.0,
) -> list[SimulatedRun]:
    """`runs` seeded runs of duration_s: lognormal(median_ns, sigma) latencies with AR(1)
    correlation rho; optionally slow_factor times slower for the first slow_start_s
    seconds (slow_factor >= 1), or growing by drift_per_window (0.01: 1% per window)."""
    rng = np.random.default_rng(seed)
    length = _samples_needed(duration_s, median_ns, sigma)
    logs = np.log(median_ns) + sigma * ar1_normals(rng, runs, length, rho)
    out = []
    for row in np.exp(logs):
        latencies = row
        if slow_factor != 1.0:
            slow = np.cumsum(row * slow_factor) - row * slow_factor <= slow_start_s * 1e9
            latencies = np.where(slow, row * slow_factor, row)
        if drift_per_window:
            rate = math.log1p(drift_per_window) / (window_s * 1e9)
            horizon_ns = 2.0 * duration_s * 1e9  # later starts do not matter; no overflow
            for _ in range(8):  # fixed point: each latency scaled by its start time
                starts = np.cumsum(latencies) - latencies
                latencies = row * np.exp(rate * np.minimum(starts, horizon_ns))
        if latencies.sum() <= duration_s * 1e9:
            raise RuntimeError("simulated too few requests to fill duration_s")
        out.append(SimulatedRun(latencies, window_s, duration_s))
    return out
