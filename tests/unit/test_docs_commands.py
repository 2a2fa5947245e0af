"""Every command README.md and docs/ tell a user to type works as written on a fresh
machine, beyond the flags test_readme.py checks by name: each `celery -A tasks ...` line
(and those of the Procfile and docker-compose.yml) is checked against the subcommand's
own `--help`, each whole `crawler ...` line of a code block parses as written and the
ones that need no outside service run, and each Python snippet imports and calls what
exists with arguments it takes."""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from pipeline.settings import Policy
from tests.unit.test_readme import PAGES, ROOT, cli, code_and_prose, crawler_parser, page_ids, spans

DEPLOY_FILES = [ROOT / "Procfile", ROOT / "docker-compose.yml"]
# `[VAR=value ...] celery -A tasks [SUBCOMMAND [ARGS]]` where a command starts (a line, a
# span, after `&&`, `;`, `(` or a Procfile's or compose file's `name:`), up to a comment.
CELERY = re.compile(
    r"(?:^|&&|;|\(|:\s)[ \t]*(?P<env>(?:[A-Z][A-Z0-9_]*=\S*[ \t]+)*)celery[ \t]+-A[ \t]+tasks\b(?P<rest>[^\n#);&]*)"
)
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PYTHON_C = re.compile(r"python3? -c '([^']*)'")
# `crawler` commands that need no Redis, store or network: run as written.
OFFLINE = ("--version", "--help", "settings")


def celery_commands(path: Path) -> list[tuple[dict[str, str], str, list[str]]]:
    """(environment assignments, subcommand, options) of every `celery -A tasks` command of
    a page (its code and inline code) or of a deploy file (every line)."""
    text = path.read_text()
    lines, prose = code_and_prose(text)
    found = []
    for part in lines + spans(prose) if path.suffix == ".md" else text.splitlines():
        for match in CELERY.finditer(part):
            env = dict(assignment.split("=", 1) for assignment in match["env"].split())
            words = match["rest"].split()
            subcommand = words[0] if words and not words[0].startswith("-") else ""
            found.append((env, subcommand, [option.split("=")[0] for option in OPTION.findall(match["rest"])]))
    return found


