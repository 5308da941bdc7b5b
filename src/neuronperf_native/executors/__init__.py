"""Where configurations run: this host (LocalExecutor), or elsewhere behind the same
interface. An executor takes a Plan and yields one ConfigurationResult (run/) per
configuration, telling a RunObserver about progress as it goes."""

from neuronperf_native.executors.local import LocalExecutor

__all__ = ["LocalExecutor"]
