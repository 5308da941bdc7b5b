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
data only.

A relative artifact path in an index file is relative to the file's folder (for an
index in the working directory, the usual case, that is the working directory, as
in NeuronPerf). In memory, paths are usable from the working directory: ``load``
resolves them (``resolve_artifact``) and ``save`` stores them relative to the
folder of the file it writes. ``delete`` and ``move`` remove only artifacts inside
the index's folder tree unless told otherwise; ``copy`` and ``move`` write only
inside the new folder and never through a symbolic link found there.
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
import warnings
from typing import Any, NamedTuple

from neuronperf_native._files import atomic_write_text
from neuronperf_native._version import __version__

__all__ = [
    "MAX_BATCH_SIZE",
    "ArtifactRemoval",
    "ModelIndexError",
    "OutsideArtifactWarning",
    "append",
    "copy",
    "create",
    "delete",
    "filter",
    "generate_name",
    "load",
    "move",
    "plan_delete",
    "resolve_artifact",
    "save",
]

_STATUSES = ("finished", "error")
_DEFAULT_MODEL_NAME = "model"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_SUFFIX_LEN = 4
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
#: The largest batch size an index may hold (the engine counts samples in int64, and
#: no accelerator batch comes near it): larger values are typos or overflows.
MAX_BATCH_SIZE = 2**31

IndexLike = dict[str, Any] | str | os.PathLike[str]


class ModelIndexError(ValueError):
    """A model index file or dict is missing or malformed."""


class OutsideArtifactWarning(UserWarning):
    """An artifact outside the index's folder tree was left in place (delete, move)."""


