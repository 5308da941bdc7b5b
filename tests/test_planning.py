"""plan(): settings + model configs -> ordered, immutable configurations (runs nothing)."""

import dataclasses
import json
import logging

import numpy as np
import psutil
import pytest
from helpers import NEURONPERF_CONFIG_KEYS

import neuronperf_native as npf
from neuronperf_native import model_index
from neuronperf_native.devices import Capacity
from neuronperf_native.planning import Host, ModelConfig, default_workers, model_configs, plan
from neuronperf_native.settings import BenchmarkSettings

HOST = Host({1: 4, 2: 2, 4: 1}, instance_type="inf2.xlarge")


def _axes(the_plan):
    return [(c.batch_size, c.n_models, c.workers_per_model, c.group, c.loads) for c in the_plan]


def test_defaults_expand_model_config_then_n_models_then_workers():
    settings = BenchmarkSettings(batch_sizes=(1, 8))
    configs = model_configs("m.pt", settings, n_inputs=2)
    the_plan = plan(settings, configs, HOST)
    # one copy group per model config; copies load as a configuration first needs them
    assert _axes(the_plan) == [
        (1, 1, 1, 0, 1),
        (1, 1, 2, 0, 0),
        (1, 4, 1, 0, 3),
        (1, 4, 2, 0, 0),
        (8, 1, 1, 1, 1),
        (8, 1, 2, 1, 0),
        (8, 4, 1, 1, 3),
        (8, 4, 2, 1, 0),
    ]
    assert [c.index for c in the_plan] == list(range(8))
    assert [len(g) for g in the_plan.groups()] == [4, 4]
    assert all(c.instance_type == "inf2.xlarge" and c.model_name == "m" for c in the_plan)


def test_without_copy_reuse_every_configuration_is_its_own_group():
    settings = BenchmarkSettings(reuse_copies=False, n_models=(1, 2))
    the_plan = plan(settings, model_configs("m.pt", settings, 1), HOST)
    assert [c.group for c in the_plan] == [0, 1, 2, 3]
    assert [c.loads for c in the_plan] == [1, 1, 2, 2]


def test_pipeline_sizes_default_workers_and_max_copies():
    assert default_workers(1) == [1, 2]
    assert default_workers(2) == [1]
    assert default_workers(4) == [1, 3]
    settings = BenchmarkSettings(pipeline_sizes=(2, 4))
    the_plan = plan(settings, model_configs("m.pt", settings, 1), HOST)
    got = [(c.pipeline_size, c.n_models, c.workers_per_model) for c in the_plan]
    # pipeline 2: MAX = 2 copies, workers [1]; pipeline 4: MAX = 1, workers [1, 3]
    assert got == [(2, 1, 1), (2, 2, 1), (4, 1, 1), (4, 1, 3)]
    assert [c.config_dict()["n_devices"] for c in the_plan] == [2, 4, 4, 4]


def test_unknown_device_capacity_defaults_to_one_copy():
    settings = BenchmarkSettings()
    the_plan = plan(settings, model_configs("m.pt", settings, 1), Host({1: None}))
    assert [c.n_models for c in the_plan] == [1, 1]


def test_more_copies_than_the_devices_hold_is_rejected_before_work():
    settings = BenchmarkSettings(n_models=(1, 8), device_type="neuron")
    configs = model_configs("m.pt", settings, 1)
    with pytest.raises(ValueError, match=r"n_models=8 needs more copies .* \(4 for pipeline"):
        plan(settings, configs, HOST)
    allowed = settings.replace(allow_oversubscription=True)
    assert [c.n_models for c in plan(allowed, configs, HOST)] == [1, 1, 8, 8]
    assert len(plan(settings, configs, Host({1: None}))) == 4


def test_more_copies_than_cpu_cores_share_them_with_a_warning():
    """NeuronPerf runs n_models above the core count on CPU (its own tests use 4 and 16)."""
    settings = BenchmarkSettings(n_models=(1, 4, 16), device_type="cpu")
    configs = model_configs("m.pt", settings, 1)
    cpu_host = Host({1: 2}, cores_shared=True)
    the_plan = plan(settings, configs, cpu_host)
    assert [c.n_models for c in the_plan] == [1, 1, 4, 4, 16, 16]
    assert the_plan.warnings == (
        "n_models=16 runs more model copies than this machine's 2 usable cores "
        "(pipeline_size=1): the copies share the cores (oversubscribed, as NeuronPerf runs "
        "them), so their latencies include waiting for a core; allow_oversubscription=True "
        "says this is meant",
    )
    assert plan(settings.replace(allow_oversubscription=True), configs, cpu_host).warnings == ()
    assert plan(settings.replace(n_models=(2,)), configs, cpu_host).warnings == ()


