"""PyTorch support: compile, benchmark and evaluate torch models (SPEC sections 4.8 and 5).

PyTorch is imported lazily, inside the functions, so ``import neuronperf_native``
stays cheap and works without torch. (Absolute imports make ``import torch``
inside this module reach the real PyTorch, not this file.)

- ``compile`` traces with ``torch_neuronx.trace`` (inf2/trn) when torch-neuronx is
  importable, else ``torch_neuron.trace`` (inf1), else ``torch.jit.trace``
  (TorchScript for CPU/GPU); artifacts are saved with ``torch.jit.save`` as ``.pt``.
- ``benchmark`` loads ``.pt`` files (one, or every finished config of a model
  index) with ``torch.jit.load``, after importing the Neuron package when present
  so its ops are registered, or instantiates a model class in each model copy.
  Calls run in ``torch.inference_mode()``, entered once per engine worker thread.
  On a GPU the model and inputs are moved to ``cuda:0`` once, outside the timed
  loop, and each call ends with ``torch.cuda.synchronize()`` so latency covers the
  GPU work, not just the launch.
- A ``torch.utils.data.Dataset`` (or any iterable dataset) as ``inputs`` is served
  once through (``duration=0``) or looped (``loop_dataset=True``); each item is one
  model call: a tuple (or list) item gives the model arguments, anything else is
  the single argument. With ``eval_metrics`` the target column is left out.
- ``evaluate`` runs a dataset through a model and returns metric values; the
  ``topk`` metric (top-k accuracy) is registered here.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from neuronperf_native import benchmarking, compiling, devices, engine, model_index, planning
from neuronperf_native._frameworks import FrameworkNotInstalledError, import_framework
from neuronperf_native.inputs import InputData
from neuronperf_native.inputs.arguments import as_numpy
from neuronperf_native.workload import check_callable

try:
    from neuronperf_native import metrics as _metrics
except ImportError:  # the metric registry is optional for compile/benchmark
    _metrics = None

__all__ = ["FrameworkNotInstalledError", "TopK", "benchmark", "compile", "evaluate"]

log = logging.getLogger("neuronperf_native")

# Neuron PyTorch packages in order of preference: torch-neuronx (inf2/trn), torch-neuron (inf1).
_NEURON_PACKAGES = ("torch_neuronx", "torch_neuron")

# benchmarking.benchmark's parameters after ``inputs``, to bind positional arguments by name.
_BENCHMARK_PARAMS = list(inspect.signature(benchmarking.benchmark).parameters)[3:-1]


_INSTALL_HINT = (
    "pip install torch (CPU/GPU), or the Neuron repository's torch-neuronx / torch-neuron"
)


def _import_torch() -> Any:
    """The real PyTorch module, or FrameworkNotInstalledError."""
    return import_framework("torch", "PyTorch", _INSTALL_HINT)


def _require_torch() -> None:
    """Fail early, in this process, when PyTorch is missing (cheap: no import)."""
    if importlib.util.find_spec("torch") is None:
        raise FrameworkNotInstalledError(
            f"PyTorch is not installed (no module named 'torch'); install it with: {_INSTALL_HINT}"
        )


@contextlib.contextmanager
def _torchscript() -> Iterator[None]:
    """Silence recent torch's DeprecationWarning for TorchScript (jit.trace/save/load).

    TorchScript is what torch-neuron(x) produce and what NeuronPerf benchmarks;
    other warnings (e.g. TracerWarning) still reach the user.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit", category=DeprecationWarning)
        yield


def _neuron_package() -> Any | None:
    """The first importable Neuron PyTorch package (imported), or None."""
    for name in _NEURON_PACKAGES:
        if importlib.util.find_spec(name) is not None:
            return importlib.import_module(name)
    return None


def _neuron_available() -> bool:
    return any(importlib.util.find_spec(name) is not None for name in _NEURON_PACKAGES)


# Compile ----------------------------------------------------------------------------


def _as_example(inputs: Any) -> Any:
    """A list item as given; lists of tensors become tuples (torch traces tuples)."""
    return tuple(inputs) if isinstance(inputs, list) else inputs


