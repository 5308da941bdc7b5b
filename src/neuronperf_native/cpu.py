"""Benchmark plain Python model classes on the CPU (no framework needed)."""

from __future__ import annotations

from typing import Any

from neuronperf_native import benchmarking


class DummyModel:
    """A tiny CPU model for trying the API: returns its input times two plus one."""

    def __call__(self, x: Any) -> Any:
        return x * 2 + 1


class _ClassLoader:
    """load_fn for a model class: instantiates it in each model process (picklable)."""

    def __init__(self, model_class: type) -> None:
        self.model_class = model_class

    def __call__(self, model_filename: str, device_id: int = 0) -> Any:
        return self.model_class()


def benchmark(model_class: type, inputs: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """npf.benchmark for a callable model class, instantiated once per model copy.

    Takes benchmark()'s arguments after `inputs`; device_type defaults to "cpu".
    """
    if not isinstance(model_class, type):
        raise TypeError(f"model_class must be a class, got {model_class!r}")
    if not any("__call__" in vars(k) for k in model_class.__mro__ if k is not object):
        raise TypeError(f"model_class {model_class.__name__} must define __call__")
    kwargs = benchmarking.expand_settings(kwargs)
    kwargs.setdefault("device_type", "cpu")
    kwargs.setdefault("model_name", model_class.__name__)
    return benchmarking.benchmark(_ClassLoader(model_class), model_class, inputs, *args, **kwargs)
