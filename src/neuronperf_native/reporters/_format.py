"""What every reporter shares: checking the reports and columns it is given, cell
text, units, labels and the default file name. Formatting only."""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neuronperf_native._numbers import is_number
from neuronperf_native.analysis import CSV_COLS

#: Columns of print_reports(): the ones NeuronPerf's documented summary table shows.
PRINT_COLS = [
    "throughput_avg",
    "latency_ms_p50",
    "latency_ms_p99",
    "n_models",
    "pipeline_size",
    "workers_per_model",
    "batch_size",
    "model_filename",
]
#: Columns a streamed run adds to the default printed table (after throughput_avg) and
#: CSV: what vLLM's bench serve and AIPerf users read first.
STREAM_PRINT_COLS = [
    "output_tokens_per_s",
    "output_tokens_per_s_per_user",
    "ttft_ms_p50",
    "ttft_ms_p99",
    "itl_ms_p50",
    "itl_ms_p99",
    "tpot_ms_p50",
    "tpot_ms_p99",
]
STREAM_CSV_COLS = [
    "requests_streamed",
    "output_tokens_per_s",
    "output_tokens_per_s_per_user",
    "input_tokens_per_request_avg",
    "output_tokens_per_request_avg",
    *(f"{m}_ms_{s}" for m in ("ttft", "itl", "tpot") for s in ("mean", "p50", "p90", "p99")),
    *(f"{m}_ms_p99_ci" for m in ("ttft", "itl", "tpot")),
    "goodput",
    "goodput_fraction",
]
#: Columns of goodput, when SLOs were given.
GOODPUT_COLS = ["goodput", "goodput_fraction"]


def with_stream_cols(cols: Any, default: list[str], reports: Sequence[Mapping[str, Any]]) -> Any:
    """The default columns gain the token columns when a report streamed (the table:
    after throughput_avg; CSV: at the end); columns the caller chose stay as they are."""
    if cols is not default or not any(r.get("requests_streamed") is not None for r in reports):
        return cols
    goodput = GOODPUT_COLS if any(r.get("goodput") is not None for r in reports) else []
    if default is CSV_COLS:
        return [*cols, *(c for c in STREAM_CSV_COLS if c not in GOODPUT_COLS), *goodput]
    at = cols.index("throughput_avg") + 1
    return [*cols[:at], *STREAM_PRINT_COLS, *goodput, *cols[at:]]


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


def check_reports(reports: Any) -> list[Mapping[str, Any]]:
    """The reports as a list of dicts; a TypeError naming what is not one."""
    if isinstance(reports, Mapping):
        raise TypeError("reports must be a list of report dicts, got a single dict (wrap it: [r])")
    if isinstance(reports, (str, bytes)) or not isinstance(reports, Sequence):
        raise TypeError(f"reports must be a list of report dicts, got {type(reports).__name__}")
    for i, report in enumerate(reports):
        if not isinstance(report, Mapping):
            raise TypeError(f"reports[{i}] must be a report dict, got {type(report).__name__}")
    return list(reports)


def known_columns(reports: list[Mapping[str, Any]]) -> set[str]:
    """The columns a table of these reports may show."""
    known = set(CSV_COLS) | set(PRINT_COLS)
    for report in reports:
        known.update(report)
    return known


def check_cols(cols: Any, reports: list[Mapping[str, Any]]) -> list[str]:
    """``cols`` as a list of known column names; one error naming the first bad one."""
    if isinstance(cols, str) or not isinstance(cols, Sequence):
        raise TypeError(f"cols must be a list of column names, got {cols!r}")
    if not cols:
        raise ValueError("cols must name at least one column, got an empty list")
    known = known_columns(reports)
    for col in cols:
        if not isinstance(col, str):
            raise TypeError(f"cols must be column names (str), got {col!r}")
        if col not in known:
            raise ValueError(f"cols: unknown column {col!r} (not in any report)")
    return list(cols)


def is_missing(value: Any) -> bool:
    """None or NaN: a value that was not measured."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_cell(value: Any) -> str:
    """Text for a printed cell: floats with at least 4 significant digits, None as N/A."""
    if is_missing(value):
        return "N/A"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if abs(number) >= 1000 or number == 0:
            return f"{number:.1f}"
        text = f"{number:#.4g}"
        return text + "0" if text.endswith(".") else text
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(plain(value), separators=(",", ":"))
    return str(value)


def latency_unit(values_ms: Sequence[Any]) -> tuple[str, float]:
    """(unit, factor from ms) for a column of latencies: us when every value present is
    below 0.1 ms, else ms."""
    present = [float(v) for v in values_ms if is_number(v) and math.isfinite(v)]
    return ("us", 1e3) if present and max(present) < 0.1 else ("ms", 1.0)


def column_unit(col: str, values: Sequence[Any]) -> tuple[str, float]:
    """(header, factor) of a column whose unit the header says: `latency_p50 (us)`."""
    if "_ms_p" in col or col.endswith("_ms"):
        unit, factor = latency_unit(values)
        name = col.replace("_ms_p", "_p") if "_ms_p" in col else col[:-3]
        return f"{name} ({unit})", factor
    if col.startswith("request_rate") or col == "goodput":
        return f"{col} (req/s)", 1.0
    if col.startswith("output_tokens_per_s"):
        return col.replace("_per_s", "/s").replace("_per_user", "/user").replace("_", " "), 1.0
    if col.startswith("throughput_") and col != "throughput_timeline":
        return f"{col} (inf/s)", 1.0
    if "_percent" in col:
        return f"{col.replace('_percent', '')} (%)", 1.0
    if col.endswith("_s"):
        return f"{col[:-2]} (s)", 1.0
    if col.endswith("_mb"):
        return f"{col[:-3]} (MiB)", 1.0
    return col, 1.0


def plain(value: Any) -> Any:
    """JSON-safe plain data: NaN/inf -> None, numpy -> Python, classes -> qualified names."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{qualname}" if module else qualname
    return str(value)


def default_filename(reports: Sequence[Mapping[str, Any]], extension: str) -> str:
    """`<model name>.results-<local time>.<extension>` in the working directory."""
    name = None
    if reports:
        name = reports[0].get("model_name")
        if not name and isinstance(reports[0].get("model_filename"), str):
            name = os.path.basename(os.path.normpath(reports[0]["model_filename"]))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "model")).strip("._") or "model"
    return f"{safe}.results-{time.strftime('%Y%m%d-%H%M%S')}.{extension}"


def config_label(config: Mapping[str, Any], with_model: bool = True) -> str:
    """`model b=1 n=2 w=1 p=1`, plus the load mode and rate when not closed loop (without
    the model's name: `b=1 n=2 w=1 p=1`)."""
    parts = [str(config.get("model_name") or "?")] if with_model else []
    for key, short in _LABEL_KEYS:
        value = config.get(key)
        if value is not None and not (key == "load_mode" and value == "closed"):
            parts.append(f"{short}={format_cell(value)}")
    return " ".join(parts)


def percent(fraction: float | None) -> str:
    """+1.23% (or N/A) for a fraction."""
    return "N/A" if fraction is None else f"{fraction * 100:+.2f}%"
