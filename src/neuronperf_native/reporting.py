"""Reports, NeuronPerf's names: get_reports() computes (analysis/), print_reports(),
write_csv() and write_json() format (reporters/), read_json() reads saved reports back.

get_reports() reduces the `(config, results)` pairs that benchmark() produces (one
engine result per model copy) to NeuronPerf-compatible report dicts. Latencies come
from the merged HDR histograms (integer ns) and are reported in ms at full precision.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from neuronperf_native.analysis import (
    CSV_COLS,
    LOAD_KEYS,
    ReportFileError,
    get_reports,
    read_json,
)
from neuronperf_native.reporters import CsvReporter, JsonReporter, TableReporter
from neuronperf_native.reporters._format import (
    PRINT_COLS,
    STREAM_CSV_COLS,
    STREAM_PRINT_COLS,
    check_reports,
)
from neuronperf_native.reporters.table import comparison_table

__all__ = [
    "CSV_COLS",
    "LOAD_KEYS",
    "PRINT_COLS",
    "STREAM_CSV_COLS",
    "STREAM_PRINT_COLS",
    "ReportFileError",
    "comparison_table",
    "get_reports",
    "print_reports",
    "read_json",
    "write_csv",
    "write_json",
]


def print_reports(
    reports: Sequence[Mapping[str, Any]],
    cols: Sequence[str] = PRINT_COLS,
    sort_by: str | None = "throughput_peak",
    reverse: bool = False,
    units: bool = False,
) -> None:
    """Prints the reports as an aligned table on stdout.

    As NeuronPerf: rows are sorted by `sort_by` only when it is one of the printed
    `cols` (missing values last), otherwise they keep the given (run) order. Missing
    values print as N/A. `units=True` (the command line's tables) names each column's
    unit in its header and prints latencies in us where a column's are below 0.1 ms.
    """
    text = TableReporter(cols, sort_by, reverse, units).render(check_reports(reports))
    sys.stdout.write(text)
    sys.stdout.flush()


def write_csv(
    reports: Sequence[Mapping[str, Any]],
    filename: str | os.PathLike[str] | None = None,
    cols: Sequence[str] = CSV_COLS,
) -> str:
    """Writes the reports as CSV (one row each, `cols` in order) and returns the filename.

    Floats keep full precision; missing values are written as N/A. The file is
    replaced atomically. Without a filename, one is made from the model name and the
    local time.
    """
    return CsvReporter(cols).write(reports, filename)


def write_json(
    reports: Sequence[Mapping[str, Any]], filename: str | os.PathLike[str] | None = None
) -> str:
    """Writes the reports as a JSON list of plain dicts and returns the filename.

    Floats are written as-is (never NaN: missing values are null); non-JSON values
    (a model class, numpy scalars) become plain data. The file is replaced atomically.
    """
    return JsonReporter().write(reports, filename)
