"""Text rendering of comparisons (the `compare` table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from neuronperf_native.comparing import VERDICTS
from neuronperf_native.reporting import _format_cell, latency_unit

if TYPE_CHECKING:
    from neuronperf_native.comparing import Comparison, MetricChange

#: Short names of the configuration keys in labels, in label order.
_LABEL_KEYS = (
    ("batch_size", "b"),
    ("n_models", "n"),
    ("workers_per_model", "w"),
    ("pipeline_size", "p"),
    ("performance_level", "perf"),
    ("load_mode", "load"),
    ("request_rate", "rate"),
)


def config_label(config: Mapping[str, Any], with_model: bool = True) -> str:
    """`model b=1 n=2 w=1 p=1`, plus the load mode and rate when not closed loop (without
    the model's name: `b=1 n=2 w=1 p=1`)."""
    parts = [str(config.get("model_name") or "?")] if with_model else []
    for key, short in _LABEL_KEYS:
        value = config.get(key)
        if value is not None and not (key == "load_mode" and value == "closed"):
            parts.append(f"{short}={_format_cell(value)}")
    return " ".join(parts)


def percent(fraction: float | None) -> str:
    """+1.23% (or N/A) for a fraction."""
    return "N/A" if fraction is None else f"{fraction * 100:+.2f}%"


def _unit_scale(row: MetricChange) -> tuple[str, float]:
    """(unit, factor): inferences/s for throughput; latencies in ms, or us below 0.1 ms."""
    if row.metric.startswith("throughput"):
        return "inf/s", 1.0
    return latency_unit([row.base, row.new])


def _cells(row: MetricChange) -> list[str]:
    unit, factor = _unit_scale(row)
    scaled = [None if v is None else v * factor for v in (row.base, row.new)]
    interval = "N/A"
    if row.interval is not None:
        interval = f"[{percent(row.interval[0])}, {percent(row.interval[1])}]"
    return [
        config_label(row.config),
        row.metric,
        unit,
        _format_cell(scaled[0]),
        _format_cell(scaled[1]),
        percent(row.change),
        interval,
        row.verdict,
        row.note or "",
    ]


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns separated by two spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"


def comparison_table(comparison: Comparison) -> str:
    """The rows (base, new, change, interval, verdict), then unmatched, failed, summary."""
    level = f"{comparison.confidence * 100:g}%"
    header = ["config", "metric", "unit", "base", "new", "change", f"interval ({level})"]
    out = ""
    if comparison.rows:
        out = aligned([[*header, "verdict", "note"], *(_cells(r) for r in comparison.rows)])
    for what, configs in (
        (f"only in {comparison.base_label}", comparison.unmatched_base),
        (f"only in {comparison.new_label}", comparison.unmatched_new),
        (f"failed in {comparison.new_label}", comparison.failed),
    ):
        for config in configs:
            out += f"{what}: {config_label(config)}\n"
    counts = {v: sum(r.verdict == v for r in comparison.rows) for v in VERDICTS}
    summary = ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
    out += (
        f"{len(comparison.rows)} comparison(s): {summary} "
        f"(threshold {comparison.threshold * 100:g}%, confidence {level})\n"
    )
    return out
