"""Messages of a crawl delivered again after their URLs were done (a broker that
redelivers what a lost connection left unacknowledged, as RabbitMQ does, or a copy sent
twice). Such a stale chain must neither fetch again nor overwrite the newer record. The
copies are taken off the fetch queue before any worker starts, pushed back once the
crawl is over, and followed by one new job's URL: a worker of one task at a time has
run them all when that job is finished."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks import seed
from tests.integration.cluster import wait_until
from tests.integration.site import Host, page

PAGES = 80


@pytest.fixture
def slow_site():
    host = Host("127.0.0.1", delay=0.05)
    host.routes["/"] = page("root", ["/p/1"])
    for i in range(1, PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"p{i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= PAGES])
    host.start()
    yield host
    host.stop()


def test_redelivered_messages_neither_fetch_nor_overwrite(cluster, slow_site, redis_client):
    cluster.start_beat()
    seed([slow_site.url("/")], job="redeliver", allow_private=True, delay=0, host_concurrency=4, lease_timeout=10)
    wait_until(lambda: redis_client.llen("fetch") > 0, "the first chain on the fetch queue")
    copies = redis_client.lrange("fetch", 0, -1)
    victim = cluster.start_worker("victim", concurrency=4, pool="threads")
    wait_until(lambda: cluster.frontier("redeliver").stats().stored >= 20, "the crawl to get going")
    cluster.kill(victim)
    assert not redis_client.exists("unacked"), "the broker keeps no delivered message"
    cluster.start_worker("survivor", concurrency=1, pool="solo")
    cluster.wait_finished("redeliver", timeout=120)
    before = {r.url: r.fetched_at for r in cluster.records("redeliver")}
    requests = slow_site.requests()

    redis_client.lpush("fetch", *copies)
    seed([slow_site.url("/p/1")], job="after", allow_private=True, delay=0, max_depth=0)
    cluster.wait_finished("after", timeout=60)

    new_requests = slow_site.requests() - requests - Counter({"/robots.txt": 1})  # the new job's own robots.txt
    assert new_requests == Counter({"/p/1": 1}), "a stale chain sent no request"
    assert {r.url: r.fetched_at for r in cluster.records("redeliver")} == before, "and wrote no record"
    assert len(before) == PAGES + 1
