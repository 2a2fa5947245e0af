"""What pipeline.crawl.fate decides for one URL, against a real Redis, a real HTTP server
and a real SQLite store, without Celery: the Outcome each step returns, and what the
server saw."""

from __future__ import annotations

import socket
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import keys
from pipeline.crawl import Context, fate, jobs
from pipeline.crawl.fate import Abandon, Deferred, Fetched, RetryAt, Stored, WaitAt
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
    for name in ("broken", "broken2", "broken3"):
        server.routes[f"/{name}"] = Response(500, "oops")
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


def test_the_first_page_waits_the_delay_from_robots_txt_s_answer(ctx, host):
    host.routes["/robots.txt"] = replace(host.routes["/robots.txt"], delay=0.5)
    lease = _seed(ctx, host.url("/"), delay=0.3)

    first = fate.attempt_fetch(ctx, "job", lease)

    assert isinstance(first, WaitAt) and first.countdown > 0.2, "robots.txt took longer than the delay"
    assert isinstance(_fetch(ctx, lease), Fetched)
    (robots_at, _), (page_at, _) = host.log
    assert page_at - robots_at >= 0.5 + 0.3, "the page came a delay after robots.txt's answer"


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


def _handed_out(ctx: Context, url: str) -> Lease:
    """The lease of `url` the dispatcher hands out once its retry is due."""
    for _ in range(100):
        for lease in ctx.frontier("job").tick().leases:
            if lease.url == url:
                return lease
        time.sleep(0.05)
    raise AssertionError(f"{url} was not handed out again")


def test_a_transient_failure_pauses_the_host_and_is_retried_then_recorded(ctx, host):
    lease = _seed(ctx, host.url("/busy"), delay=0, robots=False, max_retries=1, retry_backoff=0.1)

    retry = _fetch(ctx, lease)

    assert isinstance(retry, Deferred), "the URL waits in the frontier, not in a worker"
    assert [b.reason for b in ctx.frontier("job").backoffs()] == ["HTTP 503"]
    assert fate.attempt_fetch(ctx, "job", lease) == fate.LEASE_LOST, "the failed chain's lease is over"
    again = next((held for held in retry.handoff if held.url == lease.url), None) or _handed_out(ctx, lease.url)
    assert again.attempt == 1
    last = fate.attempt_fetch(ctx, "job", again)
    while isinstance(last, WaitAt):  # the host's pause, on Redis's clock
        last = fate.attempt_fetch(ctx, "job", again)
    assert isinstance(last, Fetched)
    assert (last.payload.result.status, last.payload.result.error) == (503, "HTTP 503")


def test_one_urls_failure_leaves_its_host_to_the_other_urls(ctx, host):
    seeds = [host.url("/broken"), host.url("/a")]
    _, leases = jobs.seed(ctx.frontier("job"), ctx.settings, seeds,
                          dict(allow_private=True, delay=0, robots=False, retry_backoff=30))
    assert [lease.url for lease in leases] == [host.url("/broken")], "one request in flight to the host"

    retry = _fetch(ctx, leases[0])

    assert isinstance(retry, Deferred)
    assert [held.url for held in retry.handoff] == [host.url("/a")], "the host's next URL goes on at once"
    assert ctx.frontier("job").backoffs() == [], "the host is not paused"
    assert isinstance(_fetch(ctx, retry.handoff[0]), Fetched)
    assert host.requests() == {"/broken": 1, "/a": 1}
    assert ctx.frontier("job").stats().leased == 2, "/a until it is stored, /broken waiting for its retry"


def test_different_urls_failing_in_a_row_pause_their_host(ctx, host):
    names = ["/broken", "/a", "/broken2", "/broken3"]
    _, leases = jobs.seed(ctx.frontier("job"), ctx.settings, [host.url(name) for name in names],
                          dict(allow_private=True, delay=0, robots=False, retry_backoff=30, host_failures_to_pause=2,
                               host_concurrency=4))
    paused = []
    for lease in sorted(leases, key=lambda lease: names.index(lease.url.removeprefix(host.url("")))):
        _fetch(ctx, lease)
        paused.append([b.reason for b in ctx.frontier("job").backoffs()])

    assert paused == [[], [], [], ["HTTP 500, 2 URLs failed in a row"]], "a success starts the count again"


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


def _in_flight(ctx: Context, lease: Lease) -> int:
    """Requests to the lease's host that hold its slots, as the frontier counts them."""
    frontier = ctx.frontier("job")
    return int(frontier.redis.hget(frontier.keys.key(keys.SLOTS), lease.host) or 0)


