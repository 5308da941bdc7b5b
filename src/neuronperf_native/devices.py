"""Devices and environment: device types, model-copy limits, process pinning, run metadata.

Everything here reads local state only: ``neuron-ls`` / ``nvidia-smi`` output,
``/dev`` entries, the DMI product name, ``/proc/cpuinfo`` and the kernel's task limits.
The library never makes network calls (no EC2 instance-metadata lookups). External tools run with a
short timeout; a missing, failing, hanging or garbled tool means "unknown"
(``None``), never an exception.

Facts used (AWS Neuron documentation):

- ``neuron-ls --json-output`` (``-j``) prints a JSON array with one object per
  Neuron device; ``nc_count`` is the number of NeuronCores of that device (newer
  releases also list them as ``neuroncore_ids``).
- NeuronCores per device: Inferentia (inf1) 4, Inferentia2 (inf2) 2, Trainium
  (trn1) 2, Trainium2 (trn2) 8 physical cores, exposed by default as 4 logical
  NeuronCores (``NEURON_LOGICAL_NC_CONFIG``, default 2 on trn2). Runtime core
  indices (``NEURON_RT_VISIBLE_CORES``) count logical cores.
- ``NEURON_RT_VISIBLE_CORES`` takes one core index or a range such as ``1-3``.
- ``NEURONCORE_GROUP_SIZES`` is the Neuron 1.x (inf1, neuron-rtd) variable; it
  lists group sizes, and the runtime picks free cores for each group.

Tests replace the lookups through the module-level names ``_run_command``,
``DEV_DIR``, ``DMI_PRODUCT_NAME`` and ``CPUINFO``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from neuronperf_native._version import __version__

__all__ = [
    "DEVICE_TYPES",
    "Capacity",
    "capacity",
    "copy_environment",
    "describe_machine",
    "instance_type",
    "max_model_copies",
    "normalize_device_type",
]

#: Accepted ``device_type`` values; "cuda" is an alias of "gpu".
DEVICE_TYPES: tuple[str, ...] = ("neuron", "cpu", "gpu", "cuda")

#: Where Neuron device nodes (``neuron0``, ``neuron1``, ...) live.
DEV_DIR = "/dev"
#: DMI product name; on EC2 Nitro instances it is the instance type.
DMI_PRODUCT_NAME = "/sys/devices/virtual/dmi/id/product_name"
#: CPU description, for the CPU model name.
CPUINFO = "/proc/cpuinfo"

#: Seconds an external tool may run before it counts as broken.
COMMAND_TIMEOUT_S = 5.0

# Physical NeuronCores per Neuron device, by instance family.
_PHYSICAL_CORES_PER_DEVICE = {"inf1": 4, "inf2": 2, "trn1": 2, "trn2": 8}
# Default logical NeuronCore size (physical cores per logical core) by family.
_DEFAULT_LNC = {"trn2": 2}

_FAMILY_RE = re.compile(r"^(inf1|inf2|trn1|trn2)[a-z]*$")
_NEURON_DEV_RE = re.compile(r"^neuron\d+$")
# EC2 instance type: family (letters + generation + options, maybe "-flex" or
# "u-6tb1"), a dot, then a size.
_INSTANCE_TYPE_RE = re.compile(
    r"^(?:u-\d+tb\d+|[a-z]+\d+[a-z0-9]*(?:-[a-z0-9]+)?)"
    r"\.(?:nano|micro|small|medium|large|\d*xlarge|metal(?:-\d+xl)?)$"
)
_FRAMEWORK_MODULES = (
    "torch",
    "torch_neuron",
    "torch_neuronx",
    "tensorflow",
    "tensorflow_neuron",
    "mxnet",
)


def normalize_device_type(device_type: str) -> str:
    """Return "neuron", "cpu" or "gpu" ("cuda" means "gpu"); ValueError otherwise."""
    if isinstance(device_type, str):
        value = device_type.strip().lower()
        if value in DEVICE_TYPES:
            return "gpu" if value == "cuda" else value
    raise ValueError(
        f"device_type must be one of {', '.join(map(repr, DEVICE_TYPES))}, got {device_type!r}"
    )


def _run_command(argv: list[str], timeout_s: float | None = None) -> str | None:
    """Run ``argv`` and return its stdout, or None if it is missing, fails or times out.

    The tool runs in its own session so that, on timeout, it and anything it started
    are killed together (a leftover child would otherwise keep the pipe open).
    """
    if shutil.which(argv[0]) is None:
        return None
    limit_s = COMMAND_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except (OSError, ValueError):
        return None
    try:
        out, _ = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    if proc.returncode != 0:
        return None
    return out.decode("utf-8", errors="replace")


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _parse_index_list(text: str) -> list[int] | None:
    """Parse "0", "2-5" or "0,2-3" into indices; None when malformed."""
    indices: list[int] = []
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if m is None:
            return None
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            return None
        indices.extend(range(lo, hi + 1))
    return indices


def _format_range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _neuron_cores_from_neuron_ls() -> int | None:
    out = _run_command(["neuron-ls", "--json-output"])
    if out is None:
        return None
    try:
        doc = json.loads(out)
    except ValueError:
        return None
    # Future formats may wrap the device list in an object: take the first list of
    # device objects found among its values.
    if isinstance(doc, dict):
        doc = next((v for v in doc.values() if isinstance(v, list)), None)
    if not isinstance(doc, list):
        return None
    total = 0
    for device in doc:
        if not isinstance(device, dict):
            return None
        count = device.get("nc_count")
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 0):
            ids = device.get("neuroncore_ids")
            if not isinstance(ids, list):
                return None
            count = len(ids)
        total += count
    return total if total > 0 else None


def _instance_family(itype: str | None) -> str | None:
    if itype is None:
        return None
    m = _FAMILY_RE.match(itype.split(".", 1)[0])
    return m.group(1) if m else None


def _neuron_cores_from_devices(environ: Mapping[str, str]) -> int | None:
    try:
        names = os.listdir(DEV_DIR)
    except OSError:
        return None
    n_devices = sum(1 for name in names if _NEURON_DEV_RE.match(name))
    family = _instance_family(instance_type())
    if n_devices == 0 or family is None:
        return None
    physical = _PHYSICAL_CORES_PER_DEVICE[family]
    lnc = _DEFAULT_LNC.get(family, 1)
    configured = environ.get("NEURON_LOGICAL_NC_CONFIG", "").strip()
    if family in _DEFAULT_LNC and configured in ("1", "2"):
        lnc = int(configured)
    return n_devices * (physical // lnc)


def _gpu_count() -> int | None:
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            return int(torch.cuda.device_count())
        except Exception:
            pass
    try:
        import pynvml  # nvidia-ml-py
    except ImportError:
        pynvml = None
    if pynvml is not None:
        try:
            pynvml.nvmlInit()
            try:
                return int(pynvml.nvmlDeviceGetCount())
            finally:
                pynvml.nvmlShutdown()
        except Exception:
            pass
    out = _run_command(["nvidia-smi", "-L"])
    if out is not None:
        return sum(1 for line in out.splitlines() if line.startswith("GPU "))
    return None


def max_model_copies(
    device_type: str, pipeline_size: int = 1, *, environ: Mapping[str, str] | None = None
) -> int | None:
    """How many model copies fit on this machine (the MAX of the default ``n_models``).

    neuron: NeuronCores (``neuron-ls``, else ``/dev/neuron*`` x cores per device of
    the instance family) // ``pipeline_size``; an existing ``NEURON_RT_VISIBLE_CORES``
    limits the cores. gpu: CUDA devices (torch when already imported, nvidia-ml-py,
    ``nvidia-smi -L``), limited by ``CUDA_VISIBLE_DEVICES``. cpu: usable cores.
    None when unknown.
    """
    kind = normalize_device_type(device_type)
    if isinstance(pipeline_size, bool) or not isinstance(pipeline_size, int) or pipeline_size < 1:
        raise ValueError(f"pipeline_size must be an integer >= 1, got {pipeline_size!r}")
    env = os.environ if environ is None else environ
    if kind == "cpu":
        return len(os.sched_getaffinity(0)) // pipeline_size or None
    if kind == "gpu":
        count = _gpu_count()
        visible_gpus = [g for g in env.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
        if count is not None and visible_gpus:
            count = min(count, len(visible_gpus))
    else:
        visible_cores = env.get("NEURON_RT_VISIBLE_CORES", "").strip()
        cores = _parse_index_list(visible_cores) if visible_cores else None
        count = len(cores) if cores else None
        if count is None:
            count = _neuron_cores_from_neuron_ls()
        if count is None:
            count = _neuron_cores_from_devices(env)
    if count is None or count // pipeline_size == 0:
        return None
    return count // pipeline_size


@dataclasses.dataclass(frozen=True)
class Capacity:
    """What this machine can still start: tasks (processes and threads, the kernel's
    kernel.threads-max and kernel.pid_max less those running, and ulimit -u for a user
    other than root) and memory (MemAvailable). None: unknown."""

    free_tasks: int | None
    available_mb: float | None


#: Where the kernel's limits on tasks and the running count are read.
PROC_SYS_KERNEL = "/proc/sys/kernel"
PROC_LOADAVG = "/proc/loadavg"
PROC_MEMINFO = "/proc/meminfo"


def capacity() -> Capacity:
    """This machine's Capacity now (reads /proc; never raises)."""
    limits = [_read_int(os.path.join(PROC_SYS_KERNEL, name)) for name in ("threads-max", "pid_max")]
    known = [limit for limit in limits if limit is not None]
    loadavg = _read_text(PROC_LOADAVG)
    running = re.search(r"\d+/(\d+)", loadavg or "")
    free = min(known) - int(running.group(1)) if known and running else None
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if os.geteuid() != 0 and soft != resource.RLIM_INFINITY:
        free = min(free, soft - _own_tasks()) if free is not None else soft - _own_tasks()
    meminfo = re.search(r"^MemAvailable:\s+(\d+) kB", _read_text(PROC_MEMINFO) or "", re.M)
    available_mb = int(meminfo.group(1)) / 1024 if meminfo else None
    return Capacity(free_tasks=free, available_mb=available_mb)


