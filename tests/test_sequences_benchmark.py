"""Sequences through npf.benchmark and the CLI: copies play whole sequences, reports count them."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_sequences import Recorder, _sequences, _streams_file

import neuronperf_native as npf

RECORDERS: list[Recorder] = []


def load_recorder(model_filename, device_id=0):
    recorder = Recorder()
    RECORDERS.append(recorder)
    return recorder


def _benchmark(tmp_path, **options):
    RECORDERS.clear()
    keywords = {
        "input_data": _streams_file(tmp_path, [3, 5, 8]),
        "n_models": 2,
        "workers_per_model": 2,
        "duration": 0.5,
        "multiprocess": False,  # copies as threads: the recorders stay readable here
        "device_type": "cpu",
        "verbosity": 0,
        "allow_oversubscription": True,
        "input_names": ["X"],
    }
    keywords.update(options)
    return npf.benchmark(load_recorder, "recorder", np.zeros((1, 1), np.int32), **keywords)


def test_copies_play_whole_sequences_in_order_with_unique_ids(tmp_path):
    (report,) = _benchmark(tmp_path, sequences=True, sequence_length=6, sequence_length_variation=0)
    assert report["status"] == "finished", report["error"]
    calls = [call for recorder in RECORDERS for call in recorder.calls]
    by_id, per_thread = _sequences(calls)
    # no sequence id is played by two threads (two copies or two workers) ...
    owners = {sid: {call[0] for call in steps} for sid, steps in by_id.items()}
    assert all(len(threads) == 1 for threads in owners.values())
    # ... and a thread plays one sequence at a time: it never comes back to an id
    assert all(len(ids) == len(set(ids)) for ids in per_thread.values())
    for steps in by_id.values():
        stream = steps[0][2]
        assert {s[2] for s in steps} == {stream}
        length = [3, 5, 8][stream]
        assert [s[3] for s in steps] == [i % length for i in range(len(steps))]
        assert steps[0][4] and not any(s[4] for s in steps[1:])
        assert not any(s[5] for s in steps[:-1])
        if steps[-1][5]:
            assert len(steps) == 6  # a completed sequence has sequence_length steps
    # completed timed sequences are counted, their latency reported
    assert report["sequences_completed"] > 0
    assert 0 < report["sequence_latency_ms_p50"] <= report["sequence_latency_ms_p99"]
    assert (
        npf.engine.Histogram.decode(report["sequence_latency_hist"]).count
        == (report["sequences_completed"])
    )
    assert report["sequence_latency_ms_p50"] >= report["latency_ms_p50"]


def test_streams_play_whole_without_a_sequence_length(tmp_path):
    (report,) = _benchmark(tmp_path, sequences=True, n_models=1, workers_per_model=1)
    by_id, _ = _sequences([call for recorder in RECORDERS for call in recorder.calls])
    complete = [steps for steps in by_id.values() if steps[-1][5]]
    assert complete and all(len(steps) == [3, 5, 8][steps[0][2]] for steps in complete)
    assert report["sequences_completed"] >= 1


@pytest.mark.parametrize(
    ("options", "error", "text"),
    [
        ({"sequence_length": 0}, ValueError, "sequence_length must be >= 1"),
        ({"sequence_length_variation": 101}, ValueError, "sequence_length_variation"),
        ({"sequence_id_range": (5, 2)}, ValueError, "sequence_id_range"),
        ({"sequences": True, "shared_memory": "system"}, ValueError, "shared_memory"),
        ({"sequences": "yes"}, TypeError, "sequences must be a bool"),
    ],
)
def test_bad_sequence_options_are_rejected_before_any_work(tmp_path, options, error, text):
    with pytest.raises(error, match=text):
        _benchmark(tmp_path, **options)
    assert RECORDERS == []


def test_one_step_streams_cannot_make_sequences(tmp_path):
    with pytest.raises(ValueError, match=r"sequences=True: every stream .* has one step"):
        npf.benchmark(
            load_recorder,
            "recorder",
            np.zeros((1, 1), np.int32),
            input_data=_streams_file(tmp_path, [1, 1]),
            input_names=["X"],
            sequences=True,
            device_type="cpu",
            verbosity=0,
        )
    with pytest.raises(ValueError, match="sequences play the streams of input data"):
        npf.benchmark(load_recorder, "r", np.zeros((1, 1)), sequences=True, device_type="cpu")


_MODEL = """
class Stateful:
    def __init__(self):
        self.state = {}

    def __call__(self, x, *, sequence_id, sequence_start, sequence_end):
        if sequence_start:
            self.state[sequence_id] = 0
        self.state[sequence_id] += 1  # KeyError on a step without its start
        if sequence_end:
            del self.state[sequence_id]
        return x
