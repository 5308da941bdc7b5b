"""A small SVG line/scatter chart writer for the HTML report (no dependencies, no network).

`chart(series, ...)` returns one `<svg>` element: axes with linear or log scales, grid
lines, tick labels, an optional custom tick list (e.g. percentiles in nines), and each
`Series` as a polyline and/or markers. Every point carries a `<title>` tooltip. Colours
are presentation attributes, never `style=`, so a strict Content-Security-Policy holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Distinct colours (Tableau 10), cycled per series.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 14, 30, 44
# Colours past the palette: hues a golden angle apart, in three lightness bands.
_GOLDEN_ANGLE = 137.508
_LIGHTNESS = (42, 58, 30)


def colors(count: int) -> list[str]:
    """`count` colours: the palette's when it has enough, else as many distinct ones
    spread around the hue circle (neighbours far apart in hue, then in lightness)."""
    if count <= len(PALETTE):
        return list(PALETTE[:count])
    out = []
    for i in range(count):
        hue = (i * _GOLDEN_ANGLE) % 360
        out.append(_hsl_hex(hue, 65, _LIGHTNESS[i % len(_LIGHTNESS)]))
    return out


def _hsl_hex(hue: float, saturation: float, lightness: float) -> str:
    s, l_ = saturation / 100, lightness / 100
    chroma = (1 - abs(2 * l_ - 1)) * s
    x = chroma * (1 - abs((hue / 60) % 2 - 1))
    m = l_ - chroma / 2
    sectors = [(chroma, x, 0.0), (x, chroma, 0.0), (0.0, chroma, x)]
    sectors += [(0.0, x, chroma), (x, 0.0, chroma), (chroma, 0.0, x)]
    r, g, b = sectors[int(hue // 60) % 6]
    return "#" + "".join(f"{round((v + m) * 255):02x}" for v in (r, g, b))


@dataclass
class Series:
    """One line and/or set of markers (circles, or squares). `hollow[i]` draws point i
    open (a value unlike the others, e.g. a rescaled partial window); `labels[i]` is
    written next to point i."""

    label: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    dashed: bool = False
    line: bool = True
    markers: bool = True
    hollow: Sequence[bool] | None = None
    labels: Sequence[str] | None = None
    square: bool = False


@dataclass(frozen=True)
class Axis:
    """One axis: its label, log scale or not, ticks ((value, text) pairs) if fixed,
    whether it starts at zero, and whether the data range gets a 5% margin."""

    label: str
    log: bool = False
    ticks: Sequence[tuple[float, str]] | None = None
    from_zero: bool = False
    margin: bool = True


def format_number(value: float) -> str:
    """Short tick text: 12k, 1.5M, 0.25, 3e-05."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:g}k"
    return f"{value:.4g}"


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * power:
            return factor * power
    return 10.0 * power


def _linear_ticks(low: float, high: float) -> tuple[float, float, list[float]]:
    """A range (low < high) widened to whole steps, and its ticks (about five)."""
    step = _nice_step(high - low, 5)
    start, stop = math.floor(low / step) * step, math.ceil(high / step) * step
    ticks = [start + i * step for i in range(round((stop - start) / step) + 1)]
    return start, stop, ticks


