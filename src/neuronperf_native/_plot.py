"""Plots of saved reports for `neuronperf-native report --plot` (matplotlib, optional).

Left: the latency percentile spectrum of each configuration on a log scale, with
the x axis in "nines" (50, 90, 99, 99.9, ...), decoded from the report's
`latency_hist` (HDR histogram, base64 V2) or, without one, from its
`latency_ms_p*` keys. Right: each configuration's throughput timeline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_LATENCY_KEY = re.compile(r"^latency_ms_p(\d+(?:\.\d+)?)$")
# Deepest percentile drawn from a histogram, in nines (5 -> 99.999).
_MAX_NINES = 5.0
_TICK_PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)


def require_matplotlib() -> None:
    """Raise ImportError with one clear line when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "--plot needs matplotlib, which is not installed: pip install 'neuronperf-native[plot]'"
        ) from None


def _nines(percentile: float) -> float:
    """x position of a percentile: -log10(1 - p/100); 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(max(1.0 - percentile / 100.0, 10.0**-_MAX_NINES))


def _label(report: Mapping[str, Any]) -> str:
    return (
        f"{report.get('model_name', '?')} b{report.get('batch_size')} "
        f"n{report.get('n_models')} w{report.get('workers_per_model')} "
        f"p{report.get('pipeline_size')}"
    )


def latency_spectrum(
    report: Mapping[str, Any], metric: str = "latency"
) -> tuple[np.ndarray, np.ndarray]:
    """(percentiles, latency ms) of one report: from `<metric>_hist` when present ("latency":
    e2e; a streamed run's "ttft", "itl", "tpot"), else the latency percentile keys."""
    encoded = report.get(f"{metric}_hist")
    if isinstance(encoded, str) and encoded:
        from neuronperf_native.engine import Histogram

        hist = Histogram.decode(encoded)
        if hist.count:
            depth = min(_MAX_NINES, math.log10(hist.count)) if hist.count > 1 else 0.0
            xs = np.linspace(0.0, max(depth, 0.3), 200)
            percentiles = 100.0 * (1.0 - 10.0**-xs)
            values_ns = hist.percentiles([float(p) for p in percentiles])
            return percentiles, np.asarray(values_ns, dtype=np.float64) / 1e6
    points = []
    for key, value in report.items() if metric == "latency" else ():
        match = _LATENCY_KEY.match(key)
        if match and isinstance(value, (int, float)) and float(match.group(1)) < 100.0:
            points.append((float(match.group(1)), float(value)))
    points.sort()
    return np.array([p for p, _ in points]), np.array([v for _, v in points])


def timeline(report: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, bool]:
    """(window end s, inferences/s, whether the last point was rescaled) of a report.

    The timeline divides every window's count by the full window length; the last
    window usually ends early (at total_s), so its rate is rescaled to its real length.
    A last window shorter than half a window is dropped unless it is the only one: its
    few completions, taken while the copies stop, make no steady rate.
    """
    rates = np.asarray(report.get("throughput_timeline") or [], dtype=np.float64)
    window_s = float(report.get("window_s") or 1.0)
    times = (np.arange(len(rates)) + 1) * window_s
    total_s = report.get("total_s")
    if not len(rates) or not isinstance(total_s, (int, float)):
        return times, rates, False
    last_s = float(total_s) - (len(rates) - 1) * window_s
    if not 0 < last_s < window_s:
        return times, rates, False
    if last_s < 0.5 * window_s and len(rates) > 1:
        return times[:-1], rates[:-1], False
    rates[-1] *= window_s / last_s
    times[-1] = float(total_s)
    return times, rates, True


def throughput_points(report: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(window end s, inferences/s) of one report's throughput_timeline (see timeline)."""
    times, rates, _ = timeline(report)
    return times, rates


def plot_reports(reports: Sequence[Mapping[str, Any]], filename: str, title: str = "") -> None:
    """Draw latency percentiles and throughput timelines of `reports` into a PNG."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat_ax, tput_ax) = plt.subplots(1, 2, figsize=(13, 5))
    drawn_lat = drawn_tput = 0
    for report in reports:
        label = _label(report)
        percentiles, values = latency_spectrum(report)
        positive = values > 0
        if positive.any():
            xs = [_nines(p) for p in percentiles[positive]]
            marker = "" if report.get("latency_hist") else "o"
            lat_ax.plot(xs, values[positive], marker=marker, label=label)
            drawn_lat += 1
        times, rates = throughput_points(report)
        if len(times):
            tput_ax.plot(times, rates, marker=".", label=label)
            drawn_tput += 1
    lat_ax.set_yscale("log")
    ticks = [p for p in _TICK_PERCENTILES if _nines(p) <= _MAX_NINES]
    lat_ax.set_xticks([_nines(p) for p in ticks], [f"{p:g}" for p in ticks])
    lat_ax.set_xlabel("percentile")
    lat_ax.set_ylabel("latency (ms, log scale)")
    lat_ax.set_title("Latency percentiles")
    lat_ax.grid(True, which="both", alpha=0.3)
    tput_ax.set_xlabel("time (s, end of window)")
    tput_ax.set_ylabel("throughput (inferences/s)")
    tput_ax.set_title("Throughput timeline")
    tput_ax.set_ylim(bottom=0)
    tput_ax.grid(True, alpha=0.3)
    for ax, drawn in ((lat_ax, drawn_lat), (tput_ax, drawn_tput)):
        if drawn:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
    plt.close(fig)
