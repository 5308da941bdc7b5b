"""Compile a model in many variants and record them in a model index (SPEC section 4.2).

``compile`` is the framework-neutral layer: it validates the arguments, works
out every variant (example input and batch size x pipeline size x performance
level x cast mode), builds the compiler flags of each, and calls a framework's
``compile_fn`` once per variant. Framework submodules (``npf.torch``,
``npf.tensorflow``, ...) supply ``compile_fn``; users may pass their own.

The ``compile_fn`` contract
---------------------------
``compile_fn(model, example_inputs, filename, compiler_args=[...], **kwargs)``

- ``model``: the object given to ``compile``, passed through unchanged.
- ``example_inputs``: the example input of this variant, one element of
  ``inputs``, passed through unchanged (a tuple means several model arguments).
- ``filename``: the artifact path to write, ``<models_dir>/<generated name><artifact_ext>``;
  ``compile_fn`` must save the compiled model there (a file or a directory).
- ``compiler_args``: a list of str, the flags for this variant followed by
  the user's ``compiler_args``.
- ``kwargs``: every extra keyword given to ``compile``, passed through.

It returns ``None`` or a dict of extra JSON fields for this variant's index
entry (for example operator counts; numpy scalars are converted). Raising an
exception marks the variant as failed (status ``"error"`` with the reason) and
compilation goes on with the next variant; so does returning without writing
``filename``, returning something else than a dict, or a field that is not
JSON data or that names one of the keys below. A failed variant's partial
artifact is removed. KeyboardInterrupt and SystemExit stop the whole run; the
index on disk keeps every variant finished before.

Each index entry holds ``filename``, ``input_idx``, ``batch_size``,
``pipeline_size``, ``performance_level`` and ``cast_mode`` (None when not
requested), ``compiler_args`` (the exact list passed), ``compile_s``,
``status`` (``"finished"`` or ``"error"``), ``error`` (failed ones only) and
the fields ``compile_fn`` returned.

Cast modes map to neuronx-cc's ``--auto-cast`` / ``--auto-cast-type`` options
(Neuron Compiler CLI reference): ``SCOPE`` or ``SCOPE-TYPE``, with SCOPE one of
``none``, ``matmult`` (``matmul`` accepted) or ``all`` and TYPE one of
``bf16``, ``fp16``, ``tf32``, ``fp8_e4m3``; e.g. ``"matmult-bf16"`` gives
``--auto-cast matmult --auto-cast-type bf16`` and ``"none"`` gives
``--auto-cast none``. Without a TYPE the compiler's default type applies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from neuronperf_native import model_index
from neuronperf_native._verbosity import LEVELS, check_verbosity
from neuronperf_native._version import __version__

__all__ = ["CAST_MODE_TYPES", "FAST_MATH", "compile", "compiler_args_list", "variant_flags"]

log = logging.getLogger("neuronperf_native")

# Performance level -> neuron-cc ``--fast-math`` values (0 = max accuracy, 3 = max performance).
FAST_MATH = {
    0: "none",
    1: "fp32-cast-matmult no-fast-relayout",
    2: "fp32-cast-matmult",
    3: "all",
}

# neuronx-cc ``--auto-cast`` scopes and ``--auto-cast-type`` data types.
_CAST_SCOPES = {"none": "none", "matmult": "matmult", "matmul": "matmult", "all": "all"}
CAST_MODE_TYPES = ("bf16", "fp16", "tf32", "fp8_e4m3")

# Flags that a variant dimension controls; user compiler_args may not set them too.
_PIPELINE_FLAG = "--neuroncore-pipeline-cores"
_FAST_MATH_FLAG = "--fast-math"
_AUTO_CAST_FLAGS = ("--auto-cast", "--auto-cast-type")

# Index keys that compile sets itself; compile_fn's extra fields may not replace them.
_RESERVED_KEYS = frozenset(
    {
        "filename",
        "input_idx",
        "batch_size",
        "pipeline_size",
        "performance_level",
        "cast_mode",
        "compile_s",
        "status",
        "error",
        "compiler_args",
    }
)


@dataclass(frozen=True)
class _Variant:
    input_idx: int
    batch_size: int
    pipeline_size: int
    performance_level: int | None
    cast_mode: str | None


# Argument validation ---------------------------------------------------------------


def _type_name(value: Any) -> str:
    return type(value).__name__


def _int_list(name: str, value: Any, minimum: int, maximum: int | None = None) -> list[int]:
    """An int or a non-empty list/tuple of ints within bounds, as a list."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(
                f"{name} must be an int or a list of ints, got {_type_name(item)}: {item!r}"
            )
        if item < minimum or (maximum is not None and item > maximum):
            bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise ValueError(f"{name} values must be {bound}, got {item!r}")
    return items


