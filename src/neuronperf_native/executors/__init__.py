"""Where configurations run, behind one protocol (base.Executor: run copy groups,
yield one ConfigurationResult per configuration, cancel): model copies on this host
(LocalExecutor), on a Ray cluster (FleetExecutor), or nowhere (FakeExecutor, for
tests). create() picks the one for a workload and its settings."""

from neuronperf_native.executors.base import Executor
from neuronperf_native.executors.factory import create, substituted
from neuronperf_native.executors.fake import FakeExecutor, FakeRun
from neuronperf_native.executors.fleet import FleetExecutor
from neuronperf_native.executors.local import LocalExecutor

__all__ = [
    "Executor",
    "FakeExecutor",
    "FakeRun",
    "FleetExecutor",
    "LocalExecutor",
    "create",
    "substituted",
]
