"""Exit statuses, the usage error, and small helpers every subcommand shares."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: Exit statuses (README "Command line" has the table). When several apply, the
#: first of EXIT_INTERRUPTED, EXIT_FAILED, EXIT_OUTPUT wins.
EXIT_OK = 0
EXIT_FAILED = 1  # a configuration did not finish; compare: slower, failed or missing in NEW
EXIT_USAGE = 2  # the command could not run: bad arguments, input, paths; nothing measured
EXIT_OUTPUT = 3  # measured, but a file asked for could not be written (the results kept)
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): what was measured is printed and written


class UsageError(ValueError):
    """A bad command line: printed as one `error:` line, exit status 2."""


class Interruption:
    """Whether Ctrl-C (SIGINT) came while a command ran. Thread-safe."""

    def __init__(self) -> None:
        self._happened = threading.Event()

    @property
    def happened(self) -> bool:
        return self._happened.is_set()

    @contextmanager
    def watching(self) -> Iterator[Interruption]:
        """SIGINT records an interruption, then raises KeyboardInterrupt as Python's
        own handler does (the benchmark stops and returns what it measured). A SIGINT
        that is ignored (nohup) stays ignored."""
        self._happened.clear()
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.SIG_IGN:
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            self._happened.set()
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


#: The running command's interruption state.
INTERRUPTION = Interruption()


def _exit_status(reports: Sequence[dict[str, Any]]) -> int:
    """EXIT_INTERRUPTED after Ctrl-C, else EXIT_FAILED when a configuration did not
    finish (the benchmark has logged each failure as it happened, one line each)."""
    if INTERRUPTION.happened:
        return EXIT_INTERRUPTED
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
