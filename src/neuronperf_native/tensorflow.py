"""TensorFlow: compile to SavedModels and benchmark them (SPEC section 5).

compile picks, in order:

- a SavedModel directory and a Neuron package with ``saved_model.compile``
  (tensorflow-neuron, TF 1.x API): ``saved_model.compile(model_dir, new_model_dir,
  batch_size=..., compiler_args=[...], **options)`` with every option passed through
  (``model_shape_feed_dict``, ``model_feed_dict``, ``tags``, ``signature_def_key``,
  ``minimum_segment_size``, ``no_fuse_ops``, ``compiler_workdir``, ...); the dict it
  returns (``OnNeuronRatio``, operator counts) goes into the index entry;
- a Keras model or callable and a Neuron package with ``trace``
  (``tensorflow_neuronx.trace`` on inf2/trn, ``tensorflow.neuron.trace`` on inf1):
  ``trace(model, example_inputs, **options)`` with the compiler flags in
  ``NEURON_CC_FLAGS``, saved with ``tf.saved_model.save``;
- without a Neuron package: a plain SavedModel (CPU), ``tf.saved_model.save`` of the
  model with a ``serving_default`` signature fixed to the example input's shapes (a
  SavedModel directory is copied as is).

benchmark loads the SavedModel in a fresh interpreter per model copy (TensorFlow is
not fork-safe) and calls its ``serving_default`` signature (or the restored object).
TensorFlow itself is imported lazily, inside the functions.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from neuronperf_native import benchmarking, compiling, devices
from neuronperf_native._frameworks import FrameworkNotInstalledError, import_framework
from neuronperf_native.workload import check_callable

__all__ = ["FrameworkNotInstalledError", "benchmark", "compile"]

log = logging.getLogger("neuronperf_native")

_INSTALL_HINT = 'pip install tensorflow-cpu (or pip install "neuronperf-native[tensorflow]")'
# Neuron packages, preferred first: tensorflow-neuronx (inf2/trn), tensorflow-neuron (inf1).
_NEURON_MODULES = ("tensorflow_neuronx", "tensorflow.neuron")
_SIGNATURE_KEY = "serving_default"
_TENSOR_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\-/]*\Z")


def _tf() -> Any:
    """The real TensorFlow module, or FrameworkNotInstalledError."""
    return import_framework("tensorflow", "TensorFlow", _INSTALL_HINT)


def _neuron_api() -> Any | None:
    """The Neuron TensorFlow package (tensorflow_neuronx, else tensorflow.neuron), or None.

    Importing it also registers the Neuron ops that compiled SavedModels need.
    """
    for name in _NEURON_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _neuron_installed() -> bool:
    """Whether a Neuron TensorFlow package is installed (checked without importing TF)."""
    if importlib.util.find_spec("tensorflow_neuronx") is not None:
        return True
    try:
        importlib.metadata.distribution("tensorflow-neuron")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _require_tf() -> None:
    """Fail early, in this process, when TensorFlow is missing (cheap: no import)."""
    if importlib.util.find_spec("tensorflow") is None:
        raise FrameworkNotInstalledError(
            f"TensorFlow is not installed (no module named 'tensorflow'); "
            f"install it with: {_INSTALL_HINT}"
        )


# Compile -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Example:
    """One example input and the batch size it stands for (what compile_fn receives)."""

    value: Any
    batch_size: int


def _api_name(api: Any) -> str:
    return str(getattr(api, "__name__", type(api).__name__))


def _op_counts(result: Any) -> dict[str, Any]:
    """Index fields from saved_model.compile's returned dict (OnNeuronRatio, op counts)."""
    if not isinstance(result, Mapping):
        return {}
    stats = {str(k): v for k, v in result.items()}
    fields: dict[str, Any] = {"neuron_compile_stats": stats}
    if "OnNeuronRatio" in stats:
        fields["on_neuron_ratio"] = stats["OnNeuronRatio"]
    return fields


