"""The frontier on a real Redis Cluster (three masters, a replica each, on loopback),
the broker on the test Redis: jobs whose slots live on different masters crawl at once
and store every page once; one job split into shards on three masters stores every page
once, and keeps its max_pages exactly; a master killed mid-crawl is replaced by its
replica and the crawl still stores every page once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pipeline import keys
from pipeline.frontier import Frontier, JobState
from pipeline.keys import JobKeys
from pipeline.urls import host_key
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


def _seed(workers: Cluster, site: Host, job: str, *flags: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tasks.cli", "seed", site.url("/"), "--job", job, "--allow-private",
         "--delay", "0", "--host-concurrency", "8", *flags],
        env=workers.env, check=True, capture_output=True, timeout=60,
    )


SHARDS = 3
HOST_PAGES = 20


@pytest.fixture
def sharded_site() -> Iterator[list[Host]]:
    """Two hosts per shard of a job of SHARDS shards; page i of each host links to the
    next page of its host and to page i of the next host."""
    kept: dict[int, list[Host]] = {}
    while min((len(kept.get(shard, [])) for shard in range(SHARDS)), default=0) < 2:
        host = Host("127.0.0.1", delay=0.01).start()
        place = kept.setdefault(keys.shard_of(host_key(host.url("/")), SHARDS), [])
        if len(place) < 2:
            place.append(host)
        else:
            host.stop()
    hosts = [host for shard in sorted(kept) for host in kept[shard]]
    for index, host in enumerate(hosts):
        following = hosts[(index + 1) % len(hosts)]
        host.routes["/"] = page("root", ["/p/0"])
        for i in range(HOST_PAGES):
            links = [following.url(f"/p/{i}")] + ([f"/p/{i + 1}"] if i + 1 < HOST_PAGES else [])
            host.routes[f"/p/{i}"] = page(f"p{i}", links)
    yield hosts
    for host in hosts:
        host.stop()


def _spread_job(nodes: RedisClusterNodes, name: str) -> str:
    """A job name whose SHARDS shards are served by SHARDS different masters."""
    for number in range(1000):
        job = f"{name}{number}"
        if len({nodes.master_of(JobKeys(job, shard).prefix) for shard in range(SHARDS)}) == SHARDS:
            return job
    raise AssertionError("no job name found whose shards are on every master")


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
            wait_until(lambda frontier=frontier: frontier.state() == JobState.FINISHED, f"job {frontier.job} to finish",
                       timeout=120, detail=workers.logs)
        stats = {job: Frontier(client, job).stats() for job in jobs}
        stored = {job: _stored_once(workers, job) for job in jobs}
    finally:
        workers.stop()

    for job in jobs:
        assert stored[job] == _expected(tree_site)
        assert (stats[job].stored, stats[job].queued, stats[job].leased) == (PAGES + 1, 0, 0)


def test_one_job_split_into_shards_on_three_masters_stores_every_page_once(tmp_path, redis_client, nodes,
                                                                           sharded_site):
    whole, capped = _spread_job(nodes, "spread"), _spread_job(nodes, "capped")
    workers = _workers(tmp_path, nodes)
    client = nodes.client()
    try:
        _seed(workers, sharded_site[0], whole, "--frontier-shards", str(SHARDS), "--max-depth", "50")
        _seed(workers, sharded_site[0], capped, "--frontier-shards", str(SHARDS), "--max-depth", "50",
              "--max-pages", "50")
        for job in (whole, capped):
            frontier = Frontier(client, job)
            wait_until(lambda frontier=frontier: frontier.state() == JobState.FINISHED, f"job {job} to finish",
                       timeout=120, detail=lambda frontier=frontier: f"{frontier.stats()}\n{workers.logs()}")
        stats = {job: Frontier(client, job).stats() for job in (whole, capped)}
        stored = {job: _stored_once(workers, job) for job in (whole, capped)}
        per_shard = [int(client.hget(JobKeys(whole, shard).key(keys.STATS), "stored") or 0) for shard in range(SHARDS)]
    finally:
        workers.stop()

    expected = sorted([sharded_site[0].url("/")]
                      + [host.url(f"/p/{i}") for host in sharded_site for i in range(HOST_PAGES)])
    assert stored[whole] == expected
    assert (stats[whole].stored, stats[whole].queued, stats[whole].leased) == (len(expected), 0, 0)
    assert all(count > 0 for count in per_shard), f"each master stored part of the job: {per_shard}"
    assert len(stored[capped]) == stats[capped].dispatched == 50, "max_pages kept exactly across the shards"
    assert stats[capped].queued > 0


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
        wait_until(lambda: frontier.state() == JobState.FINISHED, "the crawl to finish", timeout=180,
                   detail=lambda: f"{frontier.stats()}\n{workers.logs()}")
        record_property("seconds_from_kill_to_finish", round(time.monotonic() - killed, 1))
        stored = _stored_once(workers, job)
        stats = frontier.stats()
    finally:
        workers.stop()

    assert stored == _expected(tree_site)
    assert (stats.queued, stats.leased) == (0, 0)
