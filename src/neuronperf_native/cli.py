"""The `neuronperf-native` command line.

Exit status: 0 on success, 1 when a benchmark configuration failed, 2 on usage
errors. Errors print as one line; `-v` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from neuronperf_native import __version__, engine

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _demo_models() -> list[tuple[str, object]]:
    """Built-in models that need no framework: a numpy matmul and native spins."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((256, 256), dtype=np.float32)

    def numpy_linear(x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ weights, 0.0)

    return [
        ("numpy linear 256x256", numpy_linear),
        ("native spin 100us", engine.native_model("spin", latency_ns=100_000)),
        ("native noop", engine.native_model("noop")),
    ]


def _format_table(rows: list[dict[str, object]], columns: Sequence[str]) -> str:
    cells = [[str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    batch = np.ones((1, 256), dtype=np.float32)
    rows = []
    for name, model in _demo_models():
        for workers in args.workers:
            r = engine.run(model, [(batch,)], workers=workers, duration_s=args.duration)
            if r.status != "finished":
                print(f"error: {name} with {workers} workers: {r.error}", file=sys.stderr)
                return EXIT_FAILED
            lat = r.latency
            rows.append(
                {
                    "model": name,
                    "workers": workers,
                    "throughput/s": f"{r.throughput:,.0f}",
                    "p50_us": f"{lat.value_at_percentile(50) / 1e3:.4g}",
                    "p99_us": f"{lat.value_at_percentile(99) / 1e3:.4g}",
                    "p99.9_us": f"{lat.value_at_percentile(99.9) / 1e3:.4g}",
                    "iterations": f"{r.iterations:,}",
                }
            )
    print(_format_table(rows, list(rows[0])))
    return EXIT_OK


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
    demo = sub.add_parser("demo", help="benchmark built-in models on this machine")
    demo.add_argument(
        "--duration", type=_positive_float, default=1.0, help="seconds per run (default 1)"
    )
    demo.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)"
    )
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
