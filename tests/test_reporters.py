"""The reporter interface and golden output of every reporter (table, CSV, JSON, HTML).

Volatile fields (the host metadata, the HTML's time of writing) are normalised before
comparing. After an intended change of a reporter's output, rewrite its golden file
with NPF_UPDATE_GOLDEN=1 python -m pytest tests/test_reporters.py and review the diff.
"""

import json
import os
import re
from pathlib import Path

import pytest
from test_compare import golden_comparison
from test_reporting import fixed_reports, make_config, two_copy_pair

from neuronperf_native import reporting
from neuronperf_native.reporters import (
    CsvReporter,
    HtmlReporter,
    JsonReporter,
    Reporter,
    TableReporter,
)

GOLDEN = Path(__file__).parent / "data" / "golden"


def _golden(name: str, text: str) -> str:
    """The golden text of ``name`` (rewritten first when NPF_UPDATE_GOLDEN is set)."""
    path = GOLDEN / name
    if os.environ.get("NPF_UPDATE_GOLDEN"):
        path.write_text(text)
    return path.read_text()


def computed_reports():
    """Two configurations as get_reports computes them (histograms, timelines,
    intervals), their host metadata normalised to its keys."""
    pairs = [two_copy_pair(make_config(batch_size=b, model_filename=f"m_b{b}.pt")) for b in (1, 2)]
    reports = reporting.get_reports(pairs)
    for report in reports:
        report["metadata"] = {key: f"<{key}>" for key in sorted(report["metadata"])}
    return reports


def _html(text: str) -> str:
    return re.sub(r"written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "written <time>", text)


@pytest.mark.parametrize(
    ("reporter", "golden"),
    [
        (TableReporter(), "print_reports.txt"),
        (CsvReporter(), "reports.csv"),
        (JsonReporter(), "reports.json"),
    ],
)
def test_each_reporter_renders_the_fixed_reports_as_its_golden_text(reporter, golden):
    text = reporter.render(fixed_reports())
    assert text == _golden(golden, text)


def test_json_of_computed_reports_golden():
    text = JsonReporter().render(computed_reports())
    assert text == _golden("computed_reports.json", text)
    assert json.loads(text)[1]["throughput_timeline"] == [36.0, 80.0, 88.0, 80.0, 16.0]


def test_html_of_computed_reports_golden():
    text = _html(HtmlReporter(title="golden").render(computed_reports()))
    assert text == _golden("computed_reports.html", text)


def test_html_of_a_comparison_golden():
    comparison = golden_comparison()
    text = _html(HtmlReporter().render_comparison(comparison))
    assert text == _golden("comparison.html", text)
    assert TableReporter().render_comparison(comparison) == reporting.comparison_table(comparison)


@pytest.mark.parametrize(
    "reporter", [TableReporter(), CsvReporter(), JsonReporter(), HtmlReporter()]
)
def test_write_saves_what_render_returns_under_the_reporters_extension(
    reporter, tmp_path, monkeypatch
):
    assert isinstance(reporter, Reporter)
    reports = computed_reports()
    written = reporter.write(reports, tmp_path / f"out.{reporter.extension}")
    assert Path(written).read_text() == reporter.render(reports)
    monkeypatch.chdir(tmp_path)
    default = reporter.write(reports, None)
    assert re.fullmatch(rf"resnet50\.results-\d{{8}}-\d{{6}}\.{reporter.extension}", default)


def test_a_reporter_without_comparisons_says_so():
    with pytest.raises(NotImplementedError, match="CsvReporter does not render comparisons"):
        CsvReporter().render_comparison(golden_comparison())
