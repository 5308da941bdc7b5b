"""Statistics for benchmark results: confidence intervals, stopping rules, warm-up detection.

Pure functions and small value types with no knowledge of how a benchmark runs
(criterion.rs style): the run loop feeds a StabilityMonitor window by window, the
reporting layer calls summarize(). Latencies are integer ns (HDR histograms),
throughput is inferences per second; runtime dependencies are numpy only.
`significance` decides whether two runs differ (compare).
"""

from neuronperf_native.stats.intervals import (
    MIN_BATCHES,
    PercentileInterval,
    ThroughputInterval,
    min_samples,
    order_statistic_ranks,
    percentile_interval,
    throughput_interval,
)
from neuronperf_native.stats.stopping import (
    StabilityMonitor,
    StoppingDecision,
    StoppingRule,
    evaluate_stopping,
    parse_stability,
)
from neuronperf_native.stats.summary import (
    REPORT_PERCENTILES,
    StatisticsSummary,
    ci_key,
    summarize,
)
from neuronperf_native.stats.warmup import WarmupCut, detect_warmup, mser5_truncation

__all__ = [
    "MIN_BATCHES",
    "REPORT_PERCENTILES",
    "PercentileInterval",
    "StabilityMonitor",
    "StatisticsSummary",
    "StoppingDecision",
    "StoppingRule",
    "ThroughputInterval",
    "WarmupCut",
    "ci_key",
    "detect_warmup",
    "evaluate_stopping",
    "min_samples",
    "mser5_truncation",
    "order_statistic_ranks",
    "parse_stability",
    "percentile_interval",
    "summarize",
    "throughput_interval",
]
