"""A URL whose worker is lost every time (a page that kills it, a host that hangs it past
every deadline) is handed out again CRAWLER_MAX_REQUEUES times, then stored as failed,
so the job finishes instead of handing it out forever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.crawl import Context
from pipeline.frontier import Found, JobState
from pipeline.settings import Settings
from pipeline.store import open_store
from tasks.dispatch import tick as dispatcher_tick
from tests.integration.frontiers import SHORT_LEASE, new_frontier

pytestmark = pytest.mark.integration

DOOMED = "http://a.example/kills-its-worker"


def _expire() -> None:
    time.sleep(SHORT_LEASE["lease_timeout"] + 0.1)


def test_tick_hands_back_a_url_expired_once_more_than_max_requeues(redis_client):
    frontier = new_frontier(redis_client, max_requeues=2, **SHORT_LEASE)
    frontier.add(Found.seeds([DOOMED]))
    (lease,) = frontier.lease()
    for _ in range(2):
        _expire()
        (lease,) = frontier.tick().leases

    _expire()
    tick = frontier.tick()

    assert tick.leases == [] and [(lost.lease.url, lost.times) for lost in tick.lost] == [(DOOMED, 3)]
    stats = frontier.stats()
    assert (stats.requeued, stats.queued, stats.leased, stats.state) == (2, 0, 1, JobState.RUNNING)
    assert frontier.claim_start(lease) < 0, "the last worker's chain is stale"


def test_a_url_handed_back_and_not_completed_is_handed_back_again(redis_client):
    frontier = new_frontier(redis_client, max_requeues=0, **SHORT_LEASE)
    frontier.add(Found.seeds([DOOMED]))
    frontier.lease()
    _expire()
    (first,) = frontier.tick().lost

    (again,) = frontier.tick().lost

    assert again.times == first.times == 1 and again.lease.token != first.lease.token
    assert frontier.complete(first.lease, failed=True, found=Found(0)).counted is False
    assert frontier.complete(again.lease, failed=True, found=Found(0)).counted is True
    assert frontier.state() == JobState.FINISHED


def test_the_dispatcher_stores_a_url_lost_too_often_as_failed_and_the_job_finishes(redis_client, tmp_path: Path):
    store_url = f"sqlite:///{tmp_path / 'crawl.db'}"
    ctx = Context(Settings.load(store_url=store_url))
    frontier = new_frontier(redis_client, job="doomed", **SHORT_LEASE)
    assert frontier.policy().max_requeues == 5
    frontier.add(Found.seeds([DOOMED]))

    dispatcher_tick(ctx)
    for _ in range(6):
        assert frontier.stats().state == JobState.RUNNING and frontier.stats().leased == 1
        _expire()
        dispatcher_tick(ctx)

    stats = frontier.stats()
    assert (stats.state, stats.stored, stats.errors, stats.requeued, stats.leased) == (JobState.FINISHED, 1, 1, 5, 0)
    store = open_store(store_url)
    try:
        (record,) = store.records("doomed")
    finally:
        store.close()
    assert (record.url, record.error, record.status, record.depth) == (DOOMED, "worker lost 6 times", None, 0)
