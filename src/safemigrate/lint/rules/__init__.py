"""The rule modules, one per family. Every module in this package is imported by :func:`load_all`."""

from __future__ import annotations

import importlib
import os

__all__ = ["load_all"]


def load_all() -> None:
    # A directory listing rather than pkgutil, which costs more to import than the rules do.
    for folder in __path__:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py") and not name.startswith("_"):
                importlib.import_module(f"{__name__}.{name[:-3]}")
