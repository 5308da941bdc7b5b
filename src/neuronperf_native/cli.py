"""The `neuronperf-native` command line.

Exit status: 0 on success, 1 when a benchmark configuration failed, 2 on usage
errors. Errors print as one line; `-v` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from neuronperf_native import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class DemoModel:
    """The demo's built-in model: a 256x256 linear layer with ReLU in numpy."""

    def __init__(self) -> None:
        self.weights = np.random.default_rng(0).standard_normal((256, 256), dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.weights, 0.0)


def _demo(args: argparse.Namespace) -> int:
    import neuronperf_native as npf

    reports = npf.cpu.benchmark(
        DemoModel,
        [np.ones((1, 256), dtype=np.float32)],
        duration=args.duration,
        n_models=args.n_models,
        workers_per_model=args.workers,
        verbosity=1 if args.verbose else 0,
    )
    npf.print_reports(reports, cols=["model_name", *npf.PRINT_COLS[:-1], "status"])
    failed = [r for r in reports if r["status"] != "finished"]
    for r in failed:
        print(f"error: configuration failed: {r['error']}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuronperf-native",
        description="Inference benchmarking with a native timing engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="benchmark a built-in numpy model on this machine (no framework needed)"
    )
    demo.add_argument(
        "--duration", type=_positive_float, default=1.0, help="seconds per configuration"
    )
    demo.add_argument("--n-models", type=int, nargs="+", default=[1, 2], help="model copies")
    demo.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="workers per model")
    demo.set_defaults(handler=_demo)
    run = sub.add_parser(
        "run",
        help="run an unchanged NeuronPerf script with 'import neuronperf' served by this package",
    )
    run.add_argument("script", help="the Python script to run as __main__")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    from neuronperf_native.launcher import run_script

    return run_script(args.script, args.args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError) as error:
        if args.verbose:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
