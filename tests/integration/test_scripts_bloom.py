"""The Bloom-filter dedup (`dedup=bloom`), driven on the test Redis: its measured
false-positive rate at its sized capacity is within twice the configured one, what it
takes for new is scheduled once, and a job's dedup cannot be switched under it."""

from __future__ import annotations

import pytest

from pipeline import keys
from pipeline.crawl import jobs
from pipeline.errors import ConfigError
from pipeline.frontier import Found, Frontier
from pipeline.frontier.bloom import geometry
from pipeline.settings import Settings
from tests.integration.frontiers import new_frontier

pytestmark = pytest.mark.integration

CAPACITY, RATE = 100_000, 0.01
PROBES = 20_000


def _add(frontier: Frontier, urls: list[str]) -> int:
    return sum(frontier.add(Found.seeds(urls[start:start + 1000])) for start in range(0, len(urls), 1000))


def test_the_false_positive_rate_at_capacity_is_within_twice_the_configured_one(redis_client):
    frontier = new_frontier(redis_client, dedup="bloom", bloom_capacity=CAPACITY, bloom_error_rate=RATE,
                            max_pages_per_host=0)
    filled = _add(frontier, [f"http://h{n % 97}.example/fill/{n}" for n in range(CAPACITY)])
    probes = [f"http://h{n % 97}.example/probe/{n}" for n in range(PROBES)]
    taken = sum(sum(frontier.seen(probes[start:start + 1000])) for start in range(0, PROBES, 1000))

    assert RATE / 2 <= taken / PROBES <= 2 * RATE, f"false positives: {taken / PROBES:.4f}"
    assert filled > CAPACITY * (1 - RATE), "while filling, the rate stays below the configured one"
    assert frontier.stats().seen == filled, "asking schedules nothing"
    assert redis_client.strlen(frontier.keys.key(keys.BLOOM)) == geometry(CAPACITY, RATE).bytes
    assert not list(redis_client.scan_iter(match=frontier.keys.key(keys.SEEN) + "*")), "no seen sets beside it"


def test_a_url_the_filter_took_in_is_scheduled_once(redis_client):
    frontier = new_frontier(redis_client, dedup="bloom", bloom_capacity=1000)
    urls = [f"http://a.example/{n}" for n in range(100)]

    assert _add(frontier, urls) == 100
    assert _add(frontier, urls) == 0 and frontier.stats().queued == 100
    assert frontier.seen(urls[:3]) == [True] * 3


def test_a_jobs_dedup_cannot_change_once_it_is_created(redis_client):
    frontier = new_frontier(redis_client)
    settings = Settings.load()

    with pytest.raises(ConfigError, match="dedup settings are fixed"):
        jobs.seed(frontier, settings, ["http://a.example/"], {"dedup": "bloom"})
    assert jobs.seed(frontier, settings, ["http://a.example/"], {"delay": 0.0})[0] == 1
