"""File helpers shared by the model index and report writers.

Indexes and reports are written atomically (SPEC section 8): the text goes to a
temporary file in the destination directory, is flushed to disk, and then
replaces the destination with ``os.replace``, so a crash leaves either the old
file or the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> str:
    """Write ``text`` to ``path`` atomically and return the path as a string.

    The temporary file lives in the destination directory so that the final
    ``os.replace`` is a rename within one filesystem. On any failure the
    temporary file is removed and the destination is left untouched.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: {path!r}")
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    path = os.fspath(path)
    if not path or path.endswith(os.sep):
        raise ValueError(f"path must name a file, got {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory} does not exist (writing {path})")
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = _new_file_mode()

    fd, tmp_path = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    _fsync_dir(directory)
    return path


def _new_file_mode() -> int:
    """What open() would give a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(directory: str) -> None:
    """Flush a directory entry so the rename itself survives a power loss (best effort)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
