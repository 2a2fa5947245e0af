"""Frontiers for the tests that drive the Lua scripts directly on the test Redis: a job
with a given policy on made-up hosts (nothing is fetched), and ways to read its keys."""

from __future__ import annotations

from typing import Any

import redis

from pipeline import keys
from pipeline.frontier import Found, Frontier, Lease, Stat
from pipeline.settings import Policy, Settings

HOSTS = ("a.example", "b.example", "c.example")
# The shortest lease a policy allows with these timeouts: expiry tests wait it out.
SHORT_LEASE = {"timeout": 0.1, "download_deadline": 0.1, "lease_timeout": 0.3}


def policy(**changes: Any) -> Policy:
    """No delay, no page limit, the made-up hosts in scope, then `changes`."""
    return Settings.load().policy.merged(**{"delay": 0.0, "max_pages": 0, "scope_hosts": HOSTS, **changes})


def new_frontier(client: redis.Redis, job: str = "scripts", **changes: Any) -> Frontier:
    frontier = Frontier(client, job)
    frontier.create(policy(**changes))
    return frontier


def pages(host: str, count: int, start: int = 0) -> list[str]:
    return [f"http://{host}/p/{i}" for i in range(start, start + count)]


def found(depth: int, *urls: str) -> Found:
    """What a page at `depth` listed."""
    return Found(depth, tuple(urls))


def redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds + micros / 1_000_000)


def deadline(frontier: Frontier, lease: Lease) -> float | None:
    score = frontier.redis.zscore(frontier.keys.key(keys.LEASES), lease.member)
    return None if score is None else float(score)


def waiting(frontier: Frontier, host: str) -> dict[str, int]:
    """The host's new URLs waiting: URL -> depth (its lists, as the scripts keep paths)."""
    urls = {}
    for depth in frontier.redis.zrange(frontier.keys.queue_depths(host), 0, -1):
        for entry in frontier.redis.lrange(frontier.keys.queue(int(depth), host), 0, -1):
            path = entry.decode()
            url = f"https://{host}{path[1:]}" if path.startswith("+") else f"http://{host}{path}"
            urls[url if path[:1] in "/+" else path] = int(depth)
    return urls


def counter(frontier: Frontier, name: Stat) -> int:
    return int(frontier.redis.hget(frontier.keys.key(keys.STATS), name) or 0)
