"""RabbitMQ as the broker (`CRAWLER_BROKER_URL=amqp://…`), the frontier staying on Redis:
real worker and beat processes, and `crawler seed` from the command line, as a user runs
them. The crawl stores every page once with its shortest depth, and not one task message
goes through Redis; a worker SIGKILLed mid-crawl loses no page; four workers keep the
delay between request starts to a host."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawler, describe
from tests.integration.cluster import Cluster, wait_until
from tests.integration.site import Host, page
from tests.integration.test_crawl import pushes

pytestmark = pytest.mark.integration

AMQP_URL = os.environ.get("CRAWLER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
QUEUES = ("fetch", "parse", "store")


def _purge() -> None:
    with Connection(AMQP_URL, connect_timeout=5) as connection:
        channel = connection.channel()
        for queue in QUEUES:
            # Declared as Celery declares its queues, or its own declaration is refused.
            channel.queue_declare(queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)


@pytest.fixture
def rabbit(tmp_path: Path, redis_client) -> Iterator[Cluster]:
    """A cluster whose broker is the test RabbitMQ, its queues emptied before and after."""
    try:
        _purge()
    except OSError as exc:
        pytest.fail(f"the RabbitMQ tests need a broker at {AMQP_URL} (.ci/run starts one): {exc}")
    cluster = Cluster(tmp_path, TEST_REDIS_URL, CRAWLER_BROKER_URL=AMQP_URL)
    yield cluster
    cluster.stop()
    _purge()


def _seed(cluster: Cluster, url: str, job: str, *flags: str) -> None:
    env = cli_env(TEST_REDIS_URL, CRAWLER_BROKER_URL=AMQP_URL, CRAWLER_STORE_URL=cluster.store_url)
    result = crawler(cluster.tmp_path, "seed", url, "--job", job, "--allow-private", *flags, env=env)
    assert result.returncode == 0, describe(result, cluster.tmp_path)


def test_a_crawl_with_rabbitmq_as_the_broker_stores_every_page_once(rabbit, site, redis_client):
    rabbit.start_worker()
    rabbit.start_beat()
    with pushes(redis_client, *QUEUES) as published:
        _seed(rabbit, site.a.url("/"), "amqp", "--delay", "0", "--allow-domain", "127.0.0.2")
        stats = rabbit.wait_finished("amqp")

    records = rabbit.records("amqp")
    expected = site.depths(site.a.url("/"))
    assert {record.url: record.depth for record in records} == expected
    assert stats.stored == len(records) == len(expected)
    assert sum(published.values()) == 0, f"task messages went through Redis: {published}"


def test_a_worker_killed_mid_crawl_loses_no_page_with_rabbitmq(rabbit):
    host = Host("127.0.0.1", delay=0.05)
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, 41)])
    for i in range(1, 41):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.start()
    try:
        victim = rabbit.start_worker("victim", concurrency=4)
        rabbit.start_beat()
        _seed(rabbit, host.url("/"), "amqp-kill", "--delay", "0", "--host-concurrency", "4")
        frontier = rabbit.frontier("amqp-kill")
        wait_until(lambda: frontier.stats().stored >= 8, "eight pages stored", timeout=60,
                   detail=lambda: f"{frontier.stats()}\n{rabbit.logs()}")
        rabbit.kill(victim)
        rabbit.start_worker("survivor", concurrency=4)
        stats = rabbit.wait_finished("amqp-kill", timeout=120)
    finally:
        host.stop()

    urls = [record.url for record in rabbit.records("amqp-kill")]
    assert sorted(urls) == sorted([host.url("/"), *(host.url(f"/p/{i}") for i in range(1, 41))])
    assert stats.stored == len(urls) == 41 and stats.errors == 0


def test_four_workers_keep_the_delay_between_request_starts_with_rabbitmq(rabbit):
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, 11)])
    for i in range(1, 11):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.start()
    try:
        for name in ("w1", "w2", "w3", "w4"):
            rabbit.start_worker(name, concurrency=2)
        rabbit.start_beat()
        _seed(rabbit, host.url("/"), "amqp-polite", "--delay", "0.5", "--host-concurrency", "4")
        rabbit.wait_finished("amqp-polite", timeout=60)
    finally:
        host.stop()

    starts = sorted(when for when, _ in host.log)
    assert len(starts) == 12, "robots.txt and 11 pages"
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.45
