"""Lazy framework imports with a clear error when the framework is not installed."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FrameworkNotInstalledError", "import_framework"]


class FrameworkNotInstalledError(ImportError):
    """A framework submodule was used but its framework package is not installed."""


def import_framework(module: str, framework: str, install_hint: str) -> ModuleType:
    """Import ``module`` or raise FrameworkNotInstalledError naming ``framework``.

    Only a missing ``module`` (or its parent package) is translated; an ImportError
    raised from inside an installed framework is re-raised unchanged, so a broken
    installation is not reported as a missing one.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".", 1)[0]
        if e.name not in (module, top):
            raise
        raise FrameworkNotInstalledError(
            f"{framework} is not installed (no module named {e.name!r}); "
            f"install it with: {install_hint}"
        ) from e
