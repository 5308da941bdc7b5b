"""What the command line prints besides tables: one-line errors and log records.

Errors that stop a command become one `error:` line (exit status 2) without internal
names; log records print their first line, and with -v the traceback once.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from typing import Any

# Exceptions that end a command with one `error:` line and EXIT_USAGE.
_USER_ERRORS = (
    ValueError,
    TypeError,
    OSError,
    ImportError,
    NotImplementedError,
    RuntimeError,
    MemoryError,
)
# A qualified exception name of this package in a message ("neuronperf_native._x.Name: ").
_QUALIFIED_NAME = re.compile(r"\bneuronperf_native((?:\.\w+)*)\.(\w+): ")
# Packages whose exception names mean nothing to a user (the model copies' machinery).
_INTERNAL_PACKAGES = ("copies",)


def _error_text(error: BaseException) -> str:
    """One line for an error that ends a command."""
    lines = _user_text(str(error)).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if isinstance(error, RecursionError):
        return f"input nested too deeply to process ({text})"
    if isinstance(error, MemoryError):
        return f"not enough memory: {text}"
    return text


def _user_text(text: str) -> str:
    """``text`` without this package's qualified exception names: an internal one
    (underscore module, or _INTERNAL_PACKAGES) is dropped, a public one shortened to
    its class name."""

    def shorten(match: re.Match[str]) -> str:
        modules = match.group(1).split(".")[1:]  # between the package and the name
        internal = any(m.startswith("_") for m in modules) or modules[:1] in (
            [package] for package in _INTERNAL_PACKAGES
        )
        return "" if internal else f"{match.group(2)}: "

    return _QUALIFIED_NAME.sub(shorten, text)


class _LogFormatter(logging.Formatter):
    """The package's log records, one line each (the first) unless verbose; verbose,
    a traceback already shown is not shown again."""

    def __init__(self, verbose: bool) -> None:
        super().__init__("%(asctime)s %(name)s %(levelname)s: %(message)s")
        self.verbose = verbose
        self._shown: set[str] = set()

    def format(self, record: logging.LogRecord) -> str:
        head, _, rest = super().format(record).partition("\n")
        head = _user_text(head)
        if not self.verbose or not rest:
            return head
        # The same failure in another configuration: the same frames, perhaps
        # another worker or value in the message.
        frames = "\n".join(line for line in rest.splitlines() if line.startswith('  File "'))
        if frames in self._shown:
            return f"{head} (traceback as above)"
        self._shown.add(frames)
        return f"{head}\n{rest}"


@contextlib.contextmanager
def _cli_output(verbose: bool) -> Iterator[None]:
    """Routes the package's logs and Python warnings to stderr as short lines while a
    command runs."""
    logger = logging.getLogger("neuronperf_native")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(verbose))
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        where = f" ({category.__name__}, {filename}:{lineno})" if verbose else ""
        print(f"warning: {_user_text(str(message))}{where}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
