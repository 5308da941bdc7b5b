"""HTML reports: self-contained files, their charts, and a real render in headless Chromium.

The browser tests skip (with the reason) where no chromium is installed; .ci/run
installs Debian's. Set NPN_SCREENSHOT_DIR to keep the screenshots for a look.
"""

import base64
import functools
import hashlib
import io
import os
import re
from pathlib import Path

import _browser
import numpy as np
import pytest

import neuronperf_native as npf
from neuronperf_native import _plot, cli, engine
from neuronperf_native.reporters import _svg
from neuronperf_native.reporters.html import write_comparison_html


def _spin_loader(latency_ns, model_filename, device_id=0):
    return engine.native_model("spin", latency_ns=latency_ns, distribution="lognormal", sigma=0.2)


@functools.cache
def spin_reports(latency_ns):
    """Real reports: batch sizes 1 and 2 x 1 and 2 workers of a native spin model."""
    reports = npf.benchmark(
        functools.partial(_spin_loader, latency_ns),
        "spin",
        [[1], [1]],
        batch_sizes=[1, 2],
        duration=0.4,
        n_models=1,
        workers_per_model=[1, 2],
        multiprocess=False,
        window_s=0.05,
        model_name="spin",
        verbosity=0,
    )
    assert [r["status"] for r in reports] == ["finished"] * 4
    return tuple(reports)


def _sections(text, tag):
    return re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.S)


def test_the_file_is_self_contained_and_its_policy_allows_only_itself(tmp_path):
    path = npf.write_html(list(spin_reports(150_000)), tmp_path / "r.html")
    text = Path(path).read_text()
    assert path == str(tmp_path / "r.html")
    # no attribute that could load anything, no URL but the SVG namespace
    assert not re.search(r"\b(src|href|srcset|action)\s*=", text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}
    csp = re.search(r'http-equiv=.Content-Security-Policy. content="([^"]+)"', text).group(1)
    (style,), (script,) = _sections(text, "style"), _sections(text, "script")
    digest = {
        name: base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for name, body in (("style", style), ("script", script))
    }
    assert csp == (
        f"default-src 'none'; style-src 'sha256-{digest['style']}'; "
        f"script-src 'sha256-{digest['script']}'"
    )
    assert " style=" not in text  # inline style attributes would break the policy
    assert text.count('<svg class="plot"') == 4  # one model, four charts


def test_the_report_table_holds_every_report_value(tmp_path):
    reports = list(spin_reports(150_000))
    text = Path(npf.write_html(reports, tmp_path / "r.html")).read_text()
    table = re.search(r"<table class='sortable' id='reports'>(.*?)</table>", text, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    assert len(rows) == len(reports)
    for row, report in zip(rows, reports, strict=True):
        values = re.findall(r'data-v="([^"]*)"', row)
        assert values[0] == "spin" and float(values[1]) == report["batch_size"]
        assert float(values[5]) == report["throughput_avg"]
        assert float(values[7]) == report["latency_ms_p50"]  # sorts on ms, shows us/ms
    assert "<th>p50 (ms)</th>" in table


def test_comparison_html_overlays_both_runs(tmp_path):
    base, new = list(spin_reports(150_000)), list(spin_reports(180_000))
    comparison = npf.compare(base, new, metrics=["latency_ms_p10"])  # p10: robust to load
    text = Path(write_comparison_html(comparison, tmp_path / "c.html")).read_text()
    assert text.count('class="s v-slower"') == 4  # 20% slower p10 in every configuration
    assert "regressed: 4 slower of 4 comparison(s)" in text
    # base is drawn dashed with squares, new solid with circles, in the same charts
    assert 'stroke-dasharray="6 3"' in text and "<rect x=" in text
    assert text.count('<svg class="plot"') == 4


def test_the_partial_last_window_is_rescaled_and_drawn_open():
    report = {"throughput_timeline": [100.0, 110.0, 60.0], "window_s": 1.0, "total_s": 2.6}
    times, rates, rescaled = _plot.timeline(report)
    assert rescaled and list(times) == [1.0, 2.0, 2.6] and rates[-1] == pytest.approx(100.0)
    short = dict(report, total_s=2.2)  # 0.2 of a window: dropped, not a fall to ~0
    times, rates, rescaled = _plot.timeline(short)
    assert not rescaled and list(rates) == [100.0, 110.0]
    only = {"throughput_timeline": [30.0], "window_s": 1.0, "total_s": 0.3}
    assert _plot.timeline(only)[1][0] == pytest.approx(100.0)


def test_svg_ticks_and_empty_charts():
    assert _svg._linear_ticks(0.0, 97.0) == (0.0, 100.0, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0])
    low, high, ticks = _svg._log_ticks(0.2, 40.0)
    assert (low, high) == (0.2, 50.0) and ticks == [0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    assert _svg._log_ticks(0.002, 900.0)[2] == [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
    assert [_svg.format_number(v) for v in (25_000, 2_500_000, 0.25)] == ["25k", "2.5M", "0.25"]
    empty = _svg.chart([], "Nothing <here>", _svg.Axis("x"), _svg.Axis("y"))
    assert "no data" in empty and "Nothing &lt;here&gt;" in empty
    series = _svg.Series("a<b", [1.0, 2.0, float("nan")], [1.0, -1.0, 3.0], "#123456")
    drawn = _svg.chart([series], "t", _svg.Axis("x"), _svg.Axis("y", log=True))
    assert drawn.count("<circle") == 1  # NaN dropped, -1 dropped on a log axis
    assert "a&lt;b: x=1, y=1" in drawn


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="reports is empty"):
        npf.write_html([], tmp_path / "r.html")
    with pytest.raises(TypeError, match="reports must be a list of report dicts"):
        npf.write_html({"a": 1}, tmp_path / "r.html")
    with pytest.raises(TypeError, match="title must be a str"):
        npf.write_html(list(spin_reports(150_000)), tmp_path / "r.html", title=3)
    with pytest.raises(ValueError, match="is a directory"):
        npf.write_html(list(spin_reports(150_000)), tmp_path)


def test_cli_report_and_compare_write_html(tmp_path, capsys):
    base = npf.write_json(list(spin_reports(150_000)), tmp_path / "base.json")
    new = npf.write_json(list(spin_reports(180_000)), tmp_path / "new.json")
    assert cli.main(["report", base, "--html", str(tmp_path / "r.html")]) == cli.EXIT_OK
    assert (tmp_path / "r.html").read_text().count('<svg class="plot"') == 4
    html = str(tmp_path / "c.html")
    code = cli.main(["compare", base, new, "--metric", "latency_ms_p10", "--html", html, "-q"])
    assert code == cli.EXIT_FAILED
    assert "v-slower" in (tmp_path / "c.html").read_text()
    capsys.readouterr()


# In a real browser -----------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    _browser.find_chromium() is None,
    reason="headless Chromium not installed (apt-get install -y chromium); .ci/run installs it",
)

