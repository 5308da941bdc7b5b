"""A script that exits while a thread-mode run is active ends with status 0, never aborts.

Each case runs a small script 10 times (concurrently) that starts a run and lets the
interpreter exit mid-run; before the fix these aborted with SIGABRT ("FATAL: exception
not rethrown" / "terminate called without an active exception").
"""

import subprocess
import sys
import textwrap

import pytest

_PRELUDE = """
import threading, time
from neuronperf_native import engine
def in_daemon(model, **kwargs):
    kwargs.setdefault("workers", 2)
    kwargs.setdefault("duration_s", 60)
    threading.Thread(target=engine.run, args=(model,), kwargs=kwargs, daemon=True).start()
"""

_CASES = {
    "python model in a daemon thread": "in_daemon(lambda: time.sleep(0.0002))",
    "pure-Python work in a daemon thread": "in_daemon(lambda: sum(range(200)), workers=4)",
    "native model in a daemon thread": (
        "in_daemon(engine.native_model('spin', latency_ns=100_000))"
    ),
    "open loop in a daemon thread": "in_daemon(lambda: None, request_rate=20_000)",
    "Runner started and never awaited": (
        "runner = engine.Runner(lambda: None, workers=2, duration_s=60)\nrunner.start()"
    ),
    "live polling from another daemon thread": textwrap.dedent(
        """
        runner = engine.Runner(lambda: None, workers=2, duration_s=60, window_s=0.01)
        def poll():
            while True:
                runner.poll_windows()
                time.sleep(0.001)
        threading.Thread(target=runner.run, daemon=True).start()
        threading.Thread(target=poll, daemon=True).start()
        """
    ),
    "a call abandoned after call_timeout_s that outlives the script": textwrap.dedent(
        """
        calls = []
        def model():
            calls.append(1)
            if len(calls) == 5:
                time.sleep(1.0)
        in_daemon(model, call_timeout_s=0.05)
        """
    ),
    "a running Runner destroyed after the exit hook": textwrap.dedent(
        """
        import atexit
        holder = {}
        atexit.register(holder.clear)  # registered after engine's hook: runs after it
        runner = engine.Runner(lambda: time.sleep(0.0002), workers=2, duration_s=60)
        runner.start()
        holder["runner"] = runner
        del runner
        """
    ),
    "a stuck call in a Runner destroyed at exit": textwrap.dedent(
        """
        import atexit
        engine.EXIT_WAIT_S = 0.3
        holder = {}
        atexit.register(holder.clear)
        holder["runner"] = engine.Runner(lambda: time.sleep(60), duration_s=60)
        holder["runner"].start()
        """
    ),
    "a call stuck beyond the exit wait": textwrap.dedent(
        """
        engine.EXIT_WAIT_S = 0.3
        def model():
            while True:
                pass
        in_daemon(model)
        """
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(_CASES))
def test_exiting_mid_run_never_aborts(case):
    script = _PRELUDE + _CASES[case] + "\ntime.sleep(0.3)\n"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    outcomes = []
    for p in processes:
        with p:
            _, stderr = p.communicate(timeout=120)
        outcomes.append((p.returncode, stderr))
    for returncode, stderr in outcomes:
        assert returncode == 0, f"{case}: exit status {returncode}\n{stderr}"
        assert "terminate called" not in stderr
        assert "FATAL" not in stderr
