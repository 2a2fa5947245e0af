"""Every setting's meaning is written once, in pipeline/settings/: docs/settings.md and
the flags' help are made from it, and the committed reference must be what the code
generates today (`crawler settings --reference > docs/settings.md` brings it up to date)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.fetch.fetcher import TRANSIENT_STATUSES
from pipeline.settings import doc, documented
from tasks.cli.main import build_parser
from tasks.cli.reference import COMMAND, hidden, reference_text

DOCS = Path(__file__).parents[2] / "docs" / "settings.md"


def test_the_committed_reference_is_what_the_code_generates():
    assert DOCS.read_text(encoding="utf-8") == reference_text(), f"docs/settings.md is out of date: run `{COMMAND}`"


def test_the_reference_names_every_setting_and_the_flags_that_set_it():
    text = reference_text()

    assert [variable for variable, _, _ in documented() if f"| `{variable}` |" not in text] == []
    assert "| `--max-depth` (crawl, seed) |" in text and "| `--workers` (crawl) |" in text
    assert "| `--port` (metrics) |" in text


def test_a_flag_that_sets_a_setting_says_what_the_setting_says():
    subparsers = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    checked = 0
    for command in subparsers[0].choices.values():
        for action in command._actions:
            try:
                meaning = doc(action.dest)
            except KeyError:
                continue
            assert action.help is not None and action.help.replace("%%", "%").startswith(meaning), action.dest
            checked += 1

    assert checked > 20


def test_max_retries_names_every_status_that_is_retried():
    meaning = doc("max_retries")

    assert all(str(status) in meaning for status in TRANSIENT_STATUSES if status < 500) and "5xx" in meaning


def test_shown_settings_hide_passwords():
    assert hidden("CRAWLER_FLOWER_PASSWORD", "hunter2") == "***"
    assert hidden("CRAWLER_REDIS_URL", "rediss://:s3cret@redis:6380/0") == "rediss://:***@redis:6380/0"
    assert hidden("CRAWLER_PROXIES", "http://u:p@a:1,http://b:2") == "http://u:***@a:1,http://b:2"
    assert hidden("CRAWLER_STORE_URL", "sqlite:///crawl.db") == "sqlite:///crawl.db"
