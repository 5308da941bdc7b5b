"""Sequence playback (neuronperf_native.inputs.sequences) on the real engine.

A recording model notes, for every call, the worker thread, the step's tensor (which
encodes its stream and step), and the flags; the tests check perf_analyzer's
semantics from those records: whole sequences per worker, steps in order, exact
flags, unique ids (also across copies), lengths, streams round-robin.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from neuronperf_native import engine
from neuronperf_native.inputs import (
    SequenceOptions,
    SequencePlayer,
    SequenceSchedule,
    SequenceStats,
    TensorSpec,
    load_input_data,
    sequence_feed,
)


def _streams_file(tmp_path: Path, lengths: list[int]) -> str:
    """Streams whose step k of stream s holds the value 100 * s + k."""
    doc = {"data": [[{"X": [100 * s + k]} for k in range(n)] for s, n in enumerate(lengths)]}
    path = tmp_path / "streams.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _data(tmp_path: Path, lengths: list[int]):
    return load_input_data(_streams_file(tmp_path, lengths), [TensorSpec("X", "INT32", [1])])


class Recorder:
    """A model that records (thread, sequence id, stream, step, start, end) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int, int, bool, bool]] = []

    def __call__(self, x, *, sequence_id, sequence_start, sequence_end):
        time.sleep(0)  # hands the GIL over, so that the workers interleave
        value = int(x[0, 0])
        self.calls.append(
            (
                threading.get_ident(),
                sequence_id,
                value // 100,
                value % 100,
                sequence_start,
                sequence_end,
            )
        )
        return x


def _sequences(calls):
    """Each sequence id's records, and each thread's ids in the order it played them."""
    by_id = defaultdict(list)
    per_thread = defaultdict(list)
    for call in calls:
        thread, sid = call[0], call[1]
        by_id[sid].append(call)
        if not per_thread[thread] or per_thread[thread][-1] != sid:
            per_thread[thread].append(sid)
    return by_id, per_thread


def _play(tmp_path, lengths, options, *, workers=3, iterations=300, warmup=0, **player):
    data = _data(tmp_path, lengths)
    feed = sequence_feed(data, options)
    sequence_player = SequencePlayer(feed, options, workers=workers, warmup=warmup, **player)
    model = Recorder()
    result = engine.run(
        sequence_player.wrap(model),
        sequence_player.inputs(),
        workers=workers,
        max_iterations=iterations,
        warmup=warmup,
        gil_slice_us=1,
    )
    assert result.status == "finished", result.error
    return model.calls, sequence_player


def test_each_sequence_plays_whole_on_one_worker_in_order(tmp_path):
    """Mixed stream lengths without sequence_length: each sequence is its stream."""
    lengths = [3, 1, 4, 2, 5]
    calls, player = _play(tmp_path, lengths, SequenceOptions(sequences=True))
    assert len(calls) == 300
    by_id, per_thread = _sequences(calls)
    assert len(per_thread) >= 2  # the workers interleaved
    # A thread plays one sequence after another: an id never comes back to a thread,
    # nor reaches two threads.
    ids_played = [sid for ids in per_thread.values() for sid in ids]
    assert len(ids_played) == len(set(ids_played)) == len(by_id)
    last_of_thread = {ids[-1] for ids in per_thread.values()}
    for sid, records in by_id.items():
        k = sid - 1  # one copy, ids from 1 in order of the sequences begun
        stream = k % len(lengths)  # streams round-robin
        complete = sid not in last_of_thread or records[-1][5]
        expected_steps = list(range(lengths[stream]))
        assert [r[2] for r in records] == [stream] * len(records)
        assert [r[3] for r in records] == expected_steps[: len(records)]
        assert [r[4] for r in records] == [True] + [False] * (len(records) - 1)
        if complete:
            assert len(records) == lengths[stream]
            assert [r[5] for r in records] == [False] * (len(records) - 1) + [True]
        else:  # the run stopped within this worker's last sequence
            assert not any(r[5] for r in records)
    completed = sum(1 for records in by_id.values() if records[-1][5])
    assert player.stats().completed == completed


