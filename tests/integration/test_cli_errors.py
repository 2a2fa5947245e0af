"""The `crawler` command on bad input (one line, no traceback) and on Ctrl-C (a clean
stop, then a rerun that completes the job without losing or repeating anything)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.store import open_store
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import (
    INTERRUPT_EXIT_WITHIN, assert_nothing_left, cli_env, crawl_logs, crawl_ok, crawler, export_jsonl, summary,
)
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration

# --- bad input ---------------------------------------------------------------------------------


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, f"exit 0 for bad input: {result.stderr}"
    assert len(lines) == 1 and lines[0].startswith("crawler: error: "), f"not a one-line error:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize(
    ("args", "variables", "fragment"),
    [
        (["crawl", "notaurl"], {}, "notaurl"),
        (["crawl", "ftp://x/"], {}, "ftp://x/"),
        (["export", "--job", "nope"], {}, "nope"),
        (["status"], {"CRAWLER_REDIS_URL": "redis://127.0.0.1:1/0"}, "127.0.0.1:1"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_STORE_URL": "sqlite:////proc/nope/x.db"}, "/proc/nope"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_STORE_URL": "postgresql://u@127.0.0.1:1/x"}, "PostgreSQL store"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_STORE_TIMEOUT": "0"}, "CRAWLER_STORE_TIMEOUT"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_DELAY": "abc"}, "CRAWLER_DELAY"),
        (["status"], {"CRAWLER_DELAY": "abc"}, "CRAWLER_DELAY"),
        (["crawl", "http://127.0.0.1:9/", "--proxy", "http://u:secret@proxy.example"], {}, "needs a host and a port"),
    ],
    ids=[
        "malformed-seed", "ftp-seed", "unknown-job", "unreachable-redis", "unwritable-store", "unreachable-store",
        "bad-store-timeout",
        "bad-setting-crawl", "bad-setting-status", "bad-proxy",
    ],
)
def test_bad_input_is_one_line_error(workdir: Path, args: list[str], variables: dict[str, str], fragment: str) -> None:
    result = crawler(workdir, *args, env=cli_env(**variables))

    assert_one_line_error(result, fragment)
    assert_nothing_left(workdir)


def test_seed_with_an_invalid_job_name(workdir: Path, redis_client) -> None:
    result = crawler(workdir, "seed", "http://127.0.0.1:9/", "--job", "bad name!", env=cli_env(TEST_REDIS_URL))

    assert_one_line_error(result, "invalid job name")
    assert redis_client.dbsize() == 0, "a rejected seed changed Redis"


def test_bad_flag_is_a_usage_error(workdir: Path) -> None:
    result = crawler(workdir, "crawl", "--max-pages", "lots", "http://127.0.0.1:9/")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: crawler crawl")
    assert result.stderr.strip().splitlines()[-1].startswith("crawler crawl: error: argument --max-pages")
    assert not (workdir / ".crawler").exists() and not (workdir / "crawl.db").exists()


# --- Ctrl-C and resume -------------------------------------------------------------------------


SLOW_PAGES = 30
SLOW_DELAY = 0.1


@pytest.fixture
def slow_host() -> Iterator[Host]:
    """A binary tree of SLOW_PAGES pages, each served SLOW_DELAY late: one request at a
    time (the default host concurrency), so at least ~3 s for the whole site."""
    host = Host("127.0.0.1", delay=SLOW_DELAY)
    host.routes["/robots.txt"] = Response(body="User-agent: *\nAllow: /\n", content_type="text/plain")
    for i in range(1, SLOW_PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"P {i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= SLOW_PAGES])
    host.start()
    yield host
    host.stop()


def _stored(directory: Path, job: str) -> int:
    database = directory / "crawl.db"
    if not database.exists():
        return 0
    store = open_store(f"sqlite:///{database}")
    try:
        return store.count(job)
    finally:
        store.close()


def test_ctrl_c_stops_cleanly_and_the_rerun_completes_the_job(workdir: Path, slow_host: Host) -> None:
    args = ["crawl", slow_host.url("/p/1"), "--job", "slow", "--allow-private", "--delay", "0", "--workers", "2"]
    expected = {slow_host.url(f"/p/{i}") for i in range(1, SLOW_PAGES + 1)}
    command = [sys.executable, "-m", "tasks.cli", *args]
    process = subprocess.Popen(
        command, cwd=workdir, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _stored(workdir, "slow") < 5:
            assert process.poll() is None, f"the crawl ended early: {process.communicate()}"
            assert time.monotonic() < deadline, f"no pages stored within 60 s\n{crawl_logs(workdir)}"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        stdout, stderr = process.communicate(timeout=INTERRUPT_EXIT_WITHIN)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    took = time.monotonic() - started

    assert process.returncode != 0, f"exit 0 after Ctrl-C\n{stderr}"
    assert "Traceback" not in stdout + stderr, stderr
    assert took < INTERRUPT_EXIT_WITHIN
    assert_nothing_left(workdir)
    stored_before = {record.url for record in _records(workdir, "slow")}
    assert 5 <= len(stored_before) < SLOW_PAGES, "the interrupt did not land in the middle of the crawl"
    requests_before = slow_host.requests()

    job, result = crawl_ok(workdir, *args[1:])

    assert job == "slow" and "job slow finished" in summary(result)
    assert_nothing_left(workdir)
    records = export_jsonl(workdir, job)
    urls = Counter(record["url"] for record in records)
    assert set(urls) == expected and max(urls.values()) == 1, f"lost: {expected - set(urls)}, counts: {urls}"
    # It resumed rather than starting over: what was stored before Ctrl-C is not fetched again.
    again = {path for path, n in (slow_host.requests() - requests_before).items() if path != "/robots.txt"}
    assert not {slow_host.url(path) for path in again} & stored_before


def _records(directory: Path, job: str) -> list:
    store = open_store(f"sqlite:///{directory / 'crawl.db'}")
    try:
        return list(store.records(job))
    finally:
        store.close()
