"""A crawl survives its store going away: real Celery workers write to PostgreSQL through
a TCP forwarder that is cut for a few seconds mid-crawl. The store task waits and writes
again; nothing is lost, nothing is stored twice, and no URL is fetched again."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

from pipeline.frontier import JobState
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cluster import Cluster, wait_until
from tests.integration.stores import POSTGRES_URL
from tests.integration.tcp_proxy import TcpProxy

OUTAGE_SECONDS = 3.0


def test_a_crawl_through_a_postgres_outage_stores_every_page_once_and_fetches_each_once(tmp_path, redis_client, site):
    parts = urlsplit(POSTGRES_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    job = f"outage-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(tmp_path, TEST_REDIS_URL, store_url=proxy.url(POSTGRES_URL))
    frontier = cluster.frontier(job)
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.start_beat()
        # A delay per host spreads the crawl over a few seconds, so the cut lands inside it.
        seed([site.a.url("/")], job=job, allow_private=True, delay=0.1, allowed_domains=("127.0.0.2",))
        wait_until(lambda: frontier.stats().stored >= 5, "the first pages to be stored")

        proxy.cut()
        cut_at = frontier.stats().stored
        time.sleep(OUTAGE_SECONDS)
        during = frontier.stats()
        proxy.restore()

        stats = cluster.wait_finished(job)
    finally:
        cluster.stop()
        proxy.stop()

    expected = site.depths(site.a.url("/"))
    assert during.state != JobState.FINISHED and during.stored < len(expected), "the outage came after the crawl"
    assert during.stored <= cut_at + 4, "pages were stored while the store was cut off"
    records = Cluster(tmp_path, TEST_REDIS_URL, store_url=POSTGRES_URL).records(job)
    assert sorted(record.url for record in records) == sorted(expected)
    assert stats.stored == len(expected) and stats.leased == 0
    a, b = site.a.requests(), site.b.requests()
    assert a["/a/3"] == 2, a  # once as itself, once as the target of /moved
    repeated = {path: n for host in (a, b) for path, n in host.items() if n > 1 and path != "/a/3"}
    assert repeated == {}
    assert cluster.task_failures() == [], "a store that waited for the database ran once more, and only it"
