"""Run unchanged NeuronPerf scripts: ``import neuronperf`` served by ``neuronperf_native``.

``neuronperf-native run SCRIPT [ARGS]`` calls ``run_script``, which installs an
import alias for the duration of the script: ``neuronperf`` and
``neuronperf.<sub>`` resolve to ``neuronperf_native`` and
``neuronperf_native.<sub>`` (the same module objects, so
``neuronperf.model_index is neuronperf_native.model_index``). Afterwards the
alias and the ``neuronperf`` entries it put in ``sys.modules`` are removed, so
a real NeuronPerf installation is only shadowed inside the script.

To opt in from your own code, before the first ``import neuronperf``::

    import neuronperf_native.launcher
    neuronperf_native.launcher.install_alias()
    import neuronperf as npf  # neuronperf_native

``remove_alias()`` undoes it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import runpy
import sys
import traceback
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

__all__ = ["ALIAS", "TARGET", "install_alias", "remove_alias", "run_script"]

log = logging.getLogger("neuronperf_native")

ALIAS = "neuronperf"
TARGET = "neuronperf_native"

# NeuronPerf's documented submodules (SPEC section 4.1).
_NEURONPERF_SUBMODULES = frozenset(
    {"benchmarking", "cpu", "model_index", "mxnet", "reporting", "tensorflow", "timing", "torch"}
)

# Holds a `neuronperf` package that installs the alias in spawned model processes.
_SPAWN_ALIAS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_spawn_alias")

# Exit status of a script stopped by Ctrl-C, as a shell reports it (128 + SIGINT).
_EXIT_INTERRUPTED = 130


def _target_name(fullname: str) -> str | None:
    """``neuronperf.x.y`` -> ``neuronperf_native.x.y``; None for names outside the alias."""
    if fullname == ALIAS:
        return TARGET
    if fullname.startswith(ALIAS + "."):
        return TARGET + fullname[len(ALIAS) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias name by importing the real module and returning that same object."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._real_spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target)
        # The import system sets __spec__ on the returned module; keep the real one.
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        if self._real_spec is not None:
            module.__spec__ = self._real_spec


class _MissingModuleError(ImportError):
    """A NeuronPerf module that neuronperf_native does not provide."""


def _missing(alias_name: str, real: str) -> ImportError:
    return _MissingModuleError(
        f"NeuronPerf module {alias_name!r} is not available: neuronperf-native has no "
        f"module {real!r} (the neuronperf alias serves only what {TARGET} provides)",
        name=alias_name,
    )


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Meta path finder that answers for ``neuronperf`` and its submodules."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        real = _target_name(fullname)
        if real is None:
            self._check_fromlist_target(fullname, path)
            return None
        try:
            real_spec = importlib.util.find_spec(real)
        except _MissingModuleError:
            raise _missing(fullname, real) from None
        except ImportError as e:
            raise ImportError(
                f"NeuronPerf module {fullname!r} is served by {real!r}, "
                f"which failed to import: {e}",
                name=fullname,
            ) from e
        if real_spec is None:
            raise _missing(fullname, real)
        return importlib.util.spec_from_loader(
            fullname,
            _AliasLoader(real),
            is_package=real_spec.submodule_search_locations is not None,
        )

    @staticmethod
    def _check_fromlist_target(fullname: str, path: Sequence[str] | None) -> None:
        """Name a missing NeuronPerf submodule in ``from neuronperf import torch``.

        That statement imports ``neuronperf_native.torch`` (the package's real
        name), and a plain ModuleNotFoundError there would become a vague
        "cannot import name". Only NeuronPerf's documented submodules are checked.
        """
        parent, _, child = fullname.rpartition(".")
        if parent != TARGET or child not in _NEURONPERF_SUBMODULES or path is None:
            return
        if importlib.machinery.PathFinder.find_spec(fullname, path) is None:
            raise _missing(f"{ALIAS}.{child}", fullname)


_finder: _AliasFinder | None = None


def _is_alias_entry(name: str, module: Any) -> bool:
    real = _target_name(name)
    return real is not None and module is not None and sys.modules.get(real) is module


def install_alias() -> None:
    """Make ``import neuronperf`` (and its submodules) import ``neuronperf_native``.

    Idempotent. Raises ImportError when a real ``neuronperf`` is already
    imported, since modules already holding it could not be redirected.
    """
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        return
    loaded = sys.modules.get(ALIAS)
    if loaded is not None and not _is_alias_entry(ALIAS, loaded):
        where = getattr(loaded, "__file__", None) or repr(loaded)
        raise ImportError(
            f"a real neuronperf is already imported ({where}); call install_alias() "
            "before the first import of neuronperf",
            name=ALIAS,
        )
    if _real_neuronperf_installed():
        log.warning(
            "a neuronperf package is installed; 'import neuronperf' now gives %s instead", TARGET
        )
    _finder = _AliasFinder()
    sys.meta_path.insert(0, _finder)


def remove_alias() -> None:
    """Undo ``install_alias``: remove the finder and the ``neuronperf`` entries it created."""
    global _finder
    if _finder is not None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_finder)
        _finder = None
    for name, module in list(sys.modules.items()):
        if _is_alias_entry(name, module):
            del sys.modules[name]
    importlib.invalidate_caches()


def _real_neuronperf_installed() -> bool:
    """True when some other finder on sys.meta_path can import ``neuronperf``."""
    for finder in sys.meta_path:
        if isinstance(finder, _AliasFinder):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        with contextlib.suppress(Exception):
            spec = find_spec(ALIAS, None)
            if spec is not None and not (spec.origin or "").startswith(_SPAWN_ALIAS_DIR):
                return True
    return False


@contextlib.contextmanager
def _aliased() -> Iterator[None]:
    """The alias for the duration of a block; a real ``neuronperf`` already imported is
    set aside and put back afterwards."""
    saved = {
        name: module
        for name, module in sys.modules.items()
        if _target_name(name) is not None and not _is_alias_entry(name, module)
    }
    for name in saved:
        del sys.modules[name]
    install_alias()
    try:
        yield
    finally:
        remove_alias()
        sys.modules.update(saved)


def _exit_code(exc: SystemExit) -> int:
    """The process exit status Python gives for ``SystemExit(code)``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    print(code, file=sys.stderr)
    return 1