@pytest.mark.parametrize("variation", [0.0, 20.0, 50.0])
def test_lengths_follow_sequence_length_and_its_seeded_variation(tmp_path, variation):
    options = SequenceOptions(sequence_length=10, sequence_length_variation=variation)
    lengths = [3, 2]
    schedule = SequenceSchedule(options, lengths, seed=7)
    planned = [schedule.sequence(k) for k in range(40)]
    low, high = 10 - math.floor(variation / 10), 10 + math.floor(variation / 10)
    assert all(low <= n <= high for _, n in planned)
    if variation == 0:
        assert {n for _, n in planned} == {10}
    else:
        assert len({n for _, n in planned}) > 1  # the draws do vary
    # One worker plays them in order; a run of exactly the first 12 sequences' steps
    # completes exactly 12, each looping its stream's steps round-robin.
    steps = sum(n for _, n in planned[:12])
    calls, player = _play(tmp_path, lengths, options, workers=1, iterations=steps, seed=7)
    by_id, _ = _sequences(calls)
    assert sorted(by_id) == list(range(1, 13))
    for k, (stream, n) in enumerate(planned[:12]):
        records = by_id[k + 1]
        assert [r[2] for r in records] == [stream] * n
        assert [r[3] for r in records] == [j % lengths[stream] for j in range(n)]
        assert [r[5] for r in records] == [False] * (n - 1) + [True]
    assert player.stats().completed == 12
    # The same seed gives the same lengths; another seed others.
    again = SequenceSchedule(options, lengths, seed=7)
    assert [again.sequence(k) for k in range(40)] == planned
    if variation:
        other = SequenceSchedule(options, lengths, seed=8)
        assert [other.sequence(k) for k in range(40)] != planned


