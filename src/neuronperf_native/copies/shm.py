"""Batches held once in a POSIX shared-memory segment that every model copy maps, and
the written trace of replayed request intervals that every copy's engine maps.

A segment's name says which process created it (pid namespace, pid, start time), so
that a segment whose creator died without removing it (SIGKILL of the whole process
group takes the resource tracker along) can be proven stale: the next share_batches
sweeps such segments, and a copy that finds its parent gone removes the one it maps.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from neuronperf_native.engine import IntervalTrace

_SHM_DIR = "/dev/shm"
_ALIGN_BYTES = 64
# npf_<pid namespace inode>_<creator pid>_<creator start time, clock ticks>_<random>
_SEGMENT_NAME = re.compile(r"npf_(\d+)_(\d+)_(\d+)_[0-9a-f]+")

log = logging.getLogger("neuronperf_native")


@dataclass
class SharedBatches:
    """Where the batches' arrays lie in a shared-memory segment (picklable, small).

    Each batch entry is ("shm", dtype, shape, offset), ("inline", array) for object
    arrays (BYTES), or None for an absent optional input.
    """

    segment: str
    layout: list[tuple]

    @property
    def path(self) -> str:
        """The segment's file (under /dev/shm)."""
        return os.path.join(_SHM_DIR, self.segment.lstrip("/"))

    def open(self) -> list[tuple]:
        """Maps the segment read-only (pages pre-faulted) and returns the batches as
        views into it; the views keep the mapping alive."""
        with open(self.path, "rb") as f:
            flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
            mapping = mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
        batches = []
        for entries in self.layout:
            tensors: list[np.ndarray | None] = []
            for entry in entries:
                if entry is None:
                    tensors.append(None)
                elif entry[0] == "inline":
                    tensors.append(entry[1])
                else:
                    _, dtype, shape, offset = entry
                    count = int(np.prod(shape, dtype=np.int64))
                    view = np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)
                    tensors.append(view.reshape(shape))
            batches.append(tuple(tensors))
        return batches


def share_batches(batches: list[tuple]) -> tuple[SharedBatches, shared_memory.SharedMemory]:
    """Copies the batches' numeric arrays into one new shared-memory segment.

    The caller owns the returned segment: close() and unlink() it when the copies are
    done (the multiprocessing resource tracker unlinks it if this process dies first;
    if the tracker dies too, the next call sweeps it). Stale segments of dead creators
    are swept first.
    """
    if not os.path.isdir(_SHM_DIR):
        raise RuntimeError(
            f"shared_memory='system' needs POSIX shared memory at {_SHM_DIR}, which this "
            "system lacks"
        )
    layout: list[tuple] = []
    placed: list[tuple[int, np.ndarray]] = []
    size = 0
    for batch in batches:
        entries: list[Any] = []
        for tensor in batch:
            if tensor is None:
                entries.append(None)
            elif tensor.dtype.kind == "O":
                entries.append(("inline", tensor))
            else:
                size = -(-size // _ALIGN_BYTES) * _ALIGN_BYTES
                entries.append(("shm", tensor.dtype.str, tuple(tensor.shape), size))
                placed.append((size, tensor))
                size += tensor.nbytes
        layout.append(tuple(entries))
    sweep_stale_segments()
    segment = shared_memory.SharedMemory(name=_new_segment_name(), create=True, size=max(size, 1))
    target = np.ndarray((segment.size,), dtype=np.uint8, buffer=segment.buf)
    for offset, tensor in placed:
        target[offset : offset + tensor.nbytes] = (
            np.ascontiguousarray(tensor).reshape(-1).view(np.uint8)
        )
    del target  # release the exported buffer so the segment can be closed
    return SharedBatches(segment.name, layout), segment


def share_trace(trace: IntervalTrace) -> str:
    """Writes a trace of replayed intervals once for the copies to map and returns its
    path: in /dev/shm, named as a segment so that a dead benchmark's is swept, or in
    the temp directory when /dev/shm is missing or too small (a container's 64 MiB).
    The caller removes it."""
    sweep_stale_segments()
    name = _new_segment_name()
    if os.path.isdir(_SHM_DIR):
        path = os.path.join(_SHM_DIR, name)
        try:
            trace.write(path)
            return path
        except ValueError:  # no room: the temp directory's file is cached in memory too
            with contextlib.suppress(OSError):
                os.unlink(path)
    path = os.path.join(tempfile.gettempdir(), name)
    try:
        trace.write(path)
    except ValueError:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def _new_segment_name() -> str:
    pid = os.getpid()
    return f"npf_{_pid_namespace()}_{pid}_{_start_ticks(pid)}_{secrets.token_hex(4)}"


def _pid_namespace() -> int:
    """The inode of this process's pid namespace: pids mean something only within it."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), None when there is no
    such process; tells a pid's process from a later one that reuses the pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    # Fields after the parenthesised command name; starttime is field 22 of the line.
    return int(stat.rpartition(")")[2].split()[19])


def _creator_gone(segment: str) -> bool:
    """Whether ``segment`` is one of ours whose creating process provably no longer
    runs: same pid namespace as this process, and no process with that pid and start
    time. Segments of other namespaces or names are never judged gone."""
    match = _SEGMENT_NAME.fullmatch(segment.lstrip("/"))
    if match is None or int(match.group(1)) != _pid_namespace():
        return False
    pid, started = int(match.group(2)), int(match.group(3))
    return _start_ticks(pid) != started


def _unlink_segment(segment: str) -> bool:
    """Removes a segment by name; False when it was already gone."""
    try:
        os.unlink(os.path.join(_SHM_DIR, segment.lstrip("/")))
    except FileNotFoundError:
        return False
    return True


def sweep_stale_segments() -> list[str]:
    """Removes the shared-memory segments whose creator died without removing them
    (see _creator_gone) and returns their names."""
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return []
    removed = []
    for name in names:
        with contextlib.suppress(OSError):
            if _creator_gone(name) and _unlink_segment(name):
                removed.append(name)
    if removed:
        log.info("Removed %d shared-memory segment(s) left by dead benchmarks", len(removed))
    return removed


def unlink_if_orphaned(segment: str) -> bool:
    """In a model copy: removes the segment it maps when the process that created it
    (the benchmark, this copy's parent) is gone; True when it removed it. Safe to
    call at any time: while the creator runs it does nothing. The mapping itself
    stays valid until this process unmaps it or exits."""
    return _creator_gone(segment) and _unlink_segment(segment)
