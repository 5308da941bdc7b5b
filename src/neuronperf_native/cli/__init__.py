"""The `neuronperf-native` command line.

Subcommands: `demo`, `bench MODEL`, `index show|filter|append|copy|move|delete`,
`report FILE.json [--plot OUT.png] [--html OUT.html]`, `compare BASE.json NEW.json`,
`run SCRIPT [ARGS]`.
The report table goes to stdout; logs and progress go to stderr.

Exit status: 0 on success, 1 when a benchmark configuration failed (compare: when
NEW regressed, failed or lacks a configuration of BASE), 2 on usage errors (and on
errors that stop a command before it measures anything: memory, input nested too
deeply), 3 when a file asked for could not be written after the run (the results are
kept: the error line says where), 130 on Ctrl-C (what was measured is printed and
written). Each error, and each failing configuration, prints as one line; `-v` adds
the traceback, once; `-q` leaves warnings and errors only.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from neuronperf_native._version import __version__
from neuronperf_native.cli._args import _duration, _positive_int, parse_input_arg
from neuronperf_native.cli._bench_options import sequence_options
from neuronperf_native.cli._bench_parser import _add_bench, add_sequence_args, add_string_data_args
from neuronperf_native.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    INTERRUPTION,
    UsageError,
    _Parser,
    _verbosity_parent,
)
from neuronperf_native.cli._output import _USER_ERRORS, _cli_output, _error_text
from neuronperf_native.cli.bench import _demo
from neuronperf_native.cli.index import _add_index
from neuronperf_native.cli.report import _add_compare, _add_report

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "UsageError",
    "add_sequence_args",
    "add_string_data_args",
    "main",
    "parse_input_arg",
    "sequence_options",
]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neuronperf-native",
        description="Inference benchmarking with a native timing engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parent = _verbosity_parent()
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        parents=[parent],
        help="benchmark a built-in numpy model on this machine (no framework needed)",
        description="Benchmark a 256x256 linear layer with ReLU in numpy: every pair of "
        "--n-models and --workers, --duration seconds each; prints the report table.",
    )
    demo.add_argument(
        "--duration", type=_duration, default=1.0, help="seconds per configuration (default 1)"
    )
    demo.add_argument(
        "--n-models",
        type=_positive_int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="model copies (default 1 2)",
    )
    demo.add_argument(
        "--workers",
        type=_positive_int,
        nargs="+",
        default=[1, 2],
        metavar="N",
        help="worker threads per model copy (default 1 2)",
    )
    demo.set_defaults(handler=_demo)
    _add_bench(sub, parent)
    _add_index(sub, parent)
    _add_report(sub, parent)
    _add_compare(sub, parent)
    run = sub.add_parser(
        "run",
        parents=[parent],
        help="run an unchanged NeuronPerf script with 'import neuronperf' served by this package",
        usage="%(prog)s [-h] [-v] [-q] SCRIPT [ARG ...]",
    )
    run.add_argument("script", metavar="SCRIPT", help="the Python script to run as __main__")
    run.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARG",
        help="arguments passed to the script (optional; everything after SCRIPT)",
    )
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from neuronperf_native.launcher import run_script

    return run_script(args.script, args.args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.handler is _run:  # the script owns its warnings and logging
        return args.handler(args)
    with _cli_output(args.verbose), INTERRUPTION.watching():
        try:
            return args.handler(args)
        except KeyboardInterrupt:  # before (or after) the benchmark, which keeps its own
            if args.verbose:
                traceback.print_exc()
            print("error: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _USER_ERRORS as error:
            if args.verbose:
                traceback.print_exc()
            print(f"error: {_error_text(error)}", file=sys.stderr)
            return EXIT_USAGE