def _no_duplicates(name: str, items: list[Any]) -> None:
    seen = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{name} lists {item!r} more than once: {items!r}")
        seen.add(item)


def _cast_mode_flags(cast_mode: str) -> list[str]:
    """neuronx-cc flags for a cast mode: ``SCOPE`` or ``SCOPE-TYPE``.

    ``SCOPE`` is ``none``, ``matmult`` (alias ``matmul``) or ``all`` and maps to
    ``--auto-cast SCOPE``; ``TYPE`` is one of ``CAST_MODE_TYPES`` and adds
    ``--auto-cast-type TYPE``. Without a type the compiler's default applies.
    """
    scope, _, cast_type = cast_mode.partition("-")
    if scope not in _CAST_SCOPES or (cast_type and cast_type not in CAST_MODE_TYPES):
        raise ValueError(
            f"cast_modes value {cast_mode!r} is not a cast mode; use SCOPE or SCOPE-TYPE with "
            f"SCOPE in none, matmult, all and TYPE in {', '.join(CAST_MODE_TYPES)} "
            "(e.g. 'matmult-bf16', 'all-fp16', 'none')"
        )
    if scope == "none" and cast_type:
        raise ValueError(f"cast_modes value {cast_mode!r}: 'none' takes no data type")
    flags = ["--auto-cast", _CAST_SCOPES[scope]]
    if cast_type:
        flags += ["--auto-cast-type", cast_type]
    return flags


def _cast_mode_list(value: Any) -> list[str]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"cast_modes must not be empty, got {value!r}")
    for item in items:
        if not isinstance(item, str):
            raise TypeError(
                f"cast_modes must be a str or a list of str, got {_type_name(item)}: {item!r}"
            )
        _cast_mode_flags(item)
    _no_duplicates("cast_modes", items)
    return items


def compiler_args_list(compiler_args: Any) -> list[str]:
    """User compiler arguments as a flat list of str.

    A list or tuple of str is taken as is. A dict maps each flag to its value:
    ``None`` or ``True`` gives the flag alone, ``False`` omits it, a list or
    tuple gives the flag followed by each item, anything else the flag and
    ``str(value)``. Keys without a leading ``-`` get ``--`` (``-`` for one letter).
    """
    if compiler_args is None:
        return []
    if isinstance(compiler_args, (list, tuple)):
        for item in compiler_args:
            if not isinstance(item, str):
                raise TypeError(
                    "compiler_args list items must be str, got "
                    f"{_type_name(item)}: {item!r} in {compiler_args!r}"
                )
        return list(compiler_args)
    if not isinstance(compiler_args, Mapping):
        raise TypeError(
            "compiler_args must be a dict, a list of str or None, got "
            f"{_type_name(compiler_args)}: {compiler_args!r}"
        )
    out: list[str] = []
    for key, value in compiler_args.items():
        if not isinstance(key, str) or not key.strip("-"):
            raise TypeError(f"compiler_args keys must be flag names (str), got {key!r}")
        flag = key if key.startswith("-") else (f"-{key}" if len(key) == 1 else f"--{key}")
        if value is None or value is True:
            out.append(flag)
        elif value is False:
            continue
        elif isinstance(value, (list, tuple)):
            out += [flag, *(str(v) for v in value)]
        elif isinstance(value, (str, int, float)):
            out += [flag, str(value)]
        else:
            raise TypeError(
                f"compiler_args[{key!r}] must be None, a bool, a str, a number or a list, "
                f"got {_type_name(value)}: {value!r}"
            )
    return out