@pytest.mark.parametrize("copy_mode", ["process", "thread"])
def test_more_copies_than_the_machine_can_start_fail_before_work(copy_mode):
    settings = BenchmarkSettings(
        n_models=(70,), workers_per_model=(1, 2), device_type="cpu", allow_oversubscription=True,
        multiprocess=copy_mode == "process",
    )  # fmt: skip
    configs = model_configs("m.pt", settings, 1)
    # 70 copies x (2 workers + 3 own threads) = 350 tasks; 70 processes x 16 MiB = 1,120 MiB
    roomy = Host({1: 2}, cores_shared=True, capacity=Capacity(free_tasks=350, available_mb=1120))
    assert len(plan(settings, configs, roomy)) == 2
    few_tasks = Host({1: 2}, cores_shared=True, capacity=Capacity(349, None))
    with pytest.raises(ValueError, match=r"n_models=70 needs more .* 70 copies x 5 threads"):
        plan(settings, configs, few_tasks)
    little_memory = Host({1: 2}, cores_shared=True, capacity=Capacity(None, 1119.0))
    if copy_mode == "thread":  # threads share the process's memory
        assert len(plan(settings, configs, little_memory)) == 2
    else:
        with pytest.raises(ValueError, match=r"n_models=70 .* 1,119 MiB of available memory"):
            plan(settings, configs, little_memory)


def test_batch_sizes_must_match_the_example_inputs():
    with pytest.raises(ValueError, match="batch_sizes has 2 values but 3 inputs"):
        model_configs("m.pt", BenchmarkSettings(batch_sizes=(1, 2)), n_inputs=3)
    # input data (n_inputs None) serves every batch size from input 0
    configs = model_configs("m.pt", BenchmarkSettings(batch_sizes=(1, 2)), n_inputs=None)
    assert [(c.batch_size, c.input_idx) for c in configs] == [(1, 0), (2, 0)]


def _index(tmp_path):
    index = model_index.append(
        *(
            model_index.create(f"models/m_b{b}_p{p}.pt", input_idx=i, batch_size=b, pipeline_size=p)
            for i, b in enumerate((1, 2, 4))
            for p in (1, 2)
        ),
        model_index.create("models/broken.pt", batch_size=8, status="error"),
    )
    index["model_name"] = "resnet"
    return model_index.save(index, str(tmp_path / "index.json"))


def test_index_configs_are_filtered_finished_only_and_matched_to_inputs(tmp_path):
    filename = _index(tmp_path)
    settings = BenchmarkSettings(batch_sizes=(2, 4, 8), pipeline_sizes=(1,))
    configs = model_configs(filename, settings, n_inputs=3)
    assert [(c.batch_size, c.pipeline_size, c.input_idx) for c in configs] == [(2, 1, 1), (4, 1, 2)]
    assert {c.model_name for c in configs} == {"resnet"}
    assert plan(settings, configs, HOST)[0].model_name == "resnet"
    everything = model_configs(filename, BenchmarkSettings(), n_inputs=3)
    assert len(everything) == 6
    with pytest.raises(ValueError, match="input_idx 2 but only 2 inputs"):
        model_configs(filename, BenchmarkSettings(batch_sizes=(4,)), n_inputs=2)
    with pytest.raises(ValueError, match="no finished config matching batch_sizes=\\[8\\]"):
        model_configs(filename, BenchmarkSettings(batch_sizes=(8,)), n_inputs=3)


def test_configurations_are_immutable_and_describe_themselves():
    settings = BenchmarkSettings(duration_s=3, n_models=(2,), workers_per_model=(3,))
    c = plan(settings, [ModelConfig("m.pt", batch_size=4)], HOST)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_models = 5
    assert c.describe() == "batch_size=4 n_models=2 workers_per_model=3 pipeline_size=1 (m.pt)"
    config = c.config_dict()
    for key in NEURONPERF_CONFIG_KEYS:
        assert key in config
    assert (config["duration"], config["n_devices"], config["stats_interval"]) == (3.0, 2, 0.5)


