"""`report` (re-print, plot or render saved reports) and `compare` (a CI gate)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from neuronperf_native.cli._args import _confidence, _threshold_percent
from neuronperf_native.cli._common import EXIT_FAILED, EXIT_OK, UsageError, _note
from neuronperf_native.cli.bench import _flat_slo, _table_cols


def _load_reports(path: str) -> list[dict[str, Any]]:
    """Reports saved by write_json (a usage error, exit status 2, when unreadable)."""
    from neuronperf_native.reporting import ReportFileError, read_json

    try:
        return read_json(path)
    except ReportFileError as error:
        raise UsageError(str(error)) from None


def _report(args: argparse.Namespace) -> int:
    import neuronperf_native as npf

    reports = _load_reports(args.file)
    if args.plot:
        from neuronperf_native import _plot

        _plot.require_matplotlib()
    if args.cols:
        cols = [col for group in args.cols for col in group]
    else:
        percentiles = sorted({p for r in reports for p in r.get("percentiles") or []})
        cols = _table_cols(percentiles, reports)
    sort_by = args.sort_by if args.sort_by != "none" else None
    if sort_by is not None and sort_by not in cols:
        cols.insert(1, sort_by)  # a sort shows its column
    npf.print_reports(_flat_slo(reports), cols=cols, sort_by=sort_by, units=True)
    if args.plot:
        from neuronperf_native import _plot

        _plot.plot_reports(reports, args.plot, title=os.path.basename(args.file))
        _note(args, f"wrote {args.plot}")
    if args.html:
        _note(args, f"wrote {npf.write_html(reports, args.html)}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from neuronperf_native.analysis import compare
    from neuronperf_native.reporting import comparison_table

    metrics = None
    if args.metric:
        metrics = [m.strip() for text in args.metric for m in text.split(",") if m.strip()]
    comparison = compare(
        args.base, args.new, threshold=args.threshold, metrics=metrics, confidence=args.confidence
    )
    sys.stdout.write(comparison_table(comparison))
    if args.html:
        from neuronperf_native.reporters.html import write_comparison_html

        _note(args, f"wrote {write_comparison_html(comparison, args.html)}")
    if not comparison.rows:
        raise UsageError(f"no configuration of {args.base} matches one of {args.new}")
    return EXIT_FAILED if comparison.regressed else EXIT_OK


def _add_compare(sub: Any, parent: argparse.ArgumentParser) -> None:
    cmp = sub.add_parser(
        "compare",
        parents=[parent],
        help="compare two saved runs (write_json); exit status 1 when NEW is slower",
        description=(
            "Compare NEW.json against BASE.json (reports from --json or write_json). "
            "Configurations are matched on model name, batch size, n_models, workers, "
            "pipeline size (and load mode/rate when present). A metric is slower or "
            "faster only when the change is statistically significant at --confidence "
            "and beyond --threshold: throughput from the window series (Mann-Whitney U), "
            "latency percentiles from the saved HDR histograms (order-statistic "
            "intervals). Exit status: 0 nothing regressed, 1 a metric got slower or a "
            "configuration failed, 2 usage error."
        ),
    )
    cmp.add_argument("base", metavar="BASE.json", help="the reference run (--json, write_json)")
    cmp.add_argument("new", metavar="NEW.json", help="the run to check against BASE")
    cmp.add_argument(
        "--threshold",
        type=_threshold_percent,
        default=0.05,
        metavar="PCT",
        help="smallest change, in percent, that counts as slower/faster (default 5)",
    )
    cmp.add_argument(
        "--metric",
        action="append",
        metavar="M[,M...]",
        help="metrics to compare: throughput_avg, latency_ms_pXX (repeatable; default "
        "throughput_avg,latency_ms_p50,latency_ms_p99)",
    )
    cmp.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        help="confidence of the significance decision (default 0.95)",
    )
    cmp.add_argument(
        "--html", metavar="OUT.html", help="also write the comparison as HTML, runs overlaid"
    )
    cmp.set_defaults(handler=_compare)


def _add_report(sub: Any, parent: argparse.ArgumentParser) -> None:
    report = sub.add_parser(
        "report", parents=[parent], help="re-print saved reports (write_json), optionally plot"
    )
    report.add_argument("file", metavar="FILE.json", help="reports written by --json or write_json")
    report.add_argument(
        "--plot",
        metavar="OUT.png",
        help="draw latency percentiles (log scale) and throughput timelines (needs matplotlib)",
    )
    report.add_argument(
        "--html",
        metavar="OUT.html",
        help="write a self-contained HTML report (tables and plots, no network)",
    )
    report.add_argument("--cols", nargs="+", action="append", help="columns to print")
    report.add_argument(
        "--sort-by",
        default="none",
        metavar="COLUMN",
        help="sort the rows by COLUMN (printed too); default none: the run's order",
    )
    report.set_defaults(handler=_report)
