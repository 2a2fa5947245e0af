"""pipeline.crawl is the top of pipeline/: it drives the other packages, and only the
Celery wiring (tasks/) and the tests import it. A module below it that did would make
an import cycle of the crawl and the parts it uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pipeline

PIPELINE = Path(pipeline.__file__).resolve().parent
BELOW = sorted(path for path in PIPELINE.rglob("*.py") if path.relative_to(PIPELINE).parts[0] != "crawl")


def imported_modules(tree: ast.AST) -> set[str]:
    """Every module `tree` imports absolutely, `from pipeline import crawl` as pipeline.crawl."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def crawl_imports(tree: ast.AST) -> set[str]:
    return {name for name in imported_modules(tree) if name == "pipeline.crawl" or name.startswith("pipeline.crawl.")}


def test_the_scan_would_catch_an_import_of_the_crawl():
    source = "from pipeline import crawl\nfrom pipeline.crawl.fate import backoff\nimport pipeline.crawl\n"

    assert crawl_imports(ast.parse(source)) == {"pipeline.crawl", "pipeline.crawl.fate", "pipeline.crawl.fate.backoff"}


@pytest.mark.parametrize("path", BELOW, ids=lambda p: p.relative_to(PIPELINE).as_posix())
def test_nothing_below_the_crawl_imports_it(path):
    assert crawl_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))) == set()