def _flag_names(args: list[str]) -> set[str]:
    """Flag names in an argument list (``--x=1`` counts as ``--x``)."""
    return {a.split("=", 1)[0] for a in args if a.startswith("-")}


def _check_conflicts(
    user_args: list[str], pipeline_given: bool, levels_given: bool, casts_given: bool
) -> None:
    """Reject user flags that would override the flag a variant dimension sets."""
    names = _flag_names(user_args)
    controlled = []
    if pipeline_given:
        controlled.append((_PIPELINE_FLAG, "pipeline_sizes"))
    if levels_given:
        controlled.append((_FAST_MATH_FLAG, "performance_levels"))
    if casts_given:
        controlled += [(flag, "cast_modes") for flag in _AUTO_CAST_FLAGS]
    for flag, param in controlled:
        if flag in names:
            raise ValueError(
                f"compiler_args sets {flag}, which {param} controls per variant; "
                f"remove it from compiler_args or leave {param} unset"
            )


def variant_flags(
    pipeline_size: int = 1, performance_level: int | None = None, cast_mode: str | None = None
) -> list[str]:
    """Compiler flags for one variant (before the user's compiler_args).

    ``--neuroncore-pipeline-cores N`` when ``pipeline_size > 1``; ``--fast-math``
    with the neuron-cc values of ``performance_level``; ``--auto-cast`` /
    ``--auto-cast-type`` for ``cast_mode``.
    """
    flags: list[str] = []
    if pipeline_size > 1:
        flags += [_PIPELINE_FLAG, str(pipeline_size)]
    if performance_level is not None:
        flags += [_FAST_MATH_FLAG, *FAST_MATH[performance_level].split()]
    if cast_mode is not None:
        flags += _cast_mode_flags(cast_mode)
    return flags


