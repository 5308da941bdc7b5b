"""neuronperf_native: NeuronPerf-compatible inference benchmarking with a native timing engine."""

__version__ = "0.1.0"

__all__ = ["__version__"]
