"""Model copies seen from the parent: start them, load them once, run them together.

A CopyGroup is the n_models copies of one model config: one process each (forked,
or a fresh interpreter) or one thread each. They load once; then every run()
warms them up, waits until all are ready, releases them at one shared start instant
(engine clock), watches them while they run (progress, hung copies, memory), and
collects their results. Every phase has a timeout; a copy that dies or hangs is
reported with its exit code, signal or silence, and close() leaves no copy behind.
The copy's side of the conversation is copies/child.py; both speak copies/protocol.py.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.machinery
import multiprocessing
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from neuronperf_native import _engine, engine
from neuronperf_native._fork_safety import fork_warning_suppressed
from neuronperf_native.copies.child import copy_main
from neuronperf_native.copies.protocol import CopyFailure, CopySpec, RunSpec, receive, send

# Lead time between "all copies are ready" and the shared timing start, so every
# copy has received the start time before it arrives.
_START_LEAD_NS = 20_000_000
# How long stopped copies get to send what they measured before they are killed.
_GRACE_S = 5.0
# A copy that completes nothing for this long (or 20x its p99, if longer) is hung...
_MIN_SILENCE_S = 10.0
_SILENCE_P99S = 20
# ... and so is one still busy this long after the end of its duration.
_OVERRUN_S = 10.0
_TICK_S = 0.2


class CopyHung(CopyFailure):
    """A copy completed nothing for too long, or ran too long past its duration."""


@dataclass
class CopyOutcome:
    """What the parent learned from one copy in one run."""

    copy_id: int
    result: dict[str, Any] | None = None  # RunResult.to_dict() plus load/setup times
    timestamps: np.ndarray | None = None  # (n, 7) boundaries when recorded
    requests: np.ndarray | None = None  # (n, 9) request records when recorded (streaming)
    error: str | None = None
    phase: str = "load"


@dataclass
class CopiesOutcome:
    """The outcome of one run of a group's copies."""

    copies: list[CopyOutcome]
    error: str | None = None
    timed_out: bool = False  # a copy hung (no completion, or overran its duration)
    interrupted: bool = False
    start_ns: int = 0
    start_dts: str | None = None  # local time the run started (NeuronPerf's config key)
    ended_early: bool = False  # the watch's should_stop ended the run (not a failure)

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class RunWatch:
    """The parent's view of a run while it goes: callbacks, and when to stop it."""

    # Given the earliest shared start instant (engine clock) once every copy is ready,
    # returns the instant to use: a later one lines several hosts up.
    choose_start: Callable[[int], int] = lambda earliest_ns: earliest_ns
    on_start: Callable[[int], None] = lambda start_ns: None
    on_progress: Callable[[int, int, list], None] = lambda copy_id, iterations, windows: None
    on_tick: Callable[[], None] = lambda: None
    should_stop: Callable[[], bool] = lambda: False
    max_rss_mb: float | None = None


@dataclass
class _Liveness:
    """When a copy last completed something, for the hung-copy rule."""

    iterations: int = 0
    since: float = field(default_factory=time.monotonic)
    p99_s: float = 0.0
    gap_s: float = 0.0  # open loop: the longest wait for the copy's next scheduled request

    def update(self, iterations: int, p99_ns: int | None) -> None:
        if iterations > self.iterations:
            self.iterations, self.since = iterations, time.monotonic()
        if p99_ns:
            self.p99_s = max(self.p99_s, p99_ns / 1e9)

    def silence_limit_s(self) -> float:
        return max(_MIN_SILENCE_S, _SILENCE_P99S * (self.p99_s + self.gap_s))


