"""robots.txt per RFC 9309, with the shared cache replaced by a dict and the network by
a stub: 2xx is obeyed, 4xx allows everything, 5xx/429/no answer disallows everything."""

from __future__ import annotations

import pytest

from pipeline.keys import HOST_DELAY, JobKeys
from pipeline.robots import Robots
from pipeline.settings import Policy

KEYS = JobKeys("job1")
POLICY = Policy(user_agent="testbot/1.0", timeout=0.1)


class FakeRedis:
    """Just the calls robots.py makes."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value, nx=False, ex=None):
        if nx and key in self.data:
            return None
        self.data[key] = value
        return True

    def delete(self, key):
        self.data.pop(key, None)

    def hset(self, key, field, value):
        self.data.setdefault(key, {})[field] = value

    def pipeline(self):
        return self

    def execute(self):
        return []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class StubFetcher:
    def __init__(self, status, text="") -> None:
        self.answer = (status, text)
        self.asked: list[str] = []

    def get_text(self, url, policy, limit):
        self.asked.append(url)
        return self.answer


ROBOTS_TXT = """
User-agent: *
Disallow: /private/

User-agent: testbot
Disallow: /no-testbot/
"""


def test_2xx_file_is_obeyed_for_our_user_agent():
    fetcher = StubFetcher(200, ROBOTS_TXT)
    robots = Robots(FakeRedis(), fetcher)

    assert robots.allowed(KEYS, "http://example.com/public", POLICY)
    assert not robots.allowed(KEYS, "http://example.com/no-testbot/x", POLICY)
    # our own group replaces the "*" group, as RFC 9309 says
    assert robots.allowed(KEYS, "http://example.com/private/x", POLICY)
    assert fetcher.asked == ["http://example.com/robots.txt"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_allows_everything(status):
    robots = Robots(FakeRedis(), StubFetcher(status, "User-agent: *\nDisallow: /\n"))

    assert robots.allowed(KEYS, "http://example.com/anything", POLICY)


@pytest.mark.parametrize("status", [429, 500, 503, None])
def test_unavailable_robots_disallows_everything(status):
    robots = Robots(FakeRedis(), StubFetcher(status))

    assert not robots.allowed(KEYS, "http://example.com/", POLICY)


def test_robots_disabled_never_fetches():
    fetcher = StubFetcher(200, "User-agent: *\nDisallow: /\n")

    assert Robots(FakeRedis(), fetcher).allowed(KEYS, "http://example.com/", POLICY.merged(robots=False))
    assert fetcher.asked == []


def test_robots_is_fetched_once_per_host_for_all_workers():
    shared = FakeRedis()
    fetcher = StubFetcher(200, ROBOTS_TXT)
    first, second = Robots(shared, fetcher), Robots(shared, fetcher)

    assert first.allowed(KEYS, "http://example.com/a", POLICY)
    assert not second.allowed(KEYS, "http://example.com/no-testbot/b", POLICY)
    assert fetcher.asked == ["http://example.com/robots.txt"]


def test_each_host_and_port_has_its_own_robots():
    fetcher = StubFetcher(200, ROBOTS_TXT)
    robots = Robots(FakeRedis(), fetcher)

    robots.allowed(KEYS, "http://example.com/", POLICY)
    robots.allowed(KEYS, "http://example.com:8080/", POLICY)
    robots.allowed(KEYS, "https://other.example/", POLICY)

    assert fetcher.asked == [
        "http://example.com/robots.txt",
        "http://example.com:8080/robots.txt",
        "https://other.example/robots.txt",
    ]


@pytest.mark.parametrize(("declared", "recorded"), [("2", 2.0), ("500", 30.0)])
def test_crawl_delay_is_recorded_for_the_whole_cluster_and_capped(declared, recorded):
    fake = FakeRedis()
    robots = Robots(fake, StubFetcher(200, f"User-agent: *\nCrawl-delay: {declared}\n"))

    assert robots.allowed(KEYS, "http://example.com/page", Policy(max_crawl_delay=30.0))

    assert fake.data[KEYS.key(HOST_DELAY)]["example.com"] == recorded
