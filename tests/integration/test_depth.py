"""A URL's depth is the shortest at which it was found, also when the shorter path shows
up while the URL is leased: the lease takes the smaller depth, its links are scheduled
from it, and its record says it. Checked on the frontier, through fate.finish with
a real store, through a crawl whose slow page reveals a shortcut late, and through a
crawl whose worker is killed on the page that holds the short path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pipeline.crawl import Context, Payload, fate
from pipeline.fetch import FetchResult
from pipeline.settings import Settings
from pipeline.store import open_store
from tasks import seed
from tests.integration.cluster import Cluster, wait_until
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


def _answer(request: BaseHTTPRequestHandler, response: Response) -> None:
    body = response.body if isinstance(response.body, bytes) else response.body.encode()
    request.send_response(response.status)
    request.send_header("Content-Type", response.content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def _slow(title: str, links: list[str], seconds: float):
    response = page(title, links)

    def handler(request: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        _answer(request, response)

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


class _Held:
    """A page that, while held, answers only once let go: the worker fetching it can be
    killed in the middle of its request, on cue rather than after a guessed time."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.asked = threading.Event()
        self._free = threading.Event()
        self._free.set()

    def hold(self) -> None:
        self.asked.clear()
        self._free.clear()

    def let_go(self) -> None:
        self._free.set()

    def __call__(self, request: BaseHTTPRequestHandler) -> None:
        if not self._free.is_set():
            self.asked.set()
            self._free.wait(60)
        _answer(request, self.response)


@dataclass
class DetourSite:
    a: Host
    b: Host
    key: _Held

    def depths(self, cluster: Cluster, job: str) -> dict[str, int]:
        """The job's records as 'A /path' or 'B /path' -> depth."""
        depths: dict[str, int] = {}
        for record in cluster.records(job):
            name, host = ("A", self.a) if record.url.startswith(self.a.base + "/") else ("B", self.b)
            depths[f"{name} {record.url.removeprefix(host.base)}"] = record.depth
        return depths


# Each of A's other pages at depth 1 takes this long: B's detour, which no queue of A
# holds back, has long passed /leaf when a /key put behind them would come.
BEHIND_TAKES = 0.4
# A lease that expires soon after its worker is killed: more than the two timeouts.
QUICK_EXPIRY = {"timeout": 1.5, "download_deadline": 1.5, "lease_timeout": 3.5}


@pytest.fixture
def detour_site() -> Iterator[DetourSite]:
    """Host A's root lists /key, then /y/1, /y/2 and /y/3, all at depth 1, which A (one
    request at a time) fetches in that order. /key links B's /leaf (depth 2); /y/1 links
    B's /detour, which links /leaf as well (depth 3 that way). /leaf links /beyond, stored
    under max_depth 3 only when /leaf has depth 2: only when /key is fetched before B's
    detour gets there, as it is when /key keeps its place ahead of the /y pages."""
    a, b = Host("127.0.0.1"), Host("127.0.0.2")
    key = _Held(page("key", [b.url("/leaf")]))
    a.routes["/"] = page("root", ["/key", "/y/1", "/y/2", "/y/3"])
    a.routes["/key"] = key
    a.routes["/y/1"] = _slow("y1", [b.url("/detour")], BEHIND_TAKES)
    for i in (2, 3):
        a.routes[f"/y/{i}"] = _slow(f"y{i}", [], BEHIND_TAKES)
    b.routes["/detour"] = page("detour", ["/leaf"])
    b.routes["/leaf"] = page("leaf", ["/beyond"])
    b.routes["/beyond"] = page("beyond")
    for host in (a, b):
        host.routes["/robots.txt"] = Response(404, "")
        host.start()
    yield DetourSite(a, b, key)
    key.let_go()
    for host in (a, b):
        host.stop()


DETOUR_DEPTHS = {"A /": 0, "A /key": 1, "A /y/1": 1, "A /y/2": 1, "A /y/3": 1, "B /leaf": 2, "B /detour": 2,
                 "B /beyond": 3}


def test_a_worker_killed_on_a_page_leaves_the_pages_and_depths_of_a_tight_max_depth_crawl_alone(
    cluster, detour_site
):
    """The key page's lease expires after its worker is SIGKILLed mid-request; handed out
    again, it must come before the pages queued behind it, or its link is reached first
    through the detour, one deeper, and the page under it is cut by max_depth."""
    policy = {"allow_private": True, "delay": 0, "host_concurrency": 1, "max_depth": 3,
              "allowed_domains": ("127.0.0.2",), **QUICK_EXPIRY}
    victim = cluster.start_worker("victim", pool="threads", concurrency=4)
    cluster.start_beat()
    seed([detour_site.a.url("/")], job="calm", **policy)
    cluster.wait_finished("calm")

    detour_site.key.hold()
    seed([detour_site.a.url("/")], job="killed", **policy)
    wait_until(detour_site.key.asked.is_set, "a worker fetching /key", detail=cluster.logs)
    cluster.kill(victim)
    detour_site.key.let_go()
    cluster.start_worker("survivor", pool="threads", concurrency=4)
    stats = cluster.wait_finished("killed")

    assert stats.requeued == 1, "/key, the one URL in flight, was handed out again after the kill"
    assert detour_site.depths(cluster, "killed") == detour_site.depths(cluster, "calm") == DETOUR_DEPTHS
