"""What a run is made of, shared by every executor and below them all: the results
an executor yields (results), whom it tells while it runs (observers), and two
observers: the statistical stopping rule (stopping) and the progress line (progress).
Nothing here imports an executor."""

from neuronperf_native.run.observers import Observers, RunObserver
from neuronperf_native.run.results import RESULTS_SCHEMA, ConfigurationResult, timers_of

__all__ = ["RESULTS_SCHEMA", "ConfigurationResult", "Observers", "RunObserver", "timers_of"]
