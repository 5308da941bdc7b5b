"""Argument checks shared by the stats functions: one-line errors naming the argument."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_confidence(confidence: Any, name: str = "confidence") -> float:
    """confidence as a float in (0, 1)."""
    if not _is_real(confidence):
        raise TypeError(f"{name} must be a number in (0, 1), got {confidence!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {confidence!r}")
    return float(confidence)


def check_percentile(percentile: Any, name: str = "percentile") -> float:
    """percentile as a float in [0, 100]."""
    if not _is_real(percentile):
        raise TypeError(f"{name} must be a number in [0, 100], got {percentile!r}")
    if not 0.0 <= float(percentile) <= 100.0:
        raise ValueError(f"{name} must be in [0, 100], got {percentile!r}")
    return float(percentile)


def check_positive(value: Any, name: str) -> float:
    """value as a positive finite float."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_count(value: Any, name: str, minimum: int) -> int:
    """value as an int >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_windows(windows: Any, name: str = "windows") -> np.ndarray:
    """Completions per window as a float64 array of finite counts >= 0."""
    if isinstance(windows, (str, bytes)) or not isinstance(windows, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of counts, got {type(windows).__name__}")
    counts = np.asarray(windows, dtype=np.float64).reshape(-1)
    if counts.size and not (np.all(np.isfinite(counts)) and counts.min() >= 0):
        raise ValueError(f"{name} must hold finite counts >= 0")
    return counts


def check_histograms(histograms: Any, name: str = "window_histograms") -> list[Any]:
    """A list of histogram-like objects (with buckets() and count), or None -> []."""
    if histograms is None:
        return []
    if isinstance(histograms, (str, bytes)) or not isinstance(histograms, Sequence):
        raise TypeError(f"{name} must be a list of histograms, got {type(histograms).__name__}")
    for i, histogram in enumerate(histograms):
        if not callable(getattr(histogram, "buckets", None)):
            raise TypeError(f"{name}[{i}] must be a Histogram, got {type(histogram).__name__}")
    return list(histograms)
