"""Input data in npf.benchmark: batches per batch size, output validation, shared memory."""

import contextlib
import json
import mmap
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import neuronperf_native as npf
from neuronperf_native.copies import feeds, shm, validation
from neuronperf_native.inputs import InputData, InputDataError, TensorSpec, load_input_data

X = TensorSpec("X", "FP32", (2,))
Y = TensorSpec("Y", "FP32", (2,))
STEPS = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]

SEEN: list[float] = []  # first elements of the batches a thread-mode model was called with


class Doubler:
    def __call__(self, x):
        return x * 2


class RecordsRows:
    def __call__(self, x):
        SEEN.extend(float(v) for v in x[:, 0])
        return x


class TwoOutputs:
    def __call__(self, x):
        return {"DOUBLE": x * 2, "SUM": x.sum(axis=1)}


class SeesSharedMemory:
    """Writes whether its input is read-only and backed by an mmap, then doubles it."""

    def __init__(self):
        self.written = False

    def __call__(self, x):
        if not self.written:
            base = x
            while isinstance(base, np.ndarray) and base.base is not None:
                base = base.base
            base = base.obj if isinstance(base, memoryview) else base
            path = os.path.join(os.environ["NPF_TEST_OUT"], f"{os.getpid()}.json")
            with open(path, "w") as f:
                json.dump({"writeable": x.flags.writeable, "mmap": isinstance(base, mmap.mmap)}, f)
            self.written = True
        return x * 2


def _json_data(tmp_path, expected=None, outputs=(Y,)):
    doc = {"data": [{"X": s} for s in STEPS]}
    if expected is not None:
        doc["validation_data"] = expected
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    return load_input_data(str(path), [X], list(outputs))


def _doubled(wrong=None):
    """Expected outputs of Doubler; ``wrong`` = (step, index, value) plants a mismatch."""
    expected = [{"Y": [2 * v for v in s]} for s in STEPS]
    if wrong is not None:
        step, index, value = wrong
        expected[step]["Y"][index] = value
    return expected


def _bench(model_class, inputs, **kwargs):
    kwargs.setdefault("duration", 0.2)
    kwargs.setdefault("n_models", 1)
    kwargs.setdefault("workers_per_model", 1)
    kwargs.setdefault("verbosity", 0)
    return npf.cpu.benchmark(model_class, inputs, **kwargs)


def test_input_data_serves_every_step_at_each_batch_size(tmp_path):
    SEEN.clear()
    data = _json_data(tmp_path)
    reports = _bench(RecordsRows, data, batch_sizes=[1, 2], multiprocess=False)
    assert [r["batch_size"] for r in reports] == [1, 2]
    assert all(r["status"] == "finished" for r in reports)
    assert {v for v in SEEN} == {s[0] for s in STEPS}
    assert reports[0]["input_data"] == str(tmp_path / "data.json")
    assert "validation" not in reports[0]


def test_batches_are_rotated_per_copy():
    feed = feeds.Feed(batches=[(np.full((1, 1), i),) for i in range(5)])
    firsts = [int(feed.for_copy(c, 3)[0][0][0, 0]) for c in range(3)]
    assert firsts == [0, 1, 3]
    assert [int(b[0][0, 0]) for b in feed.for_copy(2, 3)] == [3, 4, 0, 1, 2]


@pytest.mark.parametrize("mode", [{"multiprocess": False}, {}, {"multiinterpreter": True}])
def test_validation_counts_each_step_once_over_copies(tmp_path, mode):
    data = _json_data(tmp_path, _doubled(wrong=(3, 1, 99.0)))
    (report,) = _bench(Doubler, data, batch_sizes=[2], n_models=2, **mode)
    assert report["status"] == "finished"
    assert report["validation"] == {
        "steps_checked": 5,
        "mismatches": 1,
        "first_mismatch": {
            "stream": 0,
            "step": 3,
            "tensor": "Y",
            "index": 1,
            "expected": 99.0,
            "got": 16.0,
        },
    }


def test_matching_outputs_validate_clean(tmp_path):
    data = _json_data(tmp_path, _doubled())
    reports = _bench(Doubler, data, batch_sizes=[1, 4], multiprocess=False)
    for report in reports:
        assert report["validation"] == {"steps_checked": 5, "mismatches": 0, "first_mismatch": None}


def test_tolerances_decide_float_matches(tmp_path):
    data = _json_data(tmp_path, _doubled(wrong=(0, 0, 2.001)))
    (loose,) = _bench(Doubler, data, multiprocess=False, rtol=1e-2)
    (tight,) = _bench(Doubler, data, multiprocess=False, rtol=1e-5, atol=0.0)
    assert loose["validation"]["mismatches"] == 0
    assert tight["validation"]["mismatches"] == 1
    assert tight["validation"]["first_mismatch"]["step"] == 0


