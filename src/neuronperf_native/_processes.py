"""Model copies: one per process (fork), per fresh interpreter (spawn), or per thread.

Each copy sets its environment, runs env_setup_fn, load_fn and setup_fn, warms up,
reports "ready", waits for a shared start time, runs the engine, and sends back its
result. Messages to the parent are JSON (plus raw int64 bytes for timestamps), so the
parent never unpickles anything a model process produced. Every phase has a timeout;
a copy that dies or hangs is reported with its exit code or signal, and no copy
outlives run_copies().
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import itertools
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import resource
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuronperf_native import engine
from neuronperf_native._feeds import Feed, ValidationPlan, describe_mismatch
from neuronperf_native.engine import _as_args

log = logging.getLogger("neuronperf_native")

# Lead time between "all copies are ready" and the shared timing start, so every
# copy has received the start time before it arrives.
_START_LEAD_NS = 20_000_000
# How long stopped copies get to send what they measured before they are killed.
_GRACE_S = 5.0


@dataclass
class CopyJob:
    """Everything one model copy needs. Picklable when its functions are (spawn mode)."""

    copy_id: int
    device_id: int
    load_fn: Callable[..., Any]
    model_filename: str
    config: dict[str, Any]
    inputs: list[tuple]
    environment: dict[str, str] = field(default_factory=dict)
    env_setup_fn: Callable[..., Any] | None = None
    setup_fn: Callable[..., Any] | None = None
    preprocess_fn: Callable[..., Any] | None = None
    postprocess_fn: Callable[..., Any] | None = None
    input_transform_fn: Callable[..., Any] | None = None
    dataset: Any = None
    dataset_loader_fn: Callable[..., Any] | None = None
    loop_dataset: bool = False
    n_copies: int = 1
    workers: int = 1
    warmup_iterations: int = 1
    duration_s: float | None = None
    max_iterations: int | None = None
    window_s: float = 1.0
    call_timeout_s: float | None = None
    record_timestamps: bool = False
    feed: Feed | None = None  # input data batches, in place of `inputs`
    validation: ValidationPlan | None = None  # this copy's share of the output checks


@dataclass
class CopyOutcome:
    """What the parent learned from one copy."""

    copy_id: int
    result: dict[str, Any] | None = None  # RunResult.to_dict() plus load/setup times
    timestamps: np.ndarray | None = None  # (n, 6) boundaries when recorded
    error: str | None = None
    phase: str = "start"


class CopyFailure(Exception):
    """A copy failed before measuring (load, setup, warm-up), died or hung."""


class _StopRequested(Exception):
    """The caller asked run_copies() to stop early (results are kept)."""


def _send(conn: Any, message: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode())


def _receive(conn: Any) -> dict[str, Any]:
    return json.loads(conn.recv_bytes().decode())


def _dataset_items(job: CopyJob, model: Any) -> Iterator[tuple]:
    """This copy's share of the dataset as argument tuples: dataset_loader_fn(dataset,
    copy_id, n_copies) when given, else items copy_id, copy_id + n_copies, ...;
    endlessly repeated with loop_dataset."""
    while True:
        if job.dataset_loader_fn is not None:
            items: Iterable[Any] = job.dataset_loader_fn(job.dataset, job.copy_id, job.n_copies)
        elif hasattr(job.dataset, "__len__") and hasattr(job.dataset, "__getitem__"):
            items = (job.dataset[i] for i in range(job.copy_id, len(job.dataset), job.n_copies))
        else:
            items = itertools.islice(job.dataset, job.copy_id, None, job.n_copies)
        served = 0
        for item in items:
            served += 1
            args = _as_args(item)
            if job.input_transform_fn is not None:
                args = _as_args(job.input_transform_fn(model, args))
            yield args
        if not job.loop_dataset or served == 0:
            return


def _copy_inputs(job: CopyJob, model: Any) -> Any:
    """The engine inputs of this copy: a list of argument tuples, or a dataset iterator."""
    if job.dataset is not None:
        return _dataset_items(job, model)
    items = job.inputs if job.feed is None else job.feed.for_copy(job.copy_id, job.n_copies)
    if job.input_transform_fn is None:
        return items
    return [_as_args(job.input_transform_fn(model, args)) for args in items]


def _validate(job: CopyJob, model: Any, inputs: list[tuple]) -> dict[str, Any]:
    """Runs this copy's output checks (untimed); strict validation fails the copy."""
    assert job.validation is not None and job.feed is not None
    start = job.feed.start(job.copy_id, job.n_copies)
    tally = job.validation.check(
        model, lambda index: inputs[(index - start) % len(inputs)], job.preprocess_fn
    )
    if job.validation.strict and tally.mismatches:
        raise CopyFailure(describe_mismatch(tally))
    return tally.to_dict()


