"""CSV: one row per report, NeuronPerf's columns (CSV_COLS) by default."""

from __future__ import annotations

import csv
import io
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native.analysis import CSV_COLS
from neuronperf_native.reporters._format import (
    check_cols,
    format_cell,
    is_missing,
    with_stream_cols,
)
from neuronperf_native.reporters.base import Reporter


class CsvReporter(Reporter):
    """The reports as CSV, `cols` in order. Floats keep full precision; missing values
    are written as N/A. With the default `cols`, streamed runs add STREAM_CSV_COLS."""

    extension = "csv"

    def __init__(self, cols: Sequence[str] = CSV_COLS) -> None:
        self.cols = cols

    def render(self, reports: list[Mapping[str, Any]]) -> str:
        columns = check_cols(with_stream_cols(self.cols, CSV_COLS, reports), reports)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for report in reports:
            writer.writerow([_csv_cell(report.get(col)) for col in columns])
        return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    """Text for a CSV cell: None as N/A; floats as the shortest text that reads back as
    the value at 15 significant digits (all a double holds in decimal), so arithmetic
    noise such as 22.130000000000003 is written 22.13."""
    if is_missing(value):
        return "N/A"
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        if isinstance(value, numbers.Integral):
            return str(int(value))
        return repr(float(f"{float(value):.15g}"))
    return format_cell(value)
