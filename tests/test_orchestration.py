"""benchmark()'s orchestration on the fake executor: nothing starts, so ordering,
failures, interruption, stopping verdicts, fleet results and the SLO search are tested
against known answers (the fake's windows and latencies) in milliseconds."""

import logging
import os
import signal
import threading
import time

import numpy as np
import pytest
from helpers import no_model_processes

import neuronperf_native as npf
from neuronperf_native import executors, model_index
from neuronperf_native.executors import FakeExecutor, FakeRun


class Model:
    def __call__(self, x):
        return x


def _bench(fake, **keywords):
    """npf.cpu.benchmark on the fake (copies beyond the cores are fine: none start)."""
    keywords = {
        "duration": 2,
        "n_models": 1,
        "workers_per_model": 1,
        "allow_oversubscription": True,
        "verbosity": 0,
        **keywords,
    }
    with executors.substituted(fake):
        return npf.cpu.benchmark(Model, keywords.pop("inputs", np.ones(2)), **keywords)


def test_every_configuration_runs_once_in_plan_order_with_its_own_figures():
    fake = FakeExecutor(lambda c: FakeRun(windows=4, count=100 * c.workers_per_model))
    reports = _bench(fake, n_models=[1, 2], workers_per_model=[1, 2])
    taken = [(c.n_models, c.workers_per_model) for c in fake.taken]
    assert taken == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [(r["n_models"], r["workers_per_model"]) for r in reports] == taken
    for r in reports:
        per_copy = 100 * r["workers_per_model"]  # completions per 1 s window
        assert r["status"] == "finished" and r["start_method"] == "fake"
        assert r["total_infs"] == 4 * per_copy * r["n_models"]
        assert r["throughput_avg"] == pytest.approx(per_copy * r["n_models"])
        assert r["latency_ms_p50"] == pytest.approx(1.0, rel=1e-3)  # HDR: 3 digits
        assert r["model_name"] == "Model" and r["device_type"] == "cpu"


def test_batch_sizes_run_in_order_and_count_batch_size_inferences_per_call():
    fake = FakeExecutor()
    reports = _bench(
        fake, inputs=[np.ones((1, 4)), np.ones((8, 4))], batch_sizes=[1, 8], multiprocess=False
    )
    assert [c.batch_size for c in fake.taken] == [1, 8]
    assert [r["batch_size"] for r in reports] == [1, 8]
    one, eight = reports
    assert eight["total_infs"] == 8 * one["total_infs"] == 8 * 400
    assert eight["throughput_avg"] == pytest.approx(8 * one["throughput_avg"])
    assert all(r["multiprocess"] is False for r in reports)


def test_model_index_configs_are_filtered_and_matched_to_inputs(tmp_path):
    configs = [
        model_index.create(str(tmp_path / f"m{b}.bin"), model_name="m", input_idx=i, batch_size=b)
        for i, b in enumerate([1, 2, 4])
    ]
    configs.append(
        model_index.create(str(tmp_path / "bad.bin"), model_name="m", batch_size=8, status="error")
    )
    filename = model_index.save(model_index.append(*configs), str(tmp_path / "index.json"))
    fake = FakeExecutor()
    with executors.substituted(fake):
        reports = npf.benchmark(
            lambda path, device_id: Model(),
            filename,
            [np.ones((b, 2)) for b in (1, 2, 4)],
            batch_sizes=[2, 4],
            duration=1,
            n_models=1,
            workers_per_model=1,
            device_type="cpu",
            verbosity=0,
        )
    assert [os.path.basename(c.model.filename) for c in fake.taken] == ["m2.bin", "m4.bin"]
    assert [c.model.input_idx for c in fake.taken] == [1, 2]
    assert [r["batch_size"] for r in reports] == [2, 4]
    assert all(r["model_name"] == "m" for r in reports)


def test_a_failing_configuration_is_reported_and_the_next_one_runs(caplog):
    def runs(c):
        if c.n_models == 1:
            return FakeRun(failure="model copy 0 exited with code 3")
        if c.n_models == 2:
            return FakeRun(status="error", error="weights are corrupt")
        return FakeRun()

    fake = FakeExecutor(runs)
    with caplog.at_level(logging.ERROR, logger="neuronperf_native"):
        reports = _bench(fake, n_models=[1, 2, 3])
    assert [r["status"] for r in reports] == ["error", "error", "finished"]
    assert "exited with code 3" in reports[0]["error"] and reports[0]["total_infs"] is None
    assert "RuntimeError: weights are corrupt" in reports[1]["error"]
    assert reports[1]["total_infs"] == 8 * 100  # what ran before the error is kept
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 2


def test_a_strict_validation_failure_skips_the_remaining_configurations():
    fake = FakeExecutor(lambda c: FakeRun(strict_validation_failed=c.n_models == 2))
    reports = _bench(fake, n_models=[1, 2, 3])
    assert [c.n_models for c in fake.taken] == [1, 2]
    assert len(reports) == 2