def test_dict_outputs_are_matched_by_name(tmp_path):
    out_double = TensorSpec("DOUBLE", "FP32", (2,))
    out_sum = TensorSpec("SUM", "FP32", ())
    expected = [{"DOUBLE": [2 * v for v in s], "SUM": [sum(s)]} for s in STEPS]
    expected[4]["SUM"] = [0.0]
    data = _json_data(tmp_path, expected, outputs=(out_double, out_sum))
    (report,) = _bench(TwoOutputs, data, batch_sizes=[2], multiprocess=False)
    first = report["validation"]["first_mismatch"]
    assert report["validation"]["mismatches"] == 1
    assert (first["step"], first["tensor"], first["expected"], first["got"]) == (
        4,
        "SUM",
        0.0,
        19.0,
    )


def test_strict_validation_fails_the_config_and_stops(tmp_path):
    data = _json_data(tmp_path, _doubled(wrong=(2, 0, -1.0)))
    reports = _bench(Doubler, data, batch_sizes=[1, 2], strict_validation=True)
    assert len(reports) == 1  # the second batch size was not run
    assert reports[0]["status"] == "error"
    assert "output validation failed" in reports[0]["error"]
    assert "stream 0, step 2, output 'Y', index 0: expected -1.0, got 10.0" in reports[0]["error"]


def test_input_data_source_described_by_example_inputs(tmp_path):
    SEEN.clear()
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"data": [{"X": s} for s in STEPS]}))
    example = np.zeros((1, 2), dtype=np.float32)
    reports = _bench(
        RecordsRows, example, input_data=str(path), input_names=["X"], multiprocess=False
    )
    assert reports[0]["status"] == "finished"
    assert set(SEEN) == {s[0] for s in STEPS}


def test_input_names_order_the_batch_tensors():
    data = load_input_data("zero", [TensorSpec("A", "INT32", (1,)), TensorSpec("B", "FP32", (3,))])
    feed = feeds.make_feed(data, 2, ["B", "A"], by_name=False)
    b, a = feed.for_copy(0, 1)[0]
    assert (b.shape, b.dtype, a.shape, a.dtype) == ((2, 3), np.float32, (2, 1), np.int32)
    named = feeds.make_feed(data, 2, None, by_name=True).for_copy(0, 1)[0]
    assert len(named) == 1 and list(named[0]) == ["A", "B"]
    with pytest.raises(InputDataError, match=r"input_names \['A'\] must name each input"):
        feeds.make_feed(data, 1, ["A"], by_name=False)


def _segments_of_this_process() -> set[str]:
    """The shared-memory segments this process created (their names carry its pid and
    start time): other processes, another test suite's too, create theirs meanwhile."""
    prefix = shm._new_segment_name().rpartition("_")[0] + "_"
    return {name for name in os.listdir("/dev/shm") if name.startswith(prefix)}


@pytest.mark.parametrize("mode", [{}, {"multiinterpreter": True}])
def test_shared_memory_maps_read_only_inputs_and_cleans_up(tmp_path, monkeypatch, mode):
    monkeypatch.setenv("NPF_TEST_OUT", str(tmp_path))
    before = _segments_of_this_process()
    data = _json_data(tmp_path, _doubled())
    (report,) = _bench(
        SeesSharedMemory, data, batch_sizes=[2], n_models=2, shared_memory="system", **mode
    )
    assert report["status"] == "finished"
    assert report["validation"]["mismatches"] == 0
    seen = [json.loads(p.read_text()) for p in tmp_path.glob("[0-9]*.json")]
    assert seen == [{"writeable": False, "mmap": True}] * 2
    assert _segments_of_this_process() <= before


def test_shared_batches_round_trip_every_dtype():
    batches = [
        (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([b"a", b"bc"], dtype=object)),
        (np.arange(2, dtype=np.int64), None),
    ]
    shared, segment = shm.share_batches(batches)
    try:
        opened = shared.open()
        assert np.array_equal(opened[0][0], batches[0][0]) and opened[0][0].dtype == np.float32
        assert list(opened[0][1]) == [b"a", b"bc"]
        assert np.array_equal(opened[1][0], batches[1][0]) and opened[1][1] is None
        assert not opened[1][0].flags.writeable
    finally:
        segment.close()
        segment.unlink()


_DYING_CREATOR = """
import os, sys, time
import numpy as np
from neuronperf_native.copies import shm
shared, segment = shm.share_batches([(np.arange(4.0),)])
print(shared.segment, flush=True)
time.sleep(120)
"""