"""


def test_the_cli_plays_sequences_with_perf_analyzers_flags(tmp_path):
    (tmp_path / "stateful.py").write_text(_MODEL)
    data = _streams_file(tmp_path, [3, 5, 8])
    out = subprocess.run(
        [sys.executable, "-m", "neuronperf_native", "bench", "stateful.py:Stateful",
         "--input", "X:INT32:1", "--input-data", data, "--sequence-length", "10",
         "--sequence-length-variation", "50", "--sequence-id-range", "1:100",
         "--n-models", "1", "--workers-per-model", "2", "--duration", "0.5",
         "--json", "out.json", "-q"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (report,) = json.loads((tmp_path / "out.json").read_text())
    assert report["status"] == "finished", report["error"]
    assert report["sequence_length"] == 10 and report["sequence_id_range"] == [1, 100]
    assert report["sequences_completed"] > 0
    bad = subprocess.run(
        [sys.executable, "-m", "neuronperf_native", "bench", "stateful.py:Stateful",
         "--input", "X:INT32:1", "--input-data", data, "--sequence-length", "0"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "--sequence-length" in bad.stderr


class CountsSteps:
    """Returns its input plus the number of earlier steps of its sequence: the output
    a step expects only when the sequence's steps arrive in order, flags exact."""

    def __init__(self):
        self.seen = {}

    def __call__(self, x, *, sequence_id, sequence_start, sequence_end):
        if sequence_start:
            self.seen[sequence_id] = 0
        k = self.seen[sequence_id]
        self.seen[sequence_id] = k + 1
        if sequence_end:
            del self.seen[sequence_id]
        return x + k


def load_counter(model_filename, device_id=0):
    return CountsSteps()


def _validated_streams(tmp_path, lengths, wrong=None):
    """Streams as _streams_file, with the outputs CountsSteps gives (100 s + 2 k);
    ``wrong`` = (stream, step) plants a bad expected value there."""
    from neuronperf_native.inputs import TensorSpec, load_input_data

    data = [[{"X": [100 * s + k]} for k in range(n)] for s, n in enumerate(lengths)]
    expected = [[{"Y": [100 * s + 2 * k]} for k in range(n)] for s, n in enumerate(lengths)]
    if wrong is not None:
        expected[wrong[0]][wrong[1]]["Y"] = [-1]
    path = tmp_path / "validated.json"
    path.write_text(json.dumps({"data": data, "validation_data": expected}))
    specs = [TensorSpec("X", "INT32", [1])], [TensorSpec("Y", "INT32", [1])]
    return load_input_data(str(path), *specs)


def _validated_benchmark(tmp_path, data, **options):
    return npf.benchmark(
        load_counter, "counter", np.zeros((1, 1), np.int32), input_data=data,
        input_names=["X"], sequences=True, sequence_length=4, n_models=2,
        workers_per_model=2, duration=0.5, device_type="cpu", verbosity=0,
        allow_oversubscription=True, **options,
    )  # fmt: skip


def test_each_stream_is_validated_once_played_whole_as_one_sequence(tmp_path):
    (report,) = _validated_benchmark(tmp_path, _validated_streams(tmp_path, [3, 5, 2]))
    assert report["status"] == "finished", report["error"]
    # every step of every stream checked once over the copies, whatever sequence_length
    assert report["validation"]["steps_checked"] == 3 + 5 + 2
    assert report["validation"]["mismatches"] == 0
    assert report["sequences_completed"] > 0  # the timed run still plays sequences


def test_a_wrong_step_is_named_and_strict_validation_fails_the_config(tmp_path):
    data = _validated_streams(tmp_path, [3, 5], wrong=(1, 3))
    (report,) = _validated_benchmark(tmp_path, data)
    assert report["status"] == "finished"
    assert report["validation"]["mismatches"] == 1
    first = report["validation"]["first_mismatch"]
    assert (first["stream"], first["step"], first["expected"], first["got"]) == (1, 3, -1, 106)
    (report,) = _validated_benchmark(tmp_path, data, strict_validation=True)
    assert report["status"] == "error"
    assert "stream 1, step 3, output 'Y', index 0: expected -1, got 106" in report["error"]
