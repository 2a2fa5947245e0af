"""The Redis frontier of one job: what has been seen, what waits per host, what is
leased to workers, and the counters that say when the job is done.

The frontier, not the broker, is the source of truth. URLs are leased with a deadline
when they are handed to Celery; a lease that is not completed in time (its worker died
or was cut off) goes back to its host's queue, so no URL is ever dropped; one whose
lease expired max_requeues + 1 times is handed back to the dispatcher instead, to be
stored as failed. Its Lua scripts are in pipeline/lua/, its plain values in
frontier_data, its counters read by frontier_stats.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import redis

from pipeline import frontier_hosts, frontier_stats, keys, lua
from pipeline.bloom import geometry, halves
from pipeline.errors import ConfigError, JobNotFound, StalePolicy
from pipeline.frontier_data import (
    CANCELLED,
    FINISHED,
    HOST_LIMITS,
    LIMITS,
    MAX_PAGES,
    PAGE,
    PAUSED,
    RUNNING,
    SITEMAP,
    STATES,
    Completed,
    FeedState,
    Found,
    HostBackoff,
    JobStats,
    Lease,
    LostLease,
    Revisit,
    Tick,
    member,
    text,
)
from pipeline.frontier_hosts import HostView
from pipeline.sent_links import SentLinks
from pipeline.settings import DEDUP_BLOOM, Policy
from pipeline.urls import fingerprint, host_key, seen_entry

# The values every caller of the frontier needs, importable from here.
__all__ = [
    "CANCELLED", "FINISHED", "HOST_LIMITS", "LIMITS", "MAX_PAGES", "PAGE", "PAUSED", "RUNNING", "SITEMAP", "STATES",
    "Completed", "FeedState", "Found", "Frontier", "HostBackoff", "HostView", "JobStats", "Lease", "LostLease",
    "Revisit", "Tick", "list_jobs",
]

# Leases handed out when a URL finishes: one for the slot it frees, one to grow.
HANDOFF_LIMIT = 2
# Expired leases one tick handles at most; the rest wait for the next tick.
EXPIRE_LIMIT = 1000
# Seconds a job's policy is reused before it is read again (re-seeding may change it).
POLICY_TTL = 5.0
# Times a call refused for a stale policy is repeated with a fresh one.
STALE_RETRIES = 3
# Hosts the live view lists below the totals.
BUSIEST_SHOWN = 5
# Keys of a job removed per UNLINK when it is forgotten.
FORGET_BATCH = 1000
# Links a process remembers having sent to its jobs' frontiers (~400 bytes each).
SENT_LINKS = 50_000
_SENT = SentLinks(SENT_LINKS)


class Frontier:
    """One job's frontier in Redis. It keeps a copy of the job's policy for a few
    seconds; when a script finds the job was re-seeded with another policy since, the
    frontier reads it again and repeats the call, so callers never see a stale policy."""

    def __init__(self, client: redis.Redis, job: str, policy_ttl: float = POLICY_TTL) -> None:
        self.redis = client
        self.job = keys.check_job_name(job)
        self.keys = keys.JobKeys(job)
        self.policy_ttl = policy_ttl
        self._policy: tuple[float, Policy] | None = None
        self._scripts = lua.register(client)

    def create(self, policy: Policy) -> Policy:
        """Write the job's policy (keeping scope hosts of earlier seeds); a new job starts
        running, an existing one keeps its state (a finished one runs again only when
        new URLs are added to it)."""
        old = self.stored_policy()
        if old is not None:
            hosts = tuple(dict.fromkeys(old.scope_hosts + policy.scope_hosts))
            policy = policy.merged(scope_hosts=hosts)
        # A re-seed's version is above the one it replaces, even when this host's clock is
        # behind the last seeder's (two seedings at the same moment may still race).
        policy = policy.merged(version=max(time.time_ns() // 1000, old.version + 1 if old else 0))
        # One transaction in the job's slot; the list of jobs lives elsewhere (a cluster
        # has it in another slot), so the job is listed once it exists.
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.key(keys.CONFIG), json.dumps(policy.to_json()))
            pipe.set(self.keys.key(keys.VERSION), policy.version)
            pipe.set(self.keys.key(keys.STATE), RUNNING, nx=True)
            pipe.hsetnx(self.keys.key(keys.STATS), "started_at", time.time())
            pipe.execute()
        self.redis.sadd(keys.JOBS, self.job)
        self._policy = (time.monotonic() + self.policy_ttl, policy)
        return policy

    def forget(self) -> None:
        """Remove every key of the job (frontier, counters, policy) and its name from the
        list of jobs, so that it can start over. The keys are found a batch at a time
        (SCAN, on every master of a cluster), never with KEYS."""
        batch: list[Any] = []
        for key in self.redis.scan_iter(match=self.keys.prefix + "*", count=FORGET_BATCH):
            batch.append(key)
            if len(batch) == FORGET_BATCH:
                self.redis.unlink(*batch)
                batch = []
        if batch:
            self.redis.unlink(*batch)
        self.redis.srem(keys.JOBS, self.job)
        self._policy = None

    def exists(self) -> bool:
        return bool(self.redis.exists(self.keys.key(keys.CONFIG)))

    def stored_policy(self) -> Policy | None:
        """The job's policy as Redis has it now; None for a job never seeded."""
        raw = self.redis.get(self.keys.key(keys.CONFIG))
        return None if raw is None else Policy.from_json(json.loads(raw))

    def policy(self) -> Policy:
        """The job's policy, as read at most `policy_ttl` seconds ago."""
        if self._policy is None or self._policy[0] <= time.monotonic():
            policy = self.stored_policy()
            if policy is None:
                raise JobNotFound(f"no job named {self.job!r}")
            self._policy = (time.monotonic() + self.policy_ttl, policy)
        return self._policy[1]

    def state(self) -> str | None:
        state: str | None = text(self.redis.get(self.keys.key(keys.STATE)))
        return state

    def set_state(self, state: str) -> None:
        if state not in STATES:
            raise ConfigError(f"unknown job state {state!r}")
        if not self.exists():
            raise JobNotFound(f"no job named {self.job!r}")
        self.redis.set(self.keys.key(keys.STATE), state)

    def add(self, found: Found) -> int:
        """Schedule what `found` lists that was never seen; returns how many."""
        return int(self._run("ADD", found=found))

    def lease(self, limit: int | None = None) -> list[Lease]:
        """Lease what is due now, at most `limit` (default: the job's whole window)."""
        rows = self._run("LEASE", limit=limit, full_window=limit is None)
        return [Lease.from_script(row) for row in rows]

    def claim_start(self, lease: Lease) -> float:
        """0 when the request of `lease` may start now (it is recorded, and the lease
        renewed); else seconds to wait; below 0 when the lease is no longer this chain's."""
        return float(self._run("CLAIM_START", host=lease.host, url=lease.member, token=lease.token))

    def release_host(self, lease: Lease) -> list[Lease] | None:
        """The request of `lease` is over: free its host slot, renew the lease for the
        steps after the request, and hand out what is now due; None when the lease is no
        longer this chain's."""
        owned, rows = self._run("RELEASE_HOST", url=lease.member, token=lease.token, limit=HANDOFF_LIMIT)
        return [Lease.from_script(row) for row in rows] if owned else None

    def postpone(self, host: str, seconds: float, reason: str) -> None:
        """No request to `host` starts, on any worker, for `seconds` (its Retry-After, or
        a backoff after a failure)."""
        self._run("POSTPONE", host=host, seconds=seconds, reason=reason)

    def backoffs(self, limit: int = 10) -> list[HostBackoff]:
        """The hosts paused now, longest pause first."""
        now = self._now()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrangebyscore(self.keys.key(keys.BACKOFF), "+inf", f"({now}", start=0, num=limit, withscores=True)
            pipe.hgetall(self.keys.key(keys.BACKOFF_REASON))
            paused, reasons = pipe.execute()
        reasons = {text(host): text(reason) for host, reason in reasons.items()}
        return [
            HostBackoff(text(host), round(resume - now, 1), reasons.get(text(host), ""))
            for host, resume in paused
        ]

    def _now(self) -> float:
        """Redis's clock, which the schedule runs on."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Record robots.txt's Crawl-delay of `host`; the larger of it and the job's delay wins."""
        self.redis.hset(self.keys.key(keys.HOST_DELAY), host, seconds)

    def extend(self, lease: Lease) -> bool:
        """Push the lease deadline out again, e.g. before a retry; False if it was lost."""
        return bool(self._run("EXTEND", url=lease.member, token=lease.token))

    def complete(self, lease: Lease, failed: bool, found: Found) -> Completed:
        """Release the lease, schedule what `found` lists, and hand out what is now due;
        nothing is counted or scheduled when the lease was no longer this chain's. The
        depth handed back is the URL's shortest known: lower than the lease's when a
        shorter path was found while it was leased (its links were scheduled from it)."""
        counted, rows, depth = self._run(
            "COMPLETE", found=found, remember=True, url=lease.member, token=lease.token, failed=failed,
            limit=HANDOFF_LIMIT,
        )
        if counted and int(depth) < found.depth and (found.pages or found.sitemaps):
            # The script listed the links from the shorter depth, but the links left out
            # as already sent were judged from the lease's: all of them go in again.
            self.add(replace(found, depth=int(depth)))
        return Completed(bool(counted), [Lease.from_script(row) for row in rows], int(depth))

    def hand_back(self, leases: list[Lease]) -> int:
        """Requeue at once the leases whose chains were dropped unrun; returns how many
        were still owned (the others were done or handed out again meanwhile)."""
        return int(self._run("HAND_BACK", leases=[[lease.member, lease.token] for lease in leases]))

    def tick(self, limit: int | None = None, expire_all: bool = False) -> Tick:
        """Requeue expired leases (all of them with `expire_all`), then lease what is due
        (at most `limit`; default: the job's whole window). A URL requeued max_requeues
        times whose lease expires again comes back in `lost`, until it is completed."""
        expired, rows, lost = self._run(
            "TICK", limit=limit, full_window=limit is None, expire_limit=EXPIRE_LIMIT, expire_all=expire_all
        )
        return Tick(
            int(expired),
            [Lease.from_script(row) for row in rows],
            [LostLease(Lease.from_script(row[:5]), int(row[5])) for row in lost],
        )

    def requeue_all_but(self, carried: Iterable[Lease]) -> int:
        """Requeue now every lease of the job except those in `carried` (same URL, same
        token): when no worker of an earlier run is alive, a lease that no chain in the
        broker carries can never complete. Returns how many went back to the queues."""
        keep = [[lease.member, lease.token] for lease in carried]
        return int(self._run("REQUEUE_EXCEPT", keep=keep))

    def seen(self, urls: list[str]) -> list[bool]:
        """Whether the job scheduled each of `urls` (pages) before; with dedup=bloom, a
        false positive answers True. Nothing is scheduled."""
        return [bool(answer) for answer in self._run("SEEN", found=Found.seeds(urls))]

    def revisit(self, due: list[Revisit], done: bool, feed: str) -> int:
        """Queue stored URLs that are due again; with `done`, the store has no more of
        recrawl pass `feed`, which ends. Returns how many were queued (not those waiting
        or leased already)."""
        rows = [
            [member(item.url, item.kind), host_key(item.url), item.depth, json.dumps(item.prior.to_json())]
            for item in due
        ]
        return int(self._run("REVISIT", revisits=rows, done=done, feed=feed))

    def recrawl(self) -> str:
        """Begin a recrawl pass (the store has made the job's URLs due): a finished or
        cancelled job runs again, and none finishes before the pass is fed in. Returns
        the pass's number, which the feeder hands back when the store has no more."""
        return str(self._run("RECRAWL"))

    def feeding(self) -> str | None:
        """The recrawl pass the store is still feeding in, if any."""
        feed: str | None = text(self.redis.get(self.keys.key(keys.FEED)))
        return feed

    def feed_state(self) -> FeedState:
        """What the feeder reads of the job at every tick, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.key(keys.STATE))
            pipe.get(self.keys.key(keys.FEED))
            pipe.hget(self.keys.key(keys.STATS), "revisits_waiting")
            state, feed, waiting = pipe.execute()
        return FeedState(text(state), text(feed), int(waiting or 0))

    def stats(self) -> JobStats:
        return frontier_stats.read(self.redis, self.keys, self._now())

    def busiest_hosts(self, limit: int = BUSIEST_SHOWN) -> list[HostView]:
        return frontier_hosts.busiest(self.redis, self.keys, self._now(), limit)

    def _run(self, name: str, found: Found | None = None, remember: bool = False, **params: Any) -> Any:
        """Run script `name` with the job's policy; a policy found stale is read again and
        the call repeated (the URLs in `found` are chosen again under the new one).

        With `remember`, the links of `found` this process sent before (SentLinks) are
        left out, and those sent are remembered when the reply's first value says the
        call counted (a stale lease schedules nothing)."""
        for _ in range(STALE_RETRIES):
            policy = self.policy()
            depth = found.depth if found is not None else 0
            entries = found.entries(policy) if found is not None else []
            if remember:
                entries = _SENT.unsent(self.job, entries, depth, policy.version)
            rows, fingerprints = _links(entries, policy.dedup == DEDUP_BLOOM)
            values = _script_params(policy, rows, params, depth=depth)
            args: list[str | bytes] = [json.dumps(values), *fingerprints]
            try:
                reply = self._scripts[name](keys=[self.keys.prefix], args=args)
            except redis.ResponseError as exc:
                if not str(exc).startswith("STALE_POLICY"):
                    raise
                self._policy = None
                continue
            if remember and reply[0]:
                _SENT.sent(self.job, entries, depth, policy.version)
            return reply
        raise StalePolicy(f"job {self.job!r} was re-seeded {STALE_RETRIES} times during one call")


def _script_params(
    policy: Policy, links: list[list[Any]], params: dict[str, Any], depth: int
) -> dict[str, Any]:
    """What every script reads of the job's policy, with the call's own parameters and
    the URLs to schedule (`_links` rows), listed by a URL at `depth`."""
    values = dict(params)
    if values.pop("full_window", False):
        values["limit"] = policy.dispatch_window
    values.update(
        conc=max(1, policy.host_concurrency),
        delay=policy.delay,
        max_pages=policy.max_pages,
        max_depth=policy.max_depth,
        host_budget=policy.max_pages_per_host,
        sitemap_budget=policy.max_sitemaps_per_host,
        window=policy.dispatch_window,
        lookahead=policy.dispatch_lookahead,
        lease_timeout=policy.lease_timeout,
        max_requeues=policy.max_requeues,
        version=policy.version,
        continuous=policy.revisit_interval > 0,
        **_bloom_params(policy),
        links=links,
        depth=depth,
    )
    return values


def list_jobs(client: redis.Redis) -> list[str]:
    return sorted(text(job) for job in client.smembers(keys.JOBS))



def _links(entries: list[tuple[str, str]], bloom: bool) -> tuple[list[list[Any]], list[bytes]]:
    """Per URL to schedule, its row for the scripts ({member, host, is_sitemap, then the
    seen set's bucket and entry, or the Bloom filter's h1 and h2}) and its fingerprint
    (an ARGV of its own: binary, not JSON)."""
    rows, fingerprints = [], []
    for url, kind in entries:
        name = member(url, kind)
        digest = fingerprint(name)
        where: tuple[Any, Any] = halves(digest) if bloom else seen_entry(digest)
        rows.append([name, host_key(url), int(kind == SITEMAP), *where])
        fingerprints.append(digest)
    return rows, fingerprints


def _bloom_params(policy: Policy) -> dict[str, int]:
    """The filter's size and positions a URL, or zeros for the exact seen sets."""
    if policy.dedup != DEDUP_BLOOM:
        return {"bloom_bits": 0, "bloom_hashes": 0}
    shape = geometry(policy.bloom_capacity, policy.bloom_error_rate)
    return {"bloom_bits": shape.bits, "bloom_hashes": shape.hashes}
