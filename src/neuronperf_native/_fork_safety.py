"""Whether model copies may be forked from this process, and how copies start.

fork() copies the whole memory of a process but only the thread that called it. A
lock held by any other thread at that instant (malloc's, logging's, an OpenMP or
gRPC runtime's) stays locked forever in the child, and a runtime whose threads or
device state did not come along (Ray's core worker, CUDA, the Neuron runtime) can
crash or hang there. fork_hazards() names what this process holds that makes a fork
unsafe; choose_start_method() turns a requested start method into the one to use.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["START_METHODS", "choose_start_method", "fork_hazards", "fork_warning_suppressed"]

#: The values of start_method: fork, spawn (a fresh interpreter), or auto (fork
#: unless fork_hazards() finds a reason not to).
START_METHODS = ("fork", "spawn", "auto")

_TASK_DIR = "/proc/self/task"
# Device files a runtime keeps open once initialized; neither survives a fork.
_DEVICE_RUNTIMES = (("/dev/neuron", "the Neuron runtime"), ("/dev/nvidia", "CUDA"))
# OpenBLAS built with its own pthreads pool (openblas_get_parallel() == 1) stops that
# pool in a pthread_atfork prepare handler and restarts it on demand in the child.
_OPENBLAS_PTHREADS = 1
# How long threads that are exiting get to leave /proc/self/task.
_SETTLE_S = 0.05
# Names (as the kernel shows them, cut to 15 characters) of threads of gRPC's core,
# whichever binding started it (grpcio, Ray's C++ core, TensorFlow).
_GRPC_THREAD_NAMES = frozenset(
    {"grpc_global_tim", "grpcpp_sync_ser", "default-executo", "resolver-execut"}
)


def fork_hazards() -> list[str]:
    """Human-readable reasons why forking from this process is unsafe; [] when none.

    Counted: other live threads (Python threads from threading.enumerate(), native
    threads from /proc/self/task; the calling thread excluded, and OpenBLAS's own
    pool, which OpenBLAS parks around fork), Ray initialized here, gRPC's threads, and
    CUDA or the Neuron runtime holding their device open. Nothing new is imported.
    """
    current = threading.get_native_id()
    python = [
        t for t in threading.enumerate() if t.is_alive() and t.native_id not in (None, current)
    ]
    pool = _openblas_pool_threads()
    native_ids = _native_ids(current, {t.native_id for t in python}, pool)
    names = {_thread_name(tid) for tid in native_ids} - {"", _thread_name(current)}
    native = max(0, len(native_ids) - pool)
    reasons = []
    if python or native:
        reasons.append(_describe_threads(python, native, names))
    ray = sys.modules.get("ray")
    is_initialized = getattr(ray, "is_initialized", None)
    if callable(is_initialized) and is_initialized():
        reasons.append("ray is initialized in this process (ray.init)")
    grpc_threads = sorted(names & _GRPC_THREAD_NAMES)
    if grpc_threads:
        listed = ", ".join(repr(n) for n in grpc_threads)
        reasons.append(f"gRPC is running in this process (threads {listed})")
    reasons.extend(_open_devices())
    return reasons


def choose_start_method(requested: str) -> tuple[str, list[str]]:
    """(method, reasons): the start method to use, "fork" or "spawn", for ``requested``.

    "auto" forks when fork_hazards() is empty, else spawns (the reasons say why).
    "fork" forks, returning the hazards found so that the caller can warn about
    them. "spawn" spawns (no reasons).
    """
    if not isinstance(requested, str):
        raise TypeError(
            f"start_method must be a str, got {type(requested).__name__}: {requested!r}"
        )
    if requested not in START_METHODS:
        raise ValueError(f"start_method must be 'fork', 'spawn' or 'auto', got {requested!r}")
    if requested == "spawn":
        return "spawn", []
    hazards = fork_hazards()
    if requested == "auto" and hazards:
        return "spawn", hazards
    return "fork", hazards


@contextlib.contextmanager
def fork_warning_suppressed() -> Iterator[None]:
    """Hides Python 3.12+'s DeprecationWarning about fork() in a multi-threaded process.

    Wrap only a fork that choose_start_method() has vetted: CPython counts every
    thread, OpenBLAS's parked pool included, so it warns about forks that are safe,
    and a forced unsafe fork has already been warned about in our own words.
    warnings.catch_warnings swaps the process-wide filters: keep the block short.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"This process \(pid=\d+\) is multi-threaded, use of fork",
            category=DeprecationWarning,
        )
        yield


