"""neuronperf_native: NeuronPerf-compatible inference benchmarking with a native timing engine.

Use it as NeuronPerf: `import neuronperf_native as npf`, then `npf.benchmark(...)`,
`npf.cpu.benchmark(...)`, `npf.compile(...)`, `npf.print_reports(...)`. Framework
submodules (`npf.torch`, `npf.tensorflow`, `npf.mxnet`) import their framework lazily,
on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from neuronperf_native import (
    benchmarking,
    cpu,
    engine,
    metrics,
    model_index,
    reporting,
    search,
    timing,
)
from neuronperf_native._verbosity import set_verbosity
from neuronperf_native._version import __version__
from neuronperf_native.analysis import compare
from neuronperf_native.benchmarking import BENCHMARK_SECS, benchmark
from neuronperf_native.benchmarking import plan_benchmark as plan
from neuronperf_native.compiling import compile
from neuronperf_native.cpu import DummyModel
from neuronperf_native.metrics import (
    BaseEvalMetric,
    list_metrics,
    register_metric,
    register_metric_from_existing,
)
from neuronperf_native.planning import Configuration, Plan
from neuronperf_native.reporters.html import write_html
from neuronperf_native.reporting import (
    CSV_COLS,
    PRINT_COLS,
    get_reports,
    print_reports,
    write_csv,
    write_json,
)
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.timing import Timer, timestamp_convert

_LAZY_SUBMODULES = ("torch", "tensorflow", "mxnet", "inputs", "devices", "launcher", "serving")

__all__ = [
    "BENCHMARK_SECS",
    "CSV_COLS",
    "PRINT_COLS",
    "BaseEvalMetric",
    "BenchmarkSettings",
    "Configuration",
    "DummyModel",
    "Plan",
    "Timer",
    "__version__",
    "benchmark",
    "benchmarking",
    "compare",
    "compile",
    "cpu",
    "engine",
    "get_reports",
    "list_metrics",
    "metrics",
    "model_index",
    "plan",
    "print_reports",
    "register_metric",
    "register_metric_from_existing",
    "reporting",
    "search",
    "set_verbosity",
    "timestamp_convert",
    "timing",
    "write_csv",
    "write_html",
    "write_json",
]


def __dir__() -> list[str]:
    """Only the public names: __all__ and the submodules imported on first use."""
    return sorted({*__all__, *_LAZY_SUBMODULES})


def __getattr__(name: str) -> Any:
    """Imports framework submodules on first use, so `import neuronperf_native` stays light."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"neuronperf_native.{name}")
    raise AttributeError(f"module 'neuronperf_native' has no attribute {name!r}")
