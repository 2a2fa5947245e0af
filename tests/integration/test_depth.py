"""A URL's depth is the shortest at which it was found, also when the shorter path shows
up while the URL is leased: the lease takes the smaller depth, its links are scheduled
from it, and its record says it. Checked on the frontier, through fate.finish with
a real store, and through a crawl whose slow page reveals a shortcut late."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.crawl import Context, Payload, fate
from pipeline.fetch import FetchResult
from pipeline.settings import Settings
from pipeline.store import open_store
from tasks import seed
from tests.integration.frontiers import SHORT_LEASE, found, new_frontier
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration

TARGET, CHILD = "http://a.example/target", "http://a.example/child"


def test_a_leased_url_found_by_a_shorter_path_takes_the_smaller_depth(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(found(4, TARGET))
    (lease,) = frontier.lease()

    frontier.add(found(1, TARGET))
    frontier.add(found(3, TARGET))
    done = frontier.complete(lease, failed=False, found=found(lease.depth, CHILD))

    assert (lease.depth, done.depth) == (5, 2)
    assert [(child.url, child.depth) for child in done.handoff] == [(CHILD, 3)]


def test_the_depth_limit_applies_to_the_lowered_depth(redis_client):
    frontier = new_frontier(redis_client, max_depth=3)
    frontier.add(found(2, TARGET))
    (lease,) = frontier.lease()
    frontier.add(found(0, TARGET))

    done = frontier.complete(lease, failed=False, found=found(lease.depth, CHILD))

    assert [(child.url, child.depth) for child in done.handoff] == [(CHILD, 2)]
    assert frontier.stats().dropped["max_depth"] == 0


def test_an_expired_lease_goes_back_with_the_lowered_depth(redis_client):
    frontier = new_frontier(redis_client, **SHORT_LEASE)
    frontier.add(found(4, TARGET))
    frontier.lease()
    frontier.add(found(0, TARGET))
    time.sleep(SHORT_LEASE["lease_timeout"] + 0.1)

    (again,) = frontier.tick().leases

    assert again.depth == 1


def test_finish_stores_the_lowered_depth(redis_client, tmp_path: Path):
    store_url = f"sqlite:///{tmp_path / 'crawl.db'}"
    ctx = Context(Settings.load(store_url=store_url))
    frontier = new_frontier(redis_client, job="depths")
    frontier.add(found(4, TARGET))
    (lease,) = frontier.lease()
    frontier.add(found(0, TARGET))

    outcome = fate.finish(ctx, Payload("depths", lease, FetchResult(TARGET, TARGET, status=200)))

    assert isinstance(outcome, fate.Stored)
    store = open_store(store_url)
    try:
        assert [(record.url, record.depth) for record in store.records("depths")] == [(TARGET, 1)]
    finally:
        store.close()


def _slow(title: str, links: list[str], seconds: float):
    response = page(title, links)

    def handler(request) -> None:
        time.sleep(seconds)
        body = response.body.encode()
        request.send_response(200)
        request.send_header("Content-Type", response.content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


SLOW, TARGET_TAKES = 1.5, 3.0


@pytest.fixture
def shortcut_site() -> Iterator[Host]:
    """/target is 2 links from the root through /slow, 4 through the fast chain /a, /b,
    /c; /slow answers after the chain has reached /target, and /target takes long
    enough to be still leased when /slow's links are added."""
    host = Host("127.0.0.1")
    host.routes["/robots.txt"] = Response(404, "")
    host.routes["/"] = page("root", ["/slow", "/a"])
    host.routes["/slow"] = _slow("slow", ["/target"], SLOW)
    for path, link in (("/a", "/b"), ("/b", "/c"), ("/c", "/target")):
        host.routes[path] = page(path, [link])
    host.routes["/target"] = _slow("target", ["/after"], TARGET_TAKES)
    host.routes["/after"] = page("after")
    host.start()
    yield host
    host.stop()


def test_a_crawl_records_the_depth_of_a_shortcut_found_while_the_url_was_in_flight(cluster, shortcut_site):
    cluster.start_worker(pool="threads", concurrency=4)
    cluster.start_beat()

    seed([shortcut_site.url("/")], job="shortcut", allow_private=True, delay=0, host_concurrency=4)
    cluster.wait_finished("shortcut")

    asked = {path: at for at, path in reversed(shortcut_site.log)}
    assert asked["/target"] < asked["/slow"] + SLOW, "the fast chain reached /target before /slow answered"
    depths = {record.url.removeprefix(shortcut_site.base): record.depth for record in cluster.records("shortcut")}
    assert depths == {"/": 0, "/slow": 1, "/a": 1, "/b": 2, "/target": 2, "/c": 3, "/after": 3}