# Threads --------------------------------------------------------------------------


def _describe_threads(python: list[threading.Thread], native: int, names: set[str]) -> str:
    """'N other threads (python: 'a', 'b'; native: K ('name', ...))'."""
    parts = []
    if python:
        parts.append("python: " + ", ".join(repr(t.name) for t in python))
    if native:
        named = f" ({', '.join(repr(n) for n in sorted(names))})" if names else ""
        parts.append(f"native: {native}{named}")
    total = len(python) + native
    return f"{total} other thread{'s' if total != 1 else ''} ({'; '.join(parts)})"


def _native_ids(current: int, python_ids: set[int | None], pool: int) -> set[int]:
    """Kernel ids of the threads that are neither this one nor Python threads.

    A thread that join() has just returned from leaves /proc a moment later: more
    than the OpenBLAS ``pool`` is re-read for up to _SETTLE_S before it counts.
    """
    deadline = time.monotonic() + _SETTLE_S
    while True:
        ids = _task_ids() - {current} - python_ids
        if len(ids) <= pool or time.monotonic() >= deadline:
            return ids
        time.sleep(_SETTLE_S / 10)


def _task_ids() -> set[int]:
    """The kernel thread ids of this process (empty where /proc is not available)."""
    try:
        return {int(name) for name in os.listdir(_TASK_DIR)}
    except OSError:
        return set()


def _thread_name(tid: int) -> str:
    """The kernel's name of a thread of this process ('' if it has just exited)."""
    try:
        with open(os.path.join(_TASK_DIR, str(tid), "comm"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def _loaded_libraries(fragment: str) -> list[str]:
    """Paths of the shared libraries mapped into this process whose file name has
    ``fragment`` in it."""
    found: dict[str, None] = {}
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            for line in f:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if path.startswith("/") and fragment in os.path.basename(path):
                    found[path] = None
    except OSError:
        return []
    return list(found)


def _openblas_pool_threads() -> int:
    """Worker threads of the pthreads pools of the OpenBLAS libraries loaded (numpy's
    among them): openblas_get_num_threads() - 1 each. OpenBLAS stops them before a
    fork, so they do not make one unsafe."""
    total = 0
    for path in _loaded_libraries("openblas"):
        getters = _openblas_getters(path)
        if getters is not None and getters[1]() == _OPENBLAS_PTHREADS:
            total += max(0, getters[0]() - 1)
    return total


def _openblas_getters(path: str) -> tuple[Any, Any] | None:
    """(get_num_threads, get_parallel) of an OpenBLAS already loaded from ``path``
    (RTLD_NOLOAD: never loads it), under any of its builds' symbol names."""
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None
    for prefix in ("openblas_", "scipy_openblas_"):
        for suffix in ("", "64_", "_64"):
            get_threads = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            get_parallel = getattr(lib, f"{prefix}get_parallel{suffix}", None)
            if get_threads is not None and get_parallel is not None:
                return get_threads, get_parallel
    return None


# Runtimes ---------------------------------------------------------------------------


def _open_devices() -> list[str]:
    """'<runtime> is initialized (<device> is open)' per device runtime found."""
    reasons: list[str] = []
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return reasons
    targets = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            targets.add(os.readlink(os.path.join("/proc/self/fd", fd)))
    for prefix, runtime in _DEVICE_RUNTIMES:
        devices = sorted(t for t in targets if t.startswith(prefix))
        if devices:
            reasons.append(f"{runtime} is initialized in this process ({devices[0]} is open)")
    return reasons
