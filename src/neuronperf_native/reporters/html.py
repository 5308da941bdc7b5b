"""Self-contained HTML reports: `write_html(reports)` and `write_comparison_html(comparison)`.

One file, no network: the plots are inline SVG written by `_svg`, the tables sort with
a few lines of inline script, fonts are the system's. A Content-Security-Policy of
`default-src 'none'` (the inline style and script allowed by their hashes) makes the
browser refuse any request the page might attempt.

Content: the run metadata, the report table (click a header to sort; with a load that
varies, its target and achieved rates, schedule lag, backlog and saturation), and per
model: throughput vs p99 latency across configurations (the Pareto front joined, of
the configurations that finished unsaturated; saturated and failed ones drawn apart and
labelled), batch-size scaling, each configuration's latency percentile spectrum (log
scale, from its saved histogram) and its throughput timeline (a rescaled partial last
window drawn open; long runs averaged down to at most _MAX_TIMELINE_POINTS points). A
comparison draws base (dashed, squares) and new (solid, circles) on the same axes,
below its verdict table. Past the palette's ten colours, configurations get colours
spread around the hue circle, and long legends scroll within their figure.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from neuronperf_native import _plot
from neuronperf_native.analysis import Comparison
from neuronperf_native.reporters import _svg
from neuronperf_native.reporters._format import (
    config_label,
    format_cell,
    is_missing,
    latency_unit,
    percent,
)
from neuronperf_native.reporters.base import Reporter

__all__ = ["HtmlReporter", "write_comparison_html", "write_html"]

#: Report table columns: (key, header); latency columns get their unit in the header.
TABLE_COLS = (
    ("model_name", "model"),
    ("batch_size", "batch"),
    ("n_models", "n_models"),
    ("workers_per_model", "workers"),
    ("pipeline_size", "pipeline"),
    ("throughput_avg", "throughput avg (inf/s)"),
    ("throughput_peak", "throughput peak (inf/s)"),
    ("latency_ms_p50", "p50"),
    ("latency_ms_p90", "p90"),
    ("latency_ms_p99", "p99"),
    ("latency_ms_p99.9", "p99.9"),
    ("total_infs", "inferences"),
    ("status", "status"),
)
#: Metadata rows: (key in report["metadata"], label).
META_ROWS = (
    ("neuronperf_native_version", "neuronperf-native"),
    ("python_version", "Python"),
    ("python_implementation", "implementation"),
    ("frameworks", "frameworks"),
    ("platform", "platform"),
    ("cpu_model", "CPU"),
    ("usable_cores", "usable cores"),
    ("cpu_affinity", "CPU affinity"),
    ("hostname", "host"),
)
#: Metadata rows taken from the reports themselves.
RUN_ROWS: tuple[tuple[str, Callable[[Sequence[Mapping[str, Any]]], Any]], ...] = (
    ("device type", lambda reports: reports[0].get("device_type")),
    ("configurations", len),
    ("first start", lambda reports: reports[0].get("start_dts")),
    ("last stop", lambda reports: reports[-1].get("stop_dts")),
    ("duration per configuration (s)", lambda reports: reports[0].get("duration")),
)
#: Columns added when a report is open loop: the load, and how it was kept up with.
LOAD_COLS = (
    ("request_rate_target", "target rate (req/s)"),
    ("request_rate_achieved", "achieved rate (req/s)"),
    ("schedule_lag_ms_p99", "schedule lag p99"),
    ("backlog_max", "backlog max"),
    ("saturated", "saturated"),
)
#: Columns added when a report is a latency-SLO search probe.
SLO_COLS = (("slo_met", "SLO met"), ("slo_best", "SLO best"))
_TEXT_COLS = ("model_name", "status")
_BASE_COLOR, _RUN_COLOR, _APART_COLOR = "#7f7f7f", _svg.PALETTE[0], "#d62728"
_NINES_TICKS = (0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 99.999)
#: Pareto-front points of the throughput/latency chart labelled, at most.
_MAX_LABELLED = 12
#: Points a throughput timeline draws at most: longer runs are averaged down to it.
_MAX_TIMELINE_POINTS = 400
#: Legend entries shown before a legend scrolls within its figure.
_MAX_LEGEND = 16

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.sub{color:#666;margin:0 0 12px}.wide{overflow-x:auto}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.s,th.s{text-align:left}
table.sortable th{cursor:pointer}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
tr.err td{background:#fff0f0}
td.v-slower{background:#f8d7da;font-weight:600}td.v-faster{background:#d4edda;font-weight:600}
td.v-unknown{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #eee;padding:6px}
figcaption{font-size:12px;max-width:480px}figcaption span{margin-right:10px;display:inline-block}
figcaption.many{max-height:120px;overflow-y:auto}
svg.plot{font-size:11px;display:block}svg.plot .t{font-size:13px;font-weight:600}
svg.plot .l{font-size:9px;fill:#444}svg.plot .n{fill:#999}
svg.sw{vertical-align:middle;margin-right:3px}
"""

