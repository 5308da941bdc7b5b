"""`report` (re-print, plot or render saved reports) and `compare` (a CI gate)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from neuronperf_native.cli._args import _confidence, _threshold_percent
from neuronperf_native.cli._common import EXIT_FAILED, UsageError
from neuronperf_native.cli._outputs import Outputs
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

    outputs = Outputs([("FILE.json", args.file)])
    outputs.add("--plot", args.plot, lambda path, reports: _plot_to(path, reports, args.file))
    outputs.add("--html", args.html, lambda path, reports: npf.write_html(reports, path))
    outputs.check()
    reports = _load_reports(args.file)
    if args.plot:
        from neuronperf_native import _plot

        _plot.require_matplotlib()
    table = _flat_slo(reports)
    if args.cols:
        cols = [col for group in args.cols for col in group]
        _check_columns("--cols", cols, table)
    else:
        percentiles = sorted({p for r in reports for p in r.get("percentiles") or []})
        cols = _table_cols(percentiles, reports)
    sort_by = args.sort_by if args.sort_by != "none" else None
    if sort_by is not None:
        _check_columns("--sort-by", [sort_by], table)
        if sort_by not in cols:
            cols.insert(1, sort_by)  # a sort shows its column
    npf.print_reports(table, cols=cols, sort_by=sort_by, units=True)
    return outputs.write(args, reports)


def _check_columns(option: str, cols: list[str], reports: list[dict[str, Any]]) -> None:
    """UsageError naming the option for a column no report has."""
    known = {key for report in reports for key in report}
    unknown = [col for col in cols if col not in known]
    if unknown:
        hint = ", ".join(sorted(k for k in known if not k.startswith("_"))[:12])
        raise UsageError(f"{option}: unknown column {unknown[0]!r} (the reports have {hint}, ...)")


def _plot_to(path: str, reports: list[dict[str, Any]], source: str) -> None:
    from neuronperf_native import _plot

    _plot.plot_reports(reports, path, title=os.path.basename(source))


def _compare(args: argparse.Namespace) -> int:
    from neuronperf_native.analysis import compare
    from neuronperf_native.reporters.html import write_comparison_html
    from neuronperf_native.reporting import comparison_table

    outputs = Outputs([("BASE.json", args.base), ("NEW.json", args.new)])
    outputs.add(
        "--html", args.html, lambda path, comparison: write_comparison_html(comparison, path)
    )
    outputs.check()
    metrics = None
    if args.metric:
        metrics = [m.strip() for text in args.metric for m in text.split(",") if m.strip()]
    comparison = compare(
        args.base,
        args.new,
        threshold=args.threshold,
        metrics=metrics,
        confidence=args.confidence,
        allow_missing=args.allow_missing,
    )
    if not comparison.rows:
        raise UsageError(f"no configuration of {args.base} matches one of {args.new}")
    sys.stdout.write(comparison_table(comparison))
    if comparison.unmatched_base and not args.allow_missing:
        print(
            f"error: {len(comparison.unmatched_base)} configuration(s) of {args.base} missing "
            f"from {args.new} (--allow-missing accepts that)",
            file=sys.stderr,
        )
    written = outputs.write(args, comparison)
    return EXIT_FAILED if comparison.regressed else written  # a regression says so first


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
            "intervals). Exit status: 0 nothing regressed, 1 a metric got slower, a "
            "configuration failed or is missing from NEW (unless --allow-missing), 2 usage "
            "error, 3 --html could not be written."
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
    cmp.add_argument(
        "--allow-missing",
        action="store_true",
        help="a configuration of BASE that NEW lacks is listed but does not fail the "
        "comparison (by default it does: a run that dropped a configuration is no pass)",
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
