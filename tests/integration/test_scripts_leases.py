"""The scripts that end leases, each driven on the test Redis: EXTEND, COMPLETE, TICK,
HAND_BACK and REQUEUE_EXCEPT, and the refusal of a call made under a policy the job no
longer has."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
import redis

from pipeline import keys
from pipeline.frontier import Failure, Found, Frontier, JobState, Lease, Script, Stat, Tick, lua
from tests.integration.frontiers import SHORT_LEASE, counter, deadline, found, new_frontier, pages, policy

pytestmark = pytest.mark.integration


def _one_lease(frontier: Frontier, depth: int = 0):
    frontier.add(found(depth - 1, "http://a.example/only") if depth else Found.seeds(["http://a.example/only"]))
    (lease,) = frontier.lease()
    return lease


def test_extend_renews_a_live_lease_and_refuses_a_stale_token(redis_client):
    frontier = new_frontier(redis_client)
    lease = _one_lease(frontier)
    before = deadline(frontier, lease)
    time.sleep(0.05)

    assert frontier.extend(lease) is True
    renewed = deadline(frontier, lease)
    assert renewed > before
    assert frontier.extend(replace(lease, token=lease.token + 1)) is False
    assert deadline(frontier, lease) == renewed


def test_complete_counts_the_url_schedules_its_links_and_hands_out_the_next(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=1)
    frontier.add(Found.seeds(["http://a.example/", "http://a.example/second"]))
    (lease,) = frontier.lease()

    done = frontier.complete(lease, failed=True, found=found(0, "http://a.example/child"))

    assert done.counted is True and [next_lease.url for next_lease in done.handoff] == ["http://a.example/second"]
    assert done.depth == 0
    stats = frontier.stats()
    assert (stats.stored, stats.errors, stats.seen, stats.queued, stats.leased) == (1, 1, 3, 1, 1)


def test_a_stale_completion_counts_nothing_and_schedules_nothing(redis_client):
    frontier = new_frontier(redis_client)
    lease = _one_lease(frontier)
    frontier.tick(limit=0, expire_all=True)
    (again,) = frontier.lease()

    done = frontier.complete(lease, failed=False, found=found(0, "http://a.example/child"))

    assert (done.counted, done.handoff) == (False, [])
    stats = frontier.stats()
    assert (stats.stored, stats.seen, stats.leased, stats.state) == (0, 1, 1, JobState.RUNNING)
    assert frontier.complete(again, failed=False, found=Found(0)).counted is True


def test_the_job_finishes_when_nothing_is_queued_or_leased(redis_client):
    frontier = new_frontier(redis_client)
    lease = _one_lease(frontier)

    (child,) = frontier.complete(lease, failed=False, found=found(0, "http://a.example/child")).handoff
    assert frontier.state() == JobState.RUNNING
    frontier.complete(child, failed=False, found=Found(1))

    stats = frontier.stats()
    assert stats.state == JobState.FINISHED and stats.finished_at is not None and stats.stored == 2


def test_tick_requeues_expired_leases_with_their_depth(redis_client):
    frontier = new_frontier(redis_client, **SHORT_LEASE)
    lease = _one_lease(frontier, depth=3)
    time.sleep(0.4)

    tick = frontier.tick()

    assert (tick.expired, tick.lost) == (1, [])
    (again,) = tick.leases
    assert (again.url, again.depth) == (lease.url, 3) and again.token != lease.token
    assert (counter(frontier, Stat.REQUEUED), counter(frontier, Stat.DISPATCHED)) == (1, 1)
    assert frontier.claim_start(lease) < 0 and frontier.claim_start(again) == 0


def test_tick_leaves_live_leases_alone_unless_told_every_worker_is_gone(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=2)
    frontier.add(Found.seeds(pages("a.example", 2)))
    frontier.lease()

    assert frontier.tick(limit=0) == Tick(0, [], [])
    assert frontier.tick(limit=0, expire_all=True) == Tick(2, [], [])

    stats = frontier.stats()
    assert (stats.leased, stats.queued, stats.requeued) == (0, 2, 2)
    assert redis_client.hget(frontier.keys.key(keys.SLOTS), "a.example") == b"0"


def test_a_call_made_with_an_old_policy_is_refused(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(Found.seeds(pages("a.example", 1)))
    old = frontier.policy().version
    frontier.create(policy(dispatch_window=5))
    script = lua.register(redis_client)[Script.LEASE]
    params = {"version": old, "limit": 5, "window": 5, "lookahead": 1.0, "conc": 1, "delay": 0.0, "max_pages": 0,
              "lease_timeout": 30.0}

    with pytest.raises(redis.ResponseError, match="STALE_POLICY"):
        script(keys=[frontier.keys.prefix], args=[json.dumps(params)])
    assert frontier.stats().leased == 0


def test_a_frontier_holding_an_old_policy_reads_it_again_and_succeeds(redis_client):
    holder = new_frontier(redis_client)
    holder.add(Found.seeds(pages("a.example", 3) + pages("b.example", 3)))
    assert holder.policy().dispatch_window == 200
    other = Frontier(redis_client, holder.job)
    other.create(policy(dispatch_window=2))

    leases = holder.lease()

    assert len(leases) == 2
    assert holder.policy().dispatch_window == 2


def test_links_left_out_as_already_sent_still_count_from_a_depth_lowered_while_leased(redis_client):
    """A worker leaves out links it sent before from a page as deep; when the page itself
    was found by a shorter path while it was leased, its links count from that depth."""
    frontier = new_frontier(redis_client, max_depth=2, host_concurrency=10)
    root, near, child = "http://a.example/", "http://a.example/near", "http://a.example/child"
    p, q = "http://a.example/p", "http://a.example/q"
    frontier.add(Found.seeds([root, near]))
    leases = {lease.url: lease for lease in frontier.lease()}
    (one,) = frontier.complete(leases[root], failed=False, found=found(0, "http://a.example/1")).handoff
    deep = {lease.url: lease for lease in frontier.complete(one, failed=False, found=found(1, p, q)).handoff}
    assert frontier.complete(deep[p], failed=False, found=found(2, child)).handoff == []
    assert frontier.stats().queued == 0, "the child of a depth-2 page is past max_depth"

    frontier.complete(leases[near], failed=False, found=found(0, q))  # q is at depth 1 now
    done = frontier.complete(deep[q], failed=False, found=found(2, child))

    assert done.depth == 1
    waiting = done.handoff or frontier.lease()
    assert [(lease.url, lease.depth) for lease in waiting] == [(child, 2)]


# The ways a lease goes back to its host's queue unfinished: its deadline passed (every
# lease counts as expired here, without waiting), its worker dropped the chain unrun, or
# a restart found no chain carrying it.
GIVE_BACK: dict[str, Callable[[Frontier, Lease], object]] = {
    "expired": lambda frontier, lease: frontier.tick(limit=0, expire_all=True),
    "handed_back": lambda frontier, lease: frontier.hand_back([lease]),
    "uncarried": lambda frontier, lease: frontier.requeue_all_but([]),
}


@pytest.mark.parametrize("give_back", GIVE_BACK.values(), ids=GIVE_BACK.keys())
def test_a_lease_handed_out_again_keeps_its_place_at_the_front_of_its_depth(redis_client, give_back):
    """Put behind them, a URL lost with its worker would be fetched after the pages of its
    depth found after it, whose links on other hosts would then run ahead of its own: a
    page of its subtree reached first by a longer path is cut by a tight max_depth
    (test_depth has that crawl)."""
    frontier = new_frontier(redis_client, host_concurrency=10)
    first, *behind = pages("a.example", 3)
    frontier.add(found(1, first, *behind))
    (lease,) = frontier.lease(limit=1)
    assert lease.url == first
    found_meanwhile = pages("a.example", 2, start=3)
    frontier.add(found(1, *found_meanwhile))

    give_back(frontier, lease)

    again = frontier.lease()
    assert [(item.url, item.depth) for item in again] == [(url, 2) for url in (first, *behind, *found_meanwhile)]
    assert again[0].token != lease.token


URL_FAILURE = Failure("HTTP 500", 30.0, host_level=False)


def test_a_url_waiting_for_its_retry_holds_no_slot_and_comes_back_when_due(redis_client):
    frontier = new_frontier(redis_client, host_concurrency=1, dispatch_lookahead=0.05)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (failing,) = frontier.lease()

    handoff = frontier.retry(failing, 0.3, 1, URL_FAILURE)

    assert [lease.url for lease in handoff or []] == ["http://a.example/p/1"], "the host's next URL at once"
    assert frontier.claim_start(failing) < 0, "the failed chain is over"
    assert frontier.backoffs() == []
    frontier.complete(handoff[0], failed=False, found=Found(0))
    assert frontier.state() == JobState.RUNNING and frontier.lease() == [], "it waits for its time"
    assert counter(frontier, Stat.RETRIES_WAITING) == 1
    time.sleep(0.35)
    (again,) = frontier.lease()
    assert (again.url, again.attempt, again.depth) == (failing.url, 1, 0) and again.token != failing.token
    assert counter(frontier, Stat.RETRIES_WAITING) == 0
    assert counter(frontier, Stat.DISPATCHED) == 2, "a retry is no new URL"
    frontier.complete(again, failed=True, found=Found(0))
    assert frontier.state() == JobState.FINISHED


def test_a_retry_is_handed_out_when_max_pages_is_spent(redis_client):
    frontier = new_frontier(redis_client, max_pages=1, dispatch_lookahead=0.05)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (failing,) = frontier.lease()

    assert frontier.retry(failing, 0.1, 1, URL_FAILURE) == []
    time.sleep(0.15)

    assert [lease.url for lease in frontier.lease()] == [failing.url]


def test_urls_waiting_for_their_retries_leave_the_window_to_the_others(redis_client):
    """A waiting retry holds its lease but no message: were it counted in the window, a
    window's worth of broken URLs would stop the job, their own retries included."""
    frontier = new_frontier(redis_client, dispatch_window=2, dispatch_lookahead=0.05)
    frontier.add(Found.seeds(["http://a.example/", "http://b.example/", "http://c.example/"]))
    failing = frontier.lease()
    handoff = [given for lease in failing for given in frontier.retry(lease, 0.2, 1, URL_FAILURE) or []]

    (other,) = handoff
    assert other.url not in {lease.url for lease in failing}
    frontier.complete(other, failed=False, found=Found(0))
    time.sleep(0.25)

    assert sorted(again.url for again in frontier.lease()) == sorted(lease.url for lease in failing)


def test_a_hosts_failure_pauses_it_with_its_url_waiting(redis_client):
    frontier = new_frontier(redis_client, dispatch_lookahead=0.05)
    frontier.add(Found.seeds(pages("a.example", 2)))
    (failing,) = frontier.lease()

    assert frontier.retry(failing, 0.1, 1, Failure("HTTP 503", 30.0, host_level=True)) == []

    assert [(b.host, b.reason) for b in frontier.backoffs()] == [("a.example", "HTTP 503")]
    time.sleep(0.15)
    assert frontier.lease() == [], "neither the retry nor the host's other URLs before the pause ends"


def test_a_retry_whose_lease_expires_goes_back_to_the_queue(redis_client):
    frontier = new_frontier(redis_client, **SHORT_LEASE)
    lease = _one_lease(frontier)
    frontier.retry(lease, 0.05, 1, URL_FAILURE)

    tick = frontier.tick(limit=0, expire_all=True)

    assert tick.expired == 1
    assert counter(frontier, Stat.RETRIES_WAITING) == 0
    assert [again.url for again in frontier.lease()] == [lease.url]
