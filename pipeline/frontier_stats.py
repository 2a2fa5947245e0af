"""A snapshot of one job's counters, read from its frontier keys in one round trip:
progress, paused hosts, and what each limit kept out of the crawl. The scripts count
distinct URLs kept out with HyperLogLogs (per host for the per-host budgets), which
cost ~14 KB at most each however many URLs, where an exact count would need every
dropped URL kept; the counts are estimates, about 1% off."""

from __future__ import annotations

from typing import Any

import redis

from pipeline import keys
from pipeline.errors import JobNotFound
from pipeline.frontier_data import FINISHED, HOST_LIMITS, MAX_DEPTH, MAX_PAGES, JobStats, text

# Hosts listed per per-host limit, those that lost most URLs first.
DROPPED_HOSTS_SHOWN = 10
# Per-host limit -> (ZSET host -> URLs kept out, the stats field of their sum).
_OVERS = dict(zip(HOST_LIMITS, ((keys.OVER_PAGES, "dropped_pages"), (keys.OVER_SITEMAPS, "dropped_sitemaps")),
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
        pipe.execute_command("PFCOUNT", k.key(keys.DROPPED_DEPTH))  # type: ignore[no-untyped-call]
        for over, _ in _OVERS.values():
            pipe.zrevrange(k.key(over), 0, DROPPED_HOSTS_SHOWN - 1, withscores=True)
            pipe.zcard(k.key(over))
        state, legacy_seen, leased, raw, backing_off, too_deep, *overs = pipe.execute()
    if state is None:
        raise JobNotFound(f"no job named {k.job!r}")
    counters = {text(name): float(value) for name, value in raw.items()}
    state = text(state)
    queued = int(counters.get("queued", 0))
    return JobStats(
        job=k.job,
        state=state,
        seen=int(counters.get("seen", 0)) + legacy_seen,
        queued=queued,
        leased=leased,
        dispatched=int(counters.get("dispatched", 0)),
        stored=int(counters.get("stored", 0)),
        errors=int(counters.get("errors", 0)),
        requeued=int(counters.get("requeued", 0)),
        started_at=counters.get("started_at"),
        finished_at=counters.get("finished_at"),
        backing_off=backing_off,
        revisits_waiting=int(counters.get("revisits_waiting", 0)),
        revisits=int(counters.get("revisits", 0)),
        revisited=int(counters.get("revisited", 0)),
        # A job finishes with URLs still queued only when max_pages is spent.
        dropped={
            **{limit: int(counters.get(field, 0)) for limit, (_, field) in _OVERS.items()},
            MAX_DEPTH: int(too_deep),
            MAX_PAGES: queued if state == FINISHED else 0,
        },
        dropped_hosts={limit: _hosts(top) for limit, top in zip(_OVERS, overs[::2], strict=True)},
        hosts_at_limit={limit: int(count) for limit, count in zip(_OVERS, overs[1::2], strict=True)},
    )


def _hosts(top: list[tuple[Any, float]]) -> dict[str, int]:
    return {text(host): int(count) for host, count in top}
