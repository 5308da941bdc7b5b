"""Numbers in, numbers out: benchmark results -> report dicts (reports), two runs'
reports -> per-metric verdicts (comparison), and saved reports read back (saved).
Nothing here formats; reporters/ do."""

from neuronperf_native.analysis.comparison import (
    DEFAULT_METRICS,
    MATCH_KEYS,
    VERDICTS,
    Comparison,
    MetricChange,
    compare,
)
from neuronperf_native.analysis.reports import (
    CSV_COLS,
    LATENCY_PERCENTILES,
    LOAD_KEYS,
    TOO_FEW,
    get_reports,
)
from neuronperf_native.analysis.saved import ReportFileError, read_json

__all__ = [
    "CSV_COLS",
    "DEFAULT_METRICS",
    "LATENCY_PERCENTILES",
    "LOAD_KEYS",
    "MATCH_KEYS",
    "TOO_FEW",
    "VERDICTS",
    "Comparison",
    "MetricChange",
    "ReportFileError",
    "compare",
    "get_reports",
    "read_json",
]
