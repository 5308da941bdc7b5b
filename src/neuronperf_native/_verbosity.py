"""The package's one verbosity scale, shared by benchmark() and compile(): 0 warnings
only, 1 progress (the default), 2 debug (tracebacks of failing configurations too)."""

from __future__ import annotations

import logging
import sys
from typing import Any

#: Verbosity -> level of the `neuronperf_native` logger.
LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}

log = logging.getLogger("neuronperf_native")


def check_verbosity(value: Any, name: str = "verbosity") -> int:
    """The verbosity as an int; a ValueError naming ``name`` unless it is 0, 1 or 2."""
    if isinstance(value, bool) or value not in tuple(LEVELS):
        raise ValueError(f"{name} must be 0, 1 or 2, got {value!r}")
    return int(value)


def set_verbosity(verbosity: int) -> None:
    """0: warnings only, 1: progress (default), 2: debug.

    Logs go to the `neuronperf_native` logger; when the application has configured no
    logging at all, a stderr handler is added so progress is visible by default.
    """
    log.setLevel(LEVELS[check_verbosity(verbosity)])
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLineUnlessDebug("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        log.addHandler(handler)


class _OneLineUnlessDebug(logging.Formatter):
    """A record's first line (a failing configuration: which one, the copy, phase and
    cause), with the traceback that follows only at verbosity 2."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if log.getEffectiveLevel() <= logging.DEBUG else text.partition("\n")[0]
