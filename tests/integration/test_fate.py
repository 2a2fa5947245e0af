"""What pipeline.crawl.fate decides for one URL, against a real Redis, a real HTTP server
and a real SQLite store, without Celery: the Outcome each step returns, and what the
server saw."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.crawl import Context, fate, jobs
from pipeline.crawl.fate import Abandon, Fetched, RetryAt, Stored, WaitAt
from pipeline.frontier import Frontier, Lease
from pipeline.settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.integration.site import Host, Response, page


@pytest.fixture
def host():
    server = Host("127.0.0.1")
    server.routes["/robots.txt"] = Response(body="User-agent: *\nDisallow: /private\n", content_type="text/plain")
    server.routes["/"] = page("home", ["/a", "/private/b"])
    server.routes["/a"] = page("a")
    server.routes["/busy"] = Response(503, "busy")
    yield server.start()
    server.stop()


@pytest.fixture
def ctx(tmp_path: Path, redis_client) -> Context:
    return Context(Settings.load(redis_url=TEST_REDIS_URL, store_url=f"sqlite:///{tmp_path / 'crawl.db'}",
                                 store_timeout=0.2, store_retries=2))


def _seed(ctx: Context, url: str, **policy) -> Lease:
    _, leases = jobs.seed(ctx.frontier("job"), ctx.settings, [url], dict(allow_private=True, **policy))
    assert len(leases) == 1
    return leases[0]


def _fetch(ctx: Context, lease: Lease, attempt: int = 0) -> fate.FetchOutcome:
    """Attempts until the request is made or a retry is asked for, as the task would."""
    outcome = fate.attempt_fetch(ctx, "job", lease, attempt)
    while isinstance(outcome, WaitAt) and outcome.countdown < 2:
        outcome = fate.attempt_fetch(ctx, "job", lease, attempt, outcome.robots_site)
    return outcome


def test_robots_txt_takes_the_host_s_turn_before_the_first_page(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0.3)

    first = fate.attempt_fetch(ctx, "job", lease)

    assert isinstance(first, WaitAt) and 0 < first.countdown <= 0.3
    assert host.requests() == {"/robots.txt": 1}, "robots.txt alone, then the page waits its turn"
    assert isinstance(_fetch(ctx, lease), Fetched)
    assert host.requests() == {"/robots.txt": 1, "/": 1}


def test_a_stale_chain_sends_no_request_and_writes_nothing(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0, robots=False)
    fetched = _fetch(ctx, lease)
    assert isinstance(fetched, Fetched)
    assert isinstance(fate.finish(ctx, fate.parse(ctx, fetched.payload)), Stored)

    # The same chain again, as a broker redelivers it after the URL was done.
    assert fate.attempt_fetch(ctx, "job", lease) == fate.LEASE_LOST
    assert fate.finish(ctx, fate.parse(ctx, fetched.payload)) == fate.LEASE_LOST
    assert host.requests() == {"/": 1}
    assert ctx.store.count("job") == 1


def test_a_transient_failure_pauses_the_host_and_is_retried_then_recorded(ctx, host):
    lease = _seed(ctx, host.url("/busy"), delay=0, robots=False, max_retries=1, retry_backoff=0.1)

    retry = _fetch(ctx, lease)

    assert isinstance(retry, RetryAt) and retry.attempt == 1
    assert [b.reason for b in ctx.frontier("job").backoffs()] == ["HTTP 503"]
    last = fate.attempt_fetch(ctx, "job", lease, attempt=1)
    while isinstance(last, WaitAt):  # the host's pause, on Redis's clock
        last = fate.attempt_fetch(ctx, "job", lease, attempt=1)
    assert isinstance(last, Fetched)
    assert (last.payload.result.status, last.payload.result.error) == (503, "HTTP 503")


def test_a_disallowed_page_is_recorded_without_a_request(ctx, host):
    lease = _seed(ctx, host.url("/private/b"), delay=0)

    outcome = _fetch(ctx, lease)

    assert isinstance(outcome, Fetched) and outcome.payload.result.error == "blocked by robots.txt"
    assert host.requests() == {"/robots.txt": 1}


def test_a_locked_store_is_retried_without_a_refetch_then_given_back_to_the_lease(ctx, host, tmp_path):
    lease = _seed(ctx, host.url("/"), delay=0, robots=False)
    payload = fate.parse(ctx, _fetch(ctx, lease).payload)
    ctx.store.count("job")  # the store exists before another process locks it
    other = sqlite3.connect(tmp_path / "crawl.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        outcomes = [fate.finish(ctx, payload, attempt) for attempt in range(3)]
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert [type(o) for o in outcomes] == [RetryAt, RetryAt, Abandon]
    assert isinstance(fate.finish(ctx, payload), Stored), "the lease still holds: the write goes through"
    assert host.requests() == {"/": 1}
    assert [r.url for r in ctx.store.records("job")] == [host.url("/")]


def test_links_found_are_scheduled_under_the_job_s_policy(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0, robots=False, max_depth=1, host_concurrency=4)

    stored = fate.finish(ctx, fate.parse(ctx, _fetch(ctx, lease).payload))

    assert isinstance(stored, Stored)
    assert sorted(lease.url for lease in stored.handoff) == [host.url("/a"), host.url("/private/b")]
    assert Frontier(ctx.redis, "job").stats().seen == 3
