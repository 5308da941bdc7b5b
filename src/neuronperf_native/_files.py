"""File helpers shared by the model index and report writers and readers.

Indexes and reports are written atomically (SPEC section 8): the text goes to a
temporary file in the destination directory, is flushed to disk, and then
replaces the destination with ``os.replace``, so a crash leaves either the old
file or the new one, never a truncated one. A writer killed before the rename leaves
its temporary file behind; the next write of the same file removes it once it can
tell the writer is gone (the temporary file's name holds the writer's pid and host).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import threading
import time
from typing import Any

# Temporary files older than this are stale whoever wrote them: a write takes
# milliseconds, and a writer's pid may have been reused since.
_STALE_TMP_S = 3600.0
# The temporary files this process is writing now (their names), and its lock.
_writing: set[str] = set()
_writing_lock = threading.Lock()


def check_filename(filename: Any) -> str | None:
    """The path a report is written to or read from (None stays None); a TypeError or
    ValueError naming ``filename`` when it cannot be one."""
    if filename is None:
        return None
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"filename must be a str, os.PathLike or None, got {filename!r}")
    path = os.fspath(filename)
    if not isinstance(path, str) or not path:
        raise ValueError(f"filename must be a non-empty path, got {filename!r}")
    if os.path.isdir(path):
        raise ValueError(f"filename {path!r} is a directory")
    return path


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

    base = os.path.basename(path)
    _remove_stale_temps(directory, base)
    try:
        fd, tmp_path = tempfile.mkstemp(
            dir=directory, prefix=f".{base}.{os.getpid()}@{socket.gethostname()}.", suffix=".tmp"
        )
    except OSError as error:
        raise _of_destination(error, path) from None
    with _writing_lock:
        _writing.add(os.path.basename(tmp_path))
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp_path, path)
    except OSError as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise _of_destination(error, path) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)
        raise
    finally:
        with _writing_lock:
            _writing.discard(os.path.basename(tmp_path))
    _fsync_dir(directory)
    return path


def _of_destination(error: OSError, path: str) -> OSError:
    """The error said of the destination, when it named the temporary file instead."""
    if error.filename is None or error.filename == path:
        return error
    return OSError(error.errno, error.strerror, path)


def _remove_stale_temps(directory: str, base: str) -> None:
    """Removes the temporary files that interrupted writes of ``base`` left in
    ``directory``: a writer on this host whose process is gone (or is this process
    but no longer writing it), or any writer more than _STALE_TMP_S ago."""
    ours = re.compile(rf"\.{re.escape(base)}\.(\d+)@{re.escape(socket.gethostname())}\.[^.]+\.tmp")
    prefix = f".{base}."
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        full = os.path.join(directory, name)
        match = ours.fullmatch(name)
        try:
            stale = (
                match is not None and _writer_gone(int(match.group(1)), name)
            ) or time.time() - os.lstat(full).st_mtime > _STALE_TMP_S
            if stale:
                os.unlink(full)
        except OSError:
            continue  # gone already, or not ours to remove


def _writer_gone(pid: int, name: str) -> bool:
    """Whether the process ``pid`` of this host no longer writes the file ``name``."""
    if pid == os.getpid():
        with _writing_lock:
            return name not in _writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by another user
    return False


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