class _TraceCompiler:
    """compile_fn for ``compiling.compile``: trace one variant and save it with torch.jit.save."""

    def __call__(
        self,
        model: Any,
        example_inputs: Any,
        filename: str,
        compiler_args: list[str],
        **kwargs: Any,
    ) -> dict[str, Any]:
        torch = _import_torch()
        neuron = _neuron_package()
        example = _as_example(example_inputs)
        if hasattr(model, "eval"):
            model.eval()
        with torch.no_grad(), _torchscript():
            if neuron is not None:
                traced = neuron.trace(model, example, compiler_args=list(compiler_args), **kwargs)
                tracer = f"{neuron.__name__}.trace"
            else:
                if compiler_args:
                    log.warning(
                        "No Neuron package installed: torch.jit.trace ignores compiler_args %s",
                        compiler_args,
                    )
                traced = torch.jit.trace(model, example, **kwargs)
                tracer = "torch.jit.trace"
            torch.jit.save(traced, filename)
        return {"tracer": tracer, "torch_version": torch.__version__}


def compile(
    model: Any,
    inputs: Any,
    batch_sizes: int | list[int] | None = None,
    pipeline_sizes: int | list[int] | None = None,
    performance_levels: int | list[int] | None = None,
    cast_modes: str | list[str] | None = None,
    compiler_args: dict[str, Any] | list[str] | None = None,
    models_dir: str | os.PathLike[str] = "models",
    model_name: str | None = None,
    filename: str | os.PathLike[str] | None = None,
    verbosity: int = 1,
    **kwargs: Any,
) -> str:
    """Trace ``model`` for every variant into ``models_dir`` and return the model index filename.

    Uses torch_neuronx.trace, torch_neuron.trace or torch.jit.trace (the first
    available; logged), with the model in eval mode and gradients off. Extra
    keywords go to the trace function. A variant that fails to trace is recorded
    in the index with status "error" and the cause; the others still compile.
    """
    if model is None:
        raise ValueError("model must be a torch.nn.Module or callable to trace, got None")
    _require_torch()
    neuron = _neuron_package()
    tracer = f"{neuron.__name__}.trace" if neuron is not None else "torch.jit.trace"
    log.info("npf.torch.compile: tracing with %s", tracer)
    return compiling.compile(
        _TraceCompiler(),
        model,
        inputs,
        batch_sizes=batch_sizes,
        pipeline_sizes=pipeline_sizes,
        performance_levels=performance_levels,
        models_dir=models_dir,
        model_name=model_name,
        filename=filename,
        compiler_args=compiler_args,
        verbosity=verbosity,
        cast_modes=cast_modes,
        artifact_ext=".pt",
        **kwargs,
    )


# Benchmark ----------------------------------------------------------------------------


class _TorchModel(engine.WithThreadContext):
    """A loaded model run in torch.inference_mode(); on a GPU each call waits for the GPU work.

    The engine enters inference mode once per worker thread rather than around each
    call (see engine.WithThreadContext); called directly, it enters it per call.
    """

    def __init__(self, module: Any, synchronize: bool) -> None:
        torch = _import_torch()
        self.module = module
        super().__init__(
            _Synchronized(module, torch) if synchronize else module, torch.inference_mode
        )


class _Synchronized:
    """Calls a module, then waits until the GPU work it queued is done."""

    def __init__(self, module: Any, torch: Any) -> None:
        self.module = module
        self._synchronize = torch.cuda.synchronize

    def __call__(self, *args: Any) -> Any:
        out = self.module(*args)
        self._synchronize()
        return out


def _prepare(module: Any, gpu: bool) -> _TorchModel:
    if gpu:
        module = module.to("cuda:0")
    if hasattr(module, "eval"):
        module.eval()
    return _TorchModel(module, synchronize=gpu)


class _JitLoader:
    """load_fn: torch.jit.load a .pt artifact (after the Neuron package registers its ops)."""

    def __init__(self, gpu: bool) -> None:
        self.gpu = gpu

    def __call__(self, model_filename: str, device_id: int = 0) -> _TorchModel:
        torch = _import_torch()
        _neuron_package()
        with _torchscript():
            module = torch.jit.load(model_filename, map_location="cuda:0" if self.gpu else "cpu")
        return _prepare(module, self.gpu)


class _ClassLoader:
    """load_fn: instantiate a model class in each model copy."""

    def __init__(self, model_class: type, gpu: bool) -> None:
        self.model_class = model_class
        self.gpu = gpu

    def __call__(self, model_filename: Any, device_id: int = 0) -> Any:
        _import_torch()
        model = self.model_class()
        if hasattr(model, "to") and hasattr(model, "eval"):
            return _prepare(model, self.gpu)
        return model  # a plain callable class