def test_a_page_stored_where_it_was_fetched_frees_its_host_with_its_completion(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0.4, robots=False)

    fetched = fate.attempt_fetch(ctx, "job", lease, hold=True)

    assert isinstance(fetched, Fetched) and fetched.held is not None and fetched.handoff == []
    assert _in_flight(ctx, lease) == 1, "the slot is held through the parse"
    stored = fate.finish(ctx, fate.parse(ctx, fetched.payload), renewed=True, held=fetched.held)
    (after,) = stored.handoff
    assert _in_flight(ctx, lease) == 1, "the slot went from the page to the next"
    assert after.url == host.url("/a") and after.countdown > 0.2, "the next page waits out the delay"
    assert isinstance(_fetch(ctx, after), Fetched)
    (first, _), (second, _) = host.log
    assert second - first >= 0.4, "the host's next request came a delay after the first"


def test_without_a_delay_the_slot_is_freed_before_the_parse(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0, robots=False)

    fetched = fate.attempt_fetch(ctx, "job", lease, hold=True)

    assert isinstance(fetched, Fetched) and fetched.held is None
    assert _in_flight(ctx, lease) == 0, "the next request may overlap the parse"


def _slowly(handler) -> None:
    """A whole page, in pieces 0.2 s apart: 2 s in all, each read well within 0.5 s."""
    body = b"<html><title>slow</title>" + b" " * 90
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body) * 10))
    handler.end_headers()
    for _ in range(10):
        time.sleep(0.2)
        handler.wfile.write(body)
        handler.wfile.flush()


def test_a_request_that_took_half_the_lease_frees_the_slot_and_renews_the_lease_at_once(ctx, host):
    host.routes["/slow"] = _slowly
    lease = _seed(ctx, host.url("/slow"), delay=0.4, robots=False, timeout=0.5, download_deadline=3,
                  lease_timeout=3.6)

    fetched = fate.attempt_fetch(ctx, "job", lease, hold=True)

    assert isinstance(fetched, Fetched) and fetched.payload.result.status == 200
    assert fetched.held is None and _in_flight(ctx, lease) == 0, "the parse gets a renewed lease"


def test_a_held_slot_is_freed_when_the_page_cannot_be_stored_now(ctx, host, tmp_path):
    lease = _seed(ctx, host.url("/"), delay=0.4, robots=False, max_depth=0)
    fetched = fate.attempt_fetch(ctx, "job", lease, hold=True)
    assert isinstance(fetched, Fetched) and _in_flight(ctx, lease) == 1
    payload = fate.parse(ctx, fetched.payload)
    ctx.store.count("job")
    other = sqlite3.connect(tmp_path / "crawl.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        outcome = fate.finish(ctx, payload, renewed=True, held=fetched.held)
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert isinstance(outcome, RetryAt) and _in_flight(ctx, lease) == 0, "the store's retry holds no slot"
    assert isinstance(fate.finish(ctx, payload, outcome.attempt), Stored)


def test_a_held_slot_released_for_a_page_that_goes_elsewhere_is_freed_once(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0.4, robots=False, max_depth=0)
    fetched = fate.attempt_fetch(ctx, "job", lease, hold=True)
    assert isinstance(fetched, Fetched)

    assert fate.release(ctx, fetched.payload, fetched.held) == []
    assert _in_flight(ctx, lease) == 0
    assert isinstance(fate.finish(ctx, fate.parse(ctx, fetched.payload), held=fetched.held), Stored)
    assert _in_flight(ctx, lease) == 0, "the completion does not free it twice"


def test_links_found_are_scheduled_under_the_job_s_policy(ctx, host):
    lease = _seed(ctx, host.url("/"), delay=0, robots=False, max_depth=1, host_concurrency=4)

    stored = fate.finish(ctx, fate.parse(ctx, _fetch(ctx, lease).payload))

    assert isinstance(stored, Stored)
    assert sorted(lease.url for lease in stored.handoff) == [host.url("/a"), host.url("/private/b")]
    assert Frontier(ctx.redis, "job").stats().seen == 3


def test_a_refused_connection_pauses_the_host(ctx):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    lease = _seed(ctx, f"http://127.0.0.1:{port}/", delay=0, robots=False, retry_backoff=30)

    outcome = _fetch(ctx, lease)

    assert isinstance(outcome, Deferred)
    assert [b.reason for b in ctx.frontier("job").backoffs()] == ["connection error"]
