"""Flower on the project's settings: it sees every worker host, and it is never open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawler, describe, status_json

USER, PASSWORD = "watcher", "flower-test-password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _flower(tmp_path, port: int, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CRAWLER_FLOWER_"))}
    environ.update(CRAWLER_REDIS_URL=TEST_REDIS_URL, **env)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "flower", f"--port={port}"],
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def test_flower_lists_every_worker_host_and_refuses_requests_without_credentials(tmp_path, cluster):
    cluster.start_worker("host-a")
    cluster.start_worker("host-b")
    port = _free_port()
    flower = _flower(tmp_path, port, CRAWLER_FLOWER_USER=USER, CRAWLER_FLOWER_PASSWORD=PASSWORD)
    api = f"http://127.0.0.1:{port}/api/workers"
    try:
        names: set[str] = set()
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not {"host-a", "host-b"} <= {n.split("@")[0] for n in names}:
            try:
                answer = requests.get(api, auth=(USER, PASSWORD), params={"refresh": "1"}, timeout=10)
                if answer.status_code == 200:
                    names = set(answer.json())
            except requests.RequestException:
                pass
            time.sleep(0.5)
        assert {"host-a", "host-b"} <= {name.split("@")[0] for name in names}, (names, flower.poll())

        assert requests.get(api, timeout=5).status_code == 401
        assert requests.get(api, auth=(USER, "wrong"), timeout=5).status_code == 401
        for path in ("/metrics", "/healthcheck"):
            page = f"http://127.0.0.1:{port}{path}"
            assert requests.get(page, timeout=5).status_code == 401, path
            assert requests.get(page, auth=(USER, PASSWORD), timeout=5).status_code == 200, path
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(15)


def test_flower_will_not_start_without_credentials(tmp_path, redis_client):
    flower = _flower(tmp_path, _free_port())
    _, err = flower.communicate(timeout=60)

    assert flower.returncode == 2
    assert err.strip().startswith("crawler: error: Flower needs CRAWLER_FLOWER_USER")
    assert "Traceback" not in err


def test_flower_help_needs_no_credentials(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CRAWLER_FLOWER_"))}
    result = subprocess.run([sys.executable, "-m", "celery", "-A", "tasks", "flower", "--help"], cwd=tmp_path,
                            env=environ, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "celery flower [OPTIONS]" in result.stdout


def test_a_job_and_a_worker_named_flower_need_no_flower_credentials(tmp_path, cluster, site):
    """Only `celery -A tasks flower` is Flower: the word on a command line is not."""
    env = {k: v for k, v in cli_env(TEST_REDIS_URL).items() if not k.startswith(("FLOWER_", "CRAWLER_FLOWER_"))}
    cluster.env = {k: v for k, v in cluster.env.items() if not k.startswith(("FLOWER_", "CRAWLER_FLOWER_"))}
    worker = cluster.start_worker("flower", pool="solo", concurrency=1)

    seeded = crawler(tmp_path, "seed", site.a.url("/a/16"), "--job", "flower", "--allow-private", env=env)
    assert seeded.returncode == 0, describe(seeded, tmp_path)
    cluster.wait_finished("flower")
    stats = status_json(tmp_path, "flower", env=env)

    assert (stats["job"], stats["state"], stats["stored"]) == ("flower", "finished", 1)
    assert worker.poll() is None, cluster.logs()


def test_flower_lists_the_crawl_tasks_but_not_the_dispatcher_heartbeat(tmp_path, cluster, site):
    cluster.env.update(CRAWLER_TASK_EVENTS="true")
    cluster.start_worker("events", pool="threads", concurrency=4)
    cluster.start_beat()
    port = _free_port()
    flower = _flower(tmp_path, port, CRAWLER_FLOWER_USER=USER, CRAWLER_FLOWER_PASSWORD=PASSWORD,
                     CRAWLER_TASK_EVENTS="true")
    try:
        time.sleep(3)  # Flower subscribes to events before the crawl begins
        seeded = crawler(tmp_path, "seed", site.a.url("/"), "--job", "events", "--allow-private", "--delay", "0",
                         env=cli_env(TEST_REDIS_URL))
        assert seeded.returncode == 0, describe(seeded, tmp_path)
        cluster.wait_finished("events")
        names: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "crawler.fetch" not in names:
            answer = requests.get(f"http://127.0.0.1:{port}/api/tasks", auth=(USER, PASSWORD), timeout=10)
            names = [task.get("name") or "" for task in answer.json().values()] if answer.status_code == 200 else []
            time.sleep(0.5)
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(15)

    assert "crawler.fetch" in names, names
    assert "crawler.dispatch" not in names