def run_script(path: str | os.PathLike[str], argv: Sequence[str] = ()) -> int:
    """Run the NeuronPerf script at ``path`` as ``__main__`` with ``neuronperf`` aliased.

    ``sys.argv`` is ``[path, *argv]`` and the script's directory is first on
    ``sys.path`` while it runs, as with ``python path``. Returns its exit
    status: 0, the ``SystemExit`` code, 1 after an uncaught exception (its
    traceback is printed to stderr), or 130 on KeyboardInterrupt.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}: {path!r}")
    script = os.fspath(path)
    if not isinstance(script, str) or not script:
        raise ValueError(f"path must be a non-empty path, got {path!r}")
    if not os.path.exists(script):
        raise FileNotFoundError(f"script {script!r} does not exist")
    if isinstance(argv, (str, bytes)) or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be a sequence of str, got {argv!r}")

    script_dir = os.path.dirname(os.path.abspath(script)) if os.path.isfile(script) else None
    old_argv = sys.argv
    old_path = list(sys.path)
    sys.argv = [script, *argv]
    if script_dir is not None:
        sys.path.insert(0, script_dir)
    # Model copies in fresh interpreters inherit sys.path; this serves their neuronperf.
    sys.path.append(_SPAWN_ALIAS_DIR)
    try:
        with _aliased():
            runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        return _exit_code(e)
    except KeyboardInterrupt:
        traceback.print_exc()
        return _EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        sys.argv = old_argv
        sys.path[:] = old_path
        sys.stdout.flush()
    return 0