def _segment_of_killed_creator() -> str:
    """A segment whose creator was SIGKILLed with its whole process group (its
    resource tracker too), so nothing removed it."""
    with subprocess.Popen(
        [sys.executable, "-c", _DYING_CREATOR],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as creator:
        try:
            name = creator.stdout.readline().strip()
        finally:
            os.killpg(creator.pid, signal.SIGKILL)
    assert name and os.path.exists(os.path.join("/dev/shm", name)), name
    return name


def test_segments_of_dead_creators_are_swept_by_the_next_share():
    stale = _segment_of_killed_creator()
    try:
        shared, segment = shm.share_batches([(np.ones(2),)])
        segment.close()
        segment.unlink()
        assert not os.path.exists(os.path.join("/dev/shm", stale))
        assert shared.segment.startswith(
            f"npf_{os.stat('/proc/self/ns/pid').st_ino}_{os.getpid()}_"
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join("/dev/shm", stale))


def _name_of_a_gone_creator() -> str:
    """A segment name whose creator, a process that ran and was reaped, is gone."""
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as creator:
        started = shm._start_ticks(creator.pid)
        creator.stdin.close()
    return f"npf_{shm._pid_namespace()}_{creator.pid}_{started}_0badc0de"


def test_a_copy_unlinks_its_segment_only_when_the_creator_is_gone(tmp_path, monkeypatch):
    # Judged in a folder of its own: in /dev/shm, any other benchmark's sweep (another
    # test suite's) may remove a stale segment first.
    monkeypatch.setattr(shm, "_SHM_DIR", str(tmp_path))
    stale, other_stale = _name_of_a_gone_creator(), _name_of_a_gone_creator()
    live = shm._new_segment_name()
    for name in (stale, other_stale, live, "psm_not_ours"):
        (tmp_path / name).write_bytes(b"")
    assert shm.unlink_if_orphaned(stale)
    assert not shm.unlink_if_orphaned(stale)  # already gone
    assert not shm.unlink_if_orphaned("psm_not_ours")
    assert not shm.unlink_if_orphaned(live)  # its creator (here) runs
    assert shm.sweep_stale_segments() == [other_stale]
    assert sorted(os.listdir(tmp_path)) == sorted([live, "psm_not_ours"])


def test_a_sweep_keeps_the_segment_of_a_running_creator():
    shared, segment = shm.share_batches([(np.ones(2),)])
    try:
        assert not shm.unlink_if_orphaned(shared.segment)
        assert shared.segment not in shm.sweep_stale_segments()
        assert os.path.exists(shared.path)
    finally:
        segment.close()
        segment.unlink()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"rtol": -1.0}, ValueError, "rtol must be a finite number >= 0"),
        ({"atol": "0"}, TypeError, "atol must be a number"),
        ({"strict_validation": 1}, TypeError, "strict_validation must be a bool"),
        ({"shared_memory": "cuda"}, ValueError, "shared_memory must be one of 'none', 'system'"),
        ({"input_names": "X"}, TypeError, "input_names must be a list of str"),
        ({"input_names": ["X", "X"]}, ValueError, "input_names has duplicates"),
        ({"input_data": 3}, TypeError, "input_data must be an InputData or a source"),
    ],
)
def test_bad_input_data_options(tmp_path, kwargs, exc, match):
    data = _json_data(tmp_path) if "input_data" not in kwargs else np.zeros((1, 2))
    with pytest.raises(exc, match=match):
        _bench(Doubler, data, **kwargs)


def test_input_data_and_a_second_source_conflict(tmp_path):
    data = _json_data(tmp_path)
    with pytest.raises(ValueError, match="either as inputs or as input_data="):
        _bench(Doubler, data, input_data="random")
    with pytest.raises(ValueError, match="needs example inputs"):
        _bench(Doubler, [], input_data="random")
    with pytest.raises(ValueError, match="input_names has 2 names but the example inputs hold 1"):
        _bench(Doubler, np.zeros((1, 2)), input_data="random", input_names=["A", "B"])


def test_validation_plan_checks_padded_steps_once():
    data = InputData(
        [X],
        [Y],
        [[{"X": np.zeros(2, np.float32)} for _ in range(3)]],
        [[{"Y": np.full(2, float(k), np.float32)} for k in range(3)]],
        "test",
    )
    plan = validation.make_validation(data, 2, 1e-5, 1e-8, False)
    assert [(i, [(r, s, k) for r, s, k, _ in rows]) for i, rows in plan.checks] == [
        (0, [(0, 0, 0), (1, 0, 1)]),
        (1, [(0, 0, 2)]),
    ]
    assert [i for i, _ in plan.for_copy(1, 2).checks] == [1]