def _timed_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def copy_main(job: CopyJob, conn: Any, in_process: bool = True) -> None:
    """Body of one model copy (the target of its process or thread)."""
    phase = "env_setup"
    try:
        if in_process:
            os.environ.update(job.environment)
            # Ctrl-C goes to the parent, which stops the copies in order.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        env_setup_s = setup_s = 0.0
        if job.env_setup_fn is not None:
            _, env_setup_s = _timed_call(job.env_setup_fn, job.copy_id, job.config)
        phase = "load"
        model, load_s = _timed_call(job.load_fn, job.model_filename, device_id=job.device_id)
        if job.setup_fn is not None:
            phase = "setup"
            _, setup_s = _timed_call(job.setup_fn, job.copy_id, job.config, model)
        phase = "warmup"
        stages = {"preprocess": job.preprocess_fn, "postprocess": job.postprocess_fn}
        warmup_hist = engine.Histogram()
        inputs = _copy_inputs(job, model)
        if job.warmup_iterations > 0:
            warm = engine.run(
                model,
                inputs,
                workers=job.workers,
                max_iterations=job.workers * job.warmup_iterations,
                warmup=0,
                call_timeout_s=job.call_timeout_s,
                **stages,
            )
            if warm.status != "finished":
                raise CopyFailure(warm.error or f"warm-up ended with status {warm.status}")
            warmup_hist = warm.latency
            if job.dataset is not None:
                inputs = _copy_inputs(job, model)  # warm-up items are served again
        validation = validate_s = None
        if job.validation is not None:
            phase = "validate"
            validation, validate_s = _timed_call(_validate, job, model, inputs)
        _send(conn, {"event": "ready"})
        phase = "start"
        message = _receive(conn)
        if "start_at_ns" not in message:
            return  # aborted before timing
        phase = "run"
        runner = engine.Runner(
            model,
            inputs,
            workers=job.workers,
            duration_s=job.duration_s,
            max_iterations=job.max_iterations,
            warmup=0,
            window_s=job.window_s,
            call_timeout_s=job.call_timeout_s,
            record_timestamps=job.record_timestamps,
            start_at_ns=message["start_at_ns"],
            **stages,
        )
        runner.start()
        _StopListener(conn, runner).start()
        result = runner.wait()
        payload = result.to_dict()
        payload.update(
            copy_id=job.copy_id,
            env_setup_s=env_setup_s,
            load_s=load_s,
            setup_s=setup_s,
            warmup_histogram=warmup_hist.encode(),
            validation=validation,
            validate_s=validate_s,
            max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        )
        timestamps = result.boundaries
        if timestamps is not None:
            payload["timestamps_shape"] = list(timestamps.shape)
        _send(conn, {"event": "result", "result": payload})
        if timestamps is not None:
            conn.send_bytes(np.ascontiguousarray(timestamps).tobytes())
    except BaseException as error:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        with contextlib.suppress(OSError):
            _send(conn, {"event": "error", "phase": phase, "error": text.rstrip()})
    finally:
        if in_process:
            conn.close()


class _StopListener(threading.Thread):
    """In a copy: stops the run when the parent says so (or goes away)."""

    def __init__(self, conn: Any, runner: engine.Runner) -> None:
        super().__init__(daemon=True)
        self._conn = conn
        self._runner = runner

    def run(self) -> None:
        while not self._runner.done:
            try:
                if self._conn.poll(0.05):
                    self._conn.recv_bytes()
                    self._runner.stop()
                    return
            except (EOFError, OSError):
                self._runner.stop()
                return


