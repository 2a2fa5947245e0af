"""Feeding revisits from the store into the frontier (real Redis, a real SQLite store, no
workers): a pass is fed a batch at a time, so Redis never holds more than the batch of a
job's revisits, and it ends when the store has none left."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline import keys
from pipeline.crawl.revisits import feed, start_recrawl
from pipeline.fetch import utc_text
from pipeline.frontier import Found, Frontier, JobState
from pipeline.store import Record, open_store
from tests.integration.frontiers import new_frontier, pages

pytestmark = pytest.mark.integration

BATCH = 10


def _record(url: str, fetched: float) -> Record:
    return Record(job="feed", url=url, final_url=url, status=200, depth=1, content_type="text/html", title=url,
                  outlinks=[], fetched_at=utc_text(fetched), error=None, etag=f'"{url}"')


def _complete_all(frontier: Frontier) -> int:
    done = 0
    pending = frontier.lease()
    while pending:
        lease = pending.pop()
        assert lease.prior is not None and lease.prior.etag == f'"{lease.url}"'
        pending += frontier.complete(lease, failed=False, found=Found(lease.depth)).handoff
        done += 1
    return done


def test_a_pass_is_fed_a_batch_at_a_time_and_ends_when_the_store_has_no_more(redis_client, tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'crawl.db'}")
    frontier = new_frontier(redis_client, job="feed", host_concurrency=50)
    urls = pages("a.example", 25)
    for url in urls:
        store.put(_record(url, time.time() - 60))

    assert start_recrawl(frontier, store) == 25
    fed, held = [], []
    while frontier.state() == JobState.RUNNING:
        fed.append(feed(frontier, store, BATCH))
        assert feed(frontier, store, BATCH) == 0, "no room until those are fetched"
        held.append(redis_client.hlen(frontier.keys.key(keys.PRIOR)))
        _complete_all(frontier)

    assert fed == [10, 10, 5], "the last batch, short, told the pass it was all fed in"
    assert max(held) == BATCH
    assert frontier.state() == JobState.FINISHED and frontier.stats().revisited == 25
    assert store.due_counts("feed", time.time()).due == 0
    store.close()


def test_older_than_leaves_the_urls_fetched_since_out_of_the_pass(redis_client, tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'crawl.db'}")
    frontier = new_frontier(redis_client, job="feed")
    store.put(_record("http://a.example/old", time.time() - 7200))
    store.put(_record("http://a.example/new", time.time() - 60))

    assert start_recrawl(frontier, store, older_than=3600) == 1
    feed(frontier, store, BATCH)
    assert [lease.url for lease in frontier.lease()] == ["http://a.example/old"]
    store.close()
