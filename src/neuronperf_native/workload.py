"""What a benchmark runs, besides its settings: the model, its inputs and callables.

Settings are plain values (validated, serializable); a Workload holds what cannot
be: load_fn, the model (file or class), example inputs, input data or a dataset,
and the user's setup/pre/post-processing functions. Executors hand it to the model
copies (by fork, pickling for fresh interpreters, or Ray's object store).

Its target kind says what is benchmarked and so which executors run it
(executors.create): "model", a callable each copy loads with load_fn: a model, or a
served endpoint's client (targets/, serving.py), whose copies are client processes. A
target that cannot be driven as a callable in a copy would be a kind of its own, with
its executor behind the same protocol (executors/base.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from neuronperf_native.engine import _as_args
from neuronperf_native.inputs import InputData
from neuronperf_native.inputs.arguments import resolve_input_data
from neuronperf_native.planning import ModelConfig
from neuronperf_native.prompts import Prompts
from neuronperf_native.settings import BenchmarkSettings

__all__ = ["CALLABLES", "Workload"]

#: The user's functions a Workload carries besides load_fn.
CALLABLES = (
    "env_setup_fn",
    "setup_fn",
    "preprocess_fn",
    "postprocess_fn",
    "dataset_loader_fn",
    "input_transform_fn",
    "sequence_fn",
    "request_fn",
    "token_count_fn",
)


def _shapes(args: tuple) -> list[tuple[int, ...]]:
    """The shapes of the array-like arguments (values of dict arguments included)."""
    values = [v for a in args for v in (a.values() if isinstance(a, Mapping) else [a])]
    return [tuple(v.shape) for v in values if isinstance(getattr(v, "shape", None), tuple)]


def check_callable(name: str, fn: Any) -> None:
    """TypeError naming ``name`` unless fn is callable or None."""
    if fn is not None and not callable(fn):
        raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")


@dataclasses.dataclass(frozen=True)
class Workload:
    """The model and what it is fed. Exactly one of inputs, data, dataset and prompts is
    set (prompts: a generative model's requests, from the settings' prompt options)."""

    load_fn: Callable[..., Any]
    model_filename: Any  # a file, a model index .json, or (CPU/GPU) a model class
    inputs: tuple[tuple, ...] | None = None  # one argument tuple per input_idx
    data: InputData | None = None  # perf_analyzer input data, batched per batch size
    dataset: Any = None  # a dataset each copy iterates its own share of
    env_setup_fn: Callable[..., Any] | None = None
    setup_fn: Callable[..., Any] | None = None
    preprocess_fn: Callable[..., Any] | None = None
    postprocess_fn: Callable[..., Any] | None = None
    dataset_loader_fn: Callable[..., Any] | None = None
    input_transform_fn: Callable[..., Any] | None = None
    sequence_fn: Callable[..., Any] | None = None  # gets the sequence flags (sequence_kwargs=False)
    prompts: Prompts | None = None
    request_fn: Callable[..., Any] | None = None  # (input_ids, max_new_tokens) -> arguments
    token_count_fn: Callable[[Any], int] | None = None  # a streamed item -> its tokens

    @classmethod
    def build(
        cls,
        load_fn: Any,
        model_filename: Any,
        inputs: Any,
        settings: BenchmarkSettings,
        *,
        input_data: Any = None,
        **callables: Any,
    ) -> Workload:
        """Validates the callables and resolves ``inputs`` (one input, a list of inputs
        per batch size, an InputData, a dataset with settings.dataset) and
        ``input_data`` (an InputData or a source the example inputs describe)."""
        if not callable(load_fn):
            raise TypeError(f"load_fn must be callable, got {type(load_fn).__name__}")
        for name in CALLABLES:
            check_callable(name, callables.get(name))
        unknown = sorted(set(callables) - set(CALLABLES))
        if unknown:
            raise TypeError(f"benchmark() got unexpected keyword arguments: {unknown}")
        if callables.get("token_count_fn") is not None and not settings.streaming:
            raise ValueError(
                "token_count_fn counts the tokens of streamed items: pass streaming=True"
            )
        if settings.prompt_options().active:
            if inputs is not None or input_data is not None or settings.dataset:
                raise ValueError(
                    "the prompts (synthetic_input_tokens_mean or input_file) are the inputs: "
                    "pass inputs=None"
                )
            return cls(load_fn, model_filename, prompts=settings.build_prompts(), **callables)
        if callables.get("request_fn") is not None:
            raise ValueError(
                "request_fn maps prompts to a call's arguments: it needs prompts "
                "(synthetic_input_tokens_mean or input_file)"
            )
        data = resolve_input_data(inputs, input_data, settings.input_names)
        if data is not None and settings.dataset:
            raise ValueError(
                "input data and a dataset (dataset_loader_fn / dataset=True) exclude each other"
            )
        sequences = settings.sequence_options(callables.get("sequence_fn"))
        if sequences.active:
            if data is None:
                raise ValueError(
                    "sequences play the streams of input data: give input_data= (or an "
                    "InputData as inputs)"
                )
            sequences.check_data(data)
        if settings.dataset:
            return cls(load_fn, model_filename, dataset=inputs, **callables)
        if data is not None:
            return cls(load_fn, model_filename, data=data, **callables)
        items = inputs if isinstance(inputs, list) else [inputs]
        if not items:
            raise ValueError("inputs must not be empty")
        return cls(load_fn, model_filename, inputs=tuple(_as_args(i) for i in items), **callables)

    def batch_warnings(self, configs: Sequence[ModelConfig]) -> list[str]:
        """One line per model config whose example input has no dimension equal to its
        batch size: its throughput would count batch_size inferences per call that
        holds fewer (e.g. batch_sizes=[8] with batch-1 inputs)."""
        if self.inputs is None:
            return []
        lines = []
        for config in configs:
            shapes = _shapes(self.inputs[config.input_idx])
            if config.batch_size == 1 or not shapes:
                continue  # an unbatched example is a batch of one
            if not any(config.batch_size in shape for shape in shapes):
                lines.append(
                    f"model config {config.filename} (batch_size={config.batch_size}): no "
                    f"dimension of its example input equals the batch size (shapes "
                    f"{', '.join(map(str, shapes))}); its throughput counts "
                    f"{config.batch_size} inferences per call"
                )
        return lines

    @property
    def target_kind(self) -> str:
        """What is benchmarked: "model" (each copy loads a callable with load_fn)."""
        return "model"

    @property
    def n_inputs(self) -> int | None:
        """How many example inputs there are (None: data, a dataset or prompts serve
        every batch size)."""
        return None if self.inputs is None else len(self.inputs)
