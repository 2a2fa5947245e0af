"""The busiest hosts of a job, for a live view: requests in flight, URLs waiting, and a
pause with its reason. Read from what stays small however large the job is: the leases
(at most the job's window), the next hosts due and the paused hosts, never a scan of
every host the job has seen."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

from pipeline import keys
from pipeline.frontier.data import HostBackoff, text


@dataclass(frozen=True)
class HostView:
    host: str
    in_flight: int
    queued: int  # new URLs and revisits waiting
    paused_for: float  # seconds its pause still lasts; 0 when not paused
    reason: str  # why it is paused ('' when not)


def busiest(client: redis.Redis, shards: list[keys.JobKeys], now: float, limit: int) -> list[HostView]:
    """At most `limit` hosts of the job's shards: those with most requests in flight,
    then those due next, and the paused ones; each with its waiting URLs counted."""
    views = [view for shard in shards for view in _busiest(client, shard, now, limit)]
    return sorted(views, key=lambda view: -view.in_flight)[:limit]


def backoffs(client: redis.Redis, shards: list[keys.JobKeys], now: float, limit: int) -> list[HostBackoff]:
    """The hosts of the job's shards paused at `now`, longest pause first."""
    with client.pipeline(transaction=False) as pipe:
        for shard in shards:
            pipe.zrevrangebyscore(shard.key(keys.BACKOFF), "+inf", f"({now}", start=0, num=limit, withscores=True)
            pipe.hgetall(shard.key(keys.BACKOFF_REASON))
        replies = pipe.execute()
    reasons = {text(host): text(reason) for part in replies[1::2] for host, reason in part.items()}
    paused = sorted((pair for part in replies[::2] for pair in part), key=lambda pair: -pair[1])[:limit]
    return [HostBackoff(text(host), round(resume - now, 1), reasons.get(text(host), "")) for host, resume in paused]


def _busiest(client: redis.Redis, k: keys.JobKeys, now: float, limit: int) -> list[HostView]:
    with client.pipeline(transaction=False) as pipe:
        pipe.hvals(k.key(keys.LEASE))
        pipe.zrange(k.key(keys.DUE), 0, limit - 1)
        pipe.zrangebyscore(k.key(keys.BACKOFF), f"({now}", "+inf", start=0, num=limit, withscores=True)
        pipe.hgetall(k.key(keys.BACKOFF_REASON))
        leases, due, paused, reasons = pipe.execute()
    in_flight = Counter(json.loads(raw)["h"] for raw in leases)
    pauses = {text(host): float(until) - now for host, until in paused}
    hosts = [host for host, _ in in_flight.most_common(limit)]
    hosts += [host for host in (*map(text, due), *pauses) if host not in hosts]
    hosts = hosts[:limit]
    queued = _queued(client, k, hosts)
    why = {text(host): text(reason) for host, reason in reasons.items()}
    return [
        HostView(host, in_flight.get(host, 0), queued[host], round(max(0.0, pauses.get(host, 0.0)), 1),
                 why.get(host, "") if host in pauses else "")
        for host in hosts
    ]


def _queued(client: redis.Redis, k: keys.JobKeys, hosts: list[str]) -> dict[str, int]:
    """URLs waiting per host: its lists of new URLs (one per depth), a sorted set left by
    an older version, and its revisits."""
    with client.pipeline(transaction=False) as pipe:
        for host in hosts:
            pipe.zrange(k.queue_depths(host), 0, -1)
            pipe.zcard(k.legacy_queue(host))
            pipe.zcard(k.key(keys.REVISITS + host))
        replies: list[Any] = pipe.execute()
    depths = {host: replies[3 * i] for i, host in enumerate(hosts)}
    with client.pipeline(transaction=False) as pipe:
        for host in hosts:
            for depth in depths[host]:
                pipe.llen(k.queue(int(depth), host))
        lengths = iter(pipe.execute())
    return {
        host: sum(next(lengths) for _ in depths[host]) + int(replies[3 * i + 1]) + int(replies[3 * i + 2])
        for i, host in enumerate(hosts)
    }
