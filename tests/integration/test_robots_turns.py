"""Links robots.txt disallows cost no turn of their host: those found where the host's
robots.txt is known are settled by the store step that found them (a record, a count
per host, never a lease), and a queued URL found disallowed at lease time is settled
without claiming the host's turn. Measured in the frontier and in the server's log."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pipeline.crawl import Context, fate, jobs
from pipeline.crawl.fate import Fetched, Stored, WaitAt
from pipeline.fetch import Robots
from pipeline.frontier import Frontier, Lease, Stat
from pipeline.keys import STARTED, STATS, JobKeys
from pipeline.settings import Settings
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.site import Host, Response, page

ROBOTS_TXT = Response(body="User-agent: *\nDisallow: /private\n", content_type="text/plain")
BLOCKED = "blocked by robots.txt"


@pytest.fixture
def host():
    server = Host("127.0.0.1")
    server.routes["/robots.txt"] = ROBOTS_TXT
    server.routes["/"] = page("home", ["/a", "/private/b"])
    server.routes["/a"] = page("a", ["/private/b", "/private/c"])
    yield server.start()
    server.stop()


@pytest.fixture
def ctx(tmp_path: Path, redis_client) -> Context:
    return Context(Settings.load(redis_url=TEST_REDIS_URL, store_url=f"sqlite:///{tmp_path / 'crawl.db'}"))


def _seed(ctx: Context, url: str, **policy) -> Lease:
    _, leases = jobs.seed(ctx.frontier("job"), ctx.settings, [url], dict(allow_private=True, **policy))
    assert len(leases) == 1
    return leases[0]


def _fetch(ctx: Context, lease: Lease) -> fate.FetchOutcome:
    outcome = fate.attempt_fetch(ctx, "job", lease)
    while isinstance(outcome, WaitAt) and outcome.countdown < 2:
        outcome = fate.attempt_fetch(ctx, "job", lease, 0, outcome.robots_site)
    return outcome


def _crawl(ctx: Context, lease: Lease) -> list[Lease]:
    fetched = _fetch(ctx, lease)
    assert isinstance(fetched, Fetched)
    stored = fate.finish(ctx, fate.parse(ctx, fetched.payload))
    assert isinstance(stored, Stored)
    return stored.handoff


def _known_robots(ctx: Context, host: Host) -> None:
    """The host's robots.txt in Redis, as another worker would have left it."""
    robots, ring = Robots(ctx.redis, 10), ctx.frontier("job").keyring
    policy = ctx.frontier("job").policy()
    with robots.fetching(ring, host.base, policy) as ours:
        assert ours
        robots.download(ring, host.base, policy, ctx.fetcher)


def test_a_queued_url_found_disallowed_at_lease_time_claims_no_turn(ctx, host):
    lease = _seed(ctx, host.url("/private/b"), delay=5)
    _known_robots(ctx, host)

    outcome = fate.attempt_fetch(ctx, "job", lease)

    assert isinstance(outcome, Fetched) and outcome.payload.result.error == BLOCKED
    assert ctx.redis.hget(JobKeys("job").key(STARTED), lease.host) is None, "the host's turn is still free"
    assert isinstance(fate.finish(ctx, fate.parse(ctx, outcome.payload)), Stored)
    assert host.requests() == {"/robots.txt": 1}
    assert [(r.url, r.error) for r in ctx.store.records("job")] == [(lease.url, BLOCKED)]
    stats = Frontier(ctx.redis, "job").stats()
    assert (stats.blocked, stats.blocked_hosts, stats.requested) == (1, {lease.host: 1}, 0), \
        "counted as disallowed, as a link settled where it was found is, and not as a request"