class _MainFinder(pickle.Pickler):
    """Pickles into nothing, noting whether anything pickled is defined in __main__."""

    def __init__(self) -> None:
        super().__init__(_Discard(), protocol=pickle.HIGHEST_PROTOCOL)
        self.found = False

    def reducer_override(self, obj: Any) -> Any:
        if getattr(obj, "__module__", None) == "__main__":
            self.found = True
        return NotImplemented


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _needs_main(job: CopyJob) -> bool:
    """Whether unpickling the job in a fresh interpreter needs the parent's __main__
    (a model class, load_fn, setup function or input defined in the script)."""
    finder = _MainFinder()
    try:
        finder.dump(job)
    except Exception:
        return True  # let multiprocessing report why it cannot be pickled
    return finder.found


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Makes spawned children skip re-running the parent's __main__ script.

    multiprocessing's spawn re-runs the main script in each child so that objects
    defined there can be unpickled; a script without an ``if __name__ ==
    "__main__":`` guard would then benchmark again inside its own model copy. When the
    job needs nothing from __main__, the children are told (as for ``python -m
    package``, whose main is never re-run) to leave it alone.
    """
    main = sys.modules["__main__"]
    saved = getattr(main, "__spec__", None)
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved


class _Copy:
    """The parent's handle on one running copy."""

    def __init__(self, job: CopyJob, mode: str) -> None:
        self.job = job
        self.outcome = CopyOutcome(job.copy_id)
        self.done = False
        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        self.conn = parent_end
        if mode == "thread":
            self.process = None
            self.worker = threading.Thread(
                target=copy_main, args=(job, child_end, False), daemon=True
            )
            self.worker.start()
        else:
            context = multiprocessing.get_context("spawn" if mode == "spawn" else "fork")
            self.process = context.Process(
                target=copy_main, args=(job, child_end), name=f"npf-copy-{job.copy_id}"
            )
            self.process.start()
            child_end.close()

    @property
    def sentinel(self) -> Any:
        return self.process.sentinel if self.process is not None else None

    def describe_exit(self) -> str:
        if self.process is not None:
            self.process.join(1.0)  # the pipe may close a moment before the exit is visible
        code = self.process.exitcode if self.process is not None else None
        if code is None:
            return "did not respond"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"died with {name}"
        return f"exited with code {code}"

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, ValueError):
            _send(self.conn, message)

    def terminate(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _wait_for(
    copies: list[_Copy], event: str, timeout_s: float | None, on_tick: Callable[[], None]
) -> None:
    """Waits until every copy sent `event` (or failed). Raises CopyFailure on the first
    failure; fills outcomes as messages arrive."""
    pending = {c.job.copy_id: c for c in copies}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while pending:
        waitables = [c.conn for c in pending.values()]
        waitables += [c.sentinel for c in pending.values() if c.sentinel is not None]
        tick = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
        ready = multiprocessing.connection.wait(waitables, timeout=tick)
        on_tick()
        for c in list(pending.values()):
            if c.conn in ready:
                try:
                    message = _receive(c.conn)
                except (EOFError, OSError):
                    raise CopyFailure(f"model copy {c.job.copy_id} {c.describe_exit()}") from None
                if message["event"] == "error":
                    c.outcome.error = message["error"]
                    c.outcome.phase = message["phase"]
                    raise CopyFailure(
                        f"model copy {c.job.copy_id} failed in {message['phase']}: "
                        f"{message['error'].splitlines()[-1]}"
                    )
                if message["event"] == "result":
                    c.outcome.result = message["result"]
                    shape = message["result"].get("timestamps_shape")
                    if shape is not None:
                        raw = c.conn.recv_bytes()
                        c.outcome.timestamps = np.frombuffer(raw, dtype=np.int64).reshape(shape)
                del pending[c.job.copy_id]
            elif c.sentinel is not None and c.sentinel in ready and not c.conn.poll():
                raise CopyFailure(f"model copy {c.job.copy_id} {c.describe_exit()}")
        if deadline is not None and time.monotonic() >= deadline and pending:
            ids = ", ".join(str(i) for i in pending)
            raise CopyFailure(f"model copies {ids} sent no '{event}' within {timeout_s:g} s")


@dataclass
class CopiesOutcome:
    """The outcome of one configuration's copies."""

    copies: list[CopyOutcome]
    error: str | None = None
    interrupted: bool = False
    start_ns: int = 0


def run_copies(
    jobs: list[CopyJob],
    mode: str,
    *,
    ready_timeout_s: float | None,
    run_timeout_s: float | None,
    on_tick: Callable[[], None] = lambda: None,
    on_start: Callable[[int], None] = lambda start_ns: None,
    stop: threading.Event | None = None,
) -> CopiesOutcome:
    """Runs the copies of one configuration: all load and warm up, start together at a
    shared time, stop together. mode: "fork", "spawn" or "thread". Setting `stop`
    ends the run early, keeping what the copies measured."""
    copies: list[_Copy] = []
    outcome = CopiesOutcome([])

    def tick() -> None:
        on_tick()
        if stop is not None and stop.is_set():
            raise _StopRequested

    # The copies of a configuration share every callable and input: check one job.
    skip_main = mode == "spawn" and bool(jobs) and not _needs_main(jobs[0])
    try:
        with _main_not_rerun() if skip_main else contextlib.nullcontext():
            for job in jobs:
                copies.append(_Copy(job, mode))
        _wait_for(copies, "ready", ready_timeout_s, tick)
        outcome.start_ns = engine.now_ns() + _START_LEAD_NS + 2_000_000 * len(copies)
        for c in copies:
            c.send({"start_at_ns": outcome.start_ns})
        on_start(outcome.start_ns)
        _wait_for(copies, "result", run_timeout_s, tick)
    except _StopRequested:
        _stop_and_collect(copies, on_tick)
    except CopyFailure as failure:
        outcome.error = str(failure)
        _stop_and_collect(copies, on_tick)
    except KeyboardInterrupt:
        outcome.interrupted = True
        outcome.error = "KeyboardInterrupt: the benchmark was interrupted"
        _stop_and_collect(copies, on_tick)
    finally:
        for c in copies:
            c.terminate()
            c.conn.close()
        outcome.copies = [c.outcome for c in copies]
    return outcome


def _stop_and_collect(copies: list[_Copy], on_tick: Callable[[], None]) -> None:
    """Asks running copies to stop and gives them a grace period to send results."""
    running = [c for c in copies if c.outcome.result is None and c.outcome.error is None]
    for c in running:
        c.send({"stop": True})
    deadline = time.monotonic() + _GRACE_S
    for c in running:
        try:
            _wait_for([c], "result", max(0.0, deadline - time.monotonic()), on_tick)
        except (CopyFailure, KeyboardInterrupt):
            continue
