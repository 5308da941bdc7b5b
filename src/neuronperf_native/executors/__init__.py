"""Where configurations run: this host (LocalExecutor), or elsewhere behind the same
interface. An executor takes a Plan and yields one ConfigurationResult per
configuration, telling a RunObserver about progress as it goes."""

from neuronperf_native.executors.base import (
    RESULTS_SCHEMA,
    ConfigurationResult,
    Observers,
    RunObserver,
)
from neuronperf_native.executors.local import LocalExecutor

__all__ = ["RESULTS_SCHEMA", "ConfigurationResult", "LocalExecutor", "Observers", "RunObserver"]
