"""Tests for neuronperf_native.devices, with stand-in tools, /dev trees and DMI files.

The fake ``neuron-ls`` / ``nvidia-smi`` are small shell scripts put first on PATH;
their JSON follows the ``neuron-ls --json-output`` shape from the AWS Neuron docs
(a list with one object per device: neuron_device, bdf, connected_to, nc_count,
memory_size, neuron_processes; newer releases add neuroncore_ids and more).
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import pytest

from neuronperf_native import devices
from neuronperf_native.devices import (
    copy_environment,
    describe_machine,
    instance_type,
    max_model_copies,
    normalize_device_type,
)


def _device(index: int, nc_count: int | None = 2, **extra) -> dict:
    doc = {
        "neuron_device": index,
        "bdf": f"00:{0x1E + index:02x}.0",
        "connected_to": None,
        "memory_size": 34359738368,
        "neuron_processes": [],
    }
    if nc_count is not None:
        doc["nc_count"] = nc_count
    doc.update(extra)
    return doc


@pytest.fixture
def bin_dir(tmp_path, monkeypatch) -> Path:
    """An empty directory that is first on PATH (system PATH kept for sleep/cat)."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}{os.environ.get('PATH', '')}")
    return path


@pytest.fixture
def no_tools(tmp_path, monkeypatch) -> None:
    """PATH with nothing on it: neither neuron-ls nor nvidia-smi can be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """Point /dev and the DMI product name at tmp_path; returns a configurator."""
    dev = tmp_path / "dev"
    dev.mkdir()
    dmi = tmp_path / "product_name"
    monkeypatch.setattr(devices, "DEV_DIR", str(dev))
    monkeypatch.setattr(devices, "DMI_PRODUCT_NAME", str(dmi))

    def configure(product_name: str | None, n_neuron_devices: int = 0) -> None:
        if product_name is not None:
            dmi.write_text(product_name + "\n")
        for i in range(n_neuron_devices):
            (dev / f"neuron{i}").write_text("")
        (dev / "null").write_text("")
        (dev / "neuron_extra").write_text("")  # not a device node name: ignored

    return configure


@pytest.fixture
def clean_env(monkeypatch) -> None:
    for name in (
        "NEURON_RT_VISIBLE_CORES",
        "NEURONCORE_GROUP_SIZES",
        "NEURON_LOGICAL_NC_CONFIG",
        "CUDA_VISIBLE_DEVICES",
    ):
        monkeypatch.delenv(name, raising=False)


def _script(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _fake_neuron_ls(bin_dir: Path, tmp_path: Path, doc) -> None:
    data = tmp_path / "neuron-ls.json"
    data.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    _script(bin_dir, "neuron-ls", f'[ "$1" = "--json-output" ] || exit 3\ncat "{data}"\n')


# --- device types ---


@pytest.mark.parametrize(
    ("given", "expected"),
    [("neuron", "neuron"), ("cpu", "cpu"), ("gpu", "gpu"), ("cuda", "gpu"), ("CUDA", "gpu")],
)
def test_normalize_device_type(given, expected):
    assert normalize_device_type(given) == expected


@pytest.mark.parametrize("bad", ["tpu", "", "inf2", None, 3])
def test_bad_device_type_names_argument_and_value(bad):
    with pytest.raises(ValueError, match="device_type") as info:
        normalize_device_type(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="device_type"):
        max_model_copies(bad)
    with pytest.raises(ValueError, match="device_type"):
        copy_environment(bad, 0)


def test_device_types_constant():
    assert set(devices.DEVICE_TYPES) == {"neuron", "cpu", "gpu", "cuda"}


# --- neuron: neuron-ls ---


def test_neuron_ls_sums_nc_count(bin_dir, tmp_path, clean_env, machine):
    machine(None)
    # inf1.6xlarge-like: 4 Inferentia devices x 4 NeuronCores.
    _fake_neuron_ls(bin_dir, tmp_path, [_device(i, nc_count=4) for i in range(4)])
    assert max_model_copies("neuron") == 16
    assert max_model_copies("neuron", pipeline_size=4) == 4
    assert max_model_copies("neuron", pipeline_size=3) == 5
    assert max_model_copies("neuron", pipeline_size=16) == 1
    assert max_model_copies("neuron", pipeline_size=17) is None


def test_neuron_ls_newer_fields_and_missing_nc_count(bin_dir, tmp_path, clean_env, machine):
    machine(None)
    devs = [
        _device(0, nc_count=4, neuroncore_ids=[0, 1, 2, 3], logical_neuroncore_config=2),
        _device(1, nc_count=None, neuroncore_ids=[4, 5, 6, 7]),  # count from the ids
    ]
    _fake_neuron_ls(bin_dir, tmp_path, devs)
    assert max_model_copies("neuron") == 8


def test_neuron_ls_wrapped_in_object(bin_dir, tmp_path, clean_env, machine):
    machine(None)
    _fake_neuron_ls(bin_dir, tmp_path, {"neuron_devices": [_device(0), _device(1)]})
    assert max_model_copies("neuron") == 4


@pytest.mark.parametrize(
    "doc",
    [
        "not json {",
        "[]",
        json.dumps([{"neuron_device": 0}]),  # neither nc_count nor neuroncore_ids
        json.dumps([_device(0, nc_count="2")]),
        json.dumps(["device 0"]),
        json.dumps({"instance_type": "inf2.xlarge"}),
    ],
)
def test_neuron_ls_garbage_means_unknown(bin_dir, tmp_path, clean_env, machine, doc):
    machine(None)
    _fake_neuron_ls(bin_dir, tmp_path, doc)
    assert max_model_copies("neuron") is None


def test_neuron_ls_nonzero_exit_falls_back_to_dev(bin_dir, clean_env, machine):
    machine("inf2.24xlarge", n_neuron_devices=6)
    _script(bin_dir, "neuron-ls", "echo '[{\"nc_count\": 99}]'\nexit 1\n")
    assert max_model_copies("neuron") == 12


def test_neuron_ls_hang_times_out(bin_dir, clean_env, machine, monkeypatch):
    machine("trn1.32xlarge", n_neuron_devices=16)
    # The shell starts a child that also holds stdout: both must be killed.
    _script(bin_dir, "neuron-ls", "sleep 30 &\nsleep 30\n")
    monkeypatch.setattr(devices, "COMMAND_TIMEOUT_S", 0.3)
    start = time.monotonic()
    assert max_model_copies("neuron") == 32  # fell back to /dev x trn1 cores
    assert time.monotonic() - start < 30  # the hang's length


def test_neuron_ls_respects_visible_cores(bin_dir, tmp_path, clean_env, machine, monkeypatch):
    machine(None)
    _fake_neuron_ls(bin_dir, tmp_path, [_device(i) for i in range(8)])
    monkeypatch.setenv("NEURON_RT_VISIBLE_CORES", "4-7")
    assert max_model_copies("neuron") == 4
    assert max_model_copies("neuron", environ={"NEURON_RT_VISIBLE_CORES": "0,2-3"}) == 3
    assert max_model_copies("neuron", environ={}) == 16


# --- neuron: /dev fallback ---


@pytest.mark.parametrize(
    ("product", "n_devices", "expected"),
    [
        ("inf1.xlarge", 1, 4),
        ("inf1.24xlarge", 16, 64),
        ("inf2.xlarge", 1, 2),
        ("inf2.48xlarge", 12, 24),
        ("trn1.2xlarge", 1, 2),
        ("trn1n.32xlarge", 16, 32),
        ("trn2.48xlarge", 16, 64),  # 8 physical cores per device, LNC=2 by default
        ("trn2n.48xlarge", 16, 64),
    ],
)
def test_dev_fallback_by_family(no_tools, clean_env, machine, product, n_devices, expected):
    machine(product, n_neuron_devices=n_devices)
    assert max_model_copies("neuron") == expected


def test_dev_fallback_trn2_lnc1(no_tools, clean_env, machine, monkeypatch):
    machine("trn2.48xlarge", n_neuron_devices=16)
    monkeypatch.setenv("NEURON_LOGICAL_NC_CONFIG", "1")
    assert max_model_copies("neuron") == 128
    assert max_model_copies("neuron", pipeline_size=2) == 64


@pytest.mark.parametrize(
    ("product", "n_devices"),
    [
        ("inf2.xlarge", 0),  # no device nodes
        ("c5.large", 2),  # not a Neuron family
        ("Standard PC (Q35 + ICH9, 2009)", 2),  # not EC2 at all
        (None, 2),  # no DMI file
    ],
)
def test_dev_fallback_unknown(no_tools, clean_env, machine, product, n_devices):
    machine(product, n_neuron_devices=n_devices)
    assert max_model_copies("neuron") is None


def test_dev_dir_missing(no_tools, clean_env, monkeypatch, tmp_path):
    monkeypatch.setattr(devices, "DEV_DIR", str(tmp_path / "nope"))
    monkeypatch.setattr(devices, "DMI_PRODUCT_NAME", str(tmp_path / "nope2"))
    assert max_model_copies("neuron") is None


# --- gpu ---


@pytest.fixture
def no_gpu_libs(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError


def test_gpu_count_from_nvidia_smi(bin_dir, no_gpu_libs, clean_env):
    _script(
        bin_dir,
        "nvidia-smi",
        '[ "$1" = "-L" ] || exit 2\n'
        'echo "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-aaaa)"\n'
        'echo "  MIG 1g.5gb Device 0: (UUID: MIG-bbbb)"\n'
        'echo "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-cccc)"\n'
        'echo "GPU 2: NVIDIA A100-SXM4-40GB (UUID: GPU-dddd)"\n',
    )
    assert max_model_copies("gpu") == 3
    assert max_model_copies("cuda", pipeline_size=2) == 1
    assert max_model_copies("gpu", environ={"CUDA_VISIBLE_DEVICES": "1"}) == 1


def test_gpu_nvidia_smi_broken(bin_dir, no_gpu_libs, clean_env, monkeypatch):
    _script(bin_dir, "nvidia-smi", "echo 'NVIDIA-SMI has failed'\nexit 9\n")
    assert max_model_copies("gpu") is None
    _script(bin_dir, "nvidia-smi", "exec sleep 30\n")
    monkeypatch.setattr(devices, "COMMAND_TIMEOUT_S", 0.2)
    assert max_model_copies("gpu") is None


def test_gpu_unknown_without_tools(no_tools, no_gpu_libs, clean_env):
    assert max_model_copies("gpu") is None


def test_gpu_count_from_imported_torch(no_tools, clean_env, monkeypatch):
    # Stand-in for an already-imported torch: only torch.cuda.device_count is used.
    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(device_count=lambda: 4))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    assert max_model_copies("gpu") == 4


def test_gpu_count_from_nvml(no_tools, clean_env, monkeypatch):
    calls = []
    fake_nvml = types.SimpleNamespace(
        nvmlInit=lambda: calls.append("init"),
        nvmlDeviceGetCount=lambda: 2,
        nvmlShutdown=lambda: calls.append("shutdown"),
    )
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml)
    assert max_model_copies("gpu") == 2
    assert calls == ["init", "shutdown"]


# --- cpu ---


def test_cpu_copies_are_usable_cores():
    usable = len(os.sched_getaffinity(0))
    assert max_model_copies("cpu") == usable
    assert max_model_copies("cpu", pipeline_size=usable) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_pipeline_size(bad):
    with pytest.raises(ValueError, match="pipeline_size"):
        max_model_copies("cpu", pipeline_size=bad)
    with pytest.raises(ValueError, match="pipeline_size"):
        copy_environment("neuron", 0, pipeline_size=bad, environ={})


# --- copy_environment ---


@pytest.mark.parametrize(
    ("pipeline_size", "expected"),
    [
        (1, ["0", "1", "2", "3"]),
        (2, ["0-1", "2-3", "4-5", "6-7"]),
        (4, ["0-3", "4-7", "8-11", "12-15"]),
    ],
)
def test_neuron_visible_core_ranges(pipeline_size, expected):
    got = [copy_environment("neuron", i, pipeline_size=pipeline_size, environ={}) for i in range(4)]
    assert got == [{"NEURON_RT_VISIBLE_CORES": e} for e in expected]


def test_neuron_ranges_within_existing_visible_cores():
    env = {"NEURON_RT_VISIBLE_CORES": "8-15"}
    assert copy_environment("neuron", 0, 2, env) == {"NEURON_RT_VISIBLE_CORES": "8-9"}
    assert copy_environment("neuron", 3, 2, env) == {"NEURON_RT_VISIBLE_CORES": "14-15"}
    gappy = {"NEURON_RT_VISIBLE_CORES": "0,2,4-5"}
    assert copy_environment("neuron", 0, 2, gappy) == {"NEURON_RT_VISIBLE_CORES": "0,2"}
    assert copy_environment("neuron", 1, 2, gappy) == {"NEURON_RT_VISIBLE_CORES": "4-5"}
    with pytest.raises(ValueError, match="NEURON_RT_VISIBLE_CORES"):
        copy_environment("neuron", 4, 2, env)
    with pytest.raises(ValueError, match="NEURON_RT_VISIBLE_CORES"):
        copy_environment("neuron", 0, 1, {"NEURON_RT_VISIBLE_CORES": "all"})


def test_neuron_legacy_group_sizes():
    env = {"NEURONCORE_GROUP_SIZES": "1,1,1,1"}
    assert copy_environment("neuron", 0, 1, env) == {"NEURONCORE_GROUP_SIZES": "1"}
    assert copy_environment("neuron", 3, 4, env) == {"NEURONCORE_GROUP_SIZES": "4"}
    assert "NEURON_RT_VISIBLE_CORES" not in copy_environment("neuron", 1, 2, env)


def test_copy_environment_defaults_to_os_environ(clean_env, monkeypatch):
    assert copy_environment("neuron", 1) == {"NEURON_RT_VISIBLE_CORES": "1"}
    monkeypatch.setenv("NEURONCORE_GROUP_SIZES", "2")
    # environ defaults to os.environ, read at call time.
    assert copy_environment("neuron", 1, environ=os.environ) == {"NEURONCORE_GROUP_SIZES": "1"}


def test_gpu_and_cpu_environment():
    assert copy_environment("gpu", 0, environ={}) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert copy_environment("cuda", 5, environ={}) == {"CUDA_VISIBLE_DEVICES": "5"}
    env = {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert copy_environment("gpu", 1, environ=env) == {"CUDA_VISIBLE_DEVICES": "3"}
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        copy_environment("gpu", 2, environ=env)
    assert copy_environment("cpu", 3, environ={}) == {}


@pytest.mark.parametrize("bad", [-1, 1.0, "0", None, False])
def test_bad_copy_index(bad):
    with pytest.raises(ValueError, match="copy_index"):
        copy_environment("neuron", bad, environ={})


# --- instance_type ---


@pytest.mark.parametrize(
    "name",
    [
        "inf1.xlarge",
        "inf2.48xlarge",
        "trn1.32xlarge",
        "trn1n.32xlarge",
        "trn2.48xlarge",
        "c5.large",
        "p4d.24xlarge",
        "t3.nano",
        "m7i-flex.large",
        "c7gn.metal",
        "m7i.metal-24xl",
        "u-6tb1.metal",
        "g5.xlarge",
    ],
)
def test_instance_type_from_dmi(machine, name):
    machine(name)
    assert instance_type() == name


@pytest.mark.parametrize(
    "name",
    [
        "Standard PC (Q35 + ICH9, 2009)",
        "Standard PC (i440FX + PIIX, 1996)",
        "HVM domU",
        "KVM",
        "VirtualBox",
        "",
        "c5.huge",
        "inf2 xlarge",
        "INF2.XLARGE",
        "c5.large extra",
    ],
)
def test_instance_type_rejects_non_ec2(machine, name):
    machine(name)
    assert instance_type() is None


def test_instance_type_missing_file(machine):
    machine(None)
    assert instance_type() is None


# --- describe_machine ---


def test_describe_machine(monkeypatch):
    before = set(sys.modules)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="2.1.0"))
    for name in ("tensorflow", "mxnet", "torch_neuron", "torch_neuronx", "tensorflow_neuron"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    info = describe_machine()
    import neuronperf_native

    assert info["hostname"] and isinstance(info["hostname"], str)
    assert info["cpu_model"] is None or isinstance(info["cpu_model"], str)
    assert info["usable_cores"] == len(os.sched_getaffinity(0))
    assert info["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert info["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert info["neuronperf_native_version"] == neuronperf_native.__version__
    assert info["frameworks"] == {"torch": "2.1.0"}
    # Nothing was imported to describe the machine.
    assert set(sys.modules) - before - {"torch"} == set()
    json.dumps(info)  # plain data, ready for a report


def test_cpu_model_from_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\nflags\t\t: fpu\n"
    )
    monkeypatch.setattr(devices, "CPUINFO", str(cpuinfo))
    assert describe_machine()["cpu_model"] == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"


def test_module_does_not_import_engine():
    assert "_engine" not in Path(devices.__file__).read_text()


def test_capacity_is_the_kernels_task_limits_less_those_running_and_the_available_memory(
    tmp_path, monkeypatch
):
    kernel = tmp_path / "kernel"
    kernel.mkdir()
    (kernel / "threads-max").write_text("192739\n")
    (kernel / "pid_max").write_text("32768\n")
    (tmp_path / "loadavg").write_text("0.52 0.61 0.70 3/431 12345\n")
    (tmp_path / "meminfo").write_text("MemTotal: 24000000 kB\nMemAvailable:   2048000 kB\n")
    monkeypatch.setattr(devices, "PROC_SYS_KERNEL", str(kernel))
    monkeypatch.setattr(devices, "PROC_LOADAVG", str(tmp_path / "loadavg"))
    monkeypatch.setattr(devices, "PROC_MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(devices.resource, "getrlimit", lambda _: (-1, -1))  # unlimited
    monkeypatch.setattr(devices.resource, "RLIM_INFINITY", -1)
    assert devices.capacity() == devices.Capacity(free_tasks=32768 - 431, available_mb=2000.0)
    (tmp_path / "meminfo").write_text("MemTotal: 24000000 kB\n")
    (kernel / "pid_max").unlink()
    assert devices.capacity() == devices.Capacity(free_tasks=192739 - 431, available_mb=None)
