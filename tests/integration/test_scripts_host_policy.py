"""The schedule's per-host politeness, driven on the test Redis: the adaptive delay from
the last response time RELEASE_HOST and RETRY record, and the host policy file's delay
and concurrency in LEASE, CLAIM_START, RELEASE_HOST and RETRY, in every shard of a job."""

from __future__ import annotations

import time

import pytest

from pipeline import keys
from pipeline.frontier import DelaySource, Failure, Found, Frontier
from tests.integration.frontiers import new_frontier, pages

pytestmark = pytest.mark.integration

RULES = ("a.example delay=0.5", "*.wide.example host_concurrency=3")


def _next_wait(frontier: Frontier, host: str, elapsed: float) -> float:
    """The wait CLAIM_START gives the host's second URL after its first took `elapsed`."""
    frontier.add(Found.seeds(pages(host, 2)))
    (first,) = [lease for lease in frontier.lease() if lease.host == host]
    assert frontier.claim_start(first) == 0
    (second,) = frontier.release_host(first, elapsed)
    return frontier.claim_start(second)


def test_the_adaptive_delay_is_factor_times_the_last_response_time(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, delay_factor=3.0)

    wait = _next_wait(frontier, "a.example", 0.3)

    assert wait == pytest.approx(0.9, abs=0.05)
    assert redis_client.hget(frontier.keys.key(keys.RESPONSE_TIME), "a.example") == b"0.3"


def test_the_adaptive_delay_is_capped_by_max_delay_and_never_below_the_delay(redis_client):
    capped = new_frontier(redis_client, job="capped", delay=0.1, delay_factor=10.0, max_delay=0.4)
    floored = new_frontier(redis_client, job="floored", delay=0.6, delay_factor=2.0)

    assert _next_wait(capped, "a.example", 5.0) == pytest.approx(0.4, abs=0.05)
    assert _next_wait(floored, "a.example", 0.01) == pytest.approx(0.6, abs=0.05)


def test_without_a_factor_the_response_time_changes_nothing(redis_client):
    frontier = new_frontier(redis_client, delay=0.2)

    assert _next_wait(frontier, "a.example", 3.0) == pytest.approx(0.2, abs=0.05)


def test_a_larger_robots_crawl_delay_still_wins_over_the_adaptive_delay(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, delay_factor=2.0, dispatch_lookahead=2.0)
    frontier.set_host_delay("a.example", 1.5)

    assert _next_wait(frontier, "a.example", 0.3) == pytest.approx(1.5, abs=0.05)
    assert frontier.host_delay("a.example").source == DelaySource.ROBOTS


def test_a_host_rule_sets_its_delay_and_others_keep_the_jobs(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, host_rules=RULES)

    assert _next_wait(frontier, "a.example", 0.0) == pytest.approx(0.5, abs=0.05)
    assert _next_wait(frontier, "b.example", 0.0) == pytest.approx(0.1, abs=0.05)


@pytest.mark.parametrize("shards", [1, 3])
def test_a_host_rule_sets_its_concurrency_in_every_shard(redis_client, shards):
    frontier = new_frontier(redis_client, job=f"conc{shards}", host_concurrency=1, host_rules=RULES,
                            frontier_shards=shards)
    frontier.add(Found.seeds(pages("www.wide.example", 5) + pages("b.example", 5)))

    leased = [lease.host for lease in frontier.lease()]

    assert leased.count("www.wide.example") == 3
    assert leased.count("b.example") == 1


def test_reseeding_with_other_rules_replaces_them(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, host_rules=RULES)
    frontier.create(frontier.policy().merged(host_rules=()))

    assert _next_wait(frontier, "a.example", 0.0) == pytest.approx(0.1, abs=0.05)
    assert redis_client.exists(frontier.keys.key(keys.HOST_RULES)) == 0


def test_host_delay_explains_the_delay_the_schedule_keeps(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, delay_factor=2.0, host_rules=RULES)
    wait = _next_wait(frontier, "b.example", 0.4)

    view = frontier.host_delay("b.example")

    assert (view.source, view.last_response) == (DelaySource.ADAPTIVE, 0.4)
    assert view.delay == pytest.approx(0.8) and wait == pytest.approx(0.8, abs=0.05)
    assert frontier.host_delay("a.example").source == DelaySource.HOST_FILE


def test_without_a_factor_no_response_time_is_kept(redis_client):
    frontier = new_frontier(redis_client, delay=0.2)
    _next_wait(frontier, "a.example", 0.3)

    assert redis_client.exists(frontier.keys.key(keys.RESPONSE_TIME)) == 0
    assert frontier.host_delay("a.example").last_response is None


URL_FAILURE = Failure("HTTP 500", 30.0, host_level=False)


def test_a_request_that_failed_for_a_retry_paces_its_host_by_its_response_time(redis_client):
    frontier = new_frontier(redis_client, delay=0.1, delay_factor=3.0, dispatch_lookahead=2.0)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (failing,) = frontier.lease()
    assert frontier.claim_start(failing) == 0

    (second,) = frontier.retry(failing, 30.0, 1, URL_FAILURE, elapsed=0.3) or []

    assert frontier.claim_start(second) == pytest.approx(0.9, abs=0.05)
    assert redis_client.hget(frontier.keys.key(keys.RESPONSE_TIME), "a.example") == b"0.3"


def test_a_retry_and_the_url_its_freed_slot_hands_out_keep_the_rules_concurrency(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=1, host_rules=RULES, dispatch_lookahead=0.05)
    frontier.add(Found.seeds(pages("www.wide.example", 5)))
    first, *others = frontier.lease()
    assert len(others) == 2

    handoff = frontier.retry(first, 0.05, 1, URL_FAILURE) or []
    time.sleep(0.1)

    assert len(handoff) == 1, "the freed slot goes to the host's next URL, as its rule allows 3"
    assert frontier.lease() == [], "the retry waits for one of the 3 slots"
    (again,) = frontier.release_host(others[0]) or []
    assert (again.url, again.attempt) == (first.url, 1)