def _own_tasks() -> int:
    """Threads of this user's processes (what ulimit -u counts), from /proc."""
    uid, total = str(os.getuid()), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        status = _read_text(f"/proc/{pid}/status") or ""
        owner = re.search(r"^Uid:\s+(\d+)", status, re.M)
        threads = re.search(r"^Threads:\s+(\d+)", status, re.M)
        if owner and threads and owner.group(1) == uid:
            total += int(threads.group(1))
    return total


def _read_int(path: str) -> int | None:
    text = _read_text(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def instance_type() -> str | None:
    """The EC2 instance type from the local DMI product name, or None (no network calls)."""
    text = _read_text(DMI_PRODUCT_NAME)
    if text is None:
        return None
    name = text.strip()
    return name if _INSTANCE_TYPE_RE.match(name) else None


def copy_environment(
    device_type: str,
    copy_index: int,
    pipeline_size: int = 1,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Environment variables that pin model copy ``copy_index`` to its own device(s).

    neuron: ``NEURON_RT_VISIBLE_CORES`` = cores ``[copy_index * pipeline_size,
    (copy_index + 1) * pipeline_size)`` as "4" or "4-5" (indices into an existing
    ``NEURON_RT_VISIBLE_CORES`` list when ``environ`` already restricts the cores).
    When ``environ`` has the legacy ``NEURONCORE_GROUP_SIZES`` (Neuron 1.x), it is set
    to ``str(pipeline_size)`` instead: one group of that size per process, the cores
    chosen by the runtime. gpu: ``CUDA_VISIBLE_DEVICES`` = the copy's device
    (``str(copy_index)``, or the copy_index-th entry of an existing list).
    cpu: ``{}``; CPU copies are not pinned (the framework's own thread pools span the
    usable cores, and a fixed split would skew results when copies differ in load).
    """
    kind = normalize_device_type(device_type)
    if isinstance(copy_index, bool) or not isinstance(copy_index, int) or copy_index < 0:
        raise ValueError(f"copy_index must be an integer >= 0, got {copy_index!r}")
    if isinstance(pipeline_size, bool) or not isinstance(pipeline_size, int) or pipeline_size < 1:
        raise ValueError(f"pipeline_size must be an integer >= 1, got {pipeline_size!r}")
    if kind == "cpu":
        return {}
    if kind == "gpu":
        visible = environ.get("CUDA_VISIBLE_DEVICES", "").strip()
        ids = visible.split(",") if visible else None
        if ids is None:
            return {"CUDA_VISIBLE_DEVICES": str(copy_index)}
        if copy_index >= len(ids):
            raise ValueError(
                f"copy_index {copy_index} is out of range for CUDA_VISIBLE_DEVICES={visible!r}"
            )
        return {"CUDA_VISIBLE_DEVICES": ids[copy_index].strip()}
    if "NEURONCORE_GROUP_SIZES" in environ:
        return {"NEURONCORE_GROUP_SIZES": str(pipeline_size)}
    first = copy_index * pipeline_size
    last = first + pipeline_size - 1
    existing = environ.get("NEURON_RT_VISIBLE_CORES", "").strip()
    if existing:
        cores = _parse_index_list(existing)
        if cores is None:
            raise ValueError(f"NEURON_RT_VISIBLE_CORES={existing!r} is not a core list")
        if last >= len(cores):
            raise ValueError(
                f"copy_index {copy_index} with pipeline_size {pipeline_size} needs cores "
                f"beyond NEURON_RT_VISIBLE_CORES={existing!r}"
            )
        own = cores[first : last + 1]
        if own != list(range(own[0], own[-1] + 1)):
            return {"NEURON_RT_VISIBLE_CORES": ",".join(map(str, own))}
        return {"NEURON_RT_VISIBLE_CORES": _format_range(own[0], own[-1])}
    return {"NEURON_RT_VISIBLE_CORES": _format_range(first, last)}


def _cpu_model() -> str | None:
    text = _read_text(CPUINFO)
    if text is not None:
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("model name", "Model", "cpu model"):
                return value.strip() or None
    return platform.processor() or None


def describe_machine() -> dict[str, Any]:
    """Where reports were made (every report's `metadata`): the package, framework and
    Python versions, platform, CPU, usable cores and host.

    Framework versions are listed only for frameworks already imported (nothing is
    imported here).
    """
    frameworks = {}
    for name in _FRAMEWORK_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            frameworks[name] = str(getattr(module, "__version__", "unknown"))
    try:
        cores = sorted(os.sched_getaffinity(0))
        affinity: list[int] | None = cores
        usable_cores: int | None = len(cores)
    except (AttributeError, OSError):
        affinity, usable_cores = None, os.cpu_count()
    return {
        "neuronperf_native_version": __version__,
        "frameworks": frameworks,
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "usable_cores": usable_cores,
        "cpu_affinity": affinity,
        "hostname": socket.gethostname(),
    }