def test_disallowed_links_are_settled_once_where_they_are_found(ctx, host):
    handoff = _crawl(ctx, _seed(ctx, host.url("/"), delay=0, host_concurrency=4, max_pages=2, max_pages_per_host=2))

    assert [lease.url for lease in handoff] == [host.url("/a")], "the disallowed link is never leased"
    assert _crawl(ctx, handoff[0]) == []

    frontier = Frontier(ctx.redis, "job")
    stats = frontier.stats()
    records = {record.url: record for record in ctx.store.records("job")}
    assert host.requests() == {"/robots.txt": 1, "/": 1, "/a": 1}
    assert {url for url, record in records.items() if record.error == BLOCKED} == {
        host.url("/private/b"), host.url("/private/c")}
    assert records[host.url("/private/c")].depth == 2
    assert stats.blocked == 2, "/private/b, listed twice, is settled once"
    assert stats.blocked_hosts == {handoff[0].host: 2}
    assert (stats.stored, stats.errors) == (4, 2), "their records are counted as stored, with an error"
    assert int(ctx.redis.hget(JobKeys("job").key(STATS), Stat.TOKENS)) == 2, "two leases: / and /a"
    assert stats.dispatched == 2 and stats.state == "finished", "max_pages and the host budget spent on pages only"
    assert frontier.seen([host.url("/private/b"), host.url("/private/c")]) == [True, True]


def test_a_link_settled_once_is_not_asked_about_again_by_the_same_process(ctx, host, monkeypatch):
    handoff = _crawl(ctx, _seed(ctx, host.url("/"), delay=0, host_concurrency=4))
    frontier = ctx.frontier("job")
    asked: list[list[str]] = []
    unseen = frontier.unseen

    def asking(entries):
        asked.append([url for url, _ in entries])
        return unseen(entries)

    monkeypatch.setattr(frontier, "unseen", asking)

    _crawl(ctx, handoff[0])

    assert asked == [[host.url("/private/c")]], "/private/b, settled from / already, costs /a no round trip"
    assert frontier.stats().blocked == 2


def test_a_crawl_takes_a_turn_per_allowed_page_not_per_disallowed_link(cluster, record_property):
    """A host with a delay of 1 s whose pages list 20 disallowed links and 5 allowed:
    the server sees robots.txt and the 6 allowed pages a delay apart, and the crawl
    lasts about 7 turns, not 27."""
    delay = 1.0
    server = Host("127.0.0.1")
    server.routes["/robots.txt"] = ROBOTS_TXT
    allowed = [f"/p/{i}" for i in range(1, 6)]
    disallowed = [f"/private/{i}" for i in range(1, 21)]
    server.routes["/"] = page("home", allowed + disallowed[:10])
    for i, path in enumerate(allowed):
        server.routes[path] = page(path, disallowed[10 + 2 * i:12 + 2 * i] + disallowed[:3])
    server.start()
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_worker("w2", concurrency=2)
        cluster.start_beat()
        seed([server.url("/")], job="turns", allow_private=True, delay=delay, host_concurrency=2)
        stats = cluster.wait_finished("turns", timeout=60)
    finally:
        server.stop()

    starts = sorted(when for when, _ in server.log)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    duration = stats.finished_at - stats.started_at
    record_property("duration", round(duration, 2))
    assert sorted(path for _, path in server.log) == sorted(["/robots.txt", "/", *allowed])
    assert min(gaps) >= 0.9 * delay, gaps
    # 7 turns and some slack for a loaded machine; a turn per disallowed link too would be 27.
    assert duration < (len(starts) + 5) * delay, f"{duration:.1f} s for {len(starts)} requests"
    records = {record.url: record for record in cluster.records("turns")}
    assert {url for url, record in records.items() if record.error == BLOCKED} == {
        server.url(path) for path in disallowed}
    assert stats.blocked == 20 and stats.blocked_hosts == {server.base.split("//")[1]: 20}
    tokens = int(cluster.client.hget(JobKeys("turns").key(STATS), Stat.TOKENS))
    assert tokens == 1 + len(allowed), "a lease per allowed page, none for a disallowed link"
    # Two leases at a time for a host that takes one request a second: one waits its turn.
    assert cluster.task_failures() == [], "a URL that waited its turn sent its chain on once, whole"
