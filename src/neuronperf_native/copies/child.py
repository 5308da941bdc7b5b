"""Inside one model copy: load once, then serve runs the parent asks for.

A copy (a process, a fresh interpreter or a thread) sets its environment, runs
env_setup_fn, load_fn and setup_fn once and says "loaded". Then, for each run the
parent sends (one per configuration that shares these loaded copies), it warms up
with that run's workers, checks its share of the expected outputs, says "ready",
waits for the shared start instant, runs the engine while the engine's progress
forwarder (a native thread: nothing it does waits on the GIL) sends its closed windows
as "progress" and hears the parent's "stop", and sends the result. The messages are
copies/protocol.py's.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import itertools
import multiprocessing
import os
import pickle
import resource
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from neuronperf_native import _engine, engine
from neuronperf_native.copies.protocol import CopyFailure, CopySpec, RunSpec, receive, send
from neuronperf_native.copies.validation import describe_mismatch
from neuronperf_native.engine import _as_args
from neuronperf_native.inputs import SequenceFeed, SequencePlayer
from neuronperf_native.prompts import Prompts


def copy_main(
    spec: CopySpec, conn: Any, in_process: bool = True, close_in_child: Iterable[Any] = ()
) -> None:
    """Body of one model copy (the target of its process or thread)."""
    phase = "env_setup"
    try:
        if in_process:
            _guard_process(close_in_child)
            os.environ.update(spec.environment)
            _remove_with_parent(spec)
        model, times = _load(spec)
        send(conn, {"event": "loaded"})
        while True:
            command = receive(conn)
            if command["cmd"] == "exit":
                return
            if command["cmd"] == "load":  # another model config, in this same interpreter
                phase = "load"
                model = None
                gc.collect()  # free the previous model before the next one loads
                spec = pickle.loads(base64.b64decode(command["spec"]))
                if in_process:
                    _remove_with_parent(spec)
                model, times = _load(spec)
                send(conn, {"event": "loaded"})
            elif command["cmd"] == "run":  # stray stop/abort messages of an ended run are dropped
                phase = "warmup"
                run = RunSpec.from_dict(command["run"])
                if in_process and run.options.request_trace is not None:
                    _remove_file_with_parent(run.options.request_trace)
                _serve_run(spec, model, times, run, conn)
    except _Phase as failure:
        _report_error(conn, failure.phase, failure.__cause__ or failure)
    except (EOFError, ConnectionError):  # the pipe: the parent is gone
        if in_process:  # its death signal may not have come yet: do what it does
            _engine.kill_group_now()
    except BaseException as error:
        _report_error(conn, phase, error)
    finally:
        if in_process:
            conn.close()


class _Phase(Exception):
    """Carries the phase in which the wrapped exception (its __cause__) happened."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    try:
        yield
    except _Phase:
        raise
    except BaseException as error:
        raise _Phase(name) from error


def _report_error(conn: Any, phase: str, error: BaseException) -> None:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    with contextlib.suppress(OSError, ValueError):
        send(conn, {"event": "error", "phase": phase, "error": text.rstrip()})


