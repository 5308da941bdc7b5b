"""Report arithmetic of streamed runs: token latencies, token rates and goodput.

Numbers in, numbers out: the copies' TokenMetrics (merged exactly, bucket for
bucket) and window histograms become the report's token keys. Definitions follow
vLLM's bench serve and AIPerf: output_tokens_per_s is all output tokens over the
measured seconds; output_tokens_per_s_per_user the mean of each request's own rate
((tokens - 1) / (last - first token)); goodput the requests per second that met every
SLO (DistServe), goodput_fraction their share of the requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from neuronperf_native import stats
from neuronperf_native.engine import Histogram, RunResult
from neuronperf_native.stats._distributions import normal_quantile
from neuronperf_native.stats.summary import StatisticsSummary
from neuronperf_native.streaming import TOKEN_METRICS, TokenMetrics

__all__ = ["TOKEN_COUNT_KEYS", "metric_keys", "token_fields"]

#: Report keys of a streamed run besides the per-metric percentiles (None otherwise).
TOKEN_COUNT_KEYS = (
    "requests_streamed",
    "empty_responses",
    "output_tokens_total",
    "input_tokens_total",
    "output_tokens_per_s",
    "output_tokens_per_s_per_user",
    "input_tokens_per_request_avg",
    "output_tokens_per_request_avg",
    "goodput",
    "goodput_fraction",
    "goodput_fraction_ci",
    "good_requests",
)


def metric_keys(metric: str, percentiles: Sequence[float]) -> list[str]:
    """The report keys of one token latency: its mean, percentiles and their intervals."""
    keys = [f"{metric}_ms_mean"]
    for p in percentiles:
        keys += [f"{metric}_ms_p{p:g}", f"{metric}_ms_p{p:g}_ci"]
    return keys


def _wilson(good: int, n: int, confidence: float) -> list[float] | None:
    """Wilson score interval of a proportion (requests judged independently)."""
    if n == 0:
        return None
    z = normal_quantile(0.5 + confidence / 2)
    p = good / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _summary(
    config: Mapping[str, Any],
    metric: str,
    histogram: Histogram,
    windows: list[int],
    window_s: float,
    window_histograms: tuple[list[Histogram], int],
    percentiles: list[float],
    total_s: float | None,
) -> StatisticsSummary:
    """Intervals of one token latency: on its window histograms (dependence between a
    request's gaps included), the warm-up cut as the e2e figures' when stability is on,
    and the rule's verdict when the rule judges this metric."""
    rule = config.get("stability")
    parsed = stats.parse_stability(rule) if rule else None
    histograms, span = window_histograms
    return stats.summarize(
        histogram,
        windows,
        window_s,
        window_histograms=histograms or None,
        windows_per_histogram=span,
        batch_size=int(config["batch_size"]),
        percentiles=percentiles,
        confidence=config.get("ci_confidence", 0.95),
        rule=parsed if parsed is not None and parsed.metric == metric else None,
        drop_warmup=parsed is not None,
        wall_s=total_s,
    )


def token_fields(
    config: Mapping[str, Any],
    runs: Sequence[RunResult],
    windows: list[int],
    window_s: float | None,
    window_histograms: Mapping[str, tuple[list[Histogram], int]],
    percentiles: list[float],
    total_s: float | None,
) -> dict[str, Any]:
    """The token keys of a report: {} unless the runs streamed; None where nothing was
    measured. window_histograms: per token metric, the copies' window histograms merged
    (aligned on the shared clock) and their span. `stable` comes back when the
    stopping rule judges a token metric."""
    streamed = [run.tokens for run in runs if run.tokens is not None]
    if not streamed and not config.get("streaming"):
        return {}
    out: dict[str, Any] = dict.fromkeys(TOKEN_COUNT_KEYS)
    for metric in TOKEN_METRICS:
        out.update(dict.fromkeys(metric_keys(metric, percentiles)))
        out[f"{metric}_hist"] = None
    if not streamed:
        return out
    tokens = TokenMetrics.merged(streamed)
    out.update(_counts(config, tokens, total_s))
    parsed = stats.parse_stability(config.get("stability")) if config.get("stability") else None
    rule_metric = parsed.metric if parsed is not None else None
    for metric in TOKEN_METRICS:
        histogram = tokens.histogram(metric)
        out[f"{metric}_hist"] = histogram.encode()
        if histogram.count == 0:
            continue
        out[f"{metric}_ms_mean"] = histogram.mean / 1e6
        for p in percentiles:
            out[f"{metric}_ms_p{p:g}"] = histogram.value_at_percentile(p) / 1e6
        if not windows or not window_s:
            continue
        summary = _summary(
            config,
            metric,
            histogram,
            windows,
            window_s,
            window_histograms.get(metric, ([], 1)),
            percentiles,
            total_s,
        )
        for p, interval in summary.latency.items():
            out[f"{metric}_ms_p{p:g}_ci"] = interval.ms() if interval is not None else None
            if summary.warmup.windows and summary.latency_ms[p] is not None:
                out[f"{metric}_ms_p{p:g}"] = summary.latency_ms[p]
        if metric == rule_metric:
            out["stable"] = summary.stable
    return out


def _counts(
    config: Mapping[str, Any], tokens: TokenMetrics, total_s: float | None
) -> dict[str, Any]:
    seconds = total_s if total_s else None
    requests = tokens.requests
    out: dict[str, Any] = {
        "requests_streamed": requests,
        "empty_responses": tokens.empty_requests,
        "output_tokens_total": tokens.output_tokens_total,
        "input_tokens_total": tokens.input_tokens_total if tokens.input_tokens.count else None,
        "output_tokens_per_s": tokens.output_tokens_total / seconds if seconds else None,
        "output_tokens_per_s_per_user": (
            tokens.user_rate_sum / tokens.user_rate_count if tokens.user_rate_count else None
        ),
        "input_tokens_per_request_avg": (
            tokens.input_tokens_total / tokens.input_tokens.count
            if tokens.input_tokens.count
            else None
        ),
        "output_tokens_per_request_avg": tokens.output_tokens_total / requests
        if requests
        else None,
    }
    if config.get("goodput"):
        out["good_requests"] = tokens.good_requests
        out["goodput"] = tokens.good_requests / seconds if seconds else None
        out["goodput_fraction"] = tokens.good_requests / requests if requests else None
        out["goodput_fraction_ci"] = _wilson(
            tokens.good_requests, requests, config.get("ci_confidence", 0.95)
        )
    return out
