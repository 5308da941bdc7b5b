"""Model indexes: plain JSON files that list compiled model artifacts.

An index records, for each compiled variant of a model, the artifact path and
the parameters it was compiled with (SPEC section 4.4)::

    {"version": "0.1.0", "model_name": "resnet50",
     "model_configs": [{"filename": "models/resnet50_b1_p1_x7k2.pt", "input_idx": 0,
                        "batch_size": 1, "pipeline_size": 1, "performance_level": 3,
                        "cast_mode": null, "compile_s": 5.32, "status": "finished"}]}

Indexes are meant to be read and edited by hand, so ``load`` accepts ones written
by NeuronPerf (``NeuronPerf_version``, no ``input_idx``) and minimal hand-written
ones, fills in defaults, and rejects anything malformed with a
``ModelIndexError`` that names the file and the offending key. JSON is parsed as
data only. Artifact paths are stored as given (relative paths are relative to
the working directory, as in NeuronPerf).
"""

from __future__ import annotations

import contextlib
import copy as _copy
import json
import math
import os
import re
import secrets
import shutil
import string
from typing import Any

from neuronperf_native import __version__
from neuronperf_native._files import atomic_write_text

__all__ = [
    "ModelIndexError",
    "append",
    "copy",
    "create",
    "delete",
    "filter",
    "generate_name",
    "load",
    "move",
    "save",
]

_STATUSES = ("finished", "error")
_DEFAULT_MODEL_NAME = "model"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_SUFFIX_LEN = 4
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")

IndexLike = dict[str, Any] | str | os.PathLike[str]


class ModelIndexError(ValueError):
    """A model index file or dict is missing or malformed."""


# Argument validation --------------------------------------------------------


def _check_path(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a str or os.PathLike, got {type(value).__name__}: {value!r}"
        )
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{name} must be a non-empty path, got {value!r}")
    return path