def test_cancel_ends_the_running_configuration_keeping_what_it_measured():
    fake = FakeExecutor()
    fake.runs = lambda c: (fake.cancel() if c.n_models == 2 else None) or FakeRun(windows=10)
    reports = _bench(fake, n_models=[1, 2, 3])
    assert [c.n_models for c in fake.taken] == [1, 2]  # nothing starts after it
    assert [r["status"] for r in reports] == ["finished", "stopped"]
    assert 0 < reports[1]["total_infs"] < 10 * 100 * 2  # ended after its first window


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_between_configurations_returns_those_measured():
    def runs(c):
        if c.n_models == 2:
            os.kill(os.getpid(), signal.SIGINT)  # before this configuration measures
        return FakeRun()

    fake = FakeExecutor(runs)
    reports = _bench(fake, n_models=[1, 2, 3])
    assert [c.n_models for c in fake.taken] == [1, 2]
    assert [r["status"] for r in reports] == ["finished"]


def test_the_stopping_rule_ends_a_steady_configuration_and_judges_a_noisy_one(caplog):
    rng = np.random.default_rng(7)
    noisy = [int(n) for n in rng.integers(1, 2000, size=40)]

    def runs(c):
        if c.n_models == 1:  # the same latencies in every window: known at once
            return FakeRun(windows=600, count=100, latency_ns=[1_000_000, 1_200_000, 900_000])
        return FakeRun(windows=40, count=noisy, latency_ns=[1_000_000, 9_000_000, 40_000_000])

    fake = FakeExecutor(runs)
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        steady, shaky = _bench(fake, n_models=[1, 2], stability={"max_s": 4, "rel_ci": 0.01})
    assert steady["stopping"]["stable"] is True and steady["stable"] is True
    assert steady["total_infs"] == 10 * 100  # stopped at min_s (10 windows of 0.1 s)
    assert shaky["stopping"]["stable"] is False and shaky["stable"] is False
    assert shaky["total_infs"] == 2 * sum(noisy)  # ran to max_s
    assert [r.getMessage() for r in caplog.records if "not stable" in r.getMessage()] != []


def test_fleet_results_come_back_in_plan_order_with_the_nodes_verdicts():
    verdict = {
        "stable": False,
        "reason": "max_s",
        "throughput_rel_half_width": 0.02,
        "latency_rel_half_width": None,
    }
    fake = FakeExecutor(
        lambda c: FakeRun(windows=20, results={"stopping": {**verdict, "at_s": c.index}}),
        finish_order=lambda results: results[::-1],  # a fleet finishes in any order
    )
    reports = _bench(fake, n_models=[1, 2, 3], stability={"max_s": 2, "rel_ci": 0.01})
    assert [r["n_models"] for r in reports] == [1, 2, 3]
    # the node that ran a configuration judged it: the driver keeps that verdict
    assert [r["stopping"]["at_s"] for r in reports] == [0, 1, 2]


def test_an_slo_search_picks_each_probe_from_the_last_result():
    capacity = 700.0  # requests/s below which the fake's p50 meets the 50 ms target

    def runs(c):
        return FakeRun(latency_ns=5_000_000 if c.request_rate <= capacity else 90_000_000)

    fake = FakeExecutor(runs)
    reports = _bench(
        fake,
        load_mode="open",
        latency_slo_ms=50,
        slo_percentile=50,
        slo_range=(100, 4000),
        slo_resolution=0.05,
    )
    rates = [c.request_rate for c in fake.taken]
    assert [r["request_rate"] for r in reports] == rates
    assert len(set(rates)) == len(rates) >= 3
    (best,) = [r for r in reports if r["slo"]["best"]]
    assert capacity * 0.95 <= best["request_rate"] <= capacity
    assert all(r["slo"]["met"] == (r["request_rate"] <= capacity) for r in reports)


class MarksWhenMeasuring:
    """Sleeps 1 ms a call; its 20th call (timed: warm-up is one) creates NPF_TEST_MARK."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 20:
            open(os.environ["NPF_TEST_MARK"], "w").close()
        time.sleep(0.001)
        return x


def test_cancel_stops_a_real_local_run_and_leaves_no_copy_behind(tmp_path, monkeypatch):
    mark = tmp_path / "measuring"
    monkeypatch.setenv("NPF_TEST_MARK", str(mark))
    settings = npf.BenchmarkSettings.from_keywords(
        duration=30, n_models=[1, 2], workers_per_model=1, device_type="cpu", verbosity=0
    )
    workload_plan = npf.plan(MarksWhenMeasuring, np.ones(2), settings=settings)
    executor = executors.LocalExecutor(_workload(MarksWhenMeasuring, settings), settings)

    ended = threading.Event()

    def cancel_once_measuring():
        while not mark.exists():
            if ended.wait(0.01):
                return
        executor.cancel()

    canceller = threading.Thread(target=cancel_once_measuring)
    canceller.start()
    try:
        results = list(executor.run(workload_plan.groups()))
    finally:
        ended.set()
        canceller.join()
    assert [r.status for r in results] == ["stopped"]
    assert results[0].results["n_infs"] >= 18 and results[0].interrupted
    assert results[0].results["total_s"] < 30  # cut short of its duration
    assert no_model_processes()


def _workload(model_class, settings):
    from neuronperf_native.workload import Workload

    return Workload.build(lambda path, device_id: model_class(), "model", np.ones(2), settings)
