"""CSV: one row per report, NeuronPerf's columns (CSV_COLS) by default."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from neuronperf_native.analysis import CSV_COLS
from neuronperf_native.reporters._format import check_cols, format_csv_cell
from neuronperf_native.reporters.base import Reporter


class CsvReporter(Reporter):
    """The reports as CSV, `cols` in order. Floats keep full precision; missing values
    are written as N/A."""

    extension = "csv"

    def __init__(self, cols: Sequence[str] = CSV_COLS) -> None:
        self.cols = cols

    def render(self, reports: list[Mapping[str, Any]]) -> str:
        columns = check_cols(self.cols, reports)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for report in reports:
            writer.writerow([format_csv_cell(report.get(col)) for col in columns])
        return buffer.getvalue()