def _default_model_name(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        base = os.path.basename(os.path.normpath(os.fspath(model)))
        return base.split(".", 1)[0] or "model"
    name = getattr(model, "__name__", None)
    if isinstance(name, str) and name and name != "<lambda>":
        return name
    return type(model).__name__ or "model"


def _check_path_arg(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {_type_name(value)}: {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{name} must be a non-empty path, got {value!r}")
    return path


# JSON extras from compile_fn ----------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Numpy scalars and arrays as plain Python values; other values unchanged."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.split(".", 1)[0] == "numpy":
        return tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _extra_fields(result: Any) -> dict[str, Any]:
    """Validate what compile_fn returned; ValueError/TypeError describes what is wrong."""
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(
            f"compile_fn returned {_type_name(result)}, expected a dict of index fields or None"
        )
    extras = {}
    for key, value in result.items():
        if not isinstance(key, str):
            raise TypeError(f"compile_fn returned a non-str index field name {key!r}")
        if key in _RESERVED_KEYS:
            raise ValueError(f"compile_fn returned reserved index field {key!r}")
        value = _jsonable(value)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"compile_fn returned field {key!r} that is not JSON data: {e}") from e
        extras[key] = value
    return extras


# Compilation --------------------------------------------------------------------------


@contextlib.contextmanager
def _verbosity(verbosity: int) -> Iterator[None]:
    """Set the package logger's level for this call (_verbosity.LEVELS), then restore it."""
    old = log.level
    log.setLevel(LEVELS[verbosity])
    try:
        yield
    finally:
        log.setLevel(old)


def _remove_artifact(path: str) -> None:
    """Remove a partial artifact left by a failed compile (best effort)."""
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def _describe(v: _Variant) -> str:
    parts = [
        f"input {v.input_idx}",
        f"batch_size={v.batch_size}",
        f"pipeline_size={v.pipeline_size}",
    ]
    if v.performance_level is not None:
        parts.append(f"performance_level={v.performance_level}")
    if v.cast_mode is not None:
        parts.append(f"cast_mode={v.cast_mode}")
    return ", ".join(parts)


def compile(
    compile_fn: Callable[..., Any],
    model: Any,
    inputs: Any,
    batch_sizes: int | list[int] | None = None,
    pipeline_sizes: int | list[int] | None = None,
    performance_levels: int | list[int] | None = None,
    models_dir: str | os.PathLike[str] = "models",
    model_name: str | None = None,
    filename: str | os.PathLike[str] | None = None,
    compiler_args: dict[str, Any] | list[str] | None = None,
    verbosity: int = 1,
    *,
    cast_modes: str | list[str] | None = None,
    artifact_ext: str = "",
    **kwargs: Any,
) -> str:
    """Compile every variant of ``model`` into ``models_dir`` and return the model index filename.

    ``inputs`` is a list of example inputs, one per batch size (``batch_sizes``
    matched by position; default 1 for each input), or a single example input
    (anything but a list; a tuple is one input of several arguments). Every
    (input, pipeline size, performance level, cast mode) combination is
    compiled by ``compile_fn`` (see the module docstring for its contract).
    ``performance_levels`` (0..3) add neuron-cc ``--fast-math`` values;
    ``cast_modes`` (``"matmult-bf16"``, ``"all-fp16"``, ``"none"``, ...) add
    neuronx-cc ``--auto-cast``/``--auto-cast-type``. The index is written
    atomically after each compile, failures included (status ``"error"``, with
    the reason), so an interrupted run keeps what was done. ``filename`` names
    the index (default: generated in the working directory); ``artifact_ext``
    is appended to generated artifact names (framework submodules set it).
    Arguments are all validated before anything is compiled.
    """
    # Validate everything up front ------------------------------------------------------
    if not callable(compile_fn):
        raise TypeError(
            f"compile_fn must be callable, got {_type_name(compile_fn)}: {compile_fn!r}"
        )
    if model is None:
        raise ValueError("model must be a model to compile, got None")
    examples = list(inputs) if isinstance(inputs, list) else [inputs]
    if not examples:
        raise ValueError("inputs must be an example input or a non-empty list of them, got []")
    if batch_sizes is None:
        sizes = [1] * len(examples)
    else:
        sizes = _int_list("batch_sizes", batch_sizes, 1)
        if len(sizes) != len(examples):
            raise ValueError(
                f"batch_sizes has {len(sizes)} value(s) {sizes!r} but inputs has "
                f"{len(examples)} example input(s); give one example input per batch size"
            )
    pipelines = [1] if pipeline_sizes is None else _int_list("pipeline_sizes", pipeline_sizes, 1)
    _no_duplicates("pipeline_sizes", pipelines)
    levels: list[int | None] = [None]
    if performance_levels is not None:
        levels = list(_int_list("performance_levels", performance_levels, 0, 3))
        _no_duplicates("performance_levels", levels)
    casts: list[str | None] = [None] if cast_modes is None else list(_cast_mode_list(cast_modes))
    out_dir = _check_path_arg("models_dir", models_dir)
    if model_name is not None and (not isinstance(model_name, str) or not model_name):
        raise TypeError(f"model_name must be a non-empty str or None, got {model_name!r}")
    name = model_name or _default_model_name(model)
    index_path = None if filename is None else _check_path_arg("filename", filename)
    user_args = compiler_args_list(compiler_args)
    _check_conflicts(
        user_args,
        pipeline_sizes is not None,
        performance_levels is not None,
        cast_modes is not None,
    )
    check_verbosity(verbosity)
    if not isinstance(artifact_ext, str):
        raise TypeError(
            f"artifact_ext must be a str, got {_type_name(artifact_ext)}: {artifact_ext!r}"
        )
    if artifact_ext and not artifact_ext.startswith("."):
        artifact_ext = "." + artifact_ext

    variants = [
        _Variant(idx, batch, pipeline, level, cast)
        for idx, batch in enumerate(sizes)
        for pipeline in pipelines
        for level in levels
        for cast in casts
    ]

    with _verbosity(verbosity):
        os.makedirs(out_dir, exist_ok=True)
        if index_path is None:
            index_path = model_index.generate_name(name, directory=os.curdir, ext=".json")
        index: dict[str, Any] = {"version": __version__, "model_name": name, "model_configs": []}
        used: set[str] = set()
        failed = 0
        log.info(
            "Compiling %d variant(s) of %s into %s; index %s",
            len(variants),
            name,
            out_dir,
            index_path,
        )
        for n, v in enumerate(variants, 1):
            artifact = _artifact_path(name, v, out_dir, artifact_ext, used)
            args = variant_flags(v.pipeline_size, v.performance_level, v.cast_mode) + user_args
            outcome = _compile_one(compile_fn, model, examples[v.input_idx], artifact, args, kwargs)
            config = {
                "filename": artifact,
                "input_idx": v.input_idx,
                "batch_size": v.batch_size,
                "pipeline_size": v.pipeline_size,
                "performance_level": v.performance_level,
                "cast_mode": v.cast_mode,
                "compiler_args": args,
                **outcome,
            }
            index["model_configs"].append(config)
            model_index.save(index, index_path)
            if config["status"] == "finished":
                log.info(
                    "[%d/%d] compiled %s in %.2f s -> %s",
                    n,
                    len(variants),
                    _describe(v),
                    config["compile_s"],
                    artifact,
                )
            else:
                failed += 1
                log.error(
                    "[%d/%d] failed to compile %s: %s",
                    n,
                    len(variants),
                    _describe(v),
                    config["error"],
                )
        if failed:
            log.warning(
                "%d of %d variant(s) failed to compile; wrote the model index %s",
                failed,
                len(variants),
                index_path,
            )
        else:
            log.info("Compiled %d variant(s); wrote the model index %s", len(variants), index_path)
    return index_path


def _artifact_path(name: str, v: _Variant, out_dir: str, ext: str, used: set[str]) -> str:
    """A fresh artifact path in ``out_dir``, unused on disk and in this run."""
    while True:
        base = model_index.generate_name(
            name,
            batch_size=v.batch_size,
            pipeline_size=v.pipeline_size,
            performance_level=v.performance_level,
            cast_mode=v.cast_mode,
            directory=out_dir,
            ext=ext,
        )
        if base not in used:
            used.add(base)
            return os.path.join(out_dir, base)


def _compile_one(
    compile_fn: Callable[..., Any],
    model: Any,
    example: Any,
    artifact: str,
    args: list[str],
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Run compile_fn for one variant; returns the entry's compile_s, status, error or extras."""
    log.debug("compile_fn(%s, compiler_args=%r)", artifact, args)
    start = time.perf_counter()
    try:
        result = compile_fn(model, example, artifact, compiler_args=list(args), **kwargs)
        compile_s = time.perf_counter() - start
        extras = _extra_fields(result)
        if not os.path.lexists(artifact):
            raise FileNotFoundError(f"compile_fn returned but did not write {artifact!r}")
    except Exception as e:
        compile_s = time.perf_counter() - start
        log.debug("compile_fn raised for %s", artifact, exc_info=True)
        _remove_artifact(artifact)
        return {
            "compile_s": round(compile_s, 6),
            "status": "error",
            "error": f"{type(e).__name__}: {e}",
        }
    return {"compile_s": round(compile_s, 6), "status": "finished", **extras}
