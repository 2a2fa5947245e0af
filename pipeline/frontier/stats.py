"""A snapshot of one job's counters, read from its frontier keys in one round trip:
progress, paused hosts, and what each limit kept out of the crawl. The scripts count
distinct URLs kept out with HyperLogLogs (per host for the per-host budgets), which
cost ~14 KB at most each however many URLs, where an exact count would need every
dropped URL kept; the counts are estimates, about 1% off. A job of several shards is
read shard by shard and summed up."""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Any

import redis

from pipeline import keys
from pipeline.errors import JobNotFound
from pipeline.frontier.data import JobStats, text
from pipeline.frontier.names import HOST_LIMITS, JobState, Limit, Stat

# Hosts listed per per-host limit, those that lost most URLs first.
DROPPED_HOSTS_SHOWN = 10
# Per-host limit -> (ZSET host -> URLs kept out, the stats field of their sum).
_OVERS = dict(zip(HOST_LIMITS, ((keys.OVER_PAGES, Stat.DROPPED_PAGES), (keys.OVER_SITEMAPS, Stat.DROPPED_SITEMAPS)),
                  strict=True))


def read(client: redis.Redis, job_keys: keys.JobKeys, now: float) -> JobStats:
    """The job's counters as Redis has them at `now` (Redis's clock)."""
    k = job_keys
    with client.pipeline(transaction=False) as pipe:
        pipe.get(k.key(keys.STATE))
        pipe.scard(k.key(keys.LEGACY_SEEN))
        pipe.zcard(k.key(keys.LEASES))
        pipe.hgetall(k.key(keys.STATS))
        pipe.zcount(k.key(keys.BACKOFF), f"({now}", "+inf")
        # As a plain command: a cluster pipeline refuses pfcount(), which may name keys
        # of several slots; this one names one.
        for hll in (keys.DROPPED_DEPTH, keys.DROPPED_HOSTS, keys.REFUSED_HOSTS):
            pipe.execute_command("PFCOUNT", k.key(hll))  # type: ignore[no-untyped-call]
        for over, _ in _OVERS.values():
            pipe.zrevrange(k.key(over), 0, DROPPED_HOSTS_SHOWN - 1, withscores=True)
            pipe.zcard(k.key(over))
        pipe.zrevrange(k.key(keys.BLOCKED_HOSTS), 0, DROPPED_HOSTS_SHOWN - 1, withscores=True)
        state, legacy_seen, leased, raw, backing_off, too_deep, new_hosts_dropped, refused, *overs, blocked_hosts = (
            pipe.execute()
        )
    if state is None:
        raise JobNotFound(f"no job named {k.job!r}")
    counters = {text(name): float(value) for name, value in raw.items()}
    state = JobState(text(state))
    queued = int(counters.get(Stat.QUEUED, 0))
    return JobStats(
        job=k.job,
        state=state,
        seen=int(counters.get(Stat.SEEN, 0)) + legacy_seen,
        queued=queued,
        leased=leased,
        dispatched=int(counters.get(Stat.DISPATCHED, 0)),
        stored=int(counters.get(Stat.STORED, 0)),
        errors=int(counters.get(Stat.ERRORS, 0)),
        requeued=int(counters.get(Stat.REQUEUED, 0)),
        started_at=counters.get(Stat.STARTED_AT),
        finished_at=counters.get(Stat.FINISHED_AT),
        backing_off=backing_off,
        revisits_waiting=int(counters.get(Stat.REVISITS_WAITING, 0)),
        revisits=int(counters.get(Stat.REVISITS, 0)),
        revisited=int(counters.get(Stat.REVISITED, 0)),
        # A job finishes with URLs still queued only when max_pages is spent.
        dropped={
            **{limit: int(counters.get(field, 0)) for limit, (_, field) in _OVERS.items()},
            Limit.MAX_DEPTH: int(too_deep),
            Limit.MAX_PAGES: queued if state == JobState.FINISHED else 0,
            Limit.MAX_HOSTS: int(new_hosts_dropped),
        },
        dropped_hosts={limit: _hosts(top) for limit, top in zip(_OVERS, overs[::2], strict=True)},
        hosts_at_limit={limit: int(count) for limit, count in zip(_OVERS, overs[1::2], strict=True)},
        hosts=int(counters.get(Stat.HOSTS, 0)),
        hosts_refused=int(refused),
        blocked=int(counters.get(Stat.BLOCKED, 0)),
        blocked_hosts=_hosts(blocked_hosts),
    )


