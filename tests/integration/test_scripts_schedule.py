"""The scripts that schedule and pace requests, each driven on the test Redis: ADD (what
is scheduled, at what depth, when a finished job wakes up), LEASE (window and host
politeness), CLAIM_START, RELEASE_HOST and POSTPONE."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from pipeline import keys
from pipeline.frontier import Failure, Found, Frontier, JobState, RecordKind, Stat, list_jobs
from tests.integration.frontiers import deadline, found, new_frontier, pages, redis_now, waiting

pytestmark = pytest.mark.integration


def test_add_schedules_each_url_once(redis_client):
    frontier = new_frontier(redis_client)
    urls = pages("a.example", 5)

    assert frontier.add(Found.seeds(urls)) == 5
    assert frontier.add(Found.seeds([*urls, "http://a.example/new"])) == 1

    stats = frontier.stats()
    assert (stats.seen, stats.queued) == (6, 6)


def test_add_keeps_each_host_within_its_budget(redis_client):
    frontier = new_frontier(redis_client, max_pages_per_host=3)

    added = frontier.add(Found.seeds(pages("a.example", 10) + pages("b.example", 2)))
    added += frontier.add(Found.seeds(pages("a.example", 5, start=10)))

    assert added == 5
    assert len(waiting(frontier, "a.example")) == 3 and len(waiting(frontier, "b.example")) == 2


def test_a_waiting_url_found_again_keeps_the_depth_it_was_queued_at(redis_client):
    frontier = new_frontier(redis_client)
    url = "http://a.example/deep"

    frontier.add(found(4, url))
    assert frontier.add(found(1, url)) == 0

    assert waiting(frontier, "a.example") == {url: 5}
    assert [lease.depth for lease in frontier.lease()] == [5]


def test_links_that_were_all_seen_do_not_make_their_host_due(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(Found.seeds(["http://a.example/"]))
    (lease,) = frontier.lease()
    frontier.release_host(lease)

    frontier.add(found(0, "http://a.example/"))

    assert frontier.redis.zscore(frontier.keys.key(keys.DUE), "a.example") is None


def test_a_host_hands_out_its_shallowest_urls_first_then_in_the_order_found(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=10)
    frontier.add(found(2, "http://a.example/c", "http://a.example/a"))
    frontier.add(found(0, "https://a.example/b?x=1", "http://a.example/z"))

    assert [(lease.url, lease.depth) for lease in frontier.lease()] == [
        ("https://a.example/b?x=1", 1), ("http://a.example/z", 1), ("http://a.example/c", 3), ("http://a.example/a", 3)
    ]


def test_urls_of_every_form_come_out_of_the_host_queue_as_they_went_in(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=10)
    urls = ["http://a.example/", "https://a.example/+plus", "http://a.example:8080/port", "https://a.example/s?q=%2F"]
    sitemap = "http://a.example/sitemap.xml"
    frontier.add(Found(-1, pages=tuple(urls), sitemaps=(sitemap,)))

    leases = frontier.lease()

    assert sorted((lease.url, lease.kind) for lease in leases) == sorted(
        [(url, RecordKind.PAGE) for url in urls] + [(sitemap, RecordKind.SITEMAP)]
    )


def test_a_job_queued_before_the_lists_hands_out_its_sorted_set_first(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=10)
    frontier.add(Found.seeds(["http://a.example/new"]))
    frontier.redis.zadd(frontier.keys.legacy_queue("a.example"), {"http://a.example/old": 3})
    frontier.redis.hincrby(frontier.keys.key(keys.STATS), Stat.QUEUED, 1)

    assert [(lease.url, lease.depth) for lease in frontier.lease()] == [
        ("http://a.example/old", 3), ("http://a.example/new", 0)
    ]
    assert frontier.stats().queued == 0


def _finished(frontier: Frontier, max_pages: int = 0) -> None:
    frontier.add(Found.seeds(["http://a.example/"]))
    for lease in frontier.lease():
        frontier.complete(lease, failed=False, found=Found(lease.depth))
    assert frontier.state() == JobState.FINISHED


def test_add_restarts_a_finished_job_with_new_urls(redis_client):
    frontier = new_frontier(redis_client)
    _finished(frontier)

    frontier.add(Found.seeds(["http://a.example/later"]))

    assert frontier.state() == JobState.RUNNING and frontier.stats().finished_at is None
    assert [lease.url for lease in frontier.lease()] == ["http://a.example/later"]


def test_add_does_not_restart_a_job_whose_max_pages_is_spent(redis_client):
    frontier = new_frontier(redis_client, max_pages=1)
    _finished(frontier)

    frontier.add(Found.seeds(["http://a.example/later"]))

    assert frontier.state() == JobState.FINISHED and frontier.stats().queued == 1
    assert frontier.lease() == []


def test_lease_keeps_the_job_within_its_window(redis_client):
    frontier = new_frontier(redis_client, dispatch_window=3, host_concurrency=10)
    frontier.add(Found.seeds(pages("a.example", 4) + pages("b.example", 4)))

    first = frontier.lease()
    assert len(first) == 3 and frontier.lease() == []

    handoff = frontier.complete(first[0], failed=False, found=Found(0)).handoff
    assert len(handoff) == 1 and frontier.lease() == []
    assert frontier.stats().leased == 3


def test_lease_gives_a_host_no_more_requests_than_its_concurrency(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=2)
    frontier.add(Found.seeds(pages("a.example", 5) + pages("b.example", 1)))

    leases = frontier.lease()

    assert sorted(lease.host for lease in leases) == ["a.example", "a.example", "b.example"]


def test_lease_spaces_a_hosts_requests_by_its_delay(redis_client):
    frontier = new_frontier(redis_client, delay=10.0, host_concurrency=4)
    frontier.add(Found.seeds(pages("a.example", 3)))

    assert len(frontier.lease()) == 1
    assert frontier.lease() == []


def test_a_robots_crawl_delay_larger_than_the_jobs_wins(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, host_concurrency=4, dispatch_lookahead=0.5)
    frontier.set_host_delay("a.example", 10.0)
    frontier.add(Found.seeds(pages("a.example", 3) + pages("b.example", 3)))

    hosts = sorted(lease.host for lease in frontier.lease())

    assert hosts.count("a.example") == 1 and hosts.count("b.example") == 3


def test_lease_hands_out_what_is_due_within_the_lookahead_with_countdowns(redis_client):
    frontier = new_frontier(redis_client, delay=0.5, host_concurrency=4, dispatch_lookahead=1.2)
    frontier.add(Found.seeds(pages("a.example", 5)))

    countdowns = [lease.countdown for lease in frontier.lease()]

    assert countdowns == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_claim_start_keeps_the_delay_between_starts_on_redis_clock(redis_client):
    frontier = new_frontier(redis_client, delay=0.4, host_concurrency=2, dispatch_lookahead=1.0)
    frontier.add(Found.seeds(pages("a.example", 2)))
    first, second = frontier.lease()

    assert frontier.claim_start(first) == 0
    started = float(redis_client.hget(frontier.keys.key(keys.STARTED), "a.example"))
    assert started == pytest.approx(redis_now(redis_client), abs=0.2)
    wait = frontier.claim_start(second)
    assert 0 < wait <= 0.4
    time.sleep(wait)
    assert frontier.claim_start(second) == 0


def test_the_turn_after_a_robots_txt_that_went_out_late_counts_from_when_it_went_out(redis_client):
    # robots.txt was claimed, then went out 0.3 s late: the page's own request waits the
    # whole delay from when robots.txt went out, however long the claim is past.
    frontier = new_frontier(redis_client, delay=0.4)
    frontier.add(Found.seeds(pages("a.example", 1)))
    (lease,) = frontier.lease()
    assert frontier.claim_start(lease) == 0
    time.sleep(0.3)

    assert frontier.claim_start(lease, sent_for=0.01) == pytest.approx(0.39, abs=0.05), "a report, not a claim"
    went_out = float(redis_client.hget(frontier.keys.key(keys.STARTED), "a.example"))
    assert went_out == pytest.approx(redis_now(redis_client) - 0.01, abs=0.05)
    wait = frontier.claim_start(lease)
    assert wait == pytest.approx(0.39, abs=0.05), "not 0.1 s, as the robots.txt claim alone would give"
    time.sleep(wait)
    assert frontier.claim_start(lease) == 0


@pytest.mark.parametrize("ending", ["released", "retried"])
def test_a_request_that_went_out_after_its_claim_paces_the_next_from_when_it_went_out(redis_client, ending):
    # The worker paused 0.3 s between the claim and the request: the next request waits
    # the whole delay from when the host saw this one, not 0.2 s.
    frontier = new_frontier(redis_client, delay=0.5, host_concurrency=1)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (first,) = frontier.lease()
    assert frontier.claim_start(first) == 0
    time.sleep(0.3)

    if ending == "released":
        handoff = frontier.release_host(first, elapsed=0.01, sent_for=0.01)
    else:
        handoff = frontier.retry(first, 5.0, 1, Failure("HTTP 500", 0.0, host_level=False), 0.01, sent_for=0.01)
    assert handoff is not None
    (second,) = handoff

    assert second.countdown == pytest.approx(0.49, abs=0.06), "planned a delay after the request went out"
    assert frontier.claim_start(second) == pytest.approx(0.49, abs=0.06)


def test_claim_start_refuses_a_stale_token_and_renews_a_live_lease(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(Found.seeds(pages("a.example", 1)))
    (lease,) = frontier.lease()
    before = deadline(frontier, lease)
    time.sleep(0.05)

    assert frontier.claim_start(lease) == 0
    assert deadline(frontier, lease) > before
    stale = replace(lease, token=lease.token + 1)
    assert frontier.claim_start(stale) < 0


def test_release_host_frees_the_slot_once_and_hands_out_the_next_url(redis_client):
    frontier = new_frontier(redis_client, delay=0.3, host_concurrency=1)
    frontier.add(Found.seeds(pages("a.example", 3)))
    (lease,) = frontier.lease()
    frontier.claim_start(lease)

    (after,) = frontier.release_host(lease)

    assert after.host == "a.example" and 0 < after.countdown <= 0.3
    assert frontier.release_host(lease) == []
    assert redis_client.hget(frontier.keys.key(keys.SLOTS), "a.example") == b"1"


def test_release_host_renews_the_lease_for_the_steps_after_the_request(redis_client):
    frontier = new_frontier(redis_client, lease_timeout=120)
    frontier.add(Found.seeds(pages("a.example", 1)))
    (lease,) = frontier.lease()
    frontier.claim_start(lease)
    redis_client.zadd(frontier.keys.key(keys.LEASES), {lease.member: 1})  # as if about to expire

    assert frontier.release_host(lease) == []

    deadline = redis_client.zscore(frontier.keys.key(keys.LEASES), lease.member)
    now = redis_client.time()[0]
    assert now + 100 < deadline <= now + 121


def test_release_host_of_a_stale_token_frees_nothing(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=1)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (lease,) = frontier.lease()
    stale = replace(lease, token=lease.token + 1)

    assert frontier.release_host(stale) is None
    assert redis_client.hget(frontier.keys.key(keys.SLOTS), "a.example") == b"1"


def test_postpone_pauses_the_host_for_every_worker_and_keeps_the_longest_reason(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=3)
    frontier.add(Found.seeds(pages("a.example", 3) + pages("b.example", 1)))
    (first,) = frontier.lease(limit=1)
    assert first.host == "a.example"

    frontier.postpone("a.example", 5.0, "HTTP 503, Retry-After")
    frontier.postpone("a.example", 1.0, "timeout")

    assert frontier.claim_start(first) > 4
    assert [lease.host for lease in frontier.lease()] == ["b.example"]
    (backoff,) = frontier.backoffs()
    assert (backoff.host, backoff.reason) == ("a.example", "HTTP 503, Retry-After")
    assert 4 < backoff.seconds_left <= 5
    assert frontier.stats().backing_off == 1


def test_postpone_prunes_pauses_that_are_over(redis_client):
    frontier = new_frontier(redis_client)
    frontier.postpone("a.example", 0.05, "timeout")
    time.sleep(0.1)

    frontier.postpone("b.example", 5.0, "HTTP 429")

    assert redis_client.zrange(frontier.keys.key(keys.BACKOFF), 0, -1) == [b"b.example"]
    assert redis_client.hkeys(frontier.keys.key(keys.BACKOFF_REASON)) == [b"b.example"]


def test_a_forgotten_job_has_no_key_left_and_starts_over_from_nothing(redis_client):
    frontier, other = new_frontier(redis_client), Frontier(redis_client, "other")
    other.create(frontier.policy())
    frontier.add(Found.seeds(pages("a.example", 3)))
    other.add(Found.seeds(pages("a.example", 3)))
    frontier.lease()

    frontier.forget()

    assert list(redis_client.scan_iter(match=frontier.keys.prefix + "*")) == []
    assert frontier.job not in list_jobs(redis_client) and not frontier.exists()
    assert other.stats().queued == 3
    frontier.create(other.policy())
    assert frontier.add(Found.seeds(pages("a.example", 3))) == 3


def test_the_busiest_hosts_are_those_in_flight_then_due_then_paused_with_their_queues(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=2, dispatch_window=3)
    frontier.add(Found.seeds(pages("a.example", 5) + pages("b.example", 2) + pages("c.example", 1)))
    frontier.add(found(0, "https://a.example/s", "http://a.example/deeper"))
    leases = frontier.lease()
    frontier.postpone("c.example", 30, "HTTP 429 Retry-After")

    views = {view.host: view for view in frontier.busiest_hosts()}

    in_flight = {host: sum(lease.host == host for lease in leases) for host in views}
    assert {host: view.in_flight for host, view in views.items()} == in_flight and sum(in_flight.values()) == 3
    assert {host: view.queued + view.in_flight for host, view in views.items()} == {
        "a.example": 7, "b.example": 2, "c.example": 1
    }
    assert (views["c.example"].reason, 29 < views["c.example"].paused_for <= 30) == ("HTTP 429 Retry-After", True)
    assert views["a.example"].paused_for == 0 and views["a.example"].reason == ""
