"""A killed worker's messages come back long after their URLs were done (kombu's Redis
transport redelivers unacknowledged messages after its visibility timeout). Such a
stale chain must neither fetch again nor overwrite the newer record."""

from __future__ import annotations

import pytest

from tasks import seed
from tasks.app import app
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


def _redeliver_unacked() -> int:
    """What kombu does once the visibility timeout has passed, done now."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        qos, client = channel.qos, channel.client
        tags = set(client.hkeys(qos.unacked_key))
        for tag in tags:
            qos.restore_by_tag(tag, client)
    return len(tags)


def _broker_idle(redis_client) -> bool:
    return all(redis_client.llen(queue) == 0 for queue in ("fetch", "parse", "store")) and not redis_client.hlen(
        "unacked"
    )


def test_redelivered_messages_of_a_killed_worker_neither_fetch_nor_overwrite(cluster, slow_site, redis_client):
    victim = cluster.start_worker("victim", concurrency=4, pool="threads")
    cluster.start_beat()
    seed([slow_site.url("/")], job="redeliver", allow_private=True, delay=0, host_concurrency=4, lease_timeout=10)
    wait_until(lambda: cluster.frontier("redeliver").stats().stored >= 20, "the crawl to get going")
    cluster.kill(victim)
    assert redis_client.hlen("unacked") > 0, "the kill left messages unacknowledged"
    cluster.start_worker("survivor", concurrency=4, pool="threads")
    cluster.wait_finished("redeliver", timeout=120)
    before = {r.url: r.fetched_at for r in cluster.records("redeliver")}
    requests = slow_site.requests()

    assert _redeliver_unacked() > 0
    wait_until(lambda: _broker_idle(redis_client), "the redelivered messages to be consumed")

    assert slow_site.requests() == requests, "a stale chain sent no request"
    assert {r.url: r.fetched_at for r in cluster.records("redeliver")} == before, "and wrote no record"
    assert len(before) == PAGES + 1
