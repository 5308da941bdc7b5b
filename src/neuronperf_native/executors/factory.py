"""Which executor runs a benchmark: one factory, by the workload's target kind and the
settings, so that benchmark() never chooses with an if, and tests substitute one."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from neuronperf_native.executors.base import Executor
from neuronperf_native.executors.fleet import FleetExecutor
from neuronperf_native.executors.local import LocalExecutor
from neuronperf_native.settings import BenchmarkSettings
from neuronperf_native.workload import Workload

_substitute: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "npf_executor", default=None
)


def _model_executor(workload: Workload, settings: BenchmarkSettings) -> Executor:
    """Model copies on the Ray cluster of settings.cluster, else on this host."""
    if settings.cluster is not None:
        return FleetExecutor(workload, settings)
    return LocalExecutor(workload, settings)


# Target kind (Workload.target_kind) -> its executor. A served endpoint is a "model"
# target (its load_fn builds a client); a target that is not a callable in a copy
# would add its kind here.
_BY_TARGET: dict[str, Callable[[Workload, BenchmarkSettings], Executor]] = {
    "model": _model_executor,
}


def create(workload: Workload, settings: BenchmarkSettings) -> Executor:
    """The executor that runs ``workload``: a substituted() one, else the one of its
    target kind."""
    return _substitute.get() or _BY_TARGET[workload.target_kind](workload, settings)


@contextlib.contextmanager
def substituted(executor: Executor) -> Iterator[Executor]:
    """Benchmarks started in this block (this thread or task) run on ``executor``
    (a FakeExecutor in tests) instead of the one create() would pick."""
    token = _substitute.set(executor)
    try:
        yield executor
    finally:
        _substitute.reset(token)