def _hosts(top: list[tuple[Any, float]]) -> dict[str, int]:
    return {text(host): int(count) for host, count in top}


def state(client: redis.Redis, shards: list[keys.JobKeys]) -> JobState | None:
    """The job's state; None for a job never seeded. A job of several shards is finished
    when every shard is, read twice with no shard begun again in between (a shard
    finished at the first read may have been given links by one that finished just
    after): each was then finished at one same moment, with nothing left anywhere. Its
    other states are written to every shard, and the strongest is the job's."""
    if len(shards) == 1:
        return as_state(client.get(shards[0].key(keys.STATE)))
    first = _states(client, shards)
    states = {shard_state for shard_state, _ in first}
    if states == {JobState.FINISHED}:
        return JobState.FINISHED if _states(client, shards) == first else JobState.RUNNING
    if first[0][0] is None:
        return None
    return next((strong for strong in (JobState.CANCELLED, JobState.PAUSED) if strong in states), JobState.RUNNING)


def as_state(raw: Any) -> JobState | None:
    """The value of a shard's `state` key as Redis replies it; None when it is not set."""
    return None if raw is None else JobState(text(raw))


def _states(client: redis.Redis, shards: list[keys.JobKeys]) -> list[tuple[JobState | None, int]]:
    """Each shard's state and the times it began again after finishing."""
    with client.pipeline(transaction=False) as pipe:
        for shard in shards:
            pipe.get(shard.key(keys.STATE))
            pipe.hget(shard.key(keys.STATS), Stat.RESTARTS)
        replies = pipe.execute()
    return [(as_state(name), int(restarts or 0)) for name, restarts in zip(replies[::2], replies[1::2], strict=True)]


def combine(parts: list[JobStats], job_state: JobState) -> JobStats:
    """The counters of a job's shards summed up, under the job's state."""
    totals: dict[str, Any] = {
        name: sum(int(getattr(part, name)) for part in parts)
        for name in ("seen", "queued", "leased", "dispatched", "stored", "errors", "requeued", "backing_off",
                     "revisits_waiting", "revisits", "revisited", "hosts", "hosts_refused", "blocked")
    }
    started = [part.started_at for part in parts if part.started_at is not None]
    finished = [part.finished_at for part in parts if part.finished_at is not None]
    return replace(
        parts[0],
        state=job_state,
        **totals,
        started_at=min(started) if started else None,
        finished_at=max(finished) if finished and job_state == JobState.FINISHED else None,
        dropped={limit: sum(part.dropped.get(limit, 0) for part in parts) for limit in parts[0].dropped},
        dropped_hosts={
            limit: dict(heapq.nlargest(DROPPED_HOSTS_SHOWN, (pair for part in parts
                                                              for pair in part.dropped_hosts[limit].items()),
                                       key=lambda pair: pair[1]))
            for limit in parts[0].dropped_hosts
        },
        hosts_at_limit={limit: sum(part.hosts_at_limit.get(limit, 0) for part in parts)
                        for limit in parts[0].hosts_at_limit},
        blocked_hosts=dict(heapq.nlargest(DROPPED_HOSTS_SHOWN, (pair for part in parts
                                                               for pair in part.blocked_hosts.items()),
                                          key=lambda pair: pair[1])),
    )
