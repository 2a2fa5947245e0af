"""A Redis restart mid-crawl, on one machine: workers ride it out. Their frontier calls
and the chain's next stage are sent again until Redis is back, and the tasks a worker
held unstarted (countdowns for the host's turn) are handed back to the frontier at once
instead of waiting out their leases."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from pipeline.frontier import Frontier, JobState
from tests.integration.cluster import Cluster, wait_until
from tests.integration.hosts import REDIS_SERVER
from tests.integration.proxy import free_port
from tests.integration.site import Host, page

PAGES = 150
LEASE_TIMEOUT = 20


class PrivateRedis:
    """A Redis of this test's own, with its AOF in `directory`, that it can restart."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url)
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(self.port), "--appendonly", "yes",
             "--save", "", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, "the private Redis", timeout=15)
        return process

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def restart(self, down_for: float) -> None:
        """A clean stop (the AOF is flushed), `down_for` seconds away, then back."""
        self.process.terminate()
        self.process.wait(30)
        time.sleep(down_for)
        self.process = self._start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def test_a_redis_restart_mid_crawl_loses_no_chain(tmp_path, private_redis, record_property):
    site = Host("127.0.0.1", delay=0.02)
    site.routes["/"] = page("root", ["/p/1"])
    for i in range(1, PAGES + 1):
        site.routes[f"/p/{i}"] = page(f"p{i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= PAGES])
    site.start()
    cluster = Cluster(tmp_path, private_redis.url, CRAWLER_LEASE_TIMEOUT=str(LEASE_TIMEOUT))
    workers = [cluster.start_worker(name, concurrency=4, pool="threads") for name in ("w1", "w2")]
    try:
        cluster.start_beat()
        subprocess.run(
            [sys.executable, "-m", "tasks.cli", "seed", site.url("/"), "--job", "restart", "--allow-private",
             "--delay", "0.05", "--host-concurrency", "8"],
            env=cluster.env, check=True, capture_output=True, timeout=60,
        )
        frontier = Frontier(private_redis.client, "restart")
        wait_until(lambda: frontier.stats().stored >= 30, "the crawl to get going")
        private_redis.restart(down_for=3)
        restarted = time.monotonic()
        wait_until(lambda: frontier.stats().state == JobState.FINISHED, "the crawl to finish", timeout=120,
                   detail=lambda: f"{frontier.stats()}\n{cluster.logs()}")
        survived = [worker.poll() is None for worker in workers]
        record_property("seconds_from_restart_to_finish", round(time.monotonic() - restarted, 1))
        stats = frontier.stats()
        handed_back = int(private_redis.client.hget(frontier.keys.key("stats"), "handed_back") or 0)
        records = cluster.records("restart")
        logs = "\n".join(path.read_text(errors="replace") for path in tmp_path.glob("*.log"))
    finally:
        cluster.stop()
        site.stop()

    expected = [site.url("/")] + [site.url(f"/p/{i}") for i in range(1, PAGES + 1)]
    assert sorted(r.url for r in records) == sorted(expected)
    assert all(r.error is None for r in records)
    assert stats.stored == len(records), "each URL stored once"
    record_property("handed_back", handed_back)
    record_property("requeued", stats.requeued)
    assert survived == [True, True], "both workers rode out the restart"
    assert "connection loss cancels all currently executed tasks" not in logs, "no deprecation noise per loss"
    # What the broker itself lost (kombu's Redis transport pops a message before it
    # records it as unacknowledged) comes back when its lease ends: few, if any.
    assert stats.requeued < PAGES // 10