def test_ids_are_unique_across_copies_and_streams_round_robin_over_the_run(tmp_path):
    options = SequenceOptions(sequences=True)
    lengths = [2, 3, 1, 2]
    results = {}

    def copy(copy_id):
        results[copy_id] = _play(
            tmp_path / str(copy_id), lengths, options, copy_id=copy_id, n_copies=2
        )

    for copy_id in (0, 1):
        (tmp_path / str(copy_id)).mkdir()
    threads = [threading.Thread(target=copy, args=(c,)) for c in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = {c: set(_sequences(calls)[0]) for c, (calls, _) in results.items()}
    assert not ids[0] & ids[1]
    for c, (calls, _) in results.items():
        for sid, records in _sequences(calls)[0].items():
            g = sid - 1  # the run's sequence number: copy c holds ids 1 + c, 3 + c, ...
            assert g % 2 == c
            assert records[0][2] == g % len(lengths)


def test_an_id_range_wraps_without_two_live_sequences_sharing_an_id(tmp_path):
    options = SequenceOptions(sequence_length=3, sequence_id_range=(10, 14))
    calls, _ = _play(tmp_path, [2], options, workers=4, iterations=400)
    live: dict[int, int] = {}  # id -> thread
    for thread, sid, _, _, start, end in calls:
        assert 10 <= sid < 14
        if start:
            assert sid not in live, f"id {sid} reused while live"
            live[sid] = thread
        assert live[sid] == thread
        if end:
            del live[sid]
    with pytest.raises(
        ValueError,
        match=r"sequence_id_range 10:14 holds 4 id\(s\), fewer "
        r"than the 6 sequences live at once",
    ):
        SequencePlayer(sequence_feed(_data(tmp_path, [2]), options), options, workers=3, n_copies=2)


def test_sequence_fn_gets_the_flags_when_the_model_takes_no_keywords(tmp_path):
    hooks = []
    options = SequenceOptions(
        sequence_length=4,
        sequence_length_variation=0,
        sequence_kwargs=False,
        sequence_fn=lambda sid, start, end: hooks.append((sid, start, end)),
    )
    data = _data(tmp_path, [2])
    player = SequencePlayer(sequence_feed(data, options), options, workers=1, warmup=0)
    seen = []
    result = engine.run(
        player.wrap(lambda x: seen.append(int(x[0, 0]))),
        player.inputs(),
        workers=1,
        max_iterations=8,
        warmup=0,
    )
    assert result.status == "finished", result.error
    assert seen == [0, 1, 0, 1] * 2
    assert hooks == [
        (1, True, False),
        (1, False, False),
        (1, False, False),
        (1, False, True),
        (2, True, False),
        (2, False, False),
        (2, False, False),
        (2, False, True),
    ]


def test_sequences_begun_in_the_warmup_are_not_counted(tmp_path):
    options = SequenceOptions(sequence_length=5, sequence_length_variation=0)
    # 2 warm-up calls + 13 timed = 15 calls: sequence 1 begins in the warm-up.
    calls, player = _play(tmp_path, [3], options, workers=1, iterations=13, warmup=2)
    assert len(calls) == 15
    stats = player.stats()
    assert stats.completed == 2
    assert stats.latency.min > 0


def test_stats_are_json_safe_and_merge_across_copies(tmp_path):
    options = SequenceOptions(sequence_length=2, sequence_length_variation=0)
    parts = []
    for copy_id in (0, 1):
        path = tmp_path / str(copy_id)
        path.mkdir()
        _, player = _play(path, [1], options, workers=1, iterations=20, copy_id=copy_id, n_copies=2)
        parts.append(json.loads(json.dumps(player.stats().to_dict())))
    total = SequenceStats()
    for part in parts:
        total.merge(SequenceStats.from_dict(part))
    assert total.completed == sum(p["completed"] for p in parts) == 20
    summary = total.summary()
    assert summary["sequences_completed"] == 20
    assert 0 < summary["sequence_latency_ms_p50"] <= summary["sequence_latency_ms_p99"]
    with pytest.raises(ValueError, match="count disagrees"):
        SequenceStats.from_dict({**parts[0], "completed": 99})


def test_feed_orders_names_and_batches(tmp_path):
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"data": [[{"A": [1], "B": [2.5]}, {"A": [3], "B": [4.5]}]]}))
    data = load_input_data(str(path), [TensorSpec("A", "INT32", [1]), TensorSpec("B", "FP32", [1])])
    options = SequenceOptions(sequences=True)
    feed = sequence_feed(data, options, batch_size=3, input_names=["B", "A"])
    assert feed.lengths == [2]
    b, a = feed.steps[1]
    assert b.tolist() == [[4.5]] * 3 and a.tolist() == [[3]] * 3
    assert not a.flags.writeable
    named = sequence_feed(data, options, by_name=True)
    assert sorted(named.steps[0][0]) == ["A", "B"]
    assert named.steps[0][0]["A"].shape == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"sequence_length": 0}, ValueError, r"sequence_length must be >= 1, got 0"),
        ({"sequence_length": -3}, ValueError, r"sequence_length must be >= 1"),
        ({"sequence_length": 2.5}, TypeError, r"sequence_length must be an int"),
        ({"sequence_length_variation": -1}, ValueError, r"sequence_length_variation must be"),
        ({"sequence_length_variation": 100.5}, ValueError, r"sequence_length_variation"),
        ({"sequence_length_variation": math.nan}, ValueError, r"sequence_length_variation"),
        ({"sequence_length_variation": "20"}, TypeError, r"sequence_length_variation"),
        ({"sequence_id_range": (5, 5)}, ValueError, r"sequence_id_range \(5, 5\) is empty"),
        ({"sequence_id_range": (9, 2)}, ValueError, r"sequence_id_range \(9, 2\) is empty or inv"),
        ({"sequence_id_range": (-1, None)}, ValueError, r"sequence_id_range"),
        ({"sequence_id_range": 5}, TypeError, r"sequence_id_range must be a \(start, end\)"),
        ({"sequences": 1}, TypeError, r"sequences must be a bool"),
        ({"sequence_fn": 3, "sequence_kwargs": False}, TypeError, r"sequence_fn must be callable"),
        ({"sequence_fn": print}, ValueError, r"sequence_fn .* sequence_kwargs=False"),
    ],
)
def test_bad_options_are_rejected_naming_the_option(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        SequenceOptions(**kwargs)


def test_one_step_data_cannot_make_sequences(tmp_path):
    data = _data(tmp_path, [1, 1])
    with pytest.raises(
        ValueError,
        match=r"sequences=True: every stream .* has one step.*"
        r"sequence_length=N",
    ):
        SequenceOptions(sequences=True).check_data(data)
    SequenceOptions(sequence_length=3).check_data(data)  # loops the one step: fine
    SequenceOptions().check_data(data)  # not playing sequences
    random = load_input_data("random", [TensorSpec("X", "FP32", [2])])
    with pytest.raises(ValueError, match="sequences=True"):
        sequence_feed(random, SequenceOptions(sequences=True))


def test_wrap_keeps_a_thread_context_and_rejects_native_models(tmp_path):
    options = SequenceOptions(sequence_length=2)
    player = SequencePlayer(sequence_feed(_data(tmp_path, [1]), options), options)
    entered = []

    class Context:
        def __enter__(self):
            entered.append(threading.get_ident())

        def __exit__(self, *exc):
            return False

    wrapped = player.wrap(engine.WithThreadContext(Recorder(), Context))
    assert isinstance(wrapped, engine.WithThreadContext)
    result = engine.run(wrapped, player.inputs(), workers=2, max_iterations=10)
    assert result.status == "finished", result.error
    assert len(set(entered)) == 2  # entered once per worker thread
    with pytest.raises(TypeError, match="sequence playback calls a Python model"):
        player.wrap(engine.native_model("noop"))


def test_player_rejects_bad_arguments(tmp_path):
    options = SequenceOptions(sequence_length=2)
    feed = sequence_feed(_data(tmp_path, [1]), options)
    with pytest.raises(ValueError, match="copy_id must be an integer in \\[0, 2\\)"):
        SequencePlayer(feed, options, copy_id=2, n_copies=2)
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        SequencePlayer(feed, options, workers=0)
    with pytest.raises(TypeError, match="options must be a SequenceOptions"):
        SequencePlayer(feed, {"sequence_length": 2})
    assert np.array_equal(feed.steps[0][0], [[0]])


# --- command line: perf_analyzer's flags reach the same options ---


def _parse_sequence_flags(*argv):
    import argparse

    from neuronperf_native import cli

    parser = argparse.ArgumentParser()
    cli.add_sequence_args(parser)
    return cli.sequence_options(parser.parse_args(list(argv)))


def test_cli_sequence_flags_make_sequence_options():
    assert _parse_sequence_flags() == SequenceOptions()
    assert not _parse_sequence_flags().active
    options = _parse_sequence_flags(
        "--sequence-length",
        "12",
        "--sequence-length-variation",
        "5",
        "--sequence-id-range",
        "7:9",
    )
    assert options == SequenceOptions(
        sequence_length=12, sequence_length_variation=5.0, sequence_id_range=(7, 9)
    )
    playing = ("--sequences", "--sequence-id-range")
    assert _parse_sequence_flags(*playing, "3").sequence_id_range == (3, None)
    assert _parse_sequence_flags(*playing, "3:").sequence_id_range == (3, None)
    assert _parse_sequence_flags("--sequences").active


@pytest.mark.parametrize(
    "argv", [["--sequence-id-range", "1:9"], ["--sequence-length-variation", "5"]]
)
def test_cli_sequence_shapes_without_sequences_are_refused(argv):
    # Before issue 22 they were silently ignored when no sequences played.
    from neuronperf_native.cli import UsageError

    with pytest.raises(UsageError, match=f"^{argv[0]} shapes sequences, which play with"):
        _parse_sequence_flags(*argv)
    with pytest.raises(ValueError, match="shapes sequences, which play with sequences=True"):
        SequenceOptions(**{argv[0][2:].replace("-", "_"): (1, 9) if "range" in argv[0] else 5})


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--sequence-length-variation", "101"], r"^--sequence-length-variation must be a perc"),
        (["--sequence-length-variation", "-1"], r"^--sequence-length-variation must be"),
        (["--sequence-id-range", "9:2"], r"^--sequence-id-range \(9, 2\) is empty or inverted"),
        (["--sequence-id-range", "5:5"], r"^--sequence-id-range \(5, 5\) is empty"),
    ],
)
def test_cli_bad_sequence_values_name_the_flag(argv, pattern):
    from neuronperf_native.cli import UsageError

    with pytest.raises(UsageError, match=pattern):
        _parse_sequence_flags("--sequences", *argv)


@pytest.mark.parametrize(
    "argv",
    [["--sequence-length", "0"], ["--sequence-length", "x"], ["--sequence-id-range", "a:b"]],
)
def test_cli_malformed_sequence_flags_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _parse_sequence_flags(*argv)
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_a_player_resumes_the_sequences_and_ids_of_an_earlier_run(tmp_path):
    options = SequenceOptions(sequence_length=4, sequence_length_variation=0)
    first_calls, first = _play(tmp_path, [3, 5], options, workers=2, iterations=40)
    data = _data(tmp_path, [3, 5])
    second = SequencePlayer(sequence_feed(data, options), options, workers=2, warmup=0)
    second.resume(first)
    model = Recorder()
    engine.run(second.wrap(model), second.inputs(), workers=2, max_iterations=40, warmup=0)
    first_ids = {call[1] for call in first_calls}
    second_ids = {call[1] for call in model.calls}
    assert second_ids and min(second_ids) > max(first_ids)
