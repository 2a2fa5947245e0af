"""Celery wiring of the crawler: the app (``celery -A tasks worker|beat|flower``), the
fetch | parse | store tasks, the beat dispatcher and `seed()`.

Each is imported on first use (PEP 562), so that `import tasks.cli` does not import
Celery: the `crawler` command configures the app only once it knows its Redis."""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# Where each public name is defined (app and dispatch: below).
_HOMES = {"fetch": "tasks.stages", "parse": "tasks.stages", "store": "tasks.stages", "seed": "tasks.seeding"}

__all__ = ["app", "dispatch", "fetch", "parse", "seed", "store"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def _defined_in_namesake(name: str) -> property:
    """The object `name` of the submodule tasks.`name`, whether or not that submodule is
    imported yet: importing it binds the module to the package's attribute of that name,
    which this property's setter leaves to sys.modules."""

    def get(package: types.ModuleType) -> Any:
        return getattr(importlib.import_module(f"{package.__name__}.{name}"), name)

    def bind(package: types.ModuleType, submodule: types.ModuleType) -> None:
        pass

    return property(get, bind)


class _Package(types.ModuleType):
    """`tasks.app` is the Celery app, which `celery -A tasks` looks for, and
    `tasks.dispatch` the dispatcher's task, even once their submodules are imported."""

    app = _defined_in_namesake("app")
    dispatch = _defined_in_namesake("dispatch")


sys.modules[__name__].__class__ = _Package
