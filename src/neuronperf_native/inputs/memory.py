"""Memory estimates: refuse a tensor or batch that cannot fit before allocating it.

numpy raises a bare MemoryError (after minutes of swapping, or after filling a list of
a hundred million row references) or "array is too big"; these checks name the tensor
and the size instead, up front.
"""

from __future__ import annotations

import os

from neuronperf_native.inputs.specs import InputDataError

# A bytes object of length n takes about n + 33 bytes, plus the array's reference.
BYTES_OBJECT_OVERHEAD = 33 + 8


def available_memory_bytes() -> int | None:
    """Memory this process can still get: MemAvailable, capped by a cgroup v2 limit."""
    found = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            current = int(f.read().strip())
        if limit != "max":
            found.append(max(0, int(limit) - current))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def format_bytes(count: int) -> str:
    """``count`` bytes in binary units, e.g. "4.0 TiB"."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def check_fits(what: str, needed_bytes: int) -> None:
    """Raise InputDataError naming ``what`` when ``needed_bytes`` exceed free memory."""
    available = available_memory_bytes()
    if available is not None and needed_bytes > available:
        raise InputDataError(
            f"{what} needs {format_bytes(needed_bytes)}, more than the "
            f"{format_bytes(available)} of memory available"
        )
