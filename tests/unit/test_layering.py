"""pipeline/ is the crawl in plain Python: it must never import Celery or the tasks/
wiring, so it can be read, tested and reused alone (DESIGN.md, "The data flow")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pipeline

PIPELINE = Path(pipeline.__file__).resolve().parent
FORBIDDEN = {"celery", "kombu", "tasks"}
SOURCES = sorted(PIPELINE.rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    """Top-level package of every absolute import in `tree`, wherever it appears."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_the_scan_sees_the_whole_package():
    names = {path.relative_to(PIPELINE).as_posix() for path in SOURCES}

    assert {"fetch/fetcher.py", "parse/page.py", "urls.py", "settings.py", "store/sqlite.py"} <= names


def test_the_scan_would_catch_a_forbidden_import():
    source = (
        "import os\nfrom celery import shared_task\n"
        "def f():\n    import tasks.app\n    importlib.import_module('kombu')\n"
    )

    assert {"celery", "tasks", "kombu"} <= imported_roots(ast.parse(source))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PIPELINE).as_posix())
def test_no_pipeline_module_imports_celery_or_tasks(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    assert imported_roots(tree) & FORBIDDEN == set()