def _guard_process(close_in_child: Iterable[Any]) -> None:
    """Makes this copy die with its parent and take what it started along.

    The copy leads its own process group; a parent-death signal (armed natively, so
    it acts even while Python is busy in C code) kills that whole group. The parent's
    ends of the pipes, inherited through fork, are closed so that the parent's death
    is also seen as end-of-file. Ctrl-C goes to the parent, which stops copies in order.
    """
    for conn in close_in_child:
        conn.close()
    os.setpgid(0, 0)
    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None and parent.pid is not None else os.getppid()
    _engine.kill_group_on_parent_death(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _remove_with_parent(spec: CopySpec) -> None:
    """The shared-memory segment this copy maps goes when the parent does (the parent
    removes it itself when it ends normally)."""
    if spec.feed is not None and spec.feed.shared is not None:
        _remove_file_with_parent(spec.feed.shared.path)


_REMOVED_WITH_PARENT: set[str] = set()  # files this copy process has registered


def _remove_file_with_parent(path: str) -> None:
    """Registers a shared file this copy maps (once) to go when the parent does."""
    if path not in _REMOVED_WITH_PARENT:
        _engine.unlink_on_parent_death(path)
        _REMOVED_WITH_PARENT.add(path)


def _timed_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def _load(spec: CopySpec) -> tuple[Any, dict[str, float]]:
    """env_setup_fn, load_fn and setup_fn, timed (seconds)."""
    times = {"env_setup_s": 0.0, "load_s": 0.0, "setup_s": 0.0}
    if spec.env_setup_fn is not None:
        with _phase("env_setup"):
            _, times["env_setup_s"] = _timed_call(spec.env_setup_fn, spec.copy_id, spec.config)
    with _phase("load"):
        model, times["load_s"] = _timed_call(
            spec.load_fn, spec.model_filename, device_id=spec.device_id
        )
    if spec.setup_fn is not None:
        with _phase("setup"):
            _, times["setup_s"] = _timed_call(spec.setup_fn, spec.copy_id, spec.config, model)
    return model, times


def _dataset_items(spec: CopySpec, model: Any, n_copies: int) -> Iterator[tuple]:
    """This copy's share of the dataset as argument tuples: dataset_loader_fn(dataset,
    copy_id, n_copies) when given, else items copy_id, copy_id + n_copies, ...;
    endlessly repeated with loop_dataset."""
    while True:
        if spec.dataset_loader_fn is not None:
            items: Iterable[Any] = spec.dataset_loader_fn(spec.dataset, spec.copy_id, n_copies)
        elif hasattr(spec.dataset, "__len__") and hasattr(spec.dataset, "__getitem__"):
            items = (spec.dataset[i] for i in range(spec.copy_id, len(spec.dataset), n_copies))
        else:
            items = itertools.islice(spec.dataset, spec.copy_id, None, n_copies)
        served = 0
        for item in items:
            served += 1
            args = _as_args(item)
            if spec.input_transform_fn is not None:
                args = _as_args(spec.input_transform_fn(model, args))
            yield args
        if not spec.loop_dataset or served == 0:
            return


def _copy_prompts(spec: CopySpec, n_copies: int) -> Prompts | None:
    """This copy's rotation of the prompts (copies start at different prompts)."""
    if spec.prompts is None:
        return None
    return spec.prompts.rotated(spec.copy_id * len(spec.prompts) // n_copies)


def _copy_inputs(spec: CopySpec, model: Any, n_copies: int) -> Any:
    """The engine inputs of this copy when n_copies run together: a list of argument
    tuples (its own rotation of the input data or prompts), or its share of the dataset."""
    if spec.dataset is not None:
        return _dataset_items(spec, model, n_copies)
    prompts = _copy_prompts(spec, n_copies)
    if prompts is not None:
        return prompts.arguments(spec.request_fn)
    items = spec.inputs if spec.feed is None else spec.feed.for_copy(spec.copy_id, n_copies)
    if spec.input_transform_fn is None:
        return items
    return [_as_args(spec.input_transform_fn(model, args)) for args in items]


def _validate(
    spec: CopySpec, model: Any, inputs: Any, n_copies: int, player: SequencePlayer | None
) -> dict[str, Any]:
    """Runs this copy's share of the output checks (untimed): its batches, or with
    sequences its streams, each played whole by ``player``. Strict validation fails the
    copy."""
    assert spec.validation is not None
    share = spec.validation.for_copy(spec.copy_id, n_copies)
    if player is not None:
        tally = share.check_sequences(
            lambda stream: player.play_stream(model, stream, spec.preprocess_fn)
        )
    else:
        assert spec.feed is not None
        start = spec.feed.start(spec.copy_id, n_copies)
        tally = share.check(
            model, lambda index: inputs[(index - start) % len(inputs)], spec.preprocess_fn
        )
    if share.strict and tally.mismatches:
        raise CopyFailure(describe_mismatch(tally))
    return tally.to_dict()


def _stages(spec: CopySpec, run: RunSpec) -> dict[str, Any]:
    """The engine keywords of the pipeline's stages, and of a streamed run's tokens."""
    stages = {"preprocess": spec.preprocess_fn, "postprocess": spec.postprocess_fn}
    if run.options.stream is None:
        return stages
    prompts = _copy_prompts(spec, run.n_copies)
    return {
        **stages,
        "token_count_fn": spec.token_count_fn,
        "input_tokens": prompts.input_tokens if prompts is not None else None,
    }


def _warm_up(
    spec: CopySpec, model: Any, run: RunSpec
) -> tuple[Any, engine.Histogram, SequencePlayer | None]:
    """Untimed iterations with this run's workers (at most the run's duration long);
    returns the inputs to time, the warm-up latency histogram, and the player of the
    warm-up's sequences (not counted) when playing sequences."""
    inputs = _copy_inputs(spec, model, run.n_copies)
    player = None
    if spec.sequences is not None:
        player, model, inputs = _playback(spec, model, run)
    o = run.options
    if o.warmup == 0:
        return inputs, engine.Histogram(), player
    warm = engine.run(
        model,
        inputs,
        engine.RunOptions(
            workers=o.workers,
            max_iterations=o.workers * o.warmup,
            duration_s=o.duration_s,
            warmup=0,
            call_timeout_s=o.call_timeout_s,
            stream=o.stream,
        ),
        **_stages(spec, run),
    )
    if warm.status != "finished":
        raise CopyFailure(warm.error or f"warm-up ended with status {warm.status}")
    if spec.dataset is not None:
        inputs = _copy_inputs(spec, model, run.n_copies)  # warm-up items are served again
    return inputs, warm.latency, player


def _playback(spec: CopySpec, model: Any, run: RunSpec) -> tuple[SequencePlayer, Any, Any]:
    """(player, model, inputs) that play sequences for one run: the model wrapped to
    take each step's flags, the inputs a shared iterator of each worker's steps."""
    assert spec.sequence_feed is not None and spec.sequences is not None
    feed = spec.sequence_feed
    if spec.input_transform_fn is not None:
        steps = [_as_args(spec.input_transform_fn(model, args)) for args in feed.steps]
        feed = SequenceFeed(steps, feed.lengths, feed.batch_size)
    player = SequencePlayer(
        feed, spec.sequences, copy_id=spec.copy_id, n_copies=run.n_copies,
        workers=run.options.workers, warmup=0,
    )  # fmt: skip
    return player, player.wrap(model), player.inputs()


def _serve_run(
    spec: CopySpec, model: Any, times: dict[str, float], run: RunSpec, conn: Any
) -> None:
    """One run: warm-up, validation, "ready", the shared start, the timed run, "result"."""
    with _phase("warmup"):
        inputs, warmup_hist, warm_player = _warm_up(spec, model, run)
    player, timed = None, model
    if warm_player is not None:  # timed sequences go on from the warm-up's, ids unique
        player, timed, inputs = _playback(spec, model, run)
        player.resume(warm_player)
    validation = validate_s = None
    if run.validate and spec.validation is not None:
        with _phase("validate"):
            validation, validate_s = _timed_call(
                _validate, spec, model, inputs, run.n_copies, player
            )
    send(conn, {"event": "ready", "warmup_p99_ns": warmup_hist.value_at_percentile(99)})
    message = receive(conn)
    if message.get("cmd") != "start":
        return  # aborted (or stopped) before timing
    with _phase("run"):
        options = run.copy_options(spec.copy_id, message["start_at_ns"])
        runner = engine.Runner(timed, inputs, options, **_stages(spec, run))
        runner.start()
        # Natively, on a thread of its own: progress and the parent's "stop" never
        # wait on the GIL that the model's workers hold.
        forwarder = runner.forward_progress(
            conn.fileno(),
            period_s=min(0.2, max(0.02, run.options.window_s / 2)),
            histograms=run.live_histograms,
            metric=run.window_metric,
        )
        result = runner.wait()
        forwarder.finish()
    payload = result.to_dict()
    payload.update(
        copy_id=spec.copy_id,
        sequences=None if player is None else player.stats().to_dict(),
        warmup_histogram=warmup_hist.encode(),
        validation=validation,
        validate_s=validate_s,
        max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        **times,
    )
    timestamps = result.boundaries
    if timestamps is not None:
        payload["timestamps_shape"] = list(timestamps.shape)
    if result.requests is not None:
        payload["requests_shape"] = list(result.requests.shape)
    send(conn, {"event": "result", "result": payload})
    if timestamps is not None:
        _engine.write_message(conn.fileno(), np.ascontiguousarray(timestamps).tobytes())
    if result.requests is not None:
        _engine.write_message(conn.fileno(), np.ascontiguousarray(result.requests).tobytes())
