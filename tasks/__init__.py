"""Celery wiring of the crawler: the app (``celery -A tasks worker|beat|flower``), the
fetch | parse | store tasks, the beat dispatcher and `seed()`.

Each is imported on first use (PEP 562), so that `import tasks.cli` does not import
Celery: the `crawler` command configures the app only once it knows its Redis."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# Where each public name is defined.
_HOMES = {
    "app": "tasks.app",
    "dispatch": "tasks.dispatch",
    "fetch": "tasks.stages",
    "parse": "tasks.stages",
    "store": "tasks.stages",
    "seed": "tasks.seeding",
}

__all__ = ["app", "dispatch", "fetch", "parse", "seed", "store"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


class _Package(types.ModuleType):
    """`tasks.app` is the Celery app, which `celery -A tasks` looks for, even after the
    submodule of that name is imported: the import system binds the submodule to the
    package's attribute of the same name, and this setter leaves it in sys.modules only."""

    @property
    def app(self) -> Any:
        return importlib.import_module("tasks.app").app

    @app.setter
    def app(self, submodule: types.ModuleType) -> None:
        pass


sys.modules[__name__].__class__ = _Package
