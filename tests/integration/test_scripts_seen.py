"""The seen sets, driven on the test Redis: a URL is new exactly once however many
processes add it at the same moment, the sets stay small integer sets (the memory they
cost per URL is bench/frontier_memory.py's to measure), and a job begun when the seen
set was one set of 8-byte fingerprints goes on deduplicating against it."""

from __future__ import annotations

import multiprocessing

import pytest

from pipeline import keys
from pipeline.frontier import Found, Frontier, RecordKind
from pipeline.urls import fingerprint
from tests.conftest import TEST_REDIS_URL
from tests.integration.frontiers import new_frontier, pages

pytestmark = pytest.mark.integration

HOSTS = ("a.example", "b.example", "c.example")


def _seen_sets(frontier: Frontier) -> list[bytes]:
    return list(frontier.redis.scan_iter(match=frontier.keys.key(keys.SEEN) + "*", count=1000))


def _add_all(urls: list[str]) -> int:
    """One process seeding every URL, in batches, as several `seed()` callers would."""
    import redis

    frontier = Frontier(redis.Redis.from_url(TEST_REDIS_URL), "seen")
    return sum(frontier.add(Found.seeds(urls[start:start + 100])) for start in range(0, len(urls), 100))


def test_a_url_is_new_exactly_once_when_processes_add_it_at_once(redis_client):
    new_frontier(redis_client, job="seen")
    urls = [url for host in HOSTS for url in pages(host, 1000)]

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        added = pool.map(_add_all, [urls] * 4)

    assert sum(added) == len(urls), f"per process: {added}"
    assert Frontier(redis_client, "seen").stats().seen == len(urls)


def test_the_seen_sets_are_integer_sets(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(Found.seeds([url for host in HOSTS for url in pages(host, 2000)]))

    sets = _seen_sets(frontier)
    assert len(sets) > 1000, "the fingerprints are spread over many small sets"
    assert {redis_client.object("encoding", key) for key in sets} == {b"intset"}
    assert sum(redis_client.scard(key) for key in sets) == frontier.stats().seen == 6000


def test_a_job_begun_with_one_seen_set_still_schedules_each_url_once(redis_client):
    frontier = new_frontier(redis_client)
    old = pages("a.example", 3)
    redis_client.sadd(frontier.keys.key(keys.LEGACY_SEEN), *(fingerprint(url) for url in old))

    assert frontier.add(Found.seeds([*old, "http://a.example/new"])) == 1
    assert frontier.add(Found.seeds(["http://a.example/new"])) == 0
    assert frontier.stats().seen == 4, "the old set's URLs are counted too"


def test_a_page_completed_in_such_a_job_settles_only_its_never_seen_disallowed_links(redis_client):
    # The disallowed links' fingerprints follow the page's links' in the call: the old set,
    # read by fingerprint, tells whether each one found its own.
    frontier = new_frontier(redis_client)
    seen_before = "http://a.example/private/old"
    redis_client.sadd(frontier.keys.key(keys.LEGACY_SEEN), fingerprint(seen_before))
    frontier.add(Found.seeds(["http://a.example/"]))
    (lease,) = frontier.tick().leases
    blocked = [(seen_before, RecordKind.PAGE), ("http://a.example/private/new", RecordKind.PAGE)]

    frontier.complete(lease, failed=False, found=Found(0, ("http://a.example/1", "http://a.example/2")),
                      blocked=blocked)
    stats = frontier.stats()

    assert stats.blocked == 1, "the link the old set holds was seen before: it is not settled again"
    assert stats.queued + stats.leased == 2, "the page's two links are scheduled (one handed out at once)"
    assert frontier.seen(["http://a.example/private/new"]) == [True]
