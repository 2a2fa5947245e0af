"""Fixtures for integration tests: the test Redis (flushed around each test; a missing
Redis fails the tests, it does not skip them), a two-host site on 127.0.0.1 and
127.0.0.2, a cluster of real Celery processes, a store of each backend, and the modules a
test imported, forgotten after it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from pipeline.store import open_store
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import kill_leftovers
from tests.integration.cluster import Cluster
from tests.integration.site import Host, Response, page
from tests.integration.stores import POSTGRES_URL


def flushed_test_redis() -> redis.Redis:
    """A client of the test Redis, emptied; a missing Redis fails the test."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"integration tests need a Redis at {TEST_REDIS_URL}: {exc}")
    client.flushdb()
    return client


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = flushed_test_redis()
    yield client
    client.flushdb()


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory for a `crawler` subprocess; whatever it left running is killed."""
    yield tmp_path
    kill_leftovers(tmp_path)


@pytest.fixture
def cluster(tmp_path: Path, redis_client: redis.Redis) -> Iterator[Cluster]:
    running = Cluster(tmp_path, TEST_REDIS_URL)
    yield running
    running.stop()


class TwoHostSite:
    """Host A (127.0.0.1) and host B (127.0.0.2): a binary tree of pages on each, cross
    links between them, and a robots-blocked page, a 404, a redirect and an
    out-of-scope link hanging off A's front page."""

    PAGES = 30

    def __init__(self) -> None:
        self.a = Host("127.0.0.1")
        self.b = Host("127.0.0.2")
        self.outside = "http://127.0.0.3:9/never"

    def build(self) -> TwoHostSite:
        a, b, n = self.a, self.b, self.PAGES
        a.routes["/robots.txt"] = Response(body="User-agent: *\nDisallow: /private\n", content_type="text/plain")
        a.routes["/"] = page(
            "A home", ["/a/1", "/private/x", "/gone", "/moved", self.outside, "mailto:x@y.z", b.url("/b/1")]
        )
        a.routes["/moved"] = Response(301, headers={"Location": "/a/3"})
        for i in range(1, n + 1):
            children = [f"/a/{c}" for c in (2 * i, 2 * i + 1) if c <= n]
            a.routes[f"/a/{i}"] = page(f"A {i}", [*children, b.url(f"/b/{i}")])
            kids = [f"/b/{c}" for c in (2 * i, 2 * i + 1) if c <= n]
            b.routes[f"/b/{i}"] = page(f"B {i}", [*kids, a.url("/")])
        return self

    def links(self, url: str) -> list[str]:
        """The in-scope, followable links of a page, as the crawler sees them."""
        from pipeline.parse import parse_html

        for host in (self.a, self.b):
            if url.startswith(host.base):
                response = host.routes.get(url[len(host.base):])
                if response is not None and "Location" in response.headers:
                    return self.links(host.url(response.headers["Location"]))
                if response is None or response.status != 200:
                    return []
                if url.endswith("/private/x"):
                    return []
                return [link for link in parse_html(response.body, url).outlinks if not link.startswith("http://127.0.0.3")]
        return []

    def depths(self, seed: str, max_depth: int = 100) -> dict[str, int]:
        """Shortest link distance from `seed` to every page the crawl should record."""
        depth = {seed: 0}
        frontier = [seed]
        while frontier:
            following = []
            for url in frontier:
                if depth[url] >= max_depth:
                    continue
                for link in self.links(url):
                    if link not in depth:
                        depth[link] = depth[url] + 1
                        following.append(link)
            frontier = following
        return depth


@pytest.fixture
def site() -> Iterator[TwoHostSite]:
    built = TwoHostSite().build()
    built.a.start()
    built.b.start()
    yield built
    built.a.stop()
    built.b.stop()


@pytest.fixture
def forget_modules() -> Iterator[list[str]]:
    """Modules this test imports in its own process (seeding checks the extractors),
    dropped from sys.modules afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A store of each backend: an SQLite file of the test's own, and the PostgreSQL server."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'crawl.db'}")
        yield opened
        opened.close()
        return
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"the store tests need PostgreSQL at {POSTGRES_URL}: {exc}")
    opened = open_store(POSTGRES_URL)
    yield opened
    opened.close()
