"""The `crawler` command on bad input: one line, no traceback, nothing left running.
Stopping a crawl and running it again is in test_cli_resume.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import assert_nothing_left, cli_env, crawler

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
        (["crawl", "http://127.0.0.1:9/", "--proxy", "ftp://x:1"], {}, "--proxy: ftp://x"),
        (["status"], {"CRAWLER_PROXIES": "gopher://proxy.example:70"}, "CRAWLER_PROXIES"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_DEDUP": "bloom", "CRAWLER_BLOOM_CAPACITY": "200000000"},
         "CRAWLER_BLOOM_CAPACITY"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_WARC_UPLOAD_URL": "http://bucket/p"}, "CRAWLER_WARC_UPLOAD_URL"),
        (["settings"], {"CRAWLER_DELAY": "abc"}, "CRAWLER_DELAY"),
    ],
    ids=[
        "malformed-seed", "ftp-seed", "unknown-job", "unreachable-redis", "unwritable-store", "unreachable-store",
        "bad-store-timeout",
        "bad-setting-crawl", "bad-setting-status", "bad-proxy", "bad-proxy-flag", "bad-proxy-status", "bloom-too-large",
        "bad-upload-url", "bad-setting-shown",
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


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--max-pages", "lots"), ("--max-depth", "-1"), ("--host-concurrency", "0"), ("--delay", "-2"),
     ("--timeout", "0"), ("--workers", "0")],
)
def test_bad_flag_is_a_usage_error_naming_the_flag(workdir: Path, flag: str, value: str) -> None:
    result = crawler(workdir, "crawl", flag, value, "http://127.0.0.1:9/")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: crawler crawl")
    assert result.stderr.strip().splitlines()[-1].startswith(f"crawler crawl: error: argument {flag}: ")
    assert value in result.stderr and "CRAWLER_" not in result.stderr
    assert not (workdir / ".crawler").exists() and not (workdir / "crawl.db").exists()


def test_the_help_of_a_policy_flag_names_its_variable_and_default(workdir: Path) -> None:
    result = crawler(workdir, "crawl", "--help")

    assert result.returncode == 0
    assert "CRAWLER_MAX_DEPTH, else 10)" in " ".join(result.stdout.split())


def test_a_crawl_whose_only_seed_is_refused_says_why_and_exits_non_zero(workdir: Path, redis_client) -> None:
    """The address guard on, as by default: a loopback seed is refused before any request."""
    result = crawler(workdir, "crawl", "http://127.0.0.1:9/", "--workers", "1", env=cli_env(TEST_REDIS_URL))

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert "seed http://127.0.0.1:9/ failed: address not allowed: 127.0.0.1 (use --allow-private)" in result.stderr
    assert lines[-1] == "crawler: error: no seed could be fetched (the reasons are above)"
    assert "1 stored (0 fetched OK, 1 failed)" in result.stdout
    assert_nothing_left(workdir)


def test_a_seed_that_failed_is_named_on_the_console_and_the_crawl_of_the_others_succeeds(
    workdir: Path, site, redis_client
) -> None:
    gone, fine = site.a.url("/gone"), site.a.url("/a/16")
    result = crawler(workdir, "crawl", gone, fine, "--allow-private", "--delay", "0", "--workers", "1",
                     env=cli_env(TEST_REDIS_URL))

    assert result.returncode == 0, result.stderr
    assert f"seed {gone} failed: HTTP 404" in result.stderr and f"seed {fine}" not in result.stderr
    assert "2 stored (1 fetched OK, 1 failed)" in result.stdout
