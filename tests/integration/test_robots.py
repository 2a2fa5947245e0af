"""robots.txt shared by every worker through a real Redis: fetched once per site, under
a token-checked lock that a waiting worker never spins on, and kept parsed in a bounded
cache in each process."""

from __future__ import annotations

import pytest

from pipeline.fetch import Fetcher, Robots, RobotsPending
from pipeline.keys import HOST_DELAY, Keyring
from pipeline.settings import Policy
from tests.integration.site import Host, Response

KEYS = Keyring("robots-test")
POLICY = Policy(user_agent="testbot/1.0", allow_private=True, timeout=2, download_deadline=3)


@pytest.fixture
def host():
    server = Host("127.0.0.1")
    server.routes["/robots.txt"] = Response(
        body="User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n", content_type="text/plain"
    )
    yield server.start()
    server.stop()


def _download(robots: Robots, site: str) -> None:
    with robots.fetching(KEYS, site, POLICY) as ours:
        assert ours
        robots.download(KEYS, site, POLICY, Fetcher())


def test_an_unknown_site_is_pending_until_one_worker_fetched_it_for_all(redis_client, host):
    first, second = Robots(redis_client, 10), Robots(redis_client, 10)
    url = host.url("/private/x")

    assert first.pending(KEYS, url, POLICY) == host.base
    with pytest.raises(RobotsPending):
        first.allowed(KEYS, url, POLICY)
    _download(first, host.base)

    assert second.pending(KEYS, url, POLICY) is None
    assert not second.allowed(KEYS, url, POLICY)
    assert second.allowed(KEYS, host.url("/public"), POLICY)
    assert host.requests()["/robots.txt"] == 1
    assert float(redis_client.hget(KEYS.shard(0).key(HOST_DELAY), host.base.split("//")[1])) == 2.0


def test_a_second_worker_is_told_to_come_back_instead_of_waiting(redis_client, host):
    first, second = Robots(redis_client, 10), Robots(redis_client, 10)

    with first.fetching(KEYS, host.base, POLICY) as ours, second.fetching(KEYS, host.base, POLICY) as theirs:
        assert ours and not theirs


def test_a_lock_that_expired_never_releases_the_next_owner_s(redis_client, host):
    first, second = Robots(redis_client, 10), Robots(redis_client, 10)
    lock_key = KEYS.shard(0).robots_lock(host.base)

    with first.fetching(KEYS, host.base, POLICY) as ours:
        assert ours
        redis_client.delete(lock_key)  # as if it had expired while the first worker was slow
        with second.fetching(KEYS, host.base, POLICY) as theirs:
            assert theirs
            owner = redis_client.get(lock_key)
        # the first worker leaves here: the second one's lock must survive it
    assert owner is not None

    with first.fetching(KEYS, host.base, POLICY) as again:
        assert again, "every lock was released by its own owner"


def test_the_parsed_cache_of_a_process_is_bounded(redis_client):
    hosts = [Host(f"127.0.0.{i}") for i in (1, 2, 3)]
    for server in hosts:
        server.routes["/robots.txt"] = Response(body="User-agent: *\nDisallow: /x\n", content_type="text/plain")
        server.start()
    try:
        robots = Robots(redis_client, cache_size=2)
        for server in hosts:
            _download(robots, server.base)
            assert robots.allowed(KEYS, server.url("/ok"), POLICY)
        for server in hosts:
            redis_client.delete(KEYS.shard(0).robots(server.base))
        # Only the two most recently used sites are still known without Redis.
        known = [robots.pending(KEYS, server.url("/"), POLICY) is None for server in hosts]
    finally:
        for server in hosts:
            server.stop()

    assert known == [False, True, True]


def test_verdicts_answer_for_known_sites_only_without_fetching(redis_client, host):
    other = Host("127.0.0.2").start()
    try:
        robots, fresh = Robots(redis_client, 10), Robots(redis_client, 10)
        _download(robots, host.base)
        urls = [host.url("/private/x"), host.url("/public"), other.url("/private/x")]

        # A process that never parsed it reads it from Redis, for all its sites at once.
        assert fresh.verdicts(KEYS, urls, POLICY) == dict(zip(urls, [False, True, None], strict=True))
        assert fresh.verdicts(KEYS, urls, POLICY.merged(robots=False)) == dict.fromkeys(urls, True)
    finally:
        other.stop()
    assert other.requests() == {} and host.requests() == {"/robots.txt": 1}
