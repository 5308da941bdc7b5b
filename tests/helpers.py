"""Helpers several test modules share (import them as `from helpers import ...`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import psutil

#: The config keys SPEC 4.3 requires of every (config, results) pair, but the run's
#: start_dts / stop_dts, which exist once it ran.
NEURONPERF_CONFIG_KEYS = (
    "model_filename",
    "model_name",
    "device_type",
    "instance_type",
    "batch_size",
    "n_models",
    "workers_per_model",
    "pipeline_size",
    "n_devices",
    "performance_level",
    "multiprocess",
    "multiinterpreter",
    "stats_interval",
    "duration",
)


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


def assert_a_stall_fills_the_open_loop_tail(url: str, **endpoint: Any) -> None:
    """Coordinated omission over the network: the served model "add" at `url`, whose
    server stalls 1 s on its 40th request, is loaded at 40 req/s for 3 s; requests due
    meanwhile count from when they were due, so the stall fills the tail."""
    from neuronperf_native import serving

    (report,) = serving.benchmark(
        url,
        "add",
        load_mode="open",
        request_rate=[40.0],
        workers_per_model=[4],
        duration=3.0,
        verbosity=0,
        **endpoint,
    )
    assert report["status"] == "finished"
    assert report["latency_ms_p100"] >= 1000.0
    # 1 s of 3 s of requests waited for the stall to end: at least the top 5% by far
    assert report["latency_ms_p95"] >= 400.0


def run_cli(*args: str, cwd: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """`python -m neuronperf_native ARGS` in `cwd`, its output captured (5 min at most)."""
    return subprocess.run(
        [sys.executable, "-m", "neuronperf_native", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
