"""Helpers several test modules share (import them as `from helpers import ...`)."""

from __future__ import annotations

import time

import psutil


def model_processes() -> list[psutil.Process]:
    """This process's live descendants, less multiprocessing's resource tracker (which
    spawn starts and which outlives a benchmark by design) and zombies."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


def no_model_processes(within_s: float = 5.0) -> bool:
    """True once no model process is left (waiting up to within_s for them to exit)."""
    deadline = time.monotonic() + within_s
    while model_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    return model_processes() == []
