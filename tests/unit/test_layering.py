"""The layers, as a table: which package of `pipeline/` and `tasks/` may import which.

`pipeline/` is the crawl in plain Python and never imports Celery or `tasks/`; within
it, the foundations (settings, errors, urls, keys) import no feature, the features
import the foundations and the few features below them, and only `pipeline.crawl`
puts them together. `tasks` is the Celery wiring over `pipeline`; `tasks.cli`, the
`crawler` command, sits on top. An import that is not in the table fails here, so a
new arrow is a decision made in review, not an accident."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOUNDATIONS = {"pipeline", "pipeline.settings", "pipeline.errors", "pipeline.urls", "pipeline.keys"}

# unit -> the units it may import (besides itself and third-party packages).
ALLOWED: dict[str, set[str]] = {
    "pipeline": set(),
    "pipeline.errors": {"pipeline"},
    "pipeline.settings": {"pipeline", "pipeline.errors"},
    "pipeline.urls": {"pipeline", "pipeline.errors"},
    "pipeline.keys": {"pipeline", "pipeline.errors"},
    "pipeline.fetch": FOUNDATIONS,
    "pipeline.store": FOUNDATIONS | {"pipeline.fetch"},
    "pipeline.archive": FOUNDATIONS | {"pipeline.fetch"},
    "pipeline.parse": FOUNDATIONS | {"pipeline.fetch", "pipeline.store"},
    "pipeline.report": FOUNDATIONS | {"pipeline.store"},
    # The browser's subrequests go through the fetcher's rules (guard, proxies, WARC).
    "pipeline.render": FOUNDATIONS | {"pipeline.fetch"},
    "pipeline.frontier": FOUNDATIONS | {"pipeline.fetch", "pipeline.store"},
    "pipeline.crawl": FOUNDATIONS | {
        "pipeline.fetch", "pipeline.store", "pipeline.archive", "pipeline.parse", "pipeline.frontier",
        "pipeline.render",
    },
    "tasks": FOUNDATIONS | {"pipeline.crawl", "pipeline.frontier", "pipeline.store"},
    "tasks.cli": FOUNDATIONS | {
        "pipeline.crawl", "pipeline.frontier", "pipeline.store", "pipeline.report", "pipeline.parse", "tasks",
    },
}
FORBIDDEN_IN_PIPELINE = {"celery", "kombu", "amqp"}


def unit_of(module: str) -> str | None:
    """The table's unit a dotted module belongs to, or None for a third-party module."""
    parts = module.split(".")
    if parts[0] == "tasks":
        return "tasks.cli" if parts[1:2] == ["cli"] else "tasks"
    if parts[0] != "pipeline":
        return None
    return "pipeline" if len(parts) == 1 or parts[1] == "__version__" else f"pipeline.{parts[1]}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree: ast.AST) -> set[str]:
    """Every absolute import in `tree`, wherever it appears (`from a import b` gives a.b
    too, since b may be a module), and import_module("x") calls."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module in {"pipeline", "tasks"})
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


SOURCES = sorted([*ROOT.joinpath("pipeline").rglob("*.py"), *ROOT.joinpath("tasks").rglob("*.py")])


def test_the_table_names_every_package_there_is():
    units = {unit_of(module_name(path)) for path in SOURCES}

    assert units == set(ALLOWED)


def test_the_scan_would_catch_a_forbidden_import():
    source = "from celery import shared_task\ndef f():\n    import tasks.app\n    importlib.import_module('kombu')\n"

    assert {"celery", "tasks.app", "kombu"} <= imported_modules(ast.parse(source))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_module_imports_only_what_its_layer_allows(path):
    here = unit_of(module_name(path))
    imported = imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    units = {unit_of(name) for name in imported} - {None, here}

    assert units <= ALLOWED[here]
    if here.startswith("pipeline"):
        assert {name.split(".")[0] for name in imported} & FORBIDDEN_IN_PIPELINE == set()


PACKAGES = sorted(
    module_name(init) for init in ROOT.joinpath("pipeline").glob("*/__init__.py")
)


def inner_imports(tree: ast.AST) -> set[str]:
    """The modules named by `from X import …` and `import X` statements in `tree`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_package_is_entered_through_its_face(path):
    here = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    behind_a_face = {
        name for name in inner_imports(tree)
        for package in PACKAGES
        if name.startswith(f"{package}.") and not here.startswith(f"{package}.") and here != package
    }

    assert behind_a_face == set()