class ArtifactRemoval(NamedTuple):
    """What ``delete`` removed (or ``plan_delete`` would remove) and what it skipped
    because it lies outside the index's folder tree."""

    removed: list[str]
    skipped: list[str]


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
        ("batch_size", lambda n, v: _check_int(n, v, 1, MAX_BATCH_SIZE)),
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
        "batch_size": _check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE),
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
    ``root_dir`` when given; ``root_dir`` is created if missing. Relative artifact
    paths (relative to the working directory) are stored relative to the written
    file's folder, so that ``load`` finds the same files.
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
    for config in data["model_configs"]:
        config["filename"] = _stored_artifact(path, config["filename"])
    try:
        text = json.dumps(data, indent=4, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise ModelIndexError(f"index is not JSON-serializable data: {e}") from e
    return atomic_write_text(path, text)


def load(filename: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the index at ``filename``; ``ModelIndexError`` if missing or malformed.

    Relative artifact paths come back resolved against the index file's folder
    (``resolve_artifact``), so they can be opened from the working directory.
    """
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
        index = _normalize_index(data, path)
    except RecursionError:
        raise ModelIndexError(f"{path}: JSON nested too deeply to be a model index") from None
    except ModelIndexError:
        raise
    except ValueError as e:
        raise ModelIndexError(f"{path}: not valid JSON: {e}") from None
    for config in index["model_configs"]:
        config["filename"] = resolve_artifact(path, config["filename"])
    return index


def resolve_artifact(index_path: str | os.PathLike[str] | None, filename: str) -> str:
    """The path, usable from the working directory, of artifact ``filename`` as the
    index file ``index_path`` stores it.

    A relative ``filename`` is relative to the index file's folder. Absolute paths,
    and every path of an index in the working directory, come back unchanged;
    ``index_path=None`` (an index that only exists in memory) means the working
    directory. ``load`` already applies this: do not apply it to what load returns.
    """
    artifact = _check_filename("filename", filename)
    folder = "" if index_path is None else os.path.dirname(_check_path("index_path", index_path))
    if os.path.isabs(artifact) or _is_cwd(folder):
        return artifact
    joined = os.path.join(folder, artifact)
    tidy = os.path.normpath(joined)
    # "link/../x" is where open() goes only if link is no symbolic link to elsewhere.
    return tidy if os.path.realpath(tidy) == os.path.realpath(joined) else joined


def _stored_artifact(index_path: str, filename: str) -> str:
    """The inverse of resolve_artifact: ``filename`` (relative to the working
    directory) as the index file at ``index_path`` stores it."""
    folder = os.path.dirname(index_path)
    if os.path.isabs(filename) or _is_cwd(folder):
        return filename
    return os.path.relpath(filename, folder)


def _is_cwd(folder: str) -> bool:
    return not folder or os.path.realpath(folder) == os.path.realpath(os.curdir)


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
    Nothing is written outside ``new_dir`` (besides ``new_index``), nor through a
    symbolic link already in it. Returns the new index filename.
    """
    return _relocate(index, new_index, new_dir, move_files=False, allow_outside=False)


def move(
    old_index: str | os.PathLike[str],
    new_index: str | os.PathLike[str],
    new_dir: str | os.PathLike[str],
    allow_outside: bool = False,
) -> str:
    """Move every artifact of ``old_index`` into ``new_dir`` and rename the index to ``new_index``.

    Only artifacts inside the old index's folder tree (symbolic links resolved) are
    moved, unless ``allow_outside``; the others stay where they are, the new index
    still points at them, and an ``OutsideArtifactWarning`` names each. Nothing is
    written outside ``new_dir`` (besides ``new_index``), nor through a symbolic link
    already in it. The old index file is removed once the new one is written.
    Returns the new index filename.
    """
    old_path = _check_path("old_index", old_index)
    new_path = _relocate(old_path, new_index, new_dir, True, _check_bool(allow_outside))
    if os.path.realpath(old_path) != os.path.realpath(new_path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(old_path)
    return new_path


def _check_bool(value: Any, name: str = "allow_outside") -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}: {value!r}")
    return value


def _relocate(
    index: IndexLike, new_index: Any, new_dir: Any, move_files: bool, allow_outside: bool
) -> str:
    new_index_path = _check_path("new_index", new_index)
    dest_dir = _check_path("new_dir", new_dir)
    data = _resolve(index, "old_index" if move_files else "index")
    home = _index_home(index) if move_files and isinstance(index, str) else None
    # Plan first so that clashes and unsafe targets are found before anything is touched.
    plan: dict[str, str] = {}
    targets: dict[str, str] = {}
    for i, config in enumerate(data["model_configs"]):
        src = config["filename"]
        if not os.path.lexists(src):
            if config["status"] == "finished":
                raise ModelIndexError(
                    f"model_configs[{i}]: artifact {src!r} does not exist (status 'finished')"
                )
            continue
        if home is not None:
            _check_removable(str(index), src, i, home)
            if not allow_outside and not _is_within(_location(src), home[1]):
                _warn_outside(src, "moved", stacklevel=3)
                continue
        dst = os.path.join(dest_dir, _placed_name(src, i))
        src_key = os.path.realpath(src)
        clash = targets.get(os.path.abspath(dst))
        if clash is not None and clash != src_key:
            raise ValueError(
                f"model_configs[{i}]: artifacts {clash!r} and {src!r} would both be "
                f"placed at {dst!r} in new_dir"
            )
        if os.path.abspath(src) != os.path.abspath(dst):
            _check_target(src, dst, i, move_files and os.path.abspath(dst) not in targets)
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


def _placed_name(src: str, i: int) -> str:
    """The name an artifact gets in new_dir: its own, which must be a real name."""
    name = os.path.basename(os.path.normpath(src))
    if name in ("", os.curdir, os.pardir):
        raise ModelIndexError(
            f"model_configs[{i}]: artifact {src!r} has no file name to place in new_dir"
        )
    return name


def _check_target(src: str, dst: str, i: int, must_not_exist: bool) -> None:
    """Refuses a destination that exists (when moving) or that is, or holds where src's
    files would go, a symbolic link: writing there would follow it out of new_dir."""
    if must_not_exist and os.path.lexists(dst):
        raise FileExistsError(
            f"model_configs[{i}]: cannot move {src!r}: {dst!r} already exists in new_dir"
        )
    walk = [(src, dst)]
    while walk:
        source, target = walk.pop()
        if os.path.islink(target):
            raise FileExistsError(
                f"model_configs[{i}]: {target!r} in new_dir is a symbolic link; refusing "
                f"to write {src!r} through it"
            )
        if os.path.isdir(target) and os.path.isdir(source) and not os.path.islink(source):
            walk.extend(
                (entry.path, os.path.join(target, entry.name)) for entry in os.scandir(source)
            )


def plan_delete(filename: str | os.PathLike[str], allow_outside: bool = False) -> ArtifactRemoval:
    """What ``delete(filename, allow_outside)`` would remove, touching nothing.

    ``removed``: the existing artifacts it would remove (then the index itself);
    ``skipped``: those outside the index's folder tree that it would leave.
    Raises ``ModelIndexError`` for an artifact whose removal would take the index
    itself, the working directory, a home directory or a filesystem root.
    """
    path = _check_path("filename", filename)
    allow = _check_bool(allow_outside)
    data = load(path)
    home = _index_home(path)
    removed: list[str] = []
    skipped: list[str] = []
    for i, config in enumerate(data["model_configs"]):
        art = config["filename"]
        if not os.path.lexists(art) or art in removed or art in skipped:
            continue
        _check_removable(path, art, i, home)
        inside = _is_within(_location(art), home[1])
        (removed if inside or allow else skipped).append(art)
    return ArtifactRemoval(removed, skipped)


def delete(filename: str | os.PathLike[str], allow_outside: bool = False) -> ArtifactRemoval:
    """Delete the index at ``filename`` and the artifacts (files or directories) it lists.

    Only artifacts inside the index's folder tree (parent folders' symbolic links
    resolved) are removed, unless ``allow_outside``; each one outside is left in
    place with an ``OutsideArtifactWarning`` naming it. Artifacts that are already
    gone are skipped. A symbolic link is removed, never what it points to. Refuses
    (``ModelIndexError``, before removing anything) paths whose removal would take
    the index itself, the working directory, a home directory or a filesystem root.
    Returns what was removed and what was skipped.
    """
    path = _check_path("filename", filename)
    plan = plan_delete(path, allow_outside)
    removed = []
    for art in plan.removed:
        if os.path.isdir(art) and not os.path.islink(art):
            shutil.rmtree(art)
        else:
            try:
                os.remove(art)
            except FileNotFoundError:
                continue
        removed.append(art)
    for art in plan.skipped:
        _warn_outside(art, "deleted", stacklevel=2)
    os.remove(path)
    return ArtifactRemoval(removed, plan.skipped)


def _index_home(path: str) -> tuple[str, str]:
    """(the index file's real path, the real path of the folder it is listed in)."""
    return os.path.realpath(path), os.path.realpath(os.path.dirname(os.path.abspath(path)))


def _location(path: str) -> str:
    """Where the directory entry ``path`` lies: its parent folders' symbolic links
    resolved, the entry itself not followed (removing a link removes the link)."""
    parent, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(parent), name)


def _check_removable(index: str, art: str, i: int, home: tuple[str, str]) -> None:
    """Refuses to remove the index itself, or a directory holding the index, the
    working directory, a home directory or a filesystem root."""
    index_real = home[0]
    if os.path.islink(art):
        return
    real = os.path.realpath(art)
    if real == index_real:
        raise ModelIndexError(f"{index}: model_configs[{i}] references the index itself")
    protected = {
        os.path.realpath(os.sep),
        os.path.realpath(os.curdir),
        os.path.realpath(os.path.expanduser("~")),
    }
    if os.path.isdir(art) and (
        real in protected
        or _is_within(index_real, real)
        or any(_is_within(p, real) for p in protected)
    ):
        raise ModelIndexError(
            f"{index}: model_configs[{i}]: refusing to remove directory {art!r} "
            "(it contains the index, the working directory or a home directory)"
        )


def _warn_outside(art: str, what: str, stacklevel: int) -> None:
    warnings.warn(
        f"artifact {art!r} lies outside the index's folder: not {what} "
        "(allow_outside=True / --allow-outside includes it)",
        OutsideArtifactWarning,
        stacklevel=stacklevel + 1,
    )


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
