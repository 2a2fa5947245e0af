"""The frontier on a real Redis Cluster (three masters, a replica each, on loopback),
the broker on the test Redis: jobs whose slots live on different masters crawl at once
and store every page once; a master killed mid-crawl is replaced by its replica and the
crawl still stores every page once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pipeline.frontier import FINISHED, Frontier
from pipeline.keys import JobKeys
from tests.conftest import TEST_REDIS_URL
from tests.integration.cluster import Cluster, wait_until
from tests.integration.redis_cluster import RedisClusterNodes
from tests.integration.site import Host, page

pytestmark = pytest.mark.integration

PAGES = 120


@pytest.fixture
def nodes(tmp_path) -> Iterator[RedisClusterNodes]:
    running = RedisClusterNodes(tmp_path / "redis-cluster")
    yield running
    running.stop()


@pytest.fixture
def tree_site() -> Iterator[Host]:
    site = Host("127.0.0.1", delay=0.01)
    site.routes["/"] = page("root", ["/p/1"])
    for i in range(1, PAGES + 1):
        site.routes[f"/p/{i}"] = page(f"p{i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1, i + 1) if c <= PAGES])
    site.start()
    yield site
    site.stop()


def _expected(site: Host) -> list[str]:
    return sorted([site.url("/")] + [site.url(f"/p/{i}") for i in range(1, PAGES + 1)])


def _workers(tmp_path, nodes: RedisClusterNodes) -> Cluster:
    """Two worker processes and beat with the frontier on the cluster and the broker on
    the test Redis (flushed by the redis_client fixture)."""
    workers = Cluster(tmp_path, nodes.url, CRAWLER_REDIS_CLUSTER="true", CRAWLER_BROKER_URL=TEST_REDIS_URL)
    for name in ("w1", "w2"):
        workers.start_worker(name, concurrency=4, pool="threads")
    workers.start_beat()
    return workers


def _seed(workers: Cluster, site: Host, job: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tasks.cli", "seed", site.url("/"), "--job", job, "--allow-private",
         "--delay", "0", "--host-concurrency", "8"],
        env=workers.env, check=True, capture_output=True, timeout=60,
    )


def _jobs_on_different_masters(nodes: RedisClusterNodes, count: int) -> list[str]:
    """Job names whose slots are served by `count` different masters."""
    chosen: dict[int, str] = {}
    for number in range(1000):
        job = f"job{number}"
        chosen.setdefault(nodes.master_of(JobKeys(job).prefix), job)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError("no job names found on enough masters")


def _stored_once(workers: Cluster, job: str) -> list[str]:
    records = workers.records(job)
    assert all(record.error is None for record in records), [r.error for r in records if r.error]
    urls = [record.url for record in records]
    assert len(urls) == len(set(urls))
    return sorted(urls)


def test_jobs_on_three_masters_each_store_every_page_once(tmp_path, redis_client, nodes, tree_site):
    jobs = _jobs_on_different_masters(nodes, 3)
    workers = _workers(tmp_path, nodes)
    client = nodes.client()
    try:
        for job in jobs:
            _seed(workers, tree_site, job)
        for job in jobs:
            frontier = Frontier(client, job)
            wait_until(lambda frontier=frontier: frontier.state() == FINISHED, f"job {frontier.job} to finish",
                       timeout=120, detail=workers.logs)
        stats = {job: Frontier(client, job).stats() for job in jobs}
        stored = {job: _stored_once(workers, job) for job in jobs}
    finally:
        workers.stop()

    for job in jobs:
        assert stored[job] == _expected(tree_site)
        assert (stats[job].stored, stats[job].queued, stats[job].leased) == (PAGES + 1, 0, 0)


def test_a_master_killed_mid_crawl_is_replaced_and_nothing_is_lost(tmp_path, redis_client, nodes, tree_site,
                                                                   record_property):
    tree_site.delay = 0.05
    job = "failover"
    workers = _workers(tmp_path, nodes)
    client = nodes.client()
    frontier = Frontier(client, job)
    try:
        _seed(workers, tree_site, job)
        wait_until(lambda: frontier.stats().stored >= 20, "the crawl to get going", timeout=60, detail=workers.logs)
        master = nodes.master_of(frontier.keys.prefix)
        nodes.kill(master)
        killed = time.monotonic()
        wait_until(lambda: nodes.master_of(frontier.keys.prefix) != master, "a replica to take over", timeout=30)
        record_property("seconds_to_failover", round(time.monotonic() - killed, 1))
        wait_until(lambda: frontier.state() == FINISHED, "the crawl to finish", timeout=180,
                   detail=lambda: f"{frontier.stats()}\n{workers.logs()}")
        record_property("seconds_from_kill_to_finish", round(time.monotonic() - killed, 1))
        stored = _stored_once(workers, job)
        stats = frontier.stats()
    finally:
        workers.stop()

    assert stored == _expected(tree_site)
    assert (stats.queued, stats.leased) == (0, 0)
