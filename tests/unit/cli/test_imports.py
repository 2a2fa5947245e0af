"""`import tasks.cli` imports no Celery (the command configures the app only once it
knows its Redis), while `tasks` still offers the app and tasks by name, as
`celery -A tasks` and `from tasks import seed` expect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_the_command_imports_no_celery():
    assert _run("import sys, tasks.cli; print('celery' in sys.modules)") == "False"


def test_the_package_names_the_app_and_the_tasks_whatever_was_imported_first():
    code = (
        "import tasks.app, tasks.dispatch, tasks\n"
        "from celery import Celery\n"
        "from tasks import dispatch, fetch, parse, seed, store\n"
        "print(isinstance(tasks.app, Celery), dispatch.name, fetch.name, parse.name, store.name, seed.__name__)"
    )

    assert _run(code) == "True crawler.dispatch crawler.fetch crawler.parse crawler.store seed"