PLOT_RECTS = (
    "Array.from(document.querySelectorAll('svg.plot')).map(function (e) {"
    " var r = e.getBoundingClientRect();"
    " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })"
)
SORT_BY_THROUGHPUT = (
    "(function () { var th = document.querySelectorAll('#reports th')[5]; var out = [];"
    " for (var i = 0; i < 2; i++) { th.click(); out.push(Array.from("
    " document.querySelectorAll('#reports tbody tr')).map(function (r) {"
    " return Number(r.cells[5].getAttribute('data-v')); })); }"
    " return out; })()"
)


def _pixels(png):
    image = pytest.importorskip("PIL.Image", reason="Pillow (with matplotlib) reads the PNG")
    return np.asarray(image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _colored(region):
    """Pixels of `region` in a saturated colour (the data series; axes and text are grey)."""
    chroma = region.max(axis=2) - region.min(axis=2)
    return int(np.sum(chroma > 60))


def _check_page(path, name):
    page = _browser.render(str(path), {"plots": PLOT_RECTS, "sorted": SORT_BY_THROUGHPUT})
    keep = os.environ.get("NPN_SCREENSHOT_DIR")
    if keep:
        Path(keep, f"{name}.png").write_bytes(page.screenshot)
    assert page.errors == [] and page.console == []
    assert page.requests == [Path(path).resolve().as_uri()]  # nothing but the file itself
    ascending, descending = page.results["sorted"]
    assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True)
    pixels = _pixels(page.screenshot)
    rects = page.results["plots"]
    assert len(rects) == 4
    for left, top, width, height in rects:
        region = pixels[round(top) : round(top + height), round(left) : round(left + width)]
        assert region.shape[0] > 200 and region.shape[1] > 400  # on the page, not cut off
        assert region.std() > 20  # axes, grid and text at least
        assert _colored(region) > 60, (left, top)  # and data in colour: two markers at least
    header = pixels[: round(rects[0][1]) - 300, :]  # tables and text, no chart
    assert _colored(header) == 0  # the check can fail: no colour in tables and text
    return page


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    path = npf.write_html(list(spin_reports(150_000)), tmp_path / "report.html")
    _check_page(path, "report")


@needs_chromium
def test_comparison_renders_in_headless_chromium(tmp_path):
    comparison = npf.compare(list(spin_reports(150_000)), list(spin_reports(180_000)))
    path = write_comparison_html(comparison, tmp_path / "compare.html")
    _check_page(path, "compare")


@needs_chromium
def test_a_request_leaving_the_file_is_caught(tmp_path):
    """The checks can fail: an image from elsewhere is blocked, logged and recorded."""
    text = Path(npf.write_html(list(spin_reports(150_000)), tmp_path / "r.html")).read_text()
    tampered = text.replace("<h1>", '<img src="http://127.0.0.1:9/x.png"><h1>', 1)
    (tmp_path / "bad.html").write_text(tampered)
    page = _browser.render(str(tmp_path / "bad.html"), {})
    assert any("Content Security Policy" in e and "127.0.0.1:9" in e for e in page.errors)
    # recorded as attempted (so _check_page's request check fails too), refused by the policy
    assert page.requests == [(tmp_path / "bad.html").resolve().as_uri(), "http://127.0.0.1:9/x.png"]


