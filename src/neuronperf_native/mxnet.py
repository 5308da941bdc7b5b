"""MXNet: compile checkpoints with MXNet-Neuron and benchmark them (SPEC section 5).

The documented MXNet-Neuron flow: a checkpoint (``prefix-symbol.json`` +
``prefix-EPOCH.params``, read with ``mx.model.load_checkpoint``) or a
``(sym, args, aux)`` tuple is compiled with ``neuron.compile(sym, args, aux,
inputs={name: array}, **compile_args)`` (``mx_neuron`` on MXNet 1.8,
``mx.contrib.neuron`` on MXNet 1.5), the compiler flags going in
``compile_args["flags"]``; the result is saved with ``mx.model.save_checkpoint``.
Without a Neuron package the checkpoint is saved unchanged, so the pipeline runs on
CPU. benchmark binds an ``mx.mod.Module`` on ``mx.neuron()`` (or ``mx.cpu()``) once
per model copy, with the shapes of the inputs, and times ``forward`` until the
outputs are ready (MXNet executes asynchronously).

MXNet is imported lazily; without it every public call raises
FrameworkNotInstalledError (an ImportError).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neuronperf_native import benchmarking, compiling, devices
from neuronperf_native._frameworks import FrameworkNotInstalledError, import_framework
from neuronperf_native.workload import check_callable

__all__ = ["FrameworkNotInstalledError", "benchmark", "compile"]

log = logging.getLogger("neuronperf_native")

_INSTALL_HINT = (
    "pip install mxnet (CPU; MXNet 1.9.1 needs numpy<1.24, so use its own virtual "
    "environment), or on inf1 the Neuron repository's mx_neuron / mxnet-neuron"
)
# Artifacts written by compile: a directory holding this checkpoint prefix, epoch 0.
_ARTIFACT_PREFIX = "model"
_ARTIFACT_EPOCH = 0


def _mx() -> Any:
    """The real MXNet module, or FrameworkNotInstalledError."""
    return import_framework("mxnet", "MXNet", _INSTALL_HINT)


def _require_mx() -> None:
    """Fail early, in this process, when MXNet is missing (cheap: no import)."""
    if importlib.util.find_spec("mxnet") is None:
        raise FrameworkNotInstalledError(
            f"MXNet is not installed (no module named 'mxnet'); install it with: {_INSTALL_HINT}"
        )


def _neuron_api() -> Any | None:
    """MXNet-Neuron's compile module: mx_neuron (MXNet 1.8), mxnet.contrib.neuron (1.5), or None."""
    for name in ("mx_neuron", "mxnet.contrib.neuron"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _context(mx: Any, api: Any | None) -> Any:
    """mx.neuron() when MXNet-Neuron is present, else mx.cpu()."""
    neuron = getattr(mx, "neuron", None)
    if api is not None and callable(neuron):
        return neuron()
    return mx.cpu()


def _checkpoint(mx: Any, model: Any, epoch: int) -> tuple[Any, dict, dict]:
    """(sym, args, aux) from a (sym, args, aux) tuple, a checkpoint prefix or a compiled dir."""
    if isinstance(model, tuple):
        if len(model) != 3:
            raise ValueError(f"model tuple must be (sym, args, aux), got {len(model)} items")
        return model
    prefix, epoch = _prefix(os.fspath(model), epoch)
    return mx.model.load_checkpoint(prefix, epoch)


def _prefix(path: str, epoch: int) -> tuple[str, int]:
    """A compiled artifact directory -> its checkpoint; anything else is a prefix."""
    if os.path.isdir(path):
        return os.path.join(path, _ARTIFACT_PREFIX), _ARTIFACT_EPOCH
    return path, epoch


def _feed(value: Any) -> dict[str, Any]:
    """Example input as MXNet-Neuron's ``inputs`` dict (a bare array is named 'data')."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        raise TypeError(
            "MXNet example inputs are a dict {input name: array} (or one array for 'data'), "
            "got a tuple"
        )
    return {"data": value}


def _nodes(sym: Any) -> list[dict[str, Any]]:
    return json.loads(sym.tojson())["nodes"]


def _count_ops(nodes: list[dict[str, Any]]) -> int:
    return sum(1 for n in nodes if n.get("op") != "null")


def _op_counts(original: Any, compiled: Any) -> dict[str, int]:
    """Operator counts of MXNet-Neuron's documented compile statistics."""
    nodes = _nodes(compiled)
    subgraphs = [n for n in nodes if n.get("op") == "_neuron_subgraph_op"]
    return {
        "ops_original": _count_ops(_nodes(original)),
        "ops_compiled": _count_ops(nodes),
        "neuron_subgraphs": len(subgraphs),
        "ops_on_neuron": sum(_count_ops(g["nodes"]) for s in subgraphs for g in s["subgraphs"]),
    }


@dataclass(frozen=True)
class _Compiler:
    """compile_fn for npf.compile: MXNet-Neuron compile (when present), then save_checkpoint."""

    epoch: int

    def __call__(
        self, model: Any, example: Any, filename: str, compiler_args: list[str], **options: Any
    ) -> dict[str, Any]:
        mx = _mx()
        sym, args, aux = _checkpoint(mx, model, self.epoch)
        feed = _feed(example)
        api = _neuron_api()
        fields: dict[str, Any] = {"input_names": list(feed)}
        if api is not None:
            options = dict(options)
            if compiler_args:
                options["flags"] = [*options.get("flags", []), *compiler_args]
            csym, cargs, caux = api.compile(sym, args, aux, inputs=feed, **options)
            fields["compiler"] = f"{getattr(api, '__name__', 'neuron')}.compile"
            fields.update(_op_counts(sym, csym))
            sym, args, aux = csym, cargs, caux
        else:
            if compiler_args or options:
                log.warning(
                    "No MXNet-Neuron package: saving the checkpoint unchanged for CPU; "
                    "ignoring compiler_args %s and options %s",
                    compiler_args,
                    sorted(options),
                )
            fields["compiler"] = "save_checkpoint"
        os.makedirs(filename)
        mx.model.save_checkpoint(
            os.path.join(filename, _ARTIFACT_PREFIX), _ARTIFACT_EPOCH, sym, args, aux
        )
        return fields


def compile(
    model: Any,
    inputs: Any,
    batch_sizes: int | list[int] | None = None,
    *args: Any,
    epoch: int = 0,
    **kwargs: Any,
) -> str:
    """npf.compile for MXNet; returns the model index filename.

    ``model``: a checkpoint prefix (with ``epoch``) or a ``(sym, args, aux)`` tuple;
    ``inputs``: one example per batch size, a dict {input name: array} or one array
    (named 'data'). Unknown keywords go to MXNet-Neuron's compile as compile_args.
    Each variant is saved as a directory holding checkpoint ``model``, epoch 0.
    """
    _mx()
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
    if isinstance(model, tuple) and len(args) < 4:  # model_name not given positionally
        kwargs.setdefault("model_name", "mxnet_model")
    if _neuron_api() is None:
        log.info("No MXNet-Neuron package installed: saving checkpoints unchanged for CPU")
    return compiling.compile(_Compiler(epoch), model, inputs, batch_sizes, *args, **kwargs)


# Benchmark ---------------------------------------------------------------------------


class _MXModel:
    """A checkpoint bound in an mx.mod.Module; binds on the inputs' shapes in prepare()."""

    def __init__(self, mx: Any, sym: Any, args: dict, aux: dict, ctx: Any) -> None:
        self.mx = mx
        self.sym = sym
        self.args = args
        self.aux = aux
        self.ctx = ctx
        self.names = [
            n
            for n in sym.list_arguments()
            if n not in args and n not in aux and not n.endswith("label")
        ]
        self.module: Any = None
        self.shapes: list[tuple[str, tuple]] | None = None

    def _named(self, args: tuple) -> dict[str, Any]:
        if len(args) == 1 and isinstance(args[0], Mapping):
            return dict(args[0])
        if len(args) != len(self.names):
            raise ValueError(
                f"model takes {len(self.names)} input(s) {self.names}, got {len(args)}; "
                "pass a dict {input name: array} to name them"
            )
        return dict(zip(self.names, args, strict=True))

    def prepare(self, args: tuple) -> tuple:
        """Inputs as a DataBatch on the model's context; binds the module on their shapes."""
        mx = self.mx
        feed = {k: mx.nd.array(v, ctx=self.ctx) for k, v in self._named(args).items()}
        shapes = [(k, tuple(v.shape)) for k, v in feed.items()]
        if self.module is None:
            self.module = mx.mod.Module(
                symbol=self.sym, data_names=list(feed), label_names=None, context=self.ctx
            )
            self.module.bind(for_training=False, data_shapes=shapes)
            self.module.set_params(self.args, self.aux, allow_missing=True)
            self.shapes = shapes
        elif shapes != self.shapes:
            raise ValueError(f"inputs of shapes {shapes} differ from the bound {self.shapes}")
        return (mx.io.DataBatch(data=list(feed.values())),)

    def __call__(self, batch: Any) -> Any:
        self.module.forward(batch, is_train=False)
        outputs = self.module.get_outputs()
        for out in outputs:
            out.wait_to_read()  # MXNet is asynchronous: time until the result exists
        return outputs


class _Loader:
    """load_fn: loads the checkpoint in the model process (picklable)."""

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch

    def __call__(self, model_filename: str, device_id: int = 0) -> _MXModel:
        mx = _mx()
        api = _neuron_api()  # MXNet 1.8: importing mx_neuron registers the Neuron backend
        sym, args, aux = _checkpoint(mx, model_filename, self.epoch)
        return _MXModel(mx, sym, args, aux, _context(mx, api))


class _InputTransform:
    """input_transform_fn: bind the module and place the inputs (untimed), then the user's."""

    def __init__(self, user_fn: Any = None) -> None:
        self.user_fn = user_fn

    def __call__(self, model: Any, args: tuple) -> tuple:
        args = model.prepare(args)
        return args if self.user_fn is None else self.user_fn(model, args)


def benchmark(
    model_filename: str | os.PathLike[str],
    inputs: Any,
    *args: Any,
    epoch: int = 0,
    **kwargs: Any,
) -> list[Any]:
    """npf.benchmark for a compiled checkpoint directory, a checkpoint prefix or an index.

    ``inputs``: a numpy array (input 'data' or the model's one input), a tuple of
    them in the symbol's input order, a dict {input name: array}, or a list with one
    per batch size. Each model copy runs in a fresh interpreter by default
    (``multiinterpreter=True``). ``device_type`` defaults to "neuron" when MXNet-Neuron
    is installed, else "cpu". Takes npf.benchmark's other arguments.
    """
    _require_mx()
    if not isinstance(model_filename, (str, os.PathLike)):
        raise TypeError(
            "model_filename must be a compiled checkpoint directory, a checkpoint prefix or "
            f"a model index .json, got {type(model_filename).__name__}: {model_filename!r}"
        )
    path = os.fspath(model_filename)
    if not (path.endswith(".json") or os.path.isdir(path) or os.path.isfile(f"{path}-symbol.json")):
        raise ValueError(
            f"model_filename {path!r} is not a model index, a compiled checkpoint directory "
            f"or a checkpoint prefix ({path}-symbol.json not found)"
        )
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
    user_transform = kwargs.get("input_transform_fn")
    check_callable("input_transform_fn", user_transform)
    neuron = _neuron_api() is not None  # what the model copies will find
    kwargs = benchmarking.expand_settings(kwargs)
    kwargs.setdefault("multiinterpreter", True)
    kwargs.setdefault("device_type", "neuron" if neuron else "cpu")
    if devices.normalize_device_type(kwargs["device_type"]) == "gpu":
        raise ValueError(
            f"npf.mxnet.benchmark(device_type={kwargs['device_type']!r}) of {path!r}: models are "
            "bound on mx.neuron() (MXNet-Neuron) or mx.cpu(); GPU contexts are not supported"
        )
    kwargs["input_transform_fn"] = _InputTransform(user_transform)
    return benchmarking.benchmark(_Loader(epoch), path, inputs, *args, **kwargs)