_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = Number(x), ny = Number(y);
        var order = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
        return up ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


@dataclass(frozen=True)
class _Run:
    """One run's reports and how they are drawn (base: dashed lines, square markers)."""

    label: str
    reports: Sequence[Mapping[str, Any]]
    base: bool = False


Legend = list[tuple[str, bool, str, str]]  # (colour, dashed, marker, text)


# Tables -------------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _sort_value(value: Any) -> str:
    """The data-v attribute of a cell (what the table sorts on): missing is empty."""
    if is_missing(value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return str(value)


def _cell(value: Any, text: str | None = None, left: bool = False, css: str = "") -> str:
    classes = " ".join(c for c in ("s" if left else "", css) if c)
    klass = f' class="{classes}"' if classes else ""
    shown = format_cell(value) if text is None else text
    return f'<td{klass} data-v="{escape(_sort_value(value))}">{escape(shown)}</td>'


def _table(table_id: str, heads: Sequence[str], rows: Sequence[str], sortable: bool) -> str:
    klass = " class='sortable'" if sortable else ""
    head = "".join(heads)
    return (
        f"<div class='wide'><table{klass} id='{table_id}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _head(text: str, left: bool = False) -> str:
    return f"<th{' class=s' if left else ''}>{escape(text)}</th>"


def _flat(report: Mapping[str, Any]) -> Mapping[str, Any]:
    """A report with a search's verdicts as columns (slo_met, slo_best)."""
    slo = report.get("slo")
    if not isinstance(slo, Mapping):
        return report
    return {**report, "slo_met": slo.get("met"), "slo_best": slo.get("best")}


def _report_table(runs: Sequence[_Run]) -> str:
    reports = [r for run in runs for r in run.reports]
    cols = list(TABLE_COLS)
    if any("stable" in r for r in reports):
        cols.insert(-1, ("stable", "stable"))
    if any(r.get("load_mode") == "open" for r in reports):
        cols[5:5] = LOAD_COLS[:2]  # the rates lead the figures
        cols[-1:-1] = LOAD_COLS[2:]
    if any(isinstance(r.get("slo"), Mapping) for r in reports):
        cols[-1:-1] = SLO_COLS
    units = {k: latency_unit([r.get(k) for r in reports]) for k, _ in cols if "latency" in k}
    heads = [_head("run", left=True)] if len(runs) > 1 else []
    for key, header in cols:
        text = f"{header} ({units[key][0]})" if key in units else header
        heads.append(_head(text, left=key in _TEXT_COLS))
    rows = []
    for run in runs:
        for report in map(_flat, run.reports):
            cells = [_cell(run.label, left=True)] if len(runs) > 1 else []
            for key, _ in cols:
                value = report.get(key)
                if key in units and isinstance(value, (int, float)):
                    cells.append(_cell(value, format_cell(value * units[key][1])))
                else:
                    cells.append(_cell(value, left=key in _TEXT_COLS))
            failed = report.get("status") not in (None, "finished")
            rows.append(f"<tr{' class=err' if failed else ''}>{''.join(cells)}</tr>")
    return _table("reports", heads, rows, sortable=True)


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    spans = [[values[0], values[0]]]
    for value in values[1:]:
        if value == spans[-1][1] + 1:
            spans[-1][1] = value
        else:
            spans.append([value, value])
    return ",".join(f"{a}-{b}" if b != a else str(a) for a, b in spans)


def _meta_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "none imported"
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return _ranges(value)
    return format_cell(value)


def _metadata_table(runs: Sequence[_Run]) -> str:
    heads = ["<th></th>", *(_head(run.label, left=True) for run in runs)]
    rows = []
    for key, label in META_ROWS:
        values = [(run.reports[0].get("metadata") or {}).get(key) for run in runs]
        cells = "".join(f"<td class=s>{escape(_meta_text(v))}</td>" for v in values)
        rows.append(f"<tr>{_head(label, left=True)}{cells}</tr>")
    for label, pick in RUN_ROWS:
        cells = "".join(f"<td class=s>{escape(_meta_text(pick(run.reports)))}</td>" for run in runs)
        rows.append(f"<tr>{_head(label, left=True)}{cells}</tr>")
    return _table("metadata", heads, rows, sortable=False)


def _comparison_row(row: Any) -> str:
    if row.metric.startswith("throughput"):
        unit, factor = "inf/s", 1.0
    else:
        unit, factor = latency_unit([row.base, row.new])
    scaled = [None if v is None else v * factor for v in (row.base, row.new)]
    interval = "N/A"
    if row.interval is not None:
        interval = f"[{percent(row.interval[0])}, {percent(row.interval[1])}]"
    cells = [
        _cell(config_label(row.config), left=True),
        _cell(row.metric, left=True),
        _cell(unit, left=True),
        _cell(scaled[0]),
        _cell(scaled[1]),
        _cell(row.change, percent(row.change)),
        _cell(row.interval[0] if row.interval else None, interval),
        _cell(row.verdict, left=True, css=f"v-{row.verdict}"),
        _cell(row.note or "", left=True),
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _comparison_section(comparison: Comparison) -> str:
    level = f"{comparison.confidence * 100:g}%"
    names = ["config", "metric", "unit", "base", "new", "change", f"interval ({level})"]
    heads = [_head(h, left=True) for h in [*names, "verdict", "note"]]
    table = _table("comparison", heads, [_comparison_row(r) for r in comparison.rows], True)
    notes: list[str] = []
    for what, configs in (
        (f"only in {comparison.base_label}", comparison.unmatched_base),
        (f"only in {comparison.new_label}", comparison.unmatched_new),
        (f"failed in {comparison.new_label}", comparison.failed),
    ):
        notes.extend(f"<li>{escape(what)}: {escape(config_label(c))}</li>" for c in configs)
    outcome = "regressed" if comparison.regressed else "no regression"
    summary = (
        f"{outcome}: {len(comparison.regressions)} slower of {len(comparison.rows)} "
        f"comparison(s); threshold {comparison.threshold * 100:g}%, confidence {level}"
    )
    return (
        f"<section><h2>Comparison</h2><p class='sub'>{escape(summary)}</p>{table}"
        f"<ul>{''.join(notes)}</ul></section>"
    )


# Charts -------------------------------------------------------------------------


def _models(runs: Sequence[_Run]) -> list[str]:
    names = {str(r.get("model_name") or "?"): None for run in runs for r in run.reports}
    return list(names)


def _of_model(run: _Run, model: str) -> list[Mapping[str, Any]]:
    return [r for r in run.reports if str(r.get("model_name") or "?") == model]


def _short_label(report: Mapping[str, Any]) -> str:
    """The configuration label without the model name: `b=1 n=2 w=1 p=1` (and the load
    and rate in open loop)."""
    return config_label(report, with_model=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _figure(svg: str, legend: Legend) -> str:
    entries = "".join(
        f"<span>{_svg.swatch(color, dashed, marker)}{escape(text)}</span>"
        for color, dashed, marker, text in legend
    )
    many = " class='many'" if len(legend) > _MAX_LEGEND else ""
    return f"<figure>{svg}<figcaption{many}>{entries}</figcaption></figure>"


def _series(run: _Run, label: str, xs: Any, ys: Any, color: str, **options: Any) -> _svg.Series:
    """A series drawn in its run's style: base dashed with squares, new solid with circles."""
    return _svg.Series(
        label, list(xs), list(ys), color, dashed=run.base, square=run.base, **options
    )


def _run_legend(runs: Sequence[_Run]) -> Legend:
    if len(runs) < 2:
        return []
    names = [
        run.label if run.label == role else f"{run.label} ({role})"
        for run, role in zip(runs, ("base", "new"), strict=True)
    ]
    return [(_BASE_COLOR, True, "square", names[0]), (_BASE_COLOR, False, "", names[1])]


def _config_colors(model: str, runs: Sequence[_Run]) -> dict[str, str]:
    labels = list(dict.fromkeys(_short_label(r) for run in runs for r in _of_model(run, model)))
    return dict(zip(labels, _svg.colors(len(labels)), strict=True))


def _frontier(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The Pareto front: no other point has both lower latency and higher throughput."""
    front, best = [], -math.inf
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if point[1] > best:
            front.append(point)
            best = point[1]
    return front


def _off_front(report: Mapping[str, Any]) -> str | None:
    """Why a configuration is kept off the Pareto front: it did not finish (its status),
    or it was saturated (its latencies describe the overload, growing with the run)."""
    status = report.get("status")
    if status not in (None, "finished"):
        return str(status)
    return "saturated" if report.get("saturated") else None


def _tradeoff_chart(model: str, runs: Sequence[_Run]) -> str:
    series, legend = [], []
    reports = [r for run in runs for r in _of_model(run, model)]
    unit, factor = latency_unit([r.get("latency_ms_p99") for r in reports])
    apart_any = False
    for run in runs:
        color = _BASE_COLOR if run.base else _RUN_COLOR
        points, apart = [], []
        for report in _of_model(run, model):
            latency = _number(report.get("latency_ms_p99"))
            latency = latency * factor if latency is not None else None
            throughput = _number(report.get("throughput_avg"))
            if latency is None or throughput is None:
                continue
            why = _off_front(report)
            point = (latency, throughput, _short_label(report))
            if why is None:
                points.append(point)
            else:
                apart.append((latency, throughput, f"{point[2]} ({why})"))
        front = _frontier(points)
        xs, ys = [p[0] for p in front], [p[1] for p in front]
        labelled = len(front) <= _MAX_LABELLED and run is runs[-1]  # new's, in a comparison
        labels = [p[2] for p in front] if labelled else None
        series.append(_series(run, f"{run.label} front", xs, ys, color, labels=labels))
        others = [p for p in points if p not in front]
        xs, ys = [p[0] for p in others], [p[1] for p in others]
        series.append(_series(run, run.label, xs, ys, color, line=False))
        if apart:
            apart_any = True
            xs, ys = [p[0] for p in apart], [p[1] for p in apart]
            series.append(
                _series(
                    run,
                    f"{run.label} off the front",
                    xs,
                    ys,
                    _APART_COLOR,
                    line=False,
                    hollow=[True] * len(apart),
                    labels=[p[2] for p in apart] if len(apart) <= _MAX_LABELLED else None,
                )
            )
        text = f"{run.label}: configurations, the Pareto front joined"
        legend.append((color, run.base, "square" if run.base else "", text))
    if apart_any:
        legend.append((_APART_COLOR, False, "hollow", "saturated or not finished: off the front"))
    latencies = [x for s in series for x in s.xs if x > 0]
    log = bool(latencies) and max(latencies) / min(latencies) > 20
    x_axis = _svg.Axis(f"p99 latency ({unit}, log)" if log else f"p99 latency ({unit})", log=log)
    svg = _svg.chart(
        series, "Throughput vs p99 latency", x_axis, _svg.Axis("throughput (inf/s)", from_zero=True)
    )
    return _figure(svg, legend)


def _group_key(report: Mapping[str, Any]) -> str:
    """The configuration without its batch size: one line of the scaling chart."""
    return " ".join(part for part in _short_label(report).split() if not part.startswith("b="))


def _batch_chart(model: str, runs: Sequence[_Run]) -> str:
    colors: dict[str, str] = {}
    series, sizes = [], set()
    for run in runs:
        groups: dict[str, list[tuple[float, float]]] = {}
        for report in _of_model(run, model):
            batch = _number(report.get("batch_size"))
            throughput = _number(report.get("throughput_avg"))
            if batch is not None and throughput is not None:
                groups.setdefault(_group_key(report), []).append((batch, throughput))
                sizes.add(int(batch))
        keys = list(dict.fromkeys([*colors, *groups]))
        colors = dict(zip(keys, _svg.colors(len(keys)), strict=True))
        for key, points in groups.items():
            color = colors[key]
            points.sort()
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            series.append(_series(run, f"{run.label} {key}", xs, ys, color))
    ticks = [(float(b), str(b)) for b in sorted(sizes)] or None
    svg = _svg.chart(
        series,
        "Batch-size scaling",
        _svg.Axis("batch size (log)", log=True, ticks=ticks),
        _svg.Axis("throughput (inf/s)", from_zero=True),
    )
    legend = [(color, False, "", key) for key, color in colors.items()]
    return _figure(svg, legend + _run_legend(runs))


def _spectrum_chart(model: str, runs: Sequence[_Run], metric: str = "latency") -> str:
    colors = _config_colors(model, runs)
    series, deepest = [], 0.0
    for run in runs:
        for report in _of_model(run, model):
            percentiles, values_ms = _plot.latency_spectrum(report, metric)
            if not len(percentiles):
                continue
            xs = [_plot._nines(float(p)) for p in percentiles]
            deepest = max([deepest, *xs])
            label = _short_label(report)
            series.append(
                _series(run, f"{run.label} {label}", xs, values_ms, colors[label], markers=False)
            )
    ticks = [(_plot._nines(p), f"{p:g}") for p in _NINES_TICKS if _plot._nines(p) <= deepest]
    title = {"latency": "Latency", "ttft": "TTFT", "itl": "ITL"}.get(metric, metric.upper())
    svg = _svg.chart(
        series,
        f"{title} percentiles",
        _svg.Axis("percentile", ticks=ticks or None),
        _svg.Axis(f"{'latency' if metric == 'latency' else title} (ms, log)", log=True),
    )
    legend = [(color, False, "", label) for label, color in colors.items()]
    return _figure(svg, legend + _run_legend(runs))


def _token_chart(model: str, runs: Sequence[_Run], x_key: str, higher_x: bool) -> str:
    """System output tokens/s against a per-request figure, with the Pareto front the
    configuration is chosen from: against TTFT p99 (lower is better) or against tokens/s
    per user (higher is better: vLLM's plot_pareto view)."""
    series, legend = [], []
    for run in runs:
        color = _BASE_COLOR if run.base else _RUN_COLOR
        points = []
        for report in _of_model(run, model):
            x = _number(report.get(x_key))
            y = _number(report.get("output_tokens_per_s"))
            if x is not None and y is not None:
                points.append((-x if higher_x else x, y, _short_label(report)))
        front = _frontier(points)
        sign = -1.0 if higher_x else 1.0
        labelled = len(front) <= _MAX_LABELLED and run is runs[-1]
        series.append(
            _series(
                run, f"{run.label} front", [sign * p[0] for p in front], [p[1] for p in front],
                color, labels=[p[2] for p in front] if labelled else None,
            )
        )  # fmt: skip
        others = [p for p in points if p not in front]
        series.append(
            _series(run, run.label, [sign * p[0] for p in others], [p[1] for p in others],
                    color, line=False)
        )  # fmt: skip
        legend.append((color, run.base, "square" if run.base else "",
                       f"{run.label}: configurations, the Pareto front joined"))  # fmt: skip
    x_axis = (
        _svg.Axis("output tokens/s per user", from_zero=True)
        if higher_x
        else _svg.Axis("TTFT p99 (ms)", from_zero=True)
    )
    title = "Tokens/s: system vs per user" if higher_x else "Output tokens/s vs TTFT p99"
    svg = _svg.chart(series, title, x_axis, _svg.Axis("output tokens/s", from_zero=True))
    return _figure(svg, legend)


def _streamed(model: str, runs: Sequence[_Run]) -> bool:
    return any(
        r.get("requests_streamed") is not None for run in runs for r in _of_model(run, model)
    )


def _timeline_chart(model: str, runs: Sequence[_Run]) -> str:
    colors = _config_colors(model, runs)
    series, rescaled_any = [], False
    for run in runs:
        for report in _of_model(run, model):
            times, rates, rescaled = _downsampled(*_plot.timeline(report))
            rescaled_any |= rescaled
            hollow = [rescaled and i == len(times) - 1 for i in range(len(times))]
            label = _short_label(report)
            series.append(
                _series(run, f"{run.label} {label}", times, rates, colors[label], hollow=hollow)
            )
    svg = _svg.chart(
        series,
        "Throughput timeline",
        _svg.Axis("time (s, end of window)", from_zero=True, margin=False),
        _svg.Axis("throughput (inf/s)", from_zero=True),
    )
    legend = [(color, False, "", label) for label, color in colors.items()]
    if rescaled_any:
        legend.append(("#555555", False, "hollow", "partial last window, rescaled to its length"))
    return _figure(svg, legend + _run_legend(runs))


def _downsampled(times: Any, rates: Any, rescaled: bool) -> tuple[list[float], list[float], bool]:
    """A timeline of at most _MAX_TIMELINE_POINTS points: consecutive full windows
    averaged together (each point the mean rate of its windows, at the end of the last),
    a rescaled partial last window kept as it is."""
    times, rates = list(times), list(rates)
    last = ([times.pop()], [rates.pop()]) if rescaled and times else ([], [])
    if len(times) + len(last[0]) > _MAX_TIMELINE_POINTS:
        size = math.ceil(len(times) / (_MAX_TIMELINE_POINTS - len(last[0])))
        groups = range(0, len(times), size)
        rates = [sum(rates[i : i + size]) / len(rates[i : i + size]) for i in groups]
        times = [times[min(i + size, len(times)) - 1] for i in groups]
    return times + last[0], rates + last[1], rescaled


def _model_section(model: str, runs: Sequence[_Run]) -> str:
    charts = (_tradeoff_chart, _batch_chart, _spectrum_chart, _timeline_chart)
    figures = "".join(chart(model, runs) for chart in charts)
    if _streamed(model, runs):
        figures += _token_chart(model, runs, "ttft_ms_p99", higher_x=False)
        figures += _token_chart(model, runs, "output_tokens_per_s_per_user", higher_x=True)
        figures += _spectrum_chart(model, runs, "ttft") + _spectrum_chart(model, runs, "itl")
    return (
        f"<section class='model'><h2>Model {escape(model)}</h2>"
        f"<div class='charts'>{figures}</div></section>"
    )


# Documents ----------------------------------------------------------------------


def _document(runs: Sequence[_Run], title: str, comparison: Comparison | None = None) -> str:
    """The whole page for one run, or two (base first)."""
    csp = f"default-src 'none'; style-src {_csp_hash(_STYLE)}; script-src {_csp_hash(_SCRIPT)}"
    count = sum(len(run.reports) for run in runs)
    written = time.strftime("%Y-%m-%d %H:%M:%S")
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='sub'>written {written} by neuronperf-native; {count} configuration(s)</p>",
        f"<section><h2>Run</h2>{_metadata_table(runs)}</section>",
    ]
    if comparison is not None:
        body.append(_comparison_section(comparison))
    body.append(f"<section><h2>Reports</h2>{_report_table(runs)}</section>")
    body.extend(_model_section(model, runs) for model in _models(runs))
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{csp}\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"{''.join(body)}<script>{_SCRIPT}</script></body></html>\n"
    )


class HtmlReporter(Reporter):
    """The reports, or a comparison with both runs overlaid, as one self-contained page;
    `title` defaults to the models' names."""

    extension = "html"

    def __init__(self, title: str | None = None) -> None:
        self.title = title

    def render(self, reports: list[Mapping[str, Any]]) -> str:
        if not reports:
            raise ValueError("reports is empty: nothing to write")
        if self.title is not None and not isinstance(self.title, str):
            raise TypeError(f"title must be a str or None, got {self.title!r}")
        run = _Run("run", list(reports))
        return _document(
            [run], self.title or f"neuronperf-native report: {', '.join(_models([run]))}"
        )

    def render_comparison(self, comparison: Comparison) -> str:
        runs = [
            _Run(comparison.base_label, comparison.base_reports, base=True),
            _Run(comparison.new_label, comparison.new_reports),
        ]
        title = f"neuronperf-native comparison: {comparison.base_label} vs {comparison.new_label}"
        return _document(runs, title, comparison)


def write_html(
    reports: Sequence[Mapping[str, Any]],
    filename: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> str:
    """Writes the reports as one self-contained HTML file and returns the filename.

    Without a filename, one is made from the model name and the local time (as
    write_json does). The file is replaced atomically.
    """
    return HtmlReporter(title).write(reports, filename)


def write_comparison_html(
    comparison: Comparison, filename: str | os.PathLike[str] | None = None
) -> str:
    """Writes a comparison (its verdict table, then both runs overlaid) as one HTML file."""
    return HtmlReporter().write_comparison(comparison, filename)
