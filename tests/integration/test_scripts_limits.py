"""What the limits keep out of a crawl, decided and counted by the frontier's scripts on
the test Redis: the depth limit, each host's page and sitemap budgets, and max_pages."""

from __future__ import annotations

import pytest

from pipeline.frontier import Found, JobState, RecordKind
from tests.integration.frontiers import found, new_frontier, pages, policy

pytestmark = pytest.mark.integration


def test_links_of_a_page_at_the_depth_limit_are_kept_out_and_counted_once(redis_client):
    frontier = new_frontier(redis_client, max_depth=2)
    frontier.add(found(0, "http://a.example/known"))

    listed = found(2, "http://a.example/known", "http://a.example/deep/1", "http://a.example/deep/2")
    assert frontier.add(listed) == 0
    frontier.add(listed)

    stats = frontier.stats()
    assert stats.dropped["max_depth"] == 2 and stats.stopped_short  # exact this small
    assert frontier.add(found(1, "http://a.example/deep/1")) == 1, "a link kept out stays unseen"


def test_max_depth_zero_schedules_the_seeds_alone(redis_client):
    frontier = new_frontier(redis_client, max_depth=0)

    assert frontier.add(Found.seeds(["http://a.example/"])) == 1
    assert frontier.add(found(0, "http://a.example/child")) == 0
    assert [lease.depth for lease in frontier.lease()] == [0]


def test_sitemaps_keep_the_depth_of_what_listed_them_whatever_the_limit(redis_client):
    frontier = new_frontier(redis_client, max_depth=0, host_concurrency=2)

    frontier.add(Found(0, sitemaps=("http://a.example/sitemap.xml",)))
    frontier.add(Found(1, sitemaps=("http://a.example/part.xml",)))

    leases = frontier.lease()
    assert sorted((lease.url, lease.depth, lease.kind) for lease in leases) == [
        ("http://a.example/part.xml", 1, RecordKind.SITEMAP), ("http://a.example/sitemap.xml", 0, RecordKind.SITEMAP),
    ]
    assert frontier.stats().dropped["max_depth"] == 0


def test_the_page_budget_counts_what_it_kept_out_per_host(redis_client):
    frontier = new_frontier(redis_client, max_pages_per_host=5)

    frontier.add(Found.seeds(pages("a.example", 50) + pages("b.example", 3)))
    frontier.add(Found.seeds(pages("a.example", 50)))

    stats = frontier.stats()
    assert stats.queued == 8
    assert stats.dropped["max_pages_per_host"] == pytest.approx(45, abs=1)
    assert stats.dropped_hosts["max_pages_per_host"] == {"a.example": stats.dropped["max_pages_per_host"]}
    assert stats.hosts_at_limit == {"max_pages_per_host": 1, "max_sitemaps_per_host": 0}


def test_a_trap_host_is_counted_within_about_one_percent_in_bounded_memory(redis_client):
    frontier = new_frontier(redis_client, max_pages_per_host=10)
    for start in range(0, 20_000, 2_000):
        frontier.add(Found.seeds(pages("trap.example", 2_000, start=start)))
    frontier.add(Found.seeds(pages("b.example", 20)))

    stats = frontier.stats()
    trap = stats.dropped_hosts["max_pages_per_host"]["trap.example"]
    assert trap == pytest.approx(19_990, rel=0.02)
    assert stats.dropped["max_pages_per_host"] == trap + stats.dropped_hosts["max_pages_per_host"]["b.example"]
    assert redis_client.memory_usage(frontier.keys.key("dropped-pages:trap.example")) < 16_384


def test_the_sitemap_budget_counts_what_it_kept_out(redis_client):
    frontier = new_frontier(redis_client, max_sitemaps_per_host=1)

    frontier.add(Found(0, sitemaps=tuple(f"http://a.example/s{i}.xml" for i in range(3))))

    stats = frontier.stats()
    assert stats.dropped["max_sitemaps_per_host"] == 2  # exact this small
    assert stats.dropped_hosts["max_sitemaps_per_host"] == {"a.example": 2}
    assert stats.dropped["max_pages_per_host"] == 0


def test_a_url_kept_out_by_the_budget_is_scheduled_once_the_budget_grows(redis_client):
    frontier = new_frontier(redis_client, max_pages_per_host=1)
    frontier.add(Found.seeds(pages("a.example", 2)))

    frontier.create(policy(max_pages_per_host=5))

    assert frontier.add(Found.seeds(pages("a.example", 2))) == 1


def test_max_pages_counts_the_urls_left_queued_when_the_job_stopped(redis_client):
    frontier = new_frontier(redis_client, max_pages=2, host_concurrency=5)
    frontier.add(Found.seeds(pages("a.example", 5)))
    leases = frontier.lease()
    assert len(leases) == 2 and frontier.stats().dropped["max_pages"] == 0

    for lease in leases:
        frontier.complete(lease, failed=False, found=found(0, "http://a.example/more"))

    stats = frontier.stats()
    assert stats.state == JobState.FINISHED and stats.dropped["max_pages"] == 4 and stats.stopped_short


def test_a_job_that_crawled_everything_did_not_stop_short(redis_client):
    frontier = new_frontier(redis_client)
    frontier.add(Found.seeds(["http://a.example/"]))
    (lease,) = frontier.lease()
    frontier.complete(lease, failed=False, found=Found(0))

    stats = frontier.stats()
    assert stats.state == JobState.FINISHED and not stats.stopped_short
    assert stats.dropped == {"max_pages_per_host": 0, "max_sitemaps_per_host": 0, "max_depth": 0, "max_pages": 0,
                             "max_hosts": 0}


def test_sitemaps_do_not_spend_max_pages_handed_out_nor_handed_back(redis_client):
    frontier = new_frontier(redis_client, max_pages=2, host_concurrency=5)
    frontier.add(Found(0, pages("a.example", 3), sitemaps=("http://a.example/sitemap.xml",)))

    leases = frontier.lease()

    assert sorted(lease.kind for lease in leases) == [RecordKind.PAGE, RecordKind.PAGE, RecordKind.SITEMAP]
    assert frontier.stats().dispatched == 2
    sitemap = next(lease for lease in leases if lease.kind == RecordKind.SITEMAP)
    frontier.hand_back([sitemap])
    assert frontier.stats().dispatched == 2, "a sitemap handed back gave a page back to max_pages"