@functools.cache
def celery_options(subcommand: str, env: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """The options `celery -A tasks SUBCOMMAND --help` lists, run as the docs run it (with
    their environment); Flower's own options are tornado's, which its help does not list."""
    argv = [sys.executable, "-m", "celery", "-A", "tasks", *([subcommand] if subcommand else []), "--help"]
    result = subprocess.run(argv, cwd=ROOT, env={**os.environ, **dict(env)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout, f"`{' '.join(argv[2:])}`: {result.stderr}"
    options = set(OPTION.findall(result.stdout))
    if subcommand == "flower":
        import flower.options  # noqa: F401  (defines Flower's options)
        from tornado.options import options as tornado_options

        options |= {f"--{name}" for name in tornado_options} | {f"--{name.replace('_', '-')}" for name in
                                                                  tornado_options}
    return frozenset(options)


def celery_env(commands: list[tuple[dict[str, str], str, list[str]]], subcommand: str) -> tuple[tuple[str, str], ...]:
    """The variables the docs set for a subcommand (Flower's auth): its help runs with them."""
    merged: dict[str, str] = {}
    for env, name, _ in commands:
        if name == subcommand:
            merged.update(env)
    return tuple(sorted(merged.items()))


DOCUMENTED = [*PAGES, *DEPLOY_FILES]


@pytest.mark.parametrize("page", DOCUMENTED, ids=page_ids(DOCUMENTED))
def test_every_celery_command_has_its_subcommand_and_options(page: Path) -> None:
    every = [command for path in DOCUMENTED for command in celery_commands(path)]
    wrong = []
    for _, subcommand, options in celery_commands(page):
        known = celery_options(subcommand, celery_env(every, subcommand))
        wrong += [f"celery -A tasks {subcommand} {option}" for option in options if option not in known]
    assert wrong == []


def test_the_celery_checks_see_the_commands() -> None:
    found = {(subcommand, tuple(options)) for page in DOCUMENTED for _, subcommand, options in
             celery_commands(page)}
    assert ("worker", ("-Q", "-P", "-c", "-n")) in found
    assert ("beat", ("-s",)) in found
    assert any(subcommand == "flower" and "--port" in options for subcommand, options in found)


def code_commands(text: str, inline: bool = False) -> list[str]:
    """Whole `crawler ...` lines of the code blocks (and with `inline`, of inline code),
    without `crawler`, a comment or a redirection; synopses (`[--job NAME]`, `a|b`,
    `SEED...`) are left to test_readme."""
    lines, prose = code_and_prose(text)
    found = []
    for line in lines + (spans(prose) if inline else []):
        match = re.match(r"[ \t]*(?:\S*/)?crawler[ \t]+([^\n#]*)", line)
        if match is None:
            continue
        command = re.split(r"\s[>|]\s|\s2?>", match[1])[0].strip()
        if not re.search(r"\[|\||\.\.\.", command):
            found.append(command)
    return found


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_crawler_command_line_parses_as_written(page: Path) -> None:
    wrong = []
    for command in code_commands(page.read_text()):
        argv = shlex.split(command)
        if argv[0] in OFFLINE or "--help" in argv:
            continue
        with contextlib.redirect_stderr(io.StringIO()) as errors:
            try:
                crawler_parser().parse_args(argv)
            except SystemExit:
                wrong.append(f"crawler {command}: {errors.getvalue().strip().splitlines()[-1]}")
    assert wrong == []


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_crawler_command_that_needs_no_service_runs(page: Path) -> None:
    for command in code_commands(page.read_text(), inline=True):
        argv = shlex.split(command)
        if argv[0] not in OFFLINE and "--help" not in argv:
            continue
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                code = cli.main(argv)
            except SystemExit as exit_:
                code = exit_.code
        assert code in (0, None), f"`crawler {command}` exited {code}: {err.getvalue()}"
        assert out.getvalue(), f"`crawler {command}` printed nothing"


def python_snippets(text: str) -> list[str]:
    return PYTHON_BLOCK.findall(text) + PYTHON_C.findall("\n".join(code_and_prose(text)[0]))


# Keyword arguments a function takes beyond its named ones (its **kwargs).
EXTRA_KEYWORDS = {"seed": {f.name for f in fields(Policy)}}


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_python_snippet_imports_and_calls_what_exists(page: Path) -> None:
    """Its imports run, and each call of what it imported binds to the function's
    signature, without being made (seeding needs a Redis)."""
    for snippet in python_snippets(page.read_text()):
        tree = ast.parse(snippet)
        imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names: dict[str, object] = {}
        exec(compile(ast.Module(body=imports, type_ignores=[]), str(page), "exec"), names)
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            if not isinstance(call.func, ast.Name) or call.func.id not in names:
                continue
            function = names[call.func.id]
            args = [ast.literal_eval(arg) for arg in call.args]
            kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords if keyword.arg}
            bound = inspect.signature(function).bind(*args, **kwargs)  # type: ignore[arg-type]
            named = set(inspect.signature(function).parameters)  # type: ignore[arg-type]
            extra = set(bound.kwargs) - named - EXTRA_KEYWORDS.get(call.func.id, set())
            assert not extra, f"{call.func.id}() of {page.name} takes no {sorted(extra)}"


def test_the_snippet_checks_see_the_snippets() -> None:
    snippets = [snippet for page in PAGES for snippet in python_snippets(page.read_text())]
    assert len(snippets) >= 3 and any("recrawl=True" in snippet for snippet in snippets)
    commands = [command for page in PAGES for command in code_commands(page.read_text(), inline=True)]
    assert {"settings --reference", "--version", "crawl --help"} <= set(commands)