def _log_ticks(low: float, high: float) -> tuple[float, float, list[float]]:
    """A range (0 < low < high) widened to 1-2-5 values, and ticks at decades (plus 2
    and 5 when there are few)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    factors = (1.0,) if last - first > 3 else (1.0, 2.0, 5.0)
    candidates = [f * 10.0**e for e in range(first - 1, last + 2) for f in factors]
    start = max(c for c in candidates if c <= low)
    stop = min(c for c in candidates if c >= high)
    return start, stop, [c for c in candidates if start <= c <= stop]


class _Scale:
    """Maps data values to pixels along one axis."""

    def __init__(self, low: float, high: float, log: bool, pixel_low: float, pixel_high: float):
        self.log = log
        self.low, self.high = (math.log10(low), math.log10(high)) if log else (low, high)
        self.pixel_low, self.pixel_high = pixel_low, pixel_high

    def __call__(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        span = self.high - self.low or 1.0
        return self.pixel_low + (v - self.low) / span * (self.pixel_high - self.pixel_low)


def _usable(
    series: Sequence[Series], x_log: bool, y_log: bool
) -> list[list[tuple[int, float, float]]]:
    """Per series, the (index, x, y) points that are finite (and positive on log axes)."""
    out = []
    for s in series:
        points = []
        for i, (x, y) in enumerate(zip(s.xs, s.ys, strict=True)):
            x, y = float(x), float(y)
            if (
                math.isfinite(x)
                and math.isfinite(y)
                and (x > 0 or not x_log)
                and (y > 0 or not y_log)
            ):
                points.append((i, x, y))
        out.append(points)
    return out


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    """The data range widened by 5% each side (a single value: by a factor of 2, or 1)."""
    if log:
        if high <= low:
            return low / 2.0, high * 2.0
        pad = (math.log10(high) - math.log10(low)) * 0.05
        return low / 10.0**pad, high * 10.0**pad
    if high <= low:
        pad = abs(low) * 0.5 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _range(values: list[float], axis: Axis) -> tuple[float, float, list[tuple[float, str]]]:
    """(low, high, ticks) of an axis for its values."""
    if axis.ticks:
        tick_values = [t for t, _ in axis.ticks]
        low, high = _padded(min([*values, *tick_values]), max([*values, *tick_values]), axis.log)
        return low, high, list(axis.ticks)
    low, high = min(values), max(values)
    if axis.margin or high <= low:
        low, high = _padded(low, high, axis.log)
    if axis.from_zero and not axis.log:
        low = 0.0 if min(values) >= 0 else low
    start, stop, ticks = (_log_ticks if axis.log else _linear_ticks)(low, high)
    return start, stop, [(t, format_number(t)) for t in ticks]


def chart(
    series: Sequence[Series],
    title: str,
    x_axis: Axis,
    y_axis: Axis,
    width: int = 480,
    height: int = 300,
) -> str:
    """One chart as an `<svg class="plot">` element (a "no data" frame when empty)."""
    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    parts = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" class="t">{escape(title)}</text>',
    ]
    points = _usable(series, x_axis.log, y_axis.log)
    xs = [x for ps in points for _, x, _ in ps]
    ys = [y for ps in points for _, _, y in ps]
    parts.append(
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'fill="#ffffff" stroke="#999999"/>'
    )
    if not xs:
        parts.append(
            f'<text x="{(left + right) / 2:.1f}" y="{(top + bottom) / 2:.1f}" '
            'text-anchor="middle" class="n">no data</text></svg>'
        )
        return "".join(parts)
    x_low, x_high, x_ticks = _range(xs, x_axis)
    y_low, y_high, y_ticks = _range(ys, y_axis)
    to_x = _Scale(x_low, x_high, x_axis.log, left, right)
    to_y = _Scale(y_low, y_high, y_axis.log, bottom, top)
    parts.extend(_grid(x_ticks, y_ticks, to_x, to_y, (left, right, top, bottom)))
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_axis.label)}</text>"
        f'<text x="14" y="{(top + bottom) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + bottom) / 2:.1f})">{escape(y_axis.label)}</text>'
    )
    for s, ps in zip(series, points, strict=True):
        parts.extend(_draw(s, ps, to_x, to_y))
    parts.append("</svg>")
    return "".join(parts)


def _grid(
    x_ticks: list[tuple[float, str]],
    y_ticks: list[tuple[float, str]],
    to_x: _Scale,
    to_y: _Scale,
    box: tuple[float, float, float, float],
) -> list[str]:
    left, right, top, bottom = box
    out = []
    for value, text in x_ticks:
        x = to_x(value)
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#e4e4e4"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(text)}</text>'
        )
    for value, text in y_ticks:
        y = to_y(value)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e4e4e4"/>'
            f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>'
        )
    return out


def _marker(x: float, y: float, color: str, fill: str, square: bool, tip: str) -> str:
    tooltip = f"<title>{escape(tip)}</title>"
    if square:
        return (
            f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="{fill}" '
            f'stroke="{color}" stroke-width="1.5">{tooltip}</rect>'
        )
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="{color}" '
        f'stroke-width="1.5">{tooltip}</circle>'
    )


def _draw(
    s: Series, points: list[tuple[int, float, float]], to_x: _Scale, to_y: _Scale
) -> list[str]:
    out = []
    dash = ' stroke-dasharray="6 3"' if s.dashed else ""
    if s.line and len(points) > 1:
        coords = " ".join(f"{to_x(x):.1f},{to_y(y):.1f}" for _, x, y in points)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{s.color}" stroke-width="1.8"{dash}/>'
        )
    if not s.markers:
        return out
    middle = (to_x.pixel_low + to_x.pixel_high) / 2.0
    for i, x, y in points:
        hollow = bool(s.hollow[i]) if s.hollow is not None else False
        px, py = to_x(x), to_y(y)
        tip = f"{s.label}: x={format_number(x)}, y={format_number(y)}"
        out.append(_marker(px, py, s.color, "#ffffff" if hollow else s.color, s.square, tip))
        if s.labels is not None and s.labels[i]:
            # right of the point in the left half, left of it in the right half
            anchor, dx = ("start", 5) if px <= middle else ("end", -5)
            out.append(
                f'<text x="{px + dx:.1f}" y="{py - 5:.1f}" text-anchor="{anchor}" class="l">'
                f"{escape(s.labels[i])}</text>"
            )
    return out


def swatch(color: str, dashed: bool = False, marker: str = "") -> str:
    """A small inline SVG for legends written in HTML: a line in `color` (dashed or
    not), with a marker in the middle: "" none, "square", or "hollow" (open circle)."""
    dash = ' stroke-dasharray="5 2"' if dashed else ""
    shape = ""
    if marker == "square":
        shape = f'<rect x="8" y="2" width="6" height="6" fill="{color}"/>'
    elif marker == "hollow":
        shape = f'<circle cx="11" cy="5" r="3" fill="#ffffff" stroke="{color}" stroke-width="1.5"/>'
    return (
        '<svg class="sw" xmlns="http://www.w3.org/2000/svg" width="22" height="10">'
        f'<line x1="1" y1="5" x2="21" y2="5" stroke="{color}" stroke-width="2.5"{dash}/>'
        f"{shape}</svg>"
    )
