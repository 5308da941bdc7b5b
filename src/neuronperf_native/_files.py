"""File helpers shared by the modules that write indexes and reports."""

from __future__ import annotations

import contextlib
import os
import tempfile


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes `text` (UTF-8) to `path` so that readers see the old file or the new one.

    The text goes to a temporary file in the destination directory, is flushed and
    fsynced, then renamed over `path` (os.replace); a crash or an error at any step
    leaves the previous file intact and removes the temporary file. The new file
    gets the usual permissions (0o666 minus the umask), not mkstemp's 0o600.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike of str, got {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    umask = 0o022
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
                break
    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with open(fd, "w", encoding="utf-8", newline="") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
