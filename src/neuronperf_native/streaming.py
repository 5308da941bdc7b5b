"""Streamed responses: the options of a streamed run and the token metrics it returns.

With streaming on, a model's call returns an iterator; the engine stamps each item as
it arrives and measures, per request, TTFT (first item, from when the request was due),
the gaps between items (ITL), TPOT ((last item - first item) / (tokens - 1)), and the
input and output token counts, each into its own HDR histogram. Goodput counts the
requests that meet every SLO given (DistServe's definition, as vLLM uses it).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from neuronperf_native._engine import Histogram

__all__ = [
    "GOODPUT_KEYS",
    "REQUEST_FIELDS",
    "TOKEN_METRICS",
    "StreamOptions",
    "TokenMetrics",
    "parse_goodput",
]

#: Token latencies with histograms (and window histograms, for stability and intervals).
TOKEN_METRICS = ("ttft", "itl", "tpot")
#: SLO names -> the canonical key: ours, vLLM's short keys and AIPerf/GenAI-Perf's metric
#: tags (their inter_token_latency is a request's mean gap, i.e. TPOT).
GOODPUT_KEYS = {
    "ttft_ms": "ttft_ms",
    "tpot_ms": "tpot_ms",
    "e2e_ms": "e2e_ms",
    "ttft": "ttft_ms",
    "tpot": "tpot_ms",
    "e2el": "e2e_ms",
    "time_to_first_token": "ttft_ms",
    "inter_token_latency": "tpot_ms",
    "request_latency": "e2e_ms",
}
#: Columns of the per-request records (export_requests): ns on the shared clock, -1 where
#: there is none (a stream without tokens, an unknown prompt length).
REQUEST_FIELDS = (
    "worker",
    "scheduled_ns",
    "start_ns",
    "first_token_ns",
    "last_token_ns",
    "end_ns",
    "input_tokens",
    "output_tokens",
    "items",
)
_MAX_SLO_MS = 3.6e6  # one hour, the histograms' range


def parse_goodput(value: Any, name: str = "goodput") -> dict[str, float] | None:
    """SLOs as {"ttft_ms", "tpot_ms", "e2e_ms"} (ms > 0) from a dict or "key:ms" strings
    (one string with spaces, or a list of them); keys may be vLLM's or AIPerf's names."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split()
    if isinstance(value, (list, tuple)):
        pairs = {}
        for text in value:
            key, sep, number = str(text).partition(":")
            if not sep:
                raise ValueError(f"{name}: {text!r} is not KEY:MS (e.g. ttft:200)")
            try:
                pairs[key.strip()] = float(number)
            except ValueError:
                raise ValueError(f"{name}: {text!r}: {number!r} is not a number of ms") from None
        value = pairs
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of SLOs in ms, got {value!r}")
    if not value:
        raise ValueError(f"{name} must name at least one SLO ({', '.join(GOODPUT_KEYS)})")
    out: dict[str, float] = {}
    for key, ms in value.items():
        canonical = GOODPUT_KEYS.get(key)
        if canonical is None:
            raise ValueError(
                f"{name}: unknown SLO {key!r} (one of {', '.join(map(repr, GOODPUT_KEYS))})"
            )
        if canonical in out:
            raise ValueError(f"{name}: {key!r} repeats the {canonical} SLO")
        if isinstance(ms, bool) or not isinstance(ms, numbers.Real):
            raise TypeError(f"{name}[{key!r}] must be a number of ms, got {ms!r}")
        if not (math.isfinite(ms) and 0 < float(ms) <= _MAX_SLO_MS):
            raise ValueError(f"{name}[{key!r}] must be a number of ms in (0, 3.6e6], got {ms!r}")
        out[canonical] = float(ms)
    return out


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """A streamed run's options (engine.run(stream=...)): goodput SLOs in ms (see
    parse_goodput) and whether to keep one record per request (REQUEST_FIELDS)."""

    goodput: Mapping[str, float] | None = None
    record_requests: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "goodput", parse_goodput(self.goodput))
        if not isinstance(self.record_requests, bool):
            raise TypeError(f"record_requests must be a bool, got {self.record_requests!r}")

    def engine_kwargs(self) -> dict[str, Any]:
        """The native Runner's keywords of these options."""
        slo = self.goodput or {}
        return {
            "streaming": True,
            "goodput_ttft_ms": slo.get("ttft_ms"),
            "goodput_tpot_ms": slo.get("tpot_ms"),
            "goodput_e2e_ms": slo.get("e2e_ms"),
            "record_requests": self.record_requests,
        }


