"""Revisits in the frontier's scripts, driven on the test Redis: stored URLs fed back in
are no new URLs (seen and the budgets stay as they are), carry their last fetch to the
worker, survive a lost worker, and keep a recrawl pass (or a continuous job) running
until it is over."""

from __future__ import annotations

import time

import pytest

from pipeline import keys
from pipeline.fetch import Prior
from pipeline.frontier import Found, Frontier, JobState, Lease, RecordKind, Revisit, Stat
from tests.integration.frontiers import SHORT_LEASE, counter, new_frontier, pages

pytestmark = pytest.mark.integration


def _crawled(frontier: Frontier, urls: list[str]) -> None:
    """Fetch `urls` once, as a first crawl would, until the job finishes."""
    frontier.add(Found.seeds(urls))
    _revisit_all(frontier)
    assert frontier.state() == JobState.FINISHED


def _due(*urls: str, depth: int = 0) -> list[Revisit]:
    return [Revisit(url, RecordKind.PAGE, depth, Prior(url, "2026-12-01T00:00:00.000Z", etag=f'"{url}"'))
            for url in urls]


def _revisit_all(frontier: Frontier, leases: list[Lease] | None = None) -> list[str]:
    """Complete `leases` and every URL handed out after them, as workers would; the URLs
    in the order they were handed out."""
    pending = frontier.lease() if leases is None else list(leases)
    done = []
    while pending:
        lease = pending.pop(0)
        done.append(lease.url)
        pending += frontier.complete(lease, failed=False, found=Found(lease.depth)).handoff
        if not pending:
            pending = frontier.lease()
    return done


def test_a_recrawl_pass_revisits_stored_urls_without_counting_them_as_new(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=3)
    urls = pages("a.example", 3)
    _crawled(frontier, urls)
    before = frontier.stats()

    feed = frontier.recrawl()
    assert frontier.state() == JobState.RUNNING, "a finished job runs again"
    assert frontier.revisit(_due(*urls), done=False, feed=feed) == 3
    leases = frontier.lease()

    assert sorted(lease.url for lease in leases) == urls
    assert {lease.prior.etag for lease in leases} == {f'"{url}"' for url in urls}, "each carries its last fetch"
    _revisit_all(frontier, leases)
    after = frontier.stats()
    assert (after.seen, after.stored, after.dispatched) == (before.seen, before.stored, before.dispatched)
    assert (after.revisits, after.revisited, after.revisits_waiting) == (3, 3, 0)
    assert frontier.state() == JobState.RUNNING, "the store may still have due URLs of the pass"
    assert redis_client.hlen(frontier.keys.key(keys.PRIOR)) == 0, "a revisit's history goes with its completion"

    frontier.revisit([], done=True, feed=feed)
    assert frontier.state() == JobState.FINISHED


def test_a_url_already_waiting_or_leased_is_not_queued_again(redis_client):
    frontier = new_frontier(redis_client)
    urls = pages("a.example", 2)
    _crawled(frontier, urls)
    feed = frontier.recrawl()
    frontier.revisit(_due(urls[0]), done=False, feed=feed)
    (leased,) = frontier.lease()

    assert frontier.revisit(_due(*urls), done=False, feed=feed) == 1
    assert frontier.revisit(_due(*urls), done=False, feed=feed) == 0
    assert counter(frontier, Stat.REVISITS_WAITING) == 1 and leased.url == urls[0]


def test_the_end_of_an_older_pass_does_not_end_a_newer_one(redis_client):
    frontier = new_frontier(redis_client)
    _crawled(frontier, pages("a.example", 1))
    old = frontier.recrawl()
    new = frontier.recrawl()

    frontier.revisit([], done=True, feed=old)
    assert frontier.state() == JobState.RUNNING and frontier.feeding() == new

    frontier.revisit([], done=True, feed=new)
    assert frontier.state() == JobState.FINISHED and frontier.feeding() is None


def test_a_revisit_whose_worker_died_goes_back_with_its_history_and_is_revisited_once(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=2, **SHORT_LEASE)
    urls = pages("a.example", 2)
    _crawled(frontier, urls)
    feed = frontier.recrawl()
    frontier.revisit(_due(*urls), done=True, feed=feed)
    (lost,) = frontier.lease(limit=1)
    time.sleep(0.4)

    tick = frontier.tick()
    handed = {lease.url: lease for lease in tick.leases + frontier.lease()}
    assert tick.expired == 1 and sorted(handed) == urls
    assert handed[lost.url].prior == lost.prior and handed[lost.url].token != lost.token
    assert frontier.complete(lost, failed=False, found=Found(0)).counted is False, "the dead chain counts nothing"
    _revisit_all(frontier, list(handed.values()))
    stats = frontier.stats()
    assert (stats.revisited, stats.revisits, stats.stored, stats.requeued) == (2, 2, 2, 1)
    assert frontier.state() == JobState.FINISHED


def test_revisits_go_on_when_max_pages_is_spent_and_new_urls_wait_for_a_larger_budget(redis_client):
    frontier = new_frontier(redis_client, max_pages=2)
    stored = pages("a.example", 2)
    _crawled(frontier, stored)
    feed = frontier.recrawl()
    frontier.add(Found(0, tuple(pages("b.example", 2)) + tuple(pages("a.example", 1, start=5))))
    frontier.revisit(_due(*stored), done=True, feed=feed)

    assert sorted(_revisit_all(frontier)) == stored
    assert frontier.state() == JobState.FINISHED and frontier.stats().queued == 3, "new URLs stay queued past max_pages"

    frontier.create(frontier.policy().merged(max_pages=10))
    frontier.add(Found.seeds(["http://c.example/"]))
    assert sorted(_revisit_all(frontier)) == sorted(["http://c.example/", *pages("b.example", 2),
                                                     "http://a.example/p/5"])


def test_a_continuous_job_keeps_running_with_nothing_to_do(redis_client):
    frontier = new_frontier(redis_client, revisit_interval=60.0)

    frontier.add(Found.seeds(pages("a.example", 1)))
    _revisit_all(frontier)

    assert frontier.state() == JobState.RUNNING
    frontier.revisit(_due(*pages("a.example", 1)), done=True, feed="")
    assert _revisit_all(frontier) == pages("a.example", 1) and frontier.state() == JobState.RUNNING