@contextlib.contextmanager
def _neuron_cc_flags(compiler_args: list[str]) -> Iterator[None]:
    """Append ``compiler_args`` to NEURON_CC_FLAGS (the trace APIs' way to get flags)."""
    if not compiler_args:
        yield
        return
    old = os.environ.get("NEURON_CC_FLAGS")
    os.environ["NEURON_CC_FLAGS"] = " ".join([*([old] if old else []), *compiler_args])
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NEURON_CC_FLAGS", None)
        else:
            os.environ["NEURON_CC_FLAGS"] = old


def _named_inputs(value: Any) -> tuple[list[str], list[Any], str]:
    """Signature input names, the arrays, and how the model takes them ("one"/"args"/"dict")."""
    if isinstance(value, Mapping):
        names = [str(k) for k in value]
        for name in names:
            if not _TENSOR_NAME.match(name):
                raise ValueError(
                    f"input name {name!r} cannot name a SavedModel signature input; "
                    "use letters, digits, '_', '.', '-' or '/'"
                )
        return names, list(value.values()), "dict"
    if isinstance(value, (tuple, list)):
        if not value:
            raise ValueError("example input is an empty tuple")
        return [f"input_{i}" for i in range(len(value))], list(value), "args"
    return ["input_0"], [value], "one"


def _export(tf: Any, model: Any, value: Any, filename: str) -> None:
    """A SavedModel of ``model`` with a serving_default signature fixed to ``value``'s shapes."""
    if not callable(model):
        raise TypeError(
            f"model must be a Keras model, a callable or a SavedModel directory, "
            f"got {type(model).__name__}"
        )
    names, arrays, style = _named_inputs(value)
    specs = []
    for name, array in zip(names, arrays, strict=True):
        tensor = tf.convert_to_tensor(array)
        specs.append(tf.TensorSpec(tensor.shape, tensor.dtype, name=name))

    def serve(*tensors: Any) -> Any:
        if style == "dict":
            return model(dict(zip(names, tensors, strict=True)))
        return model(*tensors)

    module = tf.Module()
    module.model = model  # tracks the model's variables
    module.serve = tf.function(serve, input_signature=specs)
    signature = module.serve.get_concrete_function()
    tf.saved_model.save(module, filename, signatures={_SIGNATURE_KEY: signature})


