"""max_hosts, decided by the frontier's ADD script on the test Redis: with scope any a new
host is admitted only while the job has fewer hosts than the limit, atomically across
callers, and what it keeps out is counted; seeds are never refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.frontier import Found, Frontier, Limit
from tests.integration.frontiers import found, new_frontier, pages, waiting

pytestmark = pytest.mark.integration


def _homes(*hosts: str) -> list[str]:
    return [f"http://{host}/" for host in hosts]


def _scheduled_hosts(frontier: Frontier, hosts: list[str]) -> set[str]:
    return {host for host in hosts if waiting(frontier, host)}


def test_links_to_new_hosts_are_followed_until_max_hosts_and_the_rest_counted(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=3, scope_hosts=("seed.example",))
    frontier.add(Found.seeds(_homes("seed.example")))
    others = [f"h{i}.example" for i in range(1, 6)]

    frontier.add(found(0, *_homes(*others), "http://h4.example/more", "http://seed.example/a"))
    frontier.add(found(1, "http://h1.example/b", "http://h5.example/b"))

    assert _scheduled_hosts(frontier, ["seed.example", *others]) == {"seed.example", "h1.example", "h2.example"}
    assert set(waiting(frontier, "h1.example")) == {"http://h1.example/", "http://h1.example/b"}
    stats = frontier.stats()
    assert stats.hosts == 3 and stats.hosts_refused == 3
    assert stats.dropped[Limit.MAX_HOSTS] == 5 and stats.stopped_short  # exact this small
    assert frontier.add(found(1, "http://h2.example/c")) == 1, "an admitted host keeps getting URLs"


def test_urls_kept_out_by_max_hosts_stay_unseen(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=1, scope_hosts=("seed.example",))
    frontier.add(Found.seeds(_homes("seed.example")))
    assert frontier.add(found(0, "http://new.example/")) == 0

    frontier.create(frontier.policy().merged(max_hosts=2))

    assert frontier.add(found(0, "http://new.example/")) == 1


def test_seeds_are_never_refused_and_count(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=2)

    assert frontier.add(Found.seeds(_homes("a.example", "b.example", "c.example"))) == 3
    assert frontier.add(found(0, "http://d.example/")) == 0
    assert frontier.stats().hosts == 3


def test_hosts_scope_counts_hosts_but_max_hosts_does_not_apply(redis_client):
    frontier = new_frontier(redis_client, max_hosts=1)  # scope hosts: a, b and c.example

    frontier.add(Found.seeds(_homes("a.example")))
    frontier.add(found(0, *_homes("b.example", "c.example", "elsewhere.example")))

    stats = frontier.stats()
    assert stats.hosts == 3 and stats.hosts_refused == 0 and stats.dropped[Limit.MAX_HOSTS] == 0


def test_no_limit_with_max_hosts_zero(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=0)
    hosts = [f"h{i}.example" for i in range(50)]

    assert frontier.add(found(0, *_homes(*hosts))) == 50
    assert frontier.stats().hosts == 50


def test_max_hosts_holds_when_many_callers_add_new_hosts_at_once(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=7)
    batches = [_homes(*(f"h{caller}-{i}.example" for i in range(10))) for caller in range(8)]

    def add(urls: list[str]) -> int:
        return Frontier(redis_client, frontier.job).add(found(0, *urls))

    with ThreadPoolExecutor(8) as pool:
        added = sum(pool.map(add, batches))

    stats = frontier.stats()
    assert added == stats.hosts == 7
    assert stats.hosts_refused == pytest.approx(73, abs=1)


def test_a_job_of_several_shards_shares_max_hosts_out(redis_client):
    frontier = new_frontier(redis_client, scope="any", max_hosts=5, frontier_shards=2)
    hosts = [f"h{i}.example" for i in range(40)]

    frontier.add(found(0, *(url for host in hosts for url in pages(host, 2))))

    stats = frontier.stats()
    assert stats.hosts == 5 and stats.queued == 10
