"""NeuronPerf's Benchmarker: one model copy in this process, driven by hand.

Where benchmark() hands a plan to an executor, a Benchmarker is the executor of one
copy that its caller starts, stops and reads (a thread running the copies' protocol:
load, warm up, time, result).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from neuronperf_native.copies.parent import CopiesOutcome, RunWatch, run_copies
from neuronperf_native.copies.protocol import CopySpec, RunSpec
from neuronperf_native.engine import RunOptions, _as_args
from neuronperf_native.run import timers_of
from neuronperf_native.settings import BENCHMARK_SECS, BenchmarkSettings


class Benchmarker(threading.Thread):
    """Drives one model copy in this process by hand (NeuronPerf's Benchmarker).

    A thread: start() loads the model with load_fn(model_filename, device_id=device_id)
    and runs the engine with `workers_per_model` workers until `duration` seconds pass
    or stop() is called. status moves "ready" -> "running" -> "finished" | "error";
    n_infs holds the per-worker inference counts once it has finished.
    """

    def __init__(
        self,
        id: int,
        device_id: int,
        load_fn: Callable[..., Any],
        model_filename: str,
        inputs: Any,
        workers_per_model: int = 1,
        env_setup_fn: Callable[..., Any] | None = None,
        setup_fn: Callable[..., Any] | None = None,
        preprocess_fn: Callable[..., Any] | None = None,
        postprocess_fn: Callable[..., Any] | None = None,
        duration: float = BENCHMARK_SECS,
        warmup_iterations: int = 1,
        window_s: float = 1.0,
        call_timeout_s: float | None = None,
    ) -> None:
        super().__init__(name=f"npf-benchmarker-{id}", daemon=True)
        if not callable(load_fn):
            raise TypeError(f"load_fn must be callable, got {type(load_fn).__name__}")
        settings = BenchmarkSettings.from_keywords(
            workers_per_model=workers_per_model,
            duration=duration,
            warmup_iterations=warmup_iterations,
            window_s=window_s,
            call_timeout_s=call_timeout_s,
        )
        item = inputs[0] if isinstance(inputs, list) and len(inputs) == 1 else inputs
        self.id = id
        self.device_id = device_id
        self.status = "ready"
        self.n_infs: list[int] = [0] * workers_per_model
        self.error: str | None = None
        self._spec = CopySpec(
            copy_id=id,
            device_id=device_id,
            load_fn=load_fn,
            model_filename=model_filename,
            config={},
            inputs=[_as_args(item)],
            env_setup_fn=env_setup_fn,
            setup_fn=setup_fn,
            preprocess_fn=preprocess_fn,
            postprocess_fn=postprocess_fn,
        )
        self._run = RunSpec(
            RunOptions(
                workers=workers_per_model,
                warmup=settings.warmup_iterations,
                duration_s=settings.duration_s,
                window_s=settings.window_s,
                call_timeout_s=settings.call_timeout_s,
                record_timestamps=True,
            )
        )
        self._outcome: CopiesOutcome | None = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        self.status = "running"
        outcome = run_copies(
            [self._spec],
            "thread",
            self._run,
            load_timeout_s=None,
            watch=RunWatch(should_stop=self._stop_requested.is_set),
        )
        self._outcome = outcome
        copy = outcome.copies[0]
        if copy.result is not None:
            self.n_infs = list(copy.result["per_worker_iterations"])
        self.error = outcome.error or (copy.result or {}).get("error")
        failed = outcome.error is not None or (copy.result or {}).get("status") == "error"
        self.status = "error" if failed else "finished"

    def stop(self) -> None:
        """Stops the run after the current iterations and waits for it to end, so that
        status is final ("finished" or "error") and the results are kept."""
        self._stop_requested.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()

    def results(self) -> dict[str, Any]:
        """The copy's RunResult dict (histograms, windows, counts) and Timer objects."""
        if self._outcome is None:
            raise RuntimeError(f"Benchmarker {self.id} has not finished (status {self.status})")
        copy = self._outcome.copies[0]
        measured = [copy.result] if copy.result is not None else []
        return {
            "status": self.status,
            "error": self.error,
            "n_infs": sum(self.n_infs),
            "result": copy.result,
            "timers": timers_of(measured, [copy.timestamps] if measured else []),
        }