def test_estimate_counts_durations_copies_started_and_configurations():
    settings = BenchmarkSettings(
        duration_s=2, n_models=(1, 2), workers_per_model=(1, 2), device_type="cpu"
    )
    models = [ModelConfig("a.pt"), ModelConfig("b.pt", batch_size=2)]
    the_plan = plan(settings, models, HOST)
    # 8 x 2 s measured; forked copies: 2 per model config started; 8 configurations
    assert the_plan.estimate_s() == pytest.approx(16 + 4 * 0.2 + 8 * 0.15)
    # fresh interpreters: 2 started for the first model config, kept to load the second
    spawned = plan(settings.replace(multiinterpreter=True), models, HOST)
    assert spawned.estimate_s() == pytest.approx(16 + 2 * 1.5 + 2 * 0.2 + 8 * 0.15)
    # on Neuron each model config gets new processes
    neuron = plan(settings.replace(multiinterpreter=True, device_type="neuron"), models, HOST)
    assert neuron.estimate_s() == pytest.approx(16 + 4 * 1.5 + 8 * 0.15)
    lines = the_plan.table().splitlines()
    assert lines[0].split() == ["#", "model", "batch", "n_models", "workers", "pipeline",
                                "duration_s", "loads"]  # fmt: skip
    assert [line.split()[-1] for line in lines[1:9]] == ["1", "0", "1", "0"] * 2
    assert lines[-1].startswith("8 configuration(s) in 2 copy group(s); estimated time 18 s")
    data = json.loads(json.dumps(the_plan.to_dict()))
    assert [c["group"] for c in data["configurations"]] == [0] * 4 + [1] * 4
    assert data["settings"]["duration_s"] == 2.0


class Doubler:
    def __call__(self, x):
        return x * 2


def test_dry_run_returns_the_plan_and_starts_nothing():
    before = psutil.Process().children(recursive=True)
    the_plan = npf.cpu.benchmark(
        Doubler, [np.ones(1), np.ones(2)], batch_sizes=[1, 2], n_models=1, dry_run=True
    )
    assert isinstance(the_plan, npf.Plan)
    assert [(c.batch_size, c.workers_per_model) for c in the_plan] == [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
    ]
    assert psutil.Process().children(recursive=True) == before
    again = npf.plan("model.pt", [np.ones(1)], duration=3, n_models=[1], workers_per_model=[4])
    assert [(c.n_models, c.workers_per_model, c.duration_s) for c in again] == [(1, 4, 3.0)]
    with pytest.raises(TypeError, match="dry_run must be a bool"):
        npf.cpu.benchmark(Doubler, np.ones(1), dry_run="yes")


def test_settings_object_with_keyword_overrides():
    settings = npf.BenchmarkSettings(duration_s=3, n_models=(1,), workers_per_model=(2,))
    the_plan = npf.cpu.benchmark(Doubler, np.ones(1), settings=settings, dry_run=True)
    assert [(c.n_models, c.workers_per_model, c.duration_s) for c in the_plan] == [(1, 2, 3.0)]
    assert the_plan.settings == settings.replace(device_type="cpu", model_name="Doubler")
    # keywords given beside the settings win over its values
    the_plan = npf.cpu.benchmark(
        Doubler, np.ones(1), settings=settings, duration=5, workers_per_model=[1], dry_run=True
    )
    assert [(c.workers_per_model, c.duration_s) for c in the_plan] == [(1, 5.0)]
    with pytest.raises(TypeError, match="settings must be a BenchmarkSettings"):
        npf.benchmark(lambda f, device_id: f, "m.pt", np.ones(1), settings={"duration_s": 3})


def test_settings_keywords_round_trip():
    s = npf.BenchmarkSettings(duration_s=3, stats_interval_s=0.25, batch_sizes=(4,))
    assert s.to_keywords() == {"duration": 3.0, "stats_interval": 0.25, "batch_sizes": (4,)}
    assert npf.BenchmarkSettings.from_keywords(**s.to_keywords()) == s


def test_an_example_input_without_the_batch_size_in_its_shape_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="neuronperf_native"):
        npf.cpu.benchmark(
            Doubler,
            [np.ones((1, 4)), np.ones((8, 4))],
            batch_sizes=[8, 8],
            n_models=1,
            dry_run=True,
            verbosity=0,
        )
    (warning,) = [r.message for r in caplog.records]
    assert warning == (
        "model config test_planning.Doubler (batch_size=8): no dimension of its example "
        "input equals the batch size (shapes (1, 4)); its throughput counts 8 inferences "
        "per call"
    )