class _Copy:
    """The parent's handle on one copy: its pipe and its process (or thread)."""

    def __init__(self, spec: CopySpec, mode: str, parent_ends: list[Any], main_rerun: bool) -> None:
        self.spec = spec
        self.main_rerun = main_rerun  # a fresh interpreter that ran the parent's __main__
        self.outcome = CopyOutcome(spec.copy_id)
        self.liveness = _Liveness()
        parent_end, child_end = multiprocessing.Pipe(duplex=True)
        self.conn = parent_end
        if mode == "thread":
            self.process = None
            self.worker = threading.Thread(
                target=copy_main, args=(spec, child_end, False), daemon=True
            )
            self.worker.start()
            return
        context: Any = multiprocessing.get_context(mode)  # a fork or spawn context
        # A forked child inherits every parent end created so far: it closes them.
        inherited = [*parent_ends, parent_end] if mode == "fork" else []
        self.process = context.Process(
            target=copy_main,
            args=(spec, child_end, True, inherited),
            name=f"npf-copy-{spec.copy_id}",
        )
        # The executor chose fork knowing what this process holds (_fork_safety).
        with fork_warning_suppressed() if mode == "fork" else contextlib.nullcontext():
            self.process.start()
        child_end.close()

    @property
    def copy_id(self) -> int:
        return self.spec.copy_id

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
            send(self.conn, message)

    def load(self, spec: CopySpec) -> None:
        """Asks this (idle, fresh-interpreter) copy to replace its model by spec's."""
        self.spec = spec
        self.outcome = CopyOutcome(spec.copy_id)
        self.send({"cmd": "load", "spec": base64.b64encode(pickle.dumps(spec)).decode()})

    def rss_mb(self) -> float | None:
        if self.process is None or self.process.pid is None:
            return None
        try:
            return psutil.Process(self.process.pid).memory_info().rss / 2**20
        except psutil.Error:
            return None

    def terminate(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _end(copies: list[_Copy]) -> None:
    """Ends copies (politely, then by force) and closes their pipes. A thread copy
    is joined, so that it leaves no thread behind to make a later fork unsafe."""
    for c in copies:
        c.send({"cmd": "exit"})
    deadline = time.monotonic() + 1.0
    for c in copies:
        if c.process is not None:
            c.process.join(max(0.0, deadline - time.monotonic()))
        else:
            c.worker.join(max(0.0, deadline - time.monotonic()))
        c.terminate()
        c.conn.close()


class CopyPool:
    """Fresh-interpreter copies kept between model configs: starting an interpreter and
    importing the framework again would cost seconds per copy, loading the next model
    into the same interpreter does not. Not thread-safe; a context manager that ends
    every copy it still holds."""

    def __init__(self) -> None:
        self._idle: dict[int, _Copy] = {}

    def __enter__(self) -> CopyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def give(self, copies: list[_Copy]) -> None:
        for c in copies:
            self._idle[c.copy_id] = c

    def take(self, spec: CopySpec, needs_main: bool) -> _Copy | None:
        """An idle copy that can load spec (same pinning, alive), or None."""
        c = self._idle.pop(spec.copy_id, None)
        if c is None:
            return None
        usable = c.spec.environment == spec.environment and (c.main_rerun or not needs_main)
        if usable and c.process is not None and c.process.is_alive():
            return c
        _end([c])
        return None

    def close(self) -> None:
        _end(list(self._idle.values()))
        self._idle.clear()


class CopyGroup:
    """The copies loaded with one model config, run together as often as needed.

    load() adds copies (new ones, or idle ones from a CopyPool that load this model);
    run() runs the first n_copies of them. Not thread-safe: one caller drives it.
    mode: "fork", "spawn" or "thread".
    """

    def __init__(self, mode: str, pool: CopyPool | None = None) -> None:
        self._mode = mode
        self._pool = pool
        self._copies: list[_Copy] = []  # loaded, by copy_id
        self._running: list[_Copy] = []  # the ones in the current run()

    def __enter__(self) -> CopyGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def __len__(self) -> int:
        return len(self._copies)

    def load(
        self, specs: list[CopySpec], timeout_s: float | None, on_tick: Callable[[], None]
    ) -> None:
        """Starts (or takes from the pool) and loads one copy per spec, whose copy_ids
        continue this group's; raises CopyFailure naming the first that failed, died
        or did not load within timeout_s."""
        new = self._start(specs)
        self._running = new
        _pump(new, "loaded", timeout_s, on_tick)
        self._copies.extend(new)

    def _start(self, specs: list[CopySpec]) -> list[_Copy]:
        started: list[_Copy] = []
        # The copies share every callable and input: checking one spec is enough.
        needs_main = self._mode == "spawn" and bool(specs) and _needs_main(specs[0])
        try:
            with (
                _main_not_rerun()
                if self._mode == "spawn" and not needs_main
                else contextlib.nullcontext()
            ):
                for spec in specs:
                    reused = self._pool.take(spec, needs_main) if self._pool is not None else None
                    if reused is not None:
                        reused.load(spec)
                        started.append(reused)
                    else:
                        parent_ends = [c.conn for c in (*self._copies, *started)]
                        started.append(_Copy(spec, self._mode, parent_ends, needs_main))
        except BaseException:
            _end(started)
            raise
        return started

    def outcome_of(self, failure: BaseException) -> CopiesOutcome:
        """The outcome of a load that failed with ``failure`` (or was interrupted)."""
        interrupted = isinstance(failure, KeyboardInterrupt)
        error = "KeyboardInterrupt: the benchmark was interrupted" if interrupted else str(failure)
        return CopiesOutcome(
            [c.outcome for c in self._running], error=error, interrupted=interrupted
        )

    def run(self, run: RunSpec, *, ready_timeout_s: float | None, watch: RunWatch) -> CopiesOutcome:
        """One timed run of the first run.n_copies copies: warm-up, a shared start,
        results."""
        self._running = self._copies[: run.n_copies]
        for c in self._running:
            c.outcome = CopyOutcome(c.copy_id, phase="warmup")
            c.liveness = _Liveness(gap_s=run.longest_gap_s())
            c.send({"cmd": "run", "run": run.to_dict()})
        outcome = CopiesOutcome([])
        try:
            _pump(self._running, "ready", ready_timeout_s, watch.on_tick)
            earliest_ns = engine.now_ns() + _START_LEAD_NS + 2_000_000 * len(self._running)
            outcome.start_ns = watch.choose_start(earliest_ns)
            for c in self._running:
                c.outcome.phase = "run"
                c.send({"cmd": "start", "start_at_ns": outcome.start_ns})
            watch.on_start(outcome.start_ns)
            self._collect(run, outcome, watch)
        except CopyFailure as failure:
            outcome.error = str(failure)
            outcome.timed_out = isinstance(failure, CopyHung)
            self._stop_and_collect(watch.on_tick)
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.error = "KeyboardInterrupt: the benchmark was interrupted"
            self._stop_and_collect(watch.on_tick)
        outcome.copies = [c.outcome for c in self._running]
        return outcome

    def close(self) -> None:
        """Done with this model config: the copies go to the pool (when there is one)
        to load the next model, or end."""
        if self._pool is not None:
            self._pool.give(self._copies)
        else:
            _end(self._copies)
        self._copies = []
        self._running = []

    def discard(self) -> None:
        """Ends every copy of the group (after a failure, or when done without a pool)."""
        _end(self._copies + [c for c in self._running if c not in self._copies])
        self._copies = []
        self._running = []

    # Waiting ----------------------------------------------------------------------

    def _collect(self, run: RunSpec, outcome: CopiesOutcome, watch: RunWatch) -> None:
        """Waits for every result, forwarding progress; ends the run when the watch
        says so, and fails it when a copy hangs, overruns or outgrows max_rss_mb."""
        overrun_at = None
        options = run.options
        if options.duration_s is not None:
            start_s = time.monotonic() + (outcome.start_ns - engine.now_ns()) / 1e9
            overrun_at = start_s + options.duration_s + (options.call_timeout_s or 0.0) + _OVERRUN_S

        def tick() -> None:
            watch.on_tick()
            if not outcome.ended_early and watch.should_stop():
                for c in self._running:
                    c.send({"cmd": "stop"})
                outcome.ended_early = True
            _check_health(self._running, overrun_at, watch.max_rss_mb)

        _pump(self._running, "result", None, tick, on_progress=watch.on_progress)

    def _stop_and_collect(self, on_tick: Callable[[], None]) -> None:
        """Asks running copies to stop and gives them a grace period to send results.
        A copy silent for longer than the grace period (beyond a wait for its next
        scheduled request) is not waited for: its call has already run longer than the
        wait would be (a hung copy ends at once)."""
        running = [c for c in self._running if c.outcome.result is None and c.outcome.error is None]
        for c in running:
            c.send({"cmd": "stop"})
        deadline = time.monotonic() + _GRACE_S
        for c in running:
            if time.monotonic() - c.liveness.since - c.liveness.gap_s > _GRACE_S:
                continue
            with contextlib.suppress(CopyFailure, KeyboardInterrupt):
                _pump([c], "result", max(0.0, deadline - time.monotonic()), on_tick)


def _check_health(copies: list[_Copy], overrun_at: float | None, max_rss_mb: float | None) -> None:
    """Raises CopyHung for a copy silent too long or overrunning its duration, and
    CopyFailure for one over max_rss_mb."""
    now = time.monotonic()
    for c in copies:
        if c.outcome.result is not None:
            continue
        silent_s = now - c.liveness.since
        if silent_s > c.liveness.silence_limit_s():
            raise CopyHung(
                f"model copy {c.copy_id} hung: no iteration completed for {silent_s:.1f} s"
            )
        if overrun_at is not None and now > overrun_at:
            raise CopyHung(
                f"model copy {c.copy_id} hung: still busy {_OVERRUN_S:g} s after the end of "
                "its duration"
            )
        rss = c.rss_mb() if max_rss_mb is not None else None
        if rss is not None and max_rss_mb is not None and rss > max_rss_mb:
            raise CopyFailure(
                f"model copy {c.copy_id} uses {rss:.0f} MiB of resident memory, over "
                f"max_rss_mb={max_rss_mb:g}"
            )


def _pump(
    copies: list[_Copy],
    wanted: str,
    timeout_s: float | None,
    on_tick: Callable[[], None],
    on_progress: Callable[[int, int, list], None] | None = None,
) -> None:
    """Handles the copies' messages until each sent `wanted`; raises CopyFailure on
    the first failure, death or timeout."""
    pending = {c.copy_id: c for c in copies}
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while pending:
        fds = [c.conn.fileno() for c in pending.values()]
        fds += [c.sentinel for c in pending.values() if c.sentinel is not None]
        wait_s = _TICK_S if deadline is None else min(_TICK_S, deadline - time.monotonic())
        # The engine waits and retakes the GIL as a harness thread: with copies as
        # threads, their workers hand it over at once.
        ready = set(_engine.wait_readable(fds, max(0.0, wait_s)))
        for c in list(pending.values()):
            if c.conn.fileno() in ready:
                if _handle(c, wanted, on_progress):
                    del pending[c.copy_id]
            elif c.sentinel in ready and not _engine.wait_readable([c.conn.fileno()], 0.0):
                raise CopyFailure(f"model copy {c.copy_id} {c.describe_exit()}")
        on_tick()
        if deadline is not None and time.monotonic() >= deadline and pending:
            ids = ", ".join(str(i) for i in pending)
            copies_named = "model copies" if len(pending) > 1 else "model copy"
            raise CopyFailure(f"{copies_named} {ids} sent no '{wanted}' within {timeout_s:g} s")


def _handle(c: _Copy, wanted: str, on_progress: Callable[[int, int, list], None] | None) -> bool:
    """Reads one message from copy c; True when it is the wanted event."""
    try:
        message = receive(c.conn)
    except (EOFError, OSError):
        raise CopyFailure(f"model copy {c.copy_id} {c.describe_exit()}") from None
    event = message["event"]
    if event == "error":
        c.outcome.error = message["error"]
        c.outcome.phase = message["phase"]
        raise CopyFailure(
            f"model copy {c.copy_id} failed in {message['phase']}: "
            f"{message['error'].splitlines()[-1]}"
        )
    if event == "progress":
        c.liveness.update(message["iterations"], message.get("p99_ns"))
        if on_progress is not None:
            on_progress(c.copy_id, message["iterations"], message["windows"])
        return False
    if event == "ready":
        c.liveness.update(0, message.get("warmup_p99_ns"))
    if event == "result":
        c.outcome.result = message["result"]
        shape = message["result"].get("timestamps_shape")
        if shape is not None:
            raw = _engine.read_message(c.conn.fileno())
            c.outcome.timestamps = np.frombuffer(raw, dtype=np.int64).reshape(shape)
        shape = message["result"].get("requests_shape")
        if shape is not None:
            raw = _engine.read_message(c.conn.fileno())
            c.outcome.requests = np.frombuffer(raw, dtype=np.int64).reshape(shape)
    return event == wanted


def run_copies(
    specs: list[CopySpec],
    mode: str,
    run: RunSpec,
    *,
    load_timeout_s: float | None,
    watch: RunWatch | None = None,
) -> CopiesOutcome:
    """Starts, loads and runs the copies once, then ends them (one configuration)."""
    watch = watch or RunWatch()
    with CopyGroup(mode) as group:
        try:
            group.load(specs, load_timeout_s, watch.on_tick)
        except (CopyFailure, KeyboardInterrupt) as failure:
            return group.outcome_of(failure)
        return group.run(run, ready_timeout_s=load_timeout_s, watch=watch)


# Fresh interpreters and the parent's __main__ ---------------------------------------


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


def _needs_main(spec: CopySpec) -> bool:
    """Whether unpickling the spec in a fresh interpreter needs the parent's __main__
    (a model class, load_fn, setup function or input defined in the script); a
    TypeError saying why when it cannot be pickled at all."""
    finder = _MainFinder()
    try:
        finder.dump(spec)
    except Exception as error:
        raise TypeError(
            "model copies in fresh interpreters (multiinterpreter=True) get their load_fn, "
            f"model, inputs and functions by pickling, which failed: {error}"
        ) from None
    return finder.found


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Makes spawned children skip re-running the parent's __main__ script.

    multiprocessing's spawn re-runs the main script in each child so that objects
    defined there can be unpickled; a script without an ``if __name__ ==
    "__main__":`` guard would then benchmark again inside its own model copy. When the
    spec needs nothing from __main__, the children are told (as for ``python -m
    package``, whose main is never re-run) to leave it alone.
    """
    main = sys.modules["__main__"]
    saved = getattr(main, "__spec__", None)
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = saved
