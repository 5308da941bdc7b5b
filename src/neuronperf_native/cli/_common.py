"""Exit statuses, the usage error, and small helpers every subcommand shares."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(ValueError):
    """A bad command line: printed as one `error:` line, exit status 2."""


def _exit_status(reports: Sequence[dict[str, Any]]) -> int:
    """EXIT_FAILED when a configuration did not finish (the benchmark has logged each
    failure as it happened, one line each)."""
    return EXIT_FAILED if any(r.get("status") != "finished" for r in reports) else EXIT_OK


def _note(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr (silenced by -q)."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def _flatten(values: Sequence[Sequence[Any]] | None) -> list[Any] | None:
    """Values of a repeatable nargs="+" option as one list (None when not given)."""
    if values is None:
        return None
    return [v for group in values for v in group]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see --help)\n")


def _verbosity_parent() -> _Parser:
    """-v/-q for subcommands (SUPPRESS keeps a top-level -v from being overridden)."""
    parent = _Parser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs and tracebacks",
    )
    parent.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="warnings and errors only on stderr",
    )
    return parent
