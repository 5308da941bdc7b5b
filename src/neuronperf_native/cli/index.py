"""`index show|filter|append|copy|move|delete`: model indexes from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from neuronperf_native.cli._common import EXIT_OK, UsageError, _flatten, _note

_INDEX_COLS = (
    "filename",
    "input_idx",
    "batch_size",
    "pipeline_size",
    "performance_level",
    "cast_mode",
    "compile_s",
    "status",
)


def _format_value(value: Any) -> str:
    if value is None:
        return "N/A"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _print_index(index: dict[str, Any], source: str) -> None:
    configs = index["model_configs"]
    print(f"{source}: model {index['model_name']}, {len(configs)} config(s)")
    if configs:
        extra = sorted({k for c in configs for k in c} - set(_INDEX_COLS))
        cols = [*_INDEX_COLS, *extra]
        _print_table([cols, *([_format_value(c.get(k)) for k in cols] for c in configs)])


def _index(args: argparse.Namespace) -> int:
    from neuronperf_native import model_index

    action = args.action
    if action == "show":
        _print_index(model_index.load(args.index), args.index)
    elif action == "filter":
        index = model_index.filter(
            model_index.load(args.index),
            batch_size=_flatten(args.batch_size),
            pipeline_size=_flatten(args.pipeline_size),
            performance_level=_flatten(args.performance_level),
            status=args.status,
        )
        if args.output:
            _note(args, f"wrote {model_index.save(index, args.output)}")
        else:
            _print_index(index, f"{args.index} (filtered)")
    elif action == "append":
        index = model_index.append(*[model_index.load(path) for path in args.indexes])
        _note(args, f"wrote {model_index.save(index, args.output)}")
    elif action == "copy":
        _note(args, f"wrote {model_index.copy(args.index, args.new_index, args.new_dir)}")
    elif action == "move":
        moved = model_index.move(
            args.index, args.new_index, args.new_dir, allow_outside=args.allow_outside
        )
        _note(args, f"wrote {moved}")
    elif action == "delete":
        return _index_delete(args)
    return EXIT_OK


def _index_delete(args: argparse.Namespace) -> int:
    """Deletes an index and its artifacts: lists what will go (asking first on a
    terminal, unless --yes), then counts what was removed and what was skipped."""
    from neuronperf_native import model_index

    plan = model_index.plan_delete(args.index, allow_outside=args.allow_outside)
    what = f"{args.index} and {len(plan.removed)} artifact(s)"
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {what} without --yes")
        for path in plan.removed:
            print(f"  remove {path}", file=sys.stderr)
        for path in plan.skipped:
            print(f"  keep   {path} (outside the index's folder)", file=sys.stderr)
        answer = input(f"delete {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            _note(args, "not deleted")
            return EXIT_OK
    removal = model_index.delete(args.index, allow_outside=args.allow_outside)
    summary = f"deleted {args.index}: removed {len(removal.removed)} artifact(s)"
    if removal.skipped:
        summary += (
            f", skipped {len(removal.skipped)} outside the index's folder "
            "(--allow-outside removes them)"
        )
    _note(args, summary)
    return EXIT_OK


_INDEX_HELP = "the model index (.json, as compile writes it)"


def _add_index(sub: Any, parent: argparse.ArgumentParser) -> None:
    index = sub.add_parser("index", parents=[parent], help="show and edit model indexes")
    actions = index.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", parents=[parent], help="print an index's configs")
    show.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    filt = actions.add_parser(
        "filter", parents=[parent], help="keep the matching configs (print, or -o to save)"
    )
    filt.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    for option, what in (
        ("--batch-size", "batch sizes"),
        ("--pipeline-size", "pipeline sizes"),
        ("--performance-level", "performance levels"),
    ):
        filt.add_argument(
            option,
            type=int,
            nargs="+",
            action="append",
            metavar="N",
            help=f"keep these {what} (repeatable; default: any)",
        )
    filt.add_argument(
        "--status", choices=("finished", "error"), help="keep this compile status (default: any)"
    )
    filt.add_argument("-o", "--output", metavar="OUT", help="write the filtered index here")
    app = actions.add_parser("append", parents=[parent], help="combine indexes into one")
    app.add_argument("indexes", nargs="+", metavar="INDEX", help="the indexes to combine")
    app.add_argument("-o", "--output", metavar="OUT", required=True, help="the index to write")
    for name, text in (("copy", "copy"), ("move", "move")):
        p = actions.add_parser(
            name, parents=[parent], help=f"{text} the artifacts to NEW_DIR, write NEW_INDEX"
        )
        p.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
        p.add_argument("new_index", metavar="NEW_INDEX", help="the index to write")
        p.add_argument("new_dir", metavar="NEW_DIR", help=f"where to {text} the artifacts")
        if name == "move":
            _add_allow_outside(p, "move")
    delete = actions.add_parser(
        "delete",
        parents=[parent],
        help="delete an index and the artifacts it lists inside its folder",
    )
    delete.add_argument("index", metavar="INDEX", help=_INDEX_HELP)
    delete.add_argument(
        "--yes", action="store_true", help="do not ask (required when not interactive)"
    )
    _add_allow_outside(delete, "delete")
    index.set_defaults(handler=_index)


def _add_allow_outside(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "--allow-outside",
        action="store_true",
        help=f"also {verb} artifacts outside the index's folder (default: left in place)",
    )
