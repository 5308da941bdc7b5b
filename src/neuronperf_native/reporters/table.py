"""Aligned text tables: the reports (print_reports) and a comparison's verdicts."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native._numbers import is_number
from neuronperf_native.analysis import VERDICTS, Comparison, MetricChange
from neuronperf_native.reporters._format import (
    PRINT_COLS,
    check_cols,
    column_unit,
    config_label,
    format_cell,
    is_missing,
    known_columns,
    latency_unit,
    percent,
    with_stream_cols,
)
from neuronperf_native.reporters.base import Reporter


class TableReporter(Reporter):
    """The reports as an aligned table, one row each.

    As NeuronPerf: rows are sorted by `sort_by` only when it is one of the printed
    `cols` (missing values last), otherwise they keep the given (run) order. Missing
    values print as N/A. `units=True` (the command line's tables) names each column's
    unit in its header and prints latencies in us where a column's are below 0.1 ms.
    With the default `cols`, streamed runs add STREAM_PRINT_COLS after throughput_avg
    (and goodput, goodput_fraction with SLOs).
    """

    extension = "txt"

    def __init__(
        self,
        cols: Sequence[str] = PRINT_COLS,
        sort_by: str | None = "throughput_peak",
        reverse: bool = False,
        units: bool = False,
    ) -> None:
        self.cols = cols
        self.sort_by = sort_by
        self.reverse = reverse
        self.units = units

    def render(self, reports: list[Mapping[str, Any]]) -> str:
        columns = check_cols(with_stream_cols(self.cols, PRINT_COLS, reports), reports)
        sort_by = self.sort_by
        if sort_by is not None:
            if not isinstance(sort_by, str):
                raise TypeError(f"sort_by must be a column name or None, got {sort_by!r}")
            if sort_by not in known_columns(reports):
                raise ValueError(f"sort_by: unknown column {sort_by!r} (not in any report)")
        for name, flag in (("reverse", self.reverse), ("units", self.units)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        return _table(reports, columns, sort_by, bool(self.reverse), bool(self.units))

    def render_comparison(self, comparison: Comparison) -> str:
        """The rows (base, new, change, interval, verdict), then unmatched, failed, summary."""
        return comparison_table(comparison)


def _sorted(reports: list[Mapping[str, Any]], sort_by: str | None, reverse: bool) -> list:
    if sort_by is None:
        return list(reports)
    present = [r for r in reports if not is_missing(r.get(sort_by))]
    missing = [r for r in reports if is_missing(r.get(sort_by))]
    values = [r[sort_by] for r in present]
    if all(isinstance(v, numbers.Real) for v in values):
        present.sort(key=lambda r: float(r[sort_by]), reverse=reverse)
    else:
        present.sort(key=lambda r: str(r[sort_by]), reverse=reverse)
    return present + missing  # reports without the value go last either way


def _scaled(value: Any, factor: float) -> Any:
    return value * factor if factor != 1.0 and is_number(value) else value


def _table(
    reports: list[Mapping[str, Any]],
    cols: list[str],
    sort_by: str | None,
    reverse: bool,
    units: bool,
) -> str:
    ordered = _sorted(reports, sort_by if sort_by in cols else None, reverse)
    heads, factors = list(cols), [1.0] * len(cols)
    if units:
        for i, col in enumerate(cols):
            heads[i], factors[i] = column_unit(col, [r.get(col) for r in reports])
    rows = [
        [format_cell(_scaled(r.get(col), f)) for col, f in zip(cols, factors, strict=True)]
        for r in ordered
    ]
    widths = [max([len(head)] + [len(row[i]) for row in rows]) for i, head in enumerate(heads)]
    lines = []
    for row in [heads, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


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
        format_cell(scaled[0]),
        format_cell(scaled[1]),
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