def _trace_inputs(tf: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: tf.convert_to_tensor(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return tuple(tf.convert_to_tensor(v) for v in value)
    return tf.convert_to_tensor(value)


class _Compiler:
    """compile_fn for npf.compile: Neuron saved_model.compile / trace, or a plain SavedModel."""

    def __call__(
        self, model: Any, example: Any, filename: str, compiler_args: list[str], **options: Any
    ) -> dict[str, Any]:
        value, batch_size = (
            (example.value, example.batch_size)
            if isinstance(example, _Example)
            else (example, None)
        )
        api = _neuron_api()
        if isinstance(model, (str, os.PathLike)):
            return self._saved_model(
                api, os.fspath(model), value, batch_size, filename, compiler_args, options
            )
        tf = _tf()
        trace = getattr(api, "trace", None)
        if trace is not None:
            with _neuron_cc_flags(compiler_args):
                traced = trace(model, _trace_inputs(tf, value), **options)
            tf.saved_model.save(traced, filename)
            fields: dict[str, Any] = {"compiler": f"{_api_name(api)}.trace"}
            ratio = getattr(traced, "on_neuron_ratio", None)
            if isinstance(ratio, (int, float)):
                fields["on_neuron_ratio"] = float(ratio)
            return fields
        _ignored(compiler_args, options)
        _export(tf, model, value, filename)
        return {"compiler": "tf.saved_model.save"}

    @staticmethod
    def _saved_model(
        api: Any,
        model_dir: str,
        value: Any,
        batch_size: int | None,
        filename: str,
        compiler_args: list[str],
        options: dict[str, Any],
    ) -> dict[str, Any]:
        if not os.path.isdir(model_dir):
            raise FileNotFoundError(f"SavedModel directory {model_dir!r} does not exist")
        saved_model = getattr(api, "saved_model", None)
        compile_fn = getattr(saved_model, "compile", None)
        if compile_fn is not None:
            options = dict(options)
            if batch_size is not None:
                options.setdefault("batch_size", batch_size)
            if (
                isinstance(value, Mapping)
                and "model_feed_dict" not in options
                and "model_shape_feed_dict" not in options
            ):
                options["model_feed_dict"] = dict(value)
            result = compile_fn(model_dir, filename, compiler_args=list(compiler_args), **options)
            return {"compiler": f"{_api_name(api)}.saved_model.compile", **_op_counts(result)}
        if api is not None:
            raise ValueError(
                f"{_api_name(api)} compiles models with trace(), which needs the model object: "
                "load the SavedModel (tf.keras.models.load_model) and pass the model"
            )
        _ignored(compiler_args, options)
        shutil.copytree(model_dir, filename)
        return {"compiler": "copy"}


def _ignored(compiler_args: list[str], options: dict[str, Any]) -> None:
    if compiler_args or options:
        log.warning(
            "No Neuron TensorFlow package: exporting a plain SavedModel for CPU; ignoring "
            "compiler_args %s and options %s",
            compiler_args,
            sorted(options),
        )


def compile(
    model: Any,
    inputs: Any,
    batch_sizes: int | list[int] | None = None,
    *args: Any,
    **kwargs: Any,
) -> str:
    """npf.compile for TensorFlow; returns the model index filename.

    ``model`` is a SavedModel directory or a Keras model / callable; ``inputs`` one
    example input per batch size (a numpy array, a tuple of them, or a dict name ->
    array). Takes npf.compile's other arguments; unknown keywords are passed to the
    Neuron compile/trace call. Each variant is saved as a SavedModel directory.
    """
    _require_tf()
    examples = inputs if isinstance(inputs, list) else [inputs]
    if batch_sizes is None:
        sizes: Any = [1] * len(examples)
    else:
        sizes = list(batch_sizes) if isinstance(batch_sizes, (list, tuple)) else [batch_sizes]
    wrapped: Any = inputs
    if len(sizes) == len(examples):  # else npf.compile reports the mismatch
        wrapped = [_Example(v, s) for v, s in zip(examples, sizes, strict=True)]
    name = getattr(model, "name", None)
    if isinstance(name, str) and name and not isinstance(model, (str, os.PathLike)):
        kwargs.setdefault("model_name", name)
    if _neuron_api_name() is None:
        log.info("No Neuron TensorFlow package installed: compiling plain SavedModels for CPU")
    return compiling.compile(_Compiler(), model, wrapped, batch_sizes, *args, **kwargs)


def _neuron_api_name() -> str | None:
    api = _neuron_api()
    return None if api is None else _api_name(api)


# Benchmark ---------------------------------------------------------------------------


class _TFModel:
    """A loaded TF 2.x SavedModel: calls its signature (dict inputs as keywords)."""

    def __init__(self, fn: Callable[..., Any], keep: Any) -> None:
        self.fn = fn
        self.keep = keep  # the restored object owns the signature's variables

    def __call__(self, *args: Any) -> Any:
        if len(args) == 1 and isinstance(args[0], dict):
            return self.fn(**args[0])
        return self.fn(*args)

    def prepare(self, args: tuple) -> tuple:
        """Inputs as tensors, once, outside the timed loop."""
        tf = _tf()

        def convert(x: Any) -> Any:
            return x if tf.is_tensor(x) else tf.convert_to_tensor(x)

        return tuple(
            {k: convert(v) for k, v in a.items()} if isinstance(a, Mapping) else convert(a)
            for a in args
        )


class _TF1Model:
    """A TF 1.x SavedModel through tf.contrib.predictor (feeds numpy arrays by name)."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.names = list(getattr(predictor, "feed_tensors", {}))

    def __call__(self, *args: Any) -> Any:
        if len(args) == 1 and isinstance(args[0], dict):
            return self.predictor(args[0])
        return self.predictor(dict(zip(self.names, args, strict=True)))

    def prepare(self, args: tuple) -> tuple:
        return args


class _Loader:
    """load_fn: loads a SavedModel in the model process (picklable, for fresh interpreters)."""

    def __init__(self, signature_key: str = _SIGNATURE_KEY) -> None:
        self.signature_key = signature_key

    def __call__(self, model_filename: str, device_id: int = 0) -> Any:
        tf = _tf()
        _neuron_api()  # registers Neuron ops before loading a compiled model
        if str(getattr(tf, "__version__", "2")).startswith("1."):
            predictor = tf.contrib.predictor.from_saved_model(
                model_filename, signature_def_key=self.signature_key
            )
            return _TF1Model(predictor)
        loaded = tf.saved_model.load(model_filename)
        signatures = getattr(loaded, "signatures", {})
        if self.signature_key in signatures:
            return _TFModel(signatures[self.signature_key], loaded)
        if callable(loaded):
            return _TFModel(loaded, loaded)
        raise ValueError(
            f"SavedModel {model_filename} has no signature {self.signature_key!r} "
            f"(it has {sorted(signatures)}) and is not callable"
        )


class _InputTransform:
    """input_transform_fn: inputs to tensors once per copy, then the user's transform."""

    def __init__(self, user_fn: Callable[..., Any] | None) -> None:
        self.user_fn = user_fn

    def __call__(self, model: Any, args: tuple) -> tuple:
        prepare = getattr(model, "prepare", None)
        if prepare is not None:
            args = prepare(args)
        return args if self.user_fn is None else self.user_fn(model, args)


def benchmark(
    model_filename: str | os.PathLike[str],
    inputs: Any,
    *args: Any,
    signature_key: str = _SIGNATURE_KEY,
    **kwargs: Any,
) -> list[Any]:
    """npf.benchmark for a SavedModel directory or a model index of them.

    ``inputs``: a numpy array, a tuple of them (positional signature inputs) or a dict
    name -> array (keyword inputs), or a list with one of these per batch size. Each
    model copy runs in a fresh interpreter (``multiinterpreter=True`` by default:
    TensorFlow is not fork-safe) and calls the ``signature_key`` signature; inputs
    become tensors once, before timing, and outputs are returned as TF tensors
    (no copy to numpy in the timed call). ``device_type`` defaults to "neuron" when a
    Neuron TensorFlow package is installed, else "cpu". Takes npf.benchmark's other
    arguments.
    """
    _require_tf()
    if not isinstance(model_filename, (str, os.PathLike)):
        raise TypeError(
            "model_filename must be a SavedModel directory or a model index .json, got "
            f"{type(model_filename).__name__}: {model_filename!r}"
        )
    path = os.fspath(model_filename)
    if not (path.endswith(".json") or os.path.isdir(path)):
        raise ValueError(
            f"model_filename {path!r} is neither a SavedModel directory nor a model index .json"
        )
    if not isinstance(signature_key, str) or not signature_key:
        raise TypeError(f"signature_key must be a non-empty str, got {signature_key!r}")
    kwargs = benchmarking.expand_settings(kwargs)
    kwargs.setdefault("multiinterpreter", True)
    kwargs.setdefault("device_type", "neuron" if _neuron_installed() else "cpu")
    if devices.normalize_device_type(kwargs["device_type"]) == "gpu":
        tf = _tf()  # only a GPU request imports TensorFlow here, to ask it
        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeError(
                f"npf.tensorflow.benchmark(device_type={kwargs['device_type']!r}) of {path!r}: "
                f"TensorFlow {tf.__version__} sees no GPU (no GPU, no driver, or a CPU-only "
                "build such as tensorflow-cpu)"
            )
    kwargs.setdefault("feed_by_name", True)  # signatures take their inputs by name
    user_transform = kwargs.get("input_transform_fn")
    check_callable("input_transform_fn", user_transform)
    kwargs["input_transform_fn"] = _InputTransform(user_transform)
    return benchmarking.benchmark(_Loader(signature_key), path, inputs, *args, **kwargs)