_HISTOGRAMS = ("ttft", "itl", "tpot", "input_tokens", "output_tokens")
_COUNTS = (
    "requests",
    "empty_requests",
    "good_requests",
    "input_tokens_total",
    "output_tokens_total",
    "user_rate_count",
)


class TokenMetrics:
    """The token metrics of a streamed run (one copy's, or merged): histograms of TTFT,
    ITL and TPOT (ns) and of input and output tokens per request, with exact totals.

    requests: timed streamed requests; empty_requests: those whose stream held no token;
    good_requests: those meeting every goodput SLO (all of them without SLOs);
    user_rate_sum / user_rate_count: the sum of each request's own token rate,
    (tokens - 1) / (last - first) per second, over requests with more than one token.
    """

    def __init__(self, **values: Any) -> None:
        for name in _HISTOGRAMS:
            setattr(self, name, values.get(name) or Histogram())
        for name in _COUNTS:
            setattr(self, name, int(values.get(name, 0)))
        self.user_rate_sum = float(values.get("user_rate_sum", 0.0))

    ttft: Histogram
    itl: Histogram
    tpot: Histogram
    input_tokens: Histogram
    output_tokens: Histogram
    requests: int
    empty_requests: int
    good_requests: int
    input_tokens_total: int
    output_tokens_total: int
    user_rate_count: int
    user_rate_sum: float

    def histogram(self, metric: str) -> Histogram:
        """The histogram of "ttft", "itl", "tpot", "input_tokens" or "output_tokens"."""
        if metric not in _HISTOGRAMS:
            raise ValueError(f"metric must be one of {', '.join(_HISTOGRAMS)}, got {metric!r}")
        return getattr(self, metric)

    def merge(self, other: TokenMetrics) -> TokenMetrics:
        """Adds other's histograms and counts to these (returns self)."""
        for name in _HISTOGRAMS:
            getattr(self, name).merge(getattr(other, name))
        for name in (*_COUNTS, "user_rate_sum"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @classmethod
    def merged(cls, parts: list[TokenMetrics]) -> TokenMetrics:
        total = cls()
        for part in parts:
            total.merge(part)
        return total

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: histograms as base64 V2, counts as numbers."""
        out: dict[str, Any] = {name: getattr(self, name).encode() for name in _HISTOGRAMS}
        out.update({name: getattr(self, name) for name in (*_COUNTS, "user_rate_sum")})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenMetrics:
        values: dict[str, Any] = {name: Histogram.decode(data[name]) for name in _HISTOGRAMS}
        values.update({name: data[name] for name in (*_COUNTS, "user_rate_sum")})
        return cls(**values)

    @classmethod
    def from_engine(cls, raw: Mapping[str, Any]) -> TokenMetrics:
        """From the native result's "tokens" dict."""
        return cls(**raw)


def request_records(array: np.ndarray | None) -> list[dict[str, int | None]]:
    """The (n, 9) request records as dicts of REQUEST_FIELDS (-1 -> None)."""
    if array is None:
        return []
    return [
        {
            field: (None if value < 0 else int(value))
            for field, value in zip(REQUEST_FIELDS, row, strict=True)
        }
        for row in array.tolist()
    ]
