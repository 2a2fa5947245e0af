"""End-to-end crawls through real Redis and real Celery worker and beat processes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from pipeline.frontier import JobState
from tasks import seed

# A link robots.txt disallows is recorded by the store step of the page that found it:
# it has no lease, no fetch task and no share of max_pages.
BLOCKED = "blocked by robots.txt"


def _leased(records):
    """The records of URLs that were leased and fetched (or failed to be)."""
    return [record for record in records if record.error != BLOCKED]


def _crawl(cluster, site, job, **policy):
    cluster.start_worker()
    cluster.start_beat()
    seed([site.a.url("/")], job=job, allow_private=True, delay=0, allowed_domains=("127.0.0.2",), **policy)
    stats = cluster.wait_finished(job)
    return stats, {record.url: record for record in cluster.records(job)}


@contextmanager
def pushes(client, *queues: str) -> Iterator[Counter[str]]:
    """How many messages are published to each of the broker's `queues` meanwhile, from
    Redis's keyspace notifications (switched on for the block, then restored)."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    previous = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    client.config_set("notify-keyspace-events", "Kl")
    pubsub = client.pubsub()
    pubsub.subscribe(*(f"__keyspace@{db}__:{queue}" for queue in queues))
    counts: Counter[str] = Counter()
    try:
        yield counts
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            if message["type"] == "message" and message["data"] in (b"lpush", b"rpush"):
                counts[message["channel"].decode().rpartition(":")[2]] += 1
    finally:
        pubsub.close()
        client.config_set("notify-keyspace-events", previous)


def test_a_worker_of_every_queue_parses_and_stores_what_it_fetched_without_the_broker(cluster, site):
    # No beat: its ticks go to the store queue, and a crawl's pages hand each other on.
    cluster.start_worker()
    with pushes(cluster.client, "fetch", "parse", "store") as published:
        seed([site.a.url("/")], job="local", allow_private=True, delay=0, allowed_domains=("127.0.0.2",))
        stats = cluster.wait_finished("local")

    records = cluster.records("local")
    assert {record.url for record in records} == set(site.depths(site.a.url("/"))) and stats.stored == len(records)
    assert published["fetch"] >= len(_leased(records))
    assert published["parse"] == published["store"] == 0


def test_every_reachable_page_is_stored_once_with_its_shortest_depth(cluster, site):
    stats, records = _crawl(cluster, site, "full")

    expected = site.depths(site.a.url("/"))
    assert set(records) == set(expected)
    assert {url: record.depth for url, record in records.items()} == expected
    assert stats.state == JobState.FINISHED and stats.stored == len(expected) and stats.leased == 0


def test_the_server_sees_each_url_once_and_nothing_out_of_scope_or_disallowed(cluster, site):
    _crawl(cluster, site, "requests")

    a, b = site.a.requests(), site.b.requests()
    assert a["/robots.txt"] == 1 and b["/robots.txt"] == 1
    assert "/private/x" not in a
    assert a["/a/3"] == 2  # once as itself, once as the target of /moved
    repeated = {path: n for path, n in (a + b).items() if n > 1 and path not in ("/a/3", "/robots.txt")}
    assert repeated == {}
    assert sum(b.values()) == site.PAGES + 1


def test_records_carry_status_redirects_errors_and_outlinks(cluster, site):
    _, records = _crawl(cluster, site, "fields")

    home = records[site.a.url("/")]
    assert home.status == 200 and home.title == "A home" and home.error is None
    assert site.a.url("/a/1") in home.outlinks and site.outside in home.outlinks
    assert not any(link.startswith("mailto:") for link in home.outlinks)
    moved = records[site.a.url("/moved")]
    assert moved.final_url == site.a.url("/a/3") and moved.title == "A 3"
    assert records[site.a.url("/gone")].status == 404
    assert records[site.a.url("/gone")].error == "HTTP 404"
    assert records[site.a.url("/private/x")].error == "blocked by robots.txt"
    assert site.outside not in records


def test_max_depth_records_links_but_does_not_follow_them(cluster, site):
    _, records = _crawl(cluster, site, "shallow", max_depth=2)

    expected = site.depths(site.a.url("/"), max_depth=2)
    assert set(records) == set(expected)
    assert max(record.depth for record in records.values()) == 2
    deepest = records[site.a.url("/a/2")]
    assert site.a.url("/a/4") in deepest.outlinks and site.a.url("/a/4") not in records


def test_max_pages_caps_fetches_failures_included(cluster, site):
    stats, records = _crawl(cluster, site, "capped", max_pages=7)

    assert len(_leased(records.values())) == 7 and stats.stored == len(records)
    served = sum(n for path, n in (site.a.requests() + site.b.requests()).items() if path != "/robots.txt")
    assert served <= 7 + 1  # /moved and its target are two requests for one URL


def test_seeding_again_with_a_larger_budget_takes_effect_at_once(cluster, site):
    first, _ = _crawl(cluster, site, "grow", max_pages=3)
    assert first.state == JobState.FINISHED and first.stored - first.blocked == 3

    seed([site.b.url("/b/30")], job="grow", allow_private=True, delay=0, max_pages=10)
    again = cluster.wait_finished("grow")

    records = cluster.records("grow")
    assert again.stored - again.blocked == 10 and len(_leased(records)) == 10 and len(records) == again.stored


def test_workers_write_one_dataset_to_postgresql(tmp_path, redis_client, site):
    import uuid

    from tests.conftest import TEST_REDIS_URL
    from tests.integration.cluster import Cluster
    from tests.integration.stores import POSTGRES_URL

    job = f"pg-{uuid.uuid4().hex[:8]}"
    cluster = Cluster(tmp_path, TEST_REDIS_URL, store_url=POSTGRES_URL)
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.start_beat()
        seed([site.a.url("/")], job=job, allow_private=True, delay=0, allowed_domains=("127.0.0.2",))
        stats = cluster.wait_finished(job)
    finally:
        cluster.stop()

    records = cluster.records(job)
    expected = site.depths(site.a.url("/"))
    assert {record.url for record in records} == set(expected)
    assert stats.stored == len(records) == len(expected)


def test_workers_specialised_by_stage_with_the_recommended_pools(cluster, site):
    """The layout the README recommends: fetch on a large gevent pool, parse on prefork,
    store on threads, each its own worker."""
    cluster.start_worker("fetcher", concurrency=50, pool="gevent", queues="fetch")
    cluster.start_worker("parser", concurrency=2, pool="prefork", queues="parse")
    cluster.start_worker("storer", concurrency=4, pool="threads", queues="store")
    cluster.start_beat()
    with pushes(cluster.client, "parse", "store") as published:
        seed([site.a.url("/")], job="stages", allow_private=True, delay=0, allowed_domains=("127.0.0.2",))
        stats = cluster.wait_finished("stages")

    expected = site.depths(site.a.url("/"))
    assert {record.url for record in cluster.records("stages")} == set(expected)
    assert stats.stored == len(expected) and stats.leased == 0
    fetched = _leased(cluster.records("stages"))
    assert published["parse"] >= len(fetched) and published["store"] >= len(fetched)