def _check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def _check_optional_str(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, got {type(value).__name__}: {value!r}")
    return value


def _check_compile_s(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number or None, got {type(value).__name__}: {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_status(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str, got {type(value).__name__}: {value!r}")
    return value


def _model_name_from(filename: str) -> str:
    base = os.path.basename(os.path.normpath(filename))
    stem = base.split(".", 1)[0] if not base.startswith(".") else base
    return stem or _DEFAULT_MODEL_NAME


# Index validation (files and dicts) ------------------------------------------


def _normalize_config(config: Any, where: str) -> dict[str, Any]:
    """Validate one config and return a copy with defaults filled in.

    Unknown keys are kept (hand edits, NeuronPerf extras) as long as they are
    JSON data; known keys are type-checked.
    """
    if not isinstance(config, dict):
        raise ModelIndexError(f"{where} must be a JSON object, got {type(config).__name__}")
    if "filename" not in config:
        raise ModelIndexError(f"{where}: missing required key 'filename'")
    out = _copy.deepcopy(config)
    out.setdefault("input_idx", 0)
    out.setdefault("batch_size", 1)
    out.setdefault("pipeline_size", 1)
    out.setdefault("performance_level", None)
    out.setdefault("cast_mode", None)
    out.setdefault("compile_s", None)
    out.setdefault("status", "finished")
    checks = (
        ("filename", _check_filename),
        ("input_idx", lambda n, v: _check_int(n, v, 0)),
        ("batch_size", lambda n, v: _check_int(n, v, 1)),
        ("pipeline_size", lambda n, v: _check_int(n, v, 1)),
        ("performance_level", lambda n, v: None if v is None else _check_int(n, v, 0, 3)),
        ("cast_mode", _check_optional_str),
        ("compile_s", _check_compile_s),
        ("status", _check_status),
    )
    for key, check in checks:
        try:
            check(key, out[key])
        except (TypeError, ValueError) as e:
            raise ModelIndexError(f"{where}: key {e}") from None
    return out


def _check_filename(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str, got {type(value).__name__}: {value!r}")
    return value


def _normalize_index(data: Any, source: str) -> dict[str, Any]:
    """Validate an index (parsed JSON or a user dict) and return a normalized deep copy."""
    if not isinstance(data, dict):
        raise ModelIndexError(
            f"{source}: top level must be a JSON object, got {type(data).__name__}"
        )
    if "model_configs" not in data:
        raise ModelIndexError(f"{source}: missing required key 'model_configs'")
    configs = data["model_configs"]
    if not isinstance(configs, list):
        raise ModelIndexError(
            f"{source}: key 'model_configs' must be a list, got {type(configs).__name__}"
        )
    out = {k: _copy.deepcopy(v) for k, v in data.items() if k != "model_configs"}
    version = out.get("version", out.get("NeuronPerf_version"))
    if version is not None and not isinstance(version, str):
        raise ModelIndexError(
            f"{source}: key 'version' must be a str, got {type(version).__name__}: {version!r}"
        )
    out["version"] = version
    out["model_configs"] = [
        _normalize_config(c, f"{source}: model_configs[{i}]") for i, c in enumerate(configs)
    ]
    name = out.get("model_name")
    if name is None:
        first = out["model_configs"][0]["filename"] if out["model_configs"] else None
        name = _model_name_from(first) if first else _DEFAULT_MODEL_NAME
    elif not isinstance(name, str) or not name:
        raise ModelIndexError(
            f"{source}: key 'model_name' must be a non-empty str, got {type(name).__name__}: "
            f"{name!r}"
        )
    out["model_name"] = name
    configs_out = out.pop("model_configs")
    head = {"version": out.pop("version"), "model_name": out.pop("model_name")}
    return {**head, **out, "model_configs": configs_out}


def _resolve(index: Any, name: str = "index") -> dict[str, Any]:
    """An index given as a dict or as a filename, validated and copied."""
    if isinstance(index, dict):
        return _normalize_index(index, f"<{name} dict>")
    if isinstance(index, (str, os.PathLike)):
        return load(index)
    raise TypeError(
        f"{name} must be a model index dict or a filename, got {type(index).__name__}: {index!r}"
    )


def _reject_constant(token: str) -> None:
    raise ValueError(f"non-standard JSON constant {token}")


# Public API --------------------------------------------------------------------


def create(
    filename: str | os.PathLike[str],
    model_name: str | None = None,
    input_idx: int = 0,
    batch_size: int = 1,
    pipeline_size: int = 1,
    performance_level: int = 3,
    cast_mode: str | None = None,
    compile_s: float | None = None,
    status: str = "finished",
) -> dict[str, Any]:
    """A new in-memory index with one config for the model artifact ``filename``.

    ``model_name`` defaults to the artifact's base name without extension.
    """
    path = _check_path("filename", filename)
    if model_name is not None and (not isinstance(model_name, str) or not model_name):
        raise TypeError(f"model_name must be a non-empty str or None, got {model_name!r}")
    config = {
        "filename": path,
        "input_idx": _check_int("input_idx", input_idx, 0),
        "batch_size": _check_int("batch_size", batch_size, 1),
        "pipeline_size": _check_int("pipeline_size", pipeline_size, 1),
        "performance_level": _check_int("performance_level", performance_level, 0, 3),
        "cast_mode": _check_optional_str("cast_mode", cast_mode),
        "compile_s": _check_compile_s("compile_s", compile_s),
        "status": _check_status("status", status),
    }
    return {
        "version": __version__,
        "model_name": model_name or _model_name_from(path),
        "model_configs": [config],
    }


def save(
    index: dict[str, Any],
    filename: str | os.PathLike[str] | None = None,
    root_dir: str | os.PathLike[str] | None = None,
) -> str:
    """Write ``index`` as JSON atomically and return the path written.

    Without ``filename`` a unique name is generated from the model name
    (``<model_name>_<suffix>.json``). A relative ``filename`` is placed under
    ``root_dir`` when given; ``root_dir`` is created if missing.
    """
    if not isinstance(index, dict):
        raise TypeError(f"index must be a model index dict, got {type(index).__name__}")
    data = _normalize_index(index, "<index dict>")
    root = None if root_dir is None else _check_path("root_dir", root_dir)
    if filename is None:
        directory = root if root is not None else os.curdir
        os.makedirs(directory, exist_ok=True)
        name = generate_name(data["model_name"], directory=directory, ext=".json")
        path = os.path.join(root, name) if root is not None else name
    else:
        path = _check_path("filename", filename)
        if root is not None:
            path = os.path.join(root, path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
    data["version"] = __version__
    data.pop("NeuronPerf_version", None)
    try:
        text = json.dumps(data, indent=4, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise ModelIndexError(f"index is not JSON-serializable data: {e}") from e
    return atomic_write_text(path, text)


def load(filename: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the index at ``filename``; ``ModelIndexError`` if missing or malformed."""
    path = _check_path("filename", filename)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ModelIndexError(f"{path}: model index not found") from None
    except IsADirectoryError:
        raise ModelIndexError(f"{path}: model index is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelIndexError(f"{path}: cannot read model index: {e}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise ModelIndexError(f"{path}: not valid JSON: {e}") from None
    return _normalize_index(data, path)


def append(*indexes: IndexLike) -> dict[str, Any]:
    """Combine indexes (dicts or filenames) into a new one; inputs are not modified.

    The model name comes from the first index; duplicate configs are dropped,
    keeping the first occurrence.
    """
    if not indexes:
        raise ValueError("append() needs at least one index")
    resolved = [_resolve(ix, f"indexes[{i}]") for i, ix in enumerate(indexes)]
    seen: set[str] = set()
    configs = []
    for ix in resolved:
        for config in ix["model_configs"]:
            key = json.dumps(config, sort_keys=True)
            if key not in seen:
                seen.add(key)
                configs.append(config)
    first = resolved[0]
    return {"version": __version__, "model_name": first["model_name"], "model_configs": configs}


def filter(index: IndexLike, **criteria: Any) -> dict[str, Any]:
    """A new index with the configs that match every criterion.

    Each criterion is ``key=value`` or ``key=[values]``; a config matches when
    its value for ``key`` equals the value or is one of the values. ``None``
    filters nothing.
    """
    data = _resolve(index)
    active = {}
    for key, value in criteria.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
        elif isinstance(value, dict):
            raise TypeError(f"filter criterion {key} must be a value or a list, got a dict")
        else:
            values = [value]
        active[key] = values
    data["model_configs"] = [
        c
        for c in data["model_configs"]
        if all(key in c and _matches(c[key], values) for key, values in active.items())
    ]
    return data


def _matches(actual: Any, values: list[Any]) -> bool:
    # bool is an int in Python; keep True from matching a batch size of 1.
    return any(actual == v and isinstance(actual, bool) == isinstance(v, bool) for v in values)


def copy(
    index: IndexLike, new_index: str | os.PathLike[str], new_dir: str | os.PathLike[str]
) -> str:
    """Copy every artifact of ``index`` into ``new_dir`` and write ``new_index`` pointing there.

    Files and directories are copied; the original index and artifacts are kept.
    Returns the new index filename.
    """
    return _relocate(index, new_index, new_dir, move_files=False)


def move(
    old_index: str | os.PathLike[str],
    new_index: str | os.PathLike[str],
    new_dir: str | os.PathLike[str],
) -> str:
    """Move every artifact of ``old_index`` into ``new_dir`` and rename the index to ``new_index``.

    The old index file is removed once the new one is written. Returns the new
    index filename.
    """
    old_path = _check_path("old_index", old_index)
    new_path = _relocate(old_path, new_index, new_dir, move_files=True)
    if os.path.realpath(old_path) != os.path.realpath(new_path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(old_path)
    return new_path


def _relocate(index: IndexLike, new_index: Any, new_dir: Any, move_files: bool) -> str:
    new_index_path = _check_path("new_index", new_index)
    dest_dir = _check_path("new_dir", new_dir)
    data = _resolve(index, "old_index" if move_files else "index")
    # Plan first so that name clashes are found before anything is touched.
    plan: dict[str, str] = {}
    targets: dict[str, str] = {}
    for i, config in enumerate(data["model_configs"]):
        src = config["filename"]
        dst = os.path.join(dest_dir, os.path.basename(os.path.normpath(src)))
        if not os.path.lexists(src):
            if config["status"] == "finished":
                raise ModelIndexError(
                    f"model_configs[{i}]: artifact {src!r} does not exist (status 'finished')"
                )
            continue
        src_key = os.path.realpath(src)
        clash = targets.get(os.path.abspath(dst))
        if clash is not None and clash != src_key:
            raise ValueError(
                f"model_configs[{i}]: artifacts {clash!r} and {src!r} would both be "
                f"placed at {dst!r} in new_dir"
            )
        if (
            move_files
            and os.path.lexists(dst)
            and os.path.abspath(src) != os.path.abspath(dst)
            and os.path.abspath(dst) not in targets
        ):
            raise FileExistsError(
                f"model_configs[{i}]: cannot move {src!r}: {dst!r} already exists in new_dir"
            )
        targets[os.path.abspath(dst)] = src_key
        plan[src] = dst
        config["filename"] = dst
    os.makedirs(dest_dir, exist_ok=True)
    for src, dst in plan.items():
        if os.path.abspath(src) == os.path.abspath(dst):
            continue
        if move_files:
            if os.path.lexists(src):  # the same artifact may be listed twice
                shutil.move(src, dst)
        elif os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)
    return save(data, new_index_path)


def delete(filename: str | os.PathLike[str]) -> None:
    """Delete the index at ``filename`` and every artifact (file or directory) it references.

    Artifacts that are already gone are skipped. A symbolic link is removed,
    never what it points to. Refuses paths whose removal would take the
    index itself, the working directory, a home directory or a filesystem root.
    """
    path = _check_path("filename", filename)
    data = load(path)
    index_abs = os.path.realpath(path)
    protected = {
        os.path.realpath(os.sep),
        os.path.realpath(os.curdir),
        os.path.realpath(os.path.expanduser("~")),
    }
    artifacts = []
    for i, config in enumerate(data["model_configs"]):
        art = config["filename"]
        if not os.path.lexists(art):
            continue
        real = os.path.realpath(art)
        if os.path.islink(art):
            artifacts.append(art)
            continue
        if real == index_abs:
            raise ModelIndexError(f"{path}: model_configs[{i}] references the index itself")
        if os.path.isdir(art) and (
            real in protected
            or _is_within(index_abs, real)
            or any(_is_within(p, real) for p in protected)
        ):
            raise ModelIndexError(
                f"{path}: model_configs[{i}]: refusing to delete directory {art!r} "
                "(it contains the index, the working directory or a home directory)"
            )
        artifacts.append(art)
    for art in artifacts:
        if os.path.isdir(art) and not os.path.islink(art):
            shutil.rmtree(art)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(art)
    os.remove(path)


def _is_within(path: str, directory: str) -> bool:
    """True when ``path`` is ``directory`` or lies under it (both already real paths)."""
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:
        return False


def generate_name(
    model_name: str = _DEFAULT_MODEL_NAME,
    batch_size: int | None = None,
    pipeline_size: int | None = None,
    performance_level: int | None = None,
    cast_mode: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    ext: str = "",
) -> str:
    """A unique name such as ``resnet50_b1_p1_x7k2`` (plus ``ext``).

    Parts are added for the parameters given (``_b``, ``_p``, ``_l`` performance
    level, cast mode), then a random suffix. With ``directory`` the name is
    also guaranteed not to exist there yet. Unsafe filename characters become ``_``.
    """
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty str, got {model_name!r}")
    if not isinstance(ext, str):
        raise TypeError(f"ext must be a str, got {type(ext).__name__}: {ext!r}")
    if ext and not ext.startswith("."):
        ext = "." + ext
    parts = [_UNSAFE_NAME_CHARS.sub("_", model_name)]
    if batch_size is not None:
        parts.append(f"b{_check_int('batch_size', batch_size, 1)}")
    if pipeline_size is not None:
        parts.append(f"p{_check_int('pipeline_size', pipeline_size, 1)}")
    if performance_level is not None:
        parts.append(f"l{_check_int('performance_level', performance_level, 0, 3)}")
    if cast_mode is not None:
        parts.append(_UNSAFE_NAME_CHARS.sub("_", _check_optional_str("cast_mode", cast_mode)))
    stem = "_".join(parts)
    dir_path = None if directory is None else _check_path("directory", directory)
    for _ in range(1000):
        suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(_SUFFIX_LEN))
        name = f"{stem}_{suffix}{ext}"
        if dir_path is None or not os.path.lexists(os.path.join(dir_path, name)):
            return name
    raise RuntimeError(f"could not find an unused name for {stem!r} in {dir_path!r}")
