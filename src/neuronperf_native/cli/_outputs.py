"""The files a command writes: checked before it runs, written after, results never lost.

Every output path is checked before any work starts (its folder exists and is
writable, it is not a folder, no two outputs and no input share a file), so a bad path
costs no benchmark. A write that still fails afterwards (the disk filled, the folder
went away) does not stop the others; when it does fail, the full results are saved as
JSON in the temp directory and the error line says where.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from neuronperf_native.cli._common import EXIT_OK, EXIT_OUTPUT, UsageError, _note


@dataclass
class _Output:
    option: str
    path: str
    write: Callable[[str, Any], Any] | None  # None: the command itself writes it


@dataclass
class Outputs:
    """The output files of one command, in the order given. Not thread-safe."""

    inputs: list[tuple[str, str]] = field(default_factory=list)  # (option, a file it reads)
    _outputs: list[_Output] = field(default_factory=list)

    def add(self, option: str, path: str | None, write: Callable[[str, Any], Any] | None) -> None:
        """An output (nothing when path is None): write(path, data) writes it, or (None)
        the command does as it runs; either way it is checked."""
        if path is not None:
            self._outputs.append(_Output(option, path, write))

    def check(self) -> None:
        """UsageError naming the option for a path that cannot be written, or a file
        written twice or both read and written."""
        seen: dict[str, tuple[str, str]] = {}  # real path -> (option, "reads" or "writes")
        for option, path in self.inputs:
            if os.path.isfile(path):
                seen[os.path.realpath(path)] = (option, "reads")
        for out in self._outputs:
            _check_writable(out.option, out.path)
            real = os.path.realpath(out.path)
            if real in seen:
                other, verb = seen[real]
                raise UsageError(
                    f"{out.option} {out.path}: {other} {verb} that file too; give each "
                    "output a file of its own"
                )
            seen[real] = (out.option, "writes")

    def write(self, args: Any, data: Any, reports: Sequence[dict[str, Any]] | None = None) -> int:
        """Writes every output of `data`, each after another's failure too; EXIT_OUTPUT
        when one failed (after saving `reports`, the measured results, and saying
        where), else EXIT_OK."""
        failed = []
        for out in self._outputs:
            if out.write is None:
                continue
            try:
                out.write(out.path, data)
            except (OSError, ValueError, TypeError, RuntimeError, ImportError) as error:
                failed.append(f"{out.option} {out.path}: {_reason(error)}")
                continue
            _note(args, f"wrote {out.path}")
        if not failed:
            return EXIT_OK
        for line in failed:
            print(f"error: cannot write {line}", file=sys.stderr)
        if reports is not None:
            kept = _keep(reports)
            where = f"kept in {kept}" if kept else "only in the table above"
            print(f"error: the results are {where}", file=sys.stderr)
        return EXIT_OUTPUT


def _check_writable(option: str, path: str) -> None:
    if not path:
        raise UsageError(f"{option}: the file name is empty")
    full = os.path.abspath(path)
    if os.path.isdir(full):
        raise UsageError(f"{option} {path}: is a folder; give a file name")
    folder = os.path.dirname(full)
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in folder {folder}")
    if os.path.exists(full) and not os.path.isfile(full):
        raise UsageError(f"{option} {path}: is not a regular file")


def _reason(error: BaseException) -> str:
    """Why a write failed, without the name of a temporary file it was writing."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _keep(reports: Sequence[dict[str, Any]]) -> str | None:
    """Saves the reports as JSON in the temp directory; its path, or None."""
    from neuronperf_native.reporting import write_json

    name = f"neuronperf-native-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json"
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        write_json(list(reports), path)
    except (OSError, ValueError, TypeError):
        return None
    return path