class _InputTransform:
    """input_transform_fn, once per input before timing: numpy arrays (input data)
    become tensors sharing their memory, tensors move to ``device`` when given, then
    the user's transform runs."""

    def __init__(self, device: str | None, user_fn: Any = None) -> None:
        self.device = device
        self.user_fn = user_fn

    def _convert(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._convert(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "OSU":
                return value  # BYTES: no tensor type; the model gets the array
            torch = _import_torch()
            with warnings.catch_warnings():
                # Input data arrays are read-only (shared); inference does not write them.
                warnings.filterwarnings("ignore", "The given NumPy array is not writable")
                value = torch.from_numpy(value)
        if self.device is not None and hasattr(value, "to"):
            value = value.to(self.device)
        return value

    def __call__(self, model: Any, args: tuple) -> tuple:
        args = tuple(self._convert(a) for a in args)
        return args if self.user_fn is None else self.user_fn(model, args)


class _DatasetLoader:
    """dataset_loader_fn: this copy's share of a dataset as model argument tuples.

    Map-style datasets give items copy_id, copy_id + n_copies, ...; iterables
    every n_copies-th item. List items become tuples; with ``target_col`` set,
    that element (the evaluation target) is dropped.
    """

    def __init__(self, target_col: int | None = None) -> None:
        self.target_col = target_col

    def __call__(self, dataset: Any, copy_id: int, n_copies: int) -> Iterator[tuple]:
        if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
            items: Iterable[Any] = (dataset[i] for i in range(copy_id, len(dataset), n_copies))
        else:
            items = (x for i, x in enumerate(dataset) if i % n_copies == copy_id)
        for item in items:
            yield _item_args(item, self.target_col)


def _item_args(item: Any, target_col: int | None) -> tuple:
    args = tuple(item) if isinstance(item, (tuple, list)) else (item,)
    if target_col is None:
        return args
    _, inputs = _split_target(args, target_col)
    return inputs


def _split_target(item: tuple, target_col: int) -> tuple[Any, tuple]:
    n = len(item)
    if n < 2 or not -n <= target_col < n:
        raise ValueError(
            f"eval_target_col={target_col} does not name an element of a dataset item with "
            f"{n} element(s); each item must hold the model inputs and the target"
        )
    col = target_col % n
    return item[col], item[:col] + item[col + 1 :]


def _is_dataset(inputs: Any) -> bool:
    if isinstance(inputs, (list, tuple, str, bytes)) or hasattr(inputs, "shape"):
        return False
    try:
        data = importlib.import_module("torch.utils.data")
    except ImportError:
        return False
    return isinstance(inputs, (data.Dataset, data.IterableDataset, data.DataLoader))


def _bind(args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """benchmark()'s positional arguments after ``inputs`` as keywords."""
    if len(args) > len(_BENCHMARK_PARAMS):
        raise TypeError(f"benchmark() takes at most {len(_BENCHMARK_PARAMS) + 2} positional args")
    bound = dict(kwargs)
    for name, value in zip(_BENCHMARK_PARAMS, args, strict=False):
        if name in bound:
            raise TypeError(f"benchmark() got multiple values for argument {name!r}")
        bound[name] = value
    return bound


def benchmark(model_filename: Any, inputs: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """npf.benchmark for PyTorch: a ``.pt`` file, a model index ``.json`` or a model class.

    Takes benchmark()'s arguments after ``inputs``. ``device_type`` defaults to
    "neuron" when a Neuron PyTorch package is installed, else "cpu". "gpu" (or
    "cuda") needs CUDA (checked here, before any model process starts). Model
    copies run in fresh interpreters (``multiinterpreter=True``) unless
    ``multiinterpreter=False`` (fork) or ``multiprocess=False`` (threads) says
    otherwise: neither CUDA nor the OpenMP runtime behind PyTorch's CPU
    parallelism survives a fork. Once this process has run intra-op parallel work
    (tracing, evaluate, any batched call), a forked copy's calls hang or run several
    times slower (a batch-4 MLP: 290-390 us instead of 36-64 us). The copies re-run
    the calling script only when the job holds something defined there (a model class,
    a setup function); such a script needs an ``if __name__ == "__main__":`` guard.
    A torch Dataset
    as ``inputs`` turns on dataset mode (see the module docstring).
    ``eval_metrics=[...]`` (with ``eval_target_col``, default -1) makes ``inputs``
    a dataset of (inputs..., target) items (a torch Dataset or any sequence); it first runs
    ``evaluate`` on the dataset in this process and adds the values to every
    report under "eval" (one evaluation per model config).
    """
    _require_torch()
    options = benchmarking.expand_settings(_bind(args, kwargs))
    eval_metrics = options.pop("eval_metrics", None)
    target_col = options.pop("eval_target_col", -1)
    device_type = devices.normalize_device_type(
        options.get("device_type", "neuron" if _neuron_available() else "cpu")
    )
    options["device_type"] = device_type
    gpu = device_type == "gpu"
    if gpu:
        torch = _import_torch()
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"npf.torch.benchmark(device_type={options['device_type']!r}) of "
                f"{model_filename!r}: CUDA is not available to torch {torch.__version__} "
                "(no GPU, no driver, or a CPU-only build)"
            )
    if "multiinterpreter" not in options and options.get("multiprocess", True):
        options["multiinterpreter"] = True
    user_transform = options.get("input_transform_fn")
    check_callable("input_transform_fn", user_transform)
    # Input data arrive as numpy arrays; the GPU needs inputs on the device. Other
    # inputs (e.g. dataset items, converted inside the timed loop) are left alone.
    from_data = isinstance(inputs, InputData) or options.get("input_data") is not None
    if gpu or from_data:
        options["input_transform_fn"] = _InputTransform("cuda:0" if gpu else None, user_transform)

    if isinstance(model_filename, os.PathLike):
        model_filename = os.fspath(model_filename)
    if isinstance(model_filename, type):
        load_fn: Any = _ClassLoader(model_filename, gpu)
        options.setdefault("model_name", model_filename.__name__)
    elif isinstance(model_filename, str):
        load_fn = _JitLoader(gpu)
    else:
        raise TypeError(
            "model_filename must be a .pt path, a model index .json or a model class, "
            f"got {type(model_filename).__name__}: {model_filename!r}"
        )

    # With eval_metrics, inputs is the evaluation dataset (any sequence of items) too.
    dataset_mode = bool(options.get("dataset")) or _is_dataset(inputs) or eval_metrics is not None
    if dataset_mode:
        options["dataset"] = True
        if options.get("dataset_loader_fn") is None:
            options["dataset_loader_fn"] = _DatasetLoader(
                target_col if eval_metrics is not None else None
            )

    evals: dict[str, Any] = {}
    if eval_metrics is not None and not options.get("dry_run"):
        evals = _evaluations(model_filename, inputs, eval_metrics, target_col, options)

    results = benchmarking.benchmark(load_fn, model_filename, inputs, **options)
    if eval_metrics is not None and not options.get("dry_run"):
        for item in results:
            report = item[0] if isinstance(item, tuple) else item
            report["eval"] = evals.get(str(report.get("model_filename")))
    return results


def _evaluations(
    model: Any, dataset: Any, metrics: Any, target_col: int, options: dict[str, Any]
) -> dict[str, Any]:
    """Metric values per model filename, for benchmark(eval_metrics=...)."""
    if isinstance(model, str) and model.endswith(".json"):
        index = model_index.filter(
            model_index.load(model),
            batch_size=options.get("batch_sizes"),
            pipeline_size=options.get("pipeline_sizes"),
            performance_level=options.get("performance_levels"),
            status="finished",
        )
        return {
            c["filename"]: evaluate(c["filename"], dataset, metrics, target_col)
            for c in index["model_configs"]
        }
    key = model if isinstance(model, str) else planning._qualified_name(model)
    return {key: evaluate(model, dataset, metrics, target_col)}


# Evaluate ------------------------------------------------------------------------------


# TopK derives from the registry's base class when the registry is installed.
_MetricBase: Any = getattr(_metrics, "BaseEvalMetric", object) if _metrics is not None else object


class TopK(_MetricBase):
    """Top-k accuracy: the share of records whose target is among the k highest scores.

    process_record takes scores of shape (batch, classes) (or (classes,)) and
    integer targets of shape (batch,) (or a scalar).
    """

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"topk: k must be an int >= 1, got {k!r}")
        self.k = k
        self.name = "topk"
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def process_record(self, output: Any, target: Any) -> None:
        scores = np.atleast_2d(as_numpy(output))
        labels = np.atleast_1d(as_numpy(target)).astype(np.int64).reshape(-1)
        if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
            raise ValueError(
                f"topk: expected scores (batch, classes) and targets (batch,), got "
                f"{scores.shape} and {labels.shape}"
            )
        k = min(self.k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        self.correct += int((top == labels[:, None]).any(axis=1).sum())
        self.total += int(labels.shape[0])

    def aggregate(self) -> float:
        return self.correct / self.total if self.total else float("nan")


if _metrics is not None and "topk" not in _metrics.list_metrics():
    _metrics.register_metric("topk", TopK)


def _require_metrics() -> Any:
    if _metrics is None:
        raise ImportError(
            "npf.torch.evaluate needs the metric registry neuronperf_native.metrics, "
            "which this installation does not have"
        )
    return _metrics


def _callable_model(model: Any) -> Any:
    """A model to evaluate: a path (.pt), a class, or a callable instance."""
    torch = _import_torch()
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if isinstance(model, str):
        _neuron_package()
        with _torchscript():
            model = torch.jit.load(model, map_location="cpu")
    elif isinstance(model, type):
        model = model()
    if not callable(model):
        raise TypeError(f"model must be callable, a class or a .pt path, got {model!r}")
    if hasattr(model, "eval"):
        model.eval()
    return model


def _batches(dataset: Any, batch_size: int | None, target_col: int) -> Iterator[tuple]:
    """(inputs, target, n_real) per model call; batch_size stacks that many items."""
    torch = _import_torch()
    pending: list[tuple[Any, tuple]] = []

    def stacked(group: list[tuple[Any, tuple]]) -> tuple[tuple, Any, int]:
        n = len(group)
        group = group + [group[-1]] * (batch_size - n)  # pad a short last batch
        inputs = tuple(torch.stack([g[1][i] for g in group]) for i in range(len(group[0][1])))
        target = torch.stack([torch.as_tensor(g[0]) for g in group[:n]])
        return inputs, target, n

    for item in dataset:
        target, inputs = _split_target(_item_args(item, None), target_col)
        if batch_size is None:
            yield inputs, target, None
            continue
        pending.append((target, inputs))
        if len(pending) == batch_size:
            yield stacked(pending)
            pending = []
    if pending:
        yield stacked(pending)


def _trim(output: Any, n: int | None) -> Any:
    """Drop the padding rows of a short last batch from the output."""
    if n is None:
        return output
    if isinstance(output, (tuple, list)):
        return type(output)(_trim(o, n) for o in output)
    return output[:n] if hasattr(output, "shape") else output


def evaluate(
    model_or_index: Any,
    dataset: Any,
    metrics: Any = ("Accuracy",),
    eval_target_col: int = -1,
    batch_size: int | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Run every dataset item through a model and return ``{metric_name: value}``.

    Each item is a tuple whose ``eval_target_col`` element is the target and the
    rest the model inputs. ``metrics`` holds registered metric names or metric
    instances. ``batch_size`` stacks that many items per call (a short last
    batch is padded and its padding dropped from the output); None calls the
    model once per item. For a model index, returns one dict per finished config,
    with "model_filename" and "batch_size" next to the metric values.
    """
    _require_torch()
    registry = _require_metrics()
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Iterable):
        metrics = [metrics]
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one metric")
    if isinstance(eval_target_col, bool) or not isinstance(eval_target_col, int):
        raise TypeError(f"eval_target_col must be an int, got {eval_target_col!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an int >= 1 or None, got {batch_size!r}")
    if isinstance(model_or_index, (str, os.PathLike)) and os.fspath(model_or_index).endswith(
        ".json"
    ):
        index = model_index.filter(model_index.load(os.fspath(model_or_index)), status="finished")
        out = []
        for config in index["model_configs"]:
            values = evaluate(config["filename"], dataset, metrics, eval_target_col, batch_size)
            out.append(
                {"model_filename": config["filename"], "batch_size": config["batch_size"], **values}
            )
        return out

    torch = _import_torch()
    model = _callable_model(model_or_index)
    named = []
    for m in metrics:
        instance = registry.get_metric(m)
        name = m if isinstance(m, str) else type(m).__name__
        named.append((name, instance))
    with torch.inference_mode():
        for inputs, target, n in _batches(dataset, batch_size, eval_target_col):
            output = _trim(model(*inputs), n)
            out_np, target_np = as_numpy(output), as_numpy(target)
            for _, instance in named:
                instance.process_record(out_np, target_np)
    return {name: instance.aggregate() for name, instance in named}
