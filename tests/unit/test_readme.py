"""README.md and docs/ are the user's manual: every `crawler` command and flag, every
CRAWLER_* variable and every link they name must exist, so the pages cannot drift away
from the code unnoticed."""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import fields
from pathlib import Path

import pytest

from pipeline.settings import ENV_PREFIX, Policy, Settings

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"`([^`]+)`")
# `crawler SUBCOMMAND ...` (or `.venv/bin/crawler ...`) where a command starts (a line, a
# span, after `&&`, `;` or `(`), up to where it ends: a comment, `)`, `;` or `&&`.
COMMAND = re.compile(r"(?:^|&&|;|\()[ \t]*(?:\S*/)?crawler[ \t]+([^\n#);&]*)")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
VARIABLE = re.compile(r"\bCRAWLER_[A-Z0-9_]*[A-Z0-9]\b")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+ (.+)$", re.M)
# The module, not the function `tasks.cli.main` that the package exports under its name.
cli = importlib.import_module("tasks.cli.main")


def crawler_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = cli.build_parser()
    return parser


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = crawler_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def top_level_flags() -> set[str]:
    return set(crawler_parser()._option_string_actions)


def code_and_prose(text: str) -> tuple[list[str], str]:
    """The lines of the fenced code blocks (an indented line continues the one above, as
    the synopsis of `crawler crawl` does), and the rest of the page."""
    lines: list[str] = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            if lines and line[:1].isspace() and line.strip():
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
    return lines, FENCE.sub("", text)


def spans(prose: str) -> list[str]:
    """Inline code, each on one line."""
    return [" ".join(span.split()) for span in SPAN.findall(prose)]


def commands(text: str) -> list[str]:
    """Every `crawler ...` command the page writes, in code blocks and inline code,
    without the word `crawler`."""
    lines, prose = code_and_prose(text)
    return [match.strip() for part in lines + spans(prose) for match in COMMAND.findall(part)]


def lone_flags(text: str) -> list[str]:
    """Flags written in inline code on their own (`--max-depth`, `--frontier-shards N`)."""
    return [span.split()[0] for span in spans(code_and_prose(text)[1]) if FLAG.fullmatch(span.split()[0])]


def slug(heading: str) -> str:
    """The anchor a Markdown heading gets on GitHub."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(FENCE.sub("", page.read_text()))}


def resolves(file: Path, anchor: str) -> bool:
    """A file of the repository, and a heading of it when the link names one."""
    if not file.is_relative_to(ROOT) or not file.exists():
        return False
    return not anchor or (file.suffix == ".md" and anchor in anchors(file))


def known_variables() -> set[str]:
    """Every setting's variable, and the variables the tests and docker-compose.yml read."""
    settings = {ENV_PREFIX + f.name.upper() for klass in (Settings, Policy) for f in fields(klass)
                if f.name != "policy" and not f.metadata.get("internal")}
    others = [ROOT / "docker-compose.yml", ROOT / ".ci" / "run",
              *(path for path in (ROOT / "tests").rglob("*.py") if path != Path(__file__))]
    return settings | {name for path in others for name in VARIABLE.findall(path.read_text())}


def page_ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(ROOT)) for page in pages]


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_crawler_command_and_flag_exists(page: Path) -> None:
    commands_by_name = subcommands()
    wrong = []
    for command in commands(page.read_text()):
        first, _, rest = command.partition(" ")
        if first.startswith("-"):
            wrong += [f"crawler {flag}" for flag in FLAG.findall(command) if flag not in top_level_flags()]
            continue
        for name in first.split("|"):
            if name not in commands_by_name:
                wrong.append(f"crawler {name}: no such command")
                continue
            known = commands_by_name[name]._option_string_actions
            wrong += [f"crawler {name} {flag}" for flag in FLAG.findall(rest) if flag not in known]
    assert wrong == []


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_flag_in_inline_code_exists(page: Path) -> None:
    known = top_level_flags().union(*(sub._option_string_actions for sub in subcommands().values()))
    assert [flag for flag in lone_flags(page.read_text()) if flag not in known] == []


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_variable_exists(page: Path) -> None:
    known = known_variables()
    assert sorted(set(VARIABLE.findall(page.read_text())) - known) == []


@pytest.mark.parametrize("page", PAGES, ids=page_ids(PAGES))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not resolves(file, anchor):
            broken.append(target)
    assert broken == []



def test_the_checks_see_the_pages() -> None:
    """The patterns above find what the pages write (else every check passes vacuously)."""
    text = README.read_text()
    assert "crawl --demo" in commands(text)
    assert any(command.startswith("export --job") for command in commands(text))
    assert len(PAGES) > 10 and "docs/settings.md" in LINK.findall(text)
    assert "CRAWLER_REDIS_URL" in VARIABLE.findall(text)


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in README.read_text() and "python -m pytest -q" in ci