# Open-loop and failed runs, many configurations (issue 22) -------------------------


def _variant(template, **changes):
    """A copy of a real report with some values changed."""
    return {**template, **changes}


def _open_loop_reports():
    """Reports of --request-rate 100 1000 10000: the last one saturated (p99 1.6 s), and
    a fourth that failed; the model's name has a space."""
    template = dict(spin_reports(150_000)[0])
    rows = []
    for rate, achieved, p99, saturated, status in (
        (100.0, 100.0, 0.16, False, "finished"),
        (1000.0, 999.0, 0.2, False, "finished"),
        (10000.0, 6500.0, 1600.0, True, "finished"),
        (2000.0, 1500.0, 0.1, False, "error"),
    ):
        rows.append(
            _variant(
                template,
                model_name="my model",
                load_mode="open",
                request_rate=rate,
                request_rate_target=rate,
                request_rate_achieved=achieved,
                throughput_avg=achieved,
                latency_ms_p99=p99,
                saturated=saturated,
                status=status,
            )
        )
    return rows


def _polyline_points(svg_text):
    return [len(p.split()) for p in re.findall(r'<polyline points="([^"]*)"', svg_text)]


def test_open_loop_reports_show_their_load_and_keep_bad_configurations_off_the_front(tmp_path):
    text = Path(npf.write_html(_open_loop_reports(), tmp_path / "r.html")).read_text()
    table = re.search(r"id='reports'>(.*?)</table>", text, re.S).group(1)
    for head in ("target rate (req/s)", "achieved rate (req/s)", "saturated"):
        assert f">{head}<" in table  # before issue 22 the rows of the three rates looked alike
    (tradeoff,) = [f for f in text.split("<figure>") if "Throughput vs p99 latency" in f]
    front = re.search(r'<polyline points="([^"]*)"', tradeoff).group(1).split()
    assert len(front) == 2  # the two finished, unsaturated rates; not the saturated one
    labels = re.findall(r'class="l">([^<]*)</text>', tradeoff)
    assert "b=1 n=1 w=1 p=1 load=open rate=10000.0 (saturated)" in labels
    assert "b=1 n=1 w=1 p=1 load=open rate=2000.0 (error)" in labels
    assert "saturated or not finished: off the front" in tradeoff
    assert "Model my model" in text  # the name whole, with its space
    assert not any(label.startswith("model ") for label in labels)


def test_long_timelines_are_averaged_down():
    report = _variant(
        dict(spin_reports(150_000)[0]),
        throughput_timeline=[100.0 + (i % 2) * 20 for i in range(10_000)],
        window_s=0.1,
        total_s=1000.0,
    )
    path = Path(npf.write_html([report], Path(os.environ.get("TMPDIR", "/tmp")) / "t.html"))
    try:
        text = path.read_text()
    finally:
        path.unlink()
    (timeline,) = [f for f in text.split("<figure>") if "Throughput timeline" in f]
    (points,) = _polyline_points(timeline)
    assert points <= 400
    rates = [float(t) for t in re.findall(r"y=([\d.]+)</title>", timeline)]
    assert len(rates) == points
    means = rates[:-1]  # the last window may be a partial one, kept as it is
    assert 100 < min(means) <= max(means) < 120
    assert sum(means) / len(means) == pytest.approx(110, abs=0.1)


def test_two_hundred_configurations_get_distinct_colours_and_a_scrolling_legend(tmp_path):
    template = dict(spin_reports(150_000)[0])
    reports = [_variant(template, workers_per_model=w) for w in range(1, 201)]
    text = Path(npf.write_html(reports, tmp_path / "r.html")).read_text()
    (spectrum,) = [f for f in text.split("<figure>") if "Latency percentiles" in f]
    strokes = re.findall(r'<polyline points="[^"]*" fill="none" stroke="(#[0-9a-f]{6})"', spectrum)
    assert len(strokes) == 200 and len(set(strokes)) == 200  # the palette cycled at 10 before
    assert "<figcaption class='many'>" in spectrum


@needs_chromium
def test_two_hundred_configurations_stay_readable_in_headless_chromium(tmp_path):
    template = dict(spin_reports(150_000)[0])
    reports = [_variant(template, workers_per_model=w) for w in range(1, 201)]
    path = npf.write_html(reports, tmp_path / "many.html")
    figures = (
        "Array.from(document.querySelectorAll('figure')).map(function (f) {"
        " return f.getBoundingClientRect().height; })"
    )
    page = _browser.render(str(path), {"figures": figures})
    assert page.errors == [] and page.console == []
    assert len(page.results["figures"]) == 4
    assert max(page.results["figures"]) < 520  # the chart plus a scrolling legend
