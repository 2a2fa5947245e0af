"""`crawler status --watch` as a user runs it off a terminal: its lines show a bar only
toward a max_pages the user set, and Ctrl-C, the way a user ends a watch, ends it
quietly with exit status 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis

from pipeline.frontier import Found
from tasks.cli.progress import DEFAULT_MAX_PAGES
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import QUICK_TIMEOUT, cli_env
from tests.integration.frontiers import new_frontier, pages

pytestmark = pytest.mark.integration


def _start_watch(job: str) -> subprocess.Popen[str]:
    """`crawler status --watch --job JOB` in its own session, as from a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "status", "--watch", "--job", job], env=cli_env(TEST_REDIS_URL),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _first_line_then_ctrl_c(job: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    watch = _start_watch(job)
    try:
        assert watch.stdout is not None
        first = watch.stdout.readline()
        # Ctrl-C in a terminal: SIGINT to the foreground process group.
        os.killpg(watch.pid, signal.SIGINT)
        out, err = watch.communicate(timeout=QUICK_TIMEOUT)
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGKILL)
            watch.wait()
    return first, subprocess.CompletedProcess(watch.args, watch.returncode, first + out, err)


def test_ctrl_c_ends_a_watch_with_status_0_and_no_error(redis_client: redis.Redis) -> None:
    frontier = new_frontier(redis_client, "watched", max_pages=DEFAULT_MAX_PAGES)
    frontier.add(Found.seeds(pages("a.example", 3)))

    first, result = _first_line_then_ctrl_c("watched")

    assert first.startswith("job watched running: stored 0 "), (first, result.stderr)
    assert result.returncode == 0, result
    assert "error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert " pages (" not in first, "a bar toward the built-in max_pages, which nobody asked for"


def test_a_watch_shows_progress_toward_a_max_pages_the_job_was_given(redis_client: redis.Redis) -> None:
    frontier = new_frontier(redis_client, "bounded", max_pages=50)
    frontier.add(Found.seeds(pages("a.example", 3)))

    first, result = _first_line_then_ctrl_c("bounded")

    assert first.rstrip().endswith("; 0 of 50 pages (0%)"), first
    assert result.returncode == 0, result
