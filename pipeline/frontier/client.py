"""The Redis frontier of one job: what has been seen, what waits per host, what is
leased to workers, and the counters that say when the job is done.

The frontier, not the broker, is the source of truth. URLs are leased with a deadline
when they are handed to Celery; a lease that is not completed in time (its worker died
or was cut off) goes back to its host's queue, so no URL is ever dropped; one whose
lease expired max_requeues + 1 times is handed back to the dispatcher instead, to be
stored as failed. Its Lua scripts are in lua/, its plain values in data.py, the names
it shares with them in names.py, its counters read by stats.py.

A job's frontier may be split by host into shards (`frontier_shards`, fixed when the
job is created), each in its own Redis Cluster slot, so that one job spreads over the
masters of a cluster. A script runs in the shard of the host it is about; the links a
page lists for other shards are added there before its own shard completes it, so the
job never looks done while work moves between shards. A job of several shards is
finished when each of them is (read twice, see `state`), and its max_pages is shared
out by budget.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import redis

from pipeline import keys
from pipeline.errors import ConfigError, JobNotFound, StalePolicy
from pipeline.frontier import budget, calls, delays, hosts, lua, stats
from pipeline.frontier.data import (
    Completed,
    Failure,
    FeedState,
    Found,
    HeldSlot,
    HostBackoff,
    JobStats,
    Lease,
    LostLease,
    Revisit,
    Tick,
    member,
    text,
)
from pipeline.frontier.delays import HostDelay
from pipeline.frontier.hosts import HostView
from pipeline.frontier.names import STALE_POLICY, JobState, Script, Stat
from pipeline.frontier.sent_links import SentLinks
from pipeline.settings import DEDUP_BLOOM, Policy
from pipeline.store import RecordKind
from pipeline.urls import host_key

T = TypeVar("T")

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


class _Stale(Exception):
    """A script found the job seeded again with another policy since it was read."""


class Frontier:
    """One job's frontier in Redis. It keeps a copy of the job's policy for a few
    seconds; when a script finds the job was re-seeded with another policy since, the
    frontier reads it again and repeats the call, so callers never see a stale policy."""

    def __init__(self, client: redis.Redis, job: str, policy_ttl: float = POLICY_TTL) -> None:
        self.redis = client
        self.job = keys.check_job_name(job)
        # Shard 0's keys, which hold the job's policy (and all of a job of one shard).
        self.keys = keys.JobKeys(job)
        self.policy_ttl = policy_ttl
        self._policy: tuple[float, Policy] | None = None
        self._scripts = lua.register(client)

    @property
    def keyring(self) -> keys.Keyring:
        """The keys of every shard of the job."""
        return keys.Keyring(self.job, self.policy().frontier_shards)

    def create(self, policy: Policy) -> Policy:
        """Write the job's policy (keeping scope hosts of earlier seeds and the number of
        shards it was created with); a new job starts running, an existing one keeps its
        state (a finished one runs again only when new URLs are added to it)."""
        old = self.stored_policy()
        if old is not None:
            scope_hosts = tuple(dict.fromkeys(old.scope_hosts + policy.scope_hosts))
            policy = policy.merged(scope_hosts=scope_hosts, frontier_shards=old.frontier_shards)
        # A re-seed's version is above the one it replaces, even when this host's clock is
        # behind the last seeder's (two seedings at the same moment may still race).
        policy = policy.merged(version=max(time.time_ns() // 1000, old.version + 1 if old else 0))
        # The host policy file's delays and concurrencies, for the scripts (in every shard).
        rules: dict[Any, Any] = delays.script_rules(policy.host_rules)
        # One transaction per shard's slot, shard 0 (and its policy) last: a caller that
        # reads the new policy finds its version in every shard. The list of jobs lives
        # elsewhere (a cluster has it in another slot), so the job is listed once it exists.
        for shard in reversed(keys.Keyring(self.job, policy.frontier_shards).all()):
            with self.redis.pipeline(transaction=True) as pipe:
                if shard.shard == 0:
                    pipe.set(shard.key(keys.CONFIG), json.dumps(policy.to_json()))
                pipe.delete(shard.key(keys.HOST_RULES))
                if rules:
                    pipe.hset(shard.key(keys.HOST_RULES), mapping=rules)
                pipe.set(shard.key(keys.VERSION), policy.version)
                pipe.set(shard.key(keys.STATE), JobState.RUNNING, nx=True)
                pipe.hsetnx(shard.key(keys.STATS), Stat.STARTED_AT, time.time())
                # max_pages may have changed: the next sharing decides afresh.
                pipe.delete(shard.key(keys.BUDGET_SPENT))
                pipe.execute()
        self.redis.sadd(keys.JOBS, self.job)
        self._policy = (time.monotonic() + self.policy_ttl, policy)
        return policy

    def forget(self) -> None:
        """Remove every key of the job (frontier, counters, policy) and its name from the
        list of jobs, so that it can start over. The keys are found a batch at a time
        (SCAN, on every master of a cluster), never with KEYS."""
        stored = self.stored_policy()
        for shard in keys.Keyring(self.job, stored.frontier_shards if stored else 1).all():
            batch: list[Any] = []
            for key in self.redis.scan_iter(match=shard.prefix + "*", count=FORGET_BATCH):
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

    def state(self) -> JobState | None:
        """The job's state; None for a job never seeded (stats.state says how a job of
        several shards is read)."""
        return stats.state(self.redis, self._shards())

    def _shards(self) -> list[keys.JobKeys]:
        """Every shard's keys; shard 0's alone for a job never seeded."""
        try:
            return self.keyring.all()
        except JobNotFound:
            return [self.keys]

    def set_state(self, state: str) -> None:
        if state not in set(JobState):
            raise ConfigError(f"unknown job state {state!r}")
        if not self.exists():
            raise JobNotFound(f"no job named {self.job!r}")
        with self.redis.pipeline(transaction=False) as pipe:
            for shard in self.keyring.all():
                pipe.set(shard.key(keys.STATE), state)
            pipe.execute()

    def add(self, found: Found) -> int:
        """Schedule what `found` lists that was never seen; returns how many."""
        return self._retrying(lambda policy: self._add(policy, found.entries(policy), found.depth))

    def _add(self, policy: Policy, entries: list[tuple[str, RecordKind]], depth: int) -> int:
        parts = calls.by_shard(policy, entries, calls.entry_host)
        return sum(int(self._call(policy, shard, Script.ADD, part, depth)) for shard, part in parts.items())

    def lease(self, limit: int | None = None) -> list[Lease]:
        """Lease what is due now, at most `limit` (default: the job's whole window)."""
        def attempt(policy: Policy) -> list[Lease]:
            self._share_budget(policy)
            per_shard = calls.per_shard(policy, limit)
            rows = [row for shard in range(policy.frontier_shards)
                    for row in self._call(policy, shard, Script.LEASE, limit=per_shard)]
            return [Lease.from_script(row) for row in rows]

        return self._retrying(attempt)

    def claim_start(self, lease: Lease, sent_for: float = 0.0) -> float:
        """0 when the request of `lease` may start now (it is recorded, and the lease
        renewed); else seconds to wait; below 0 when the lease is no longer this chain's.
        With `sent_for`, a report rather than a claim: this chain's last request to the
        host went out that many seconds ago, and the host's turn counts from then (as
        RELEASE_HOST's does); the seconds until the next request may start."""
        return float(self._in_host(lease.host, Script.CLAIM_START, host=lease.host, url=lease.member,
                                   token=lease.token, sent_for=sent_for))

    def release_host(self, lease: Lease, elapsed: float = 0.0, ok: bool = True,
                     sent_for: float = 0.0) -> list[Lease] | None:
        """The request of `lease` is over, after `elapsed` seconds (0: unknown, the host's
        last response time stays), and went out `sent_for` seconds ago (0: unknown): free
        its host slot, renew the lease for the steps after the request, and hand out what
        is now due; None when the lease is no longer this chain's. A request that did not
        fail (`ok`) ends its host's run of failing URLs."""
        owned, rows = self._in_host(lease.host, Script.RELEASE_HOST, url=lease.member, token=lease.token, ok=ok,
                                    limit=HANDOFF_LIMIT, elapsed=elapsed, sent_for=sent_for)
        return [Lease.from_script(row) for row in rows] if owned else None

    def retry(self, lease: Lease, seconds: float, attempt: int, failure: Failure,
              elapsed: float = 0.0, sent_for: float = 0.0) -> list[Lease] | None:
        """The request of `lease` failed after `elapsed` seconds (0: unknown) and may not
        next time: the URL waits `seconds` in its host's retry queue, holding no slot, and
        is handed out again as `attempt`; the host pauses if `failure` says so, and its
        next start counts from when the request went out (`sent_for` seconds ago). Returns
        what the freed slot made due; None when the lease is no longer this chain's."""
        owned, rows, _ = self._in_host(
            lease.host, Script.RETRY, url=lease.member, token=lease.token, host=lease.host, seconds=seconds,
            attempt=attempt, pause=failure.seconds, reason=failure.reason, host_level=failure.host_level,
            limit=HANDOFF_LIMIT, elapsed=elapsed, sent_for=sent_for,
        )
        return [Lease.from_script(row) for row in rows] if owned else None

    def failed(self, lease: Lease, failure: Failure) -> bool:
        """Count a failed request of `lease` (one not retried) against its host, which
        pauses as `failure` says; True when it did."""
        return bool(self._in_host(lease.host, Script.POSTPONE, host=lease.host, url=lease.member,
                                  seconds=failure.seconds, reason=failure.reason, host_level=failure.host_level))

    def postpone(self, host: str, seconds: float, reason: str) -> None:
        """No request to `host` starts, on any worker, for `seconds` (its Retry-After, or
        a backoff after a failure)."""
        self._in_host(host, Script.POSTPONE, host=host, url="", seconds=seconds, reason=reason, host_level=True)

    def backoffs(self, limit: int = 10) -> list[HostBackoff]:
        """The hosts paused now, longest pause first."""
        return hosts.backoffs(self.redis, self._shards(), self._now(), limit)

    def _now(self) -> float:
        """Redis's clock, which the schedule runs on."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def host_delay(self, host: str) -> HostDelay:
        """What `host` crawls with now (delay, concurrency, robots, user agent) and why."""
        shard = self.keyring.for_host(host)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(shard.key(keys.HOST_DELAY), host)
            pipe.hget(shard.key(keys.RESPONSE_TIME), host)
            crawl_delay, last = pipe.execute()
        return delays.effective(self.policy(), host, float(crawl_delay or 0.0), None if last is None else float(last))

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Record robots.txt's Crawl-delay of `host`; the larger of it and the job's delay wins."""
        self.redis.hset(self.keyring.for_host(host).key(keys.HOST_DELAY), host, seconds)

    def extend(self, lease: Lease) -> bool:
        """Push the lease deadline out again, e.g. before a retry; False if it was lost."""
        return bool(self._in_host(lease.host, Script.EXTEND, url=lease.member, token=lease.token))

    def render_choice(self, host: str, sample: int, recheck: int, hold: float,
                      pages: int = 1) -> tuple[str, str | None, int]:
        """Under render=auto, what becomes of a fetched page of `host`: 'sample' (one of
        its `sample` samples, reserved for `hold` seconds), 'pending' (its samples are
        out, no verdict yet), or its verdict with the evidence as JSON and the pages left
        before its next check, counting `pages` under it now; the host is sampled again
        after `recheck` pages under its first verdict (lua/render_choice.lua)."""
        choice, evidence, left = self._retrying(lambda policy: self._call(
            policy, 0, Script.RENDER_CHOICE, host=host, sample=sample, recheck=recheck, hold=hold, pages=pages))
        return text(choice), None if evidence is None else text(evidence), int(left)

    def settled(self, entries: list[tuple[str, RecordKind]], depth: int, policy: Policy) -> None:
        """`entries`, listed by a page at `depth`, are seen in the job without being
        sent (robots.txt disallowed them): this process need not look at them again."""
        _SENT.sent(self.job, entries, depth, policy.version)

    def unsent(self, found: Found, policy: Policy) -> list[tuple[str, RecordKind]]:
        """What `found` lists (in scope) that this process has not sent to the frontier
        from as shallow a page already: only these can still be new to the job."""
        return _SENT.unsent(self.job, found.entries(policy), found.depth, policy.version)

    def complete(
        self, lease: Lease, failed: bool, found: Found, blocked: Sequence[tuple[str, RecordKind]] = (),
        disallowed: bool = False, held: HeldSlot | None = None,
    ) -> Completed:
        """Release the lease, schedule what `found` lists, settle the `blocked` links
        (whose records are written: marked seen and counted, in this call for those of
        the lease's shard, by BLOCK in the others), and hand out what is now due. When
        the lease was no longer this chain's, nothing of the URL's own is counted or
        scheduled (the blocked links are settled all the same). `disallowed`: the URL's
        record is robots.txt's refusal, made without a request. The depth handed back is
        the URL's shortest known: lower than the lease's when a shorter path was found
        while it was leased (its links were scheduled from it). `held`: the lease still
        holds its host's slot, whose request is over: it is freed here, as
        `release_host` would have before the parse.

        The links this process sent before (SentLinks) are left out, and those sent are
        remembered when the lease was still this chain's."""
        def attempt(policy: Policy) -> Completed:
            entries = _SENT.unsent(self.job, found.entries(policy), found.depth, policy.version)
            own = keys.shard_of(lease.host, policy.frontier_shards)
            parts = calls.by_shard(policy, entries, calls.entry_host)
            settle = calls.by_shard(policy, blocked, calls.entry_host)
            for shard, part in parts.items():
                if shard != own:
                    self._call(policy, shard, Script.ADD, part, found.depth)
            for shard, part in settle.items():
                if shard != own:
                    self._call(policy, shard, Script.BLOCK, part)
            counted, rows, depth = self._call(
                policy, own, Script.COMPLETE, parts.get(own, []), found.depth, blocked=settle.get(own, []),
                url=lease.member, token=lease.token, failed=failed, disallowed=disallowed, limit=HANDOFF_LIMIT,
                **_freed(held),
            )
            if counted:
                _SENT.sent(self.job, entries, found.depth, policy.version)
            return Completed(bool(counted), [Lease.from_script(row) for row in rows], int(depth))

        done = self._retrying(attempt)
        if done.counted and done.depth < found.depth and (found.pages or found.sitemaps):
            # The script listed the links from the shorter depth, but the links left out
            # as already sent were judged from the lease's: all of them go in again.
            self.add(replace(found, depth=done.depth))
        return done

    def hand_back(self, leases: list[Lease]) -> int:
        """Requeue at once the leases whose chains were dropped unrun; returns how many
        were still owned (the others were done or handed out again meanwhile)."""
        def attempt(policy: Policy) -> int:
            parts = calls.by_shard(policy, leases, lambda lease: lease.host)
            return sum(int(self._call(policy, shard, Script.HAND_BACK,
                                      leases=[[held.member, held.token] for held in part]))
                       for shard, part in parts.items())

        return self._retrying(attempt)

    def tick(self, limit: int | None = None, expire_all: bool = False) -> Tick:
        """Requeue expired leases (all of them with `expire_all`), then lease what is due
        (at most `limit`; default: the job's whole window). A URL requeued max_requeues
        times whose lease expires again comes back in `lost`, until it is completed."""
        def attempt(policy: Policy) -> Tick:
            self._share_budget(policy)
            expired, leased, lost = 0, [], []
            for shard in range(policy.frontier_shards):
                count, rows, gone = self._call(
                    policy, shard, Script.TICK, limit=calls.per_shard(policy, limit), expire_limit=EXPIRE_LIMIT,
                    expire_all=expire_all,
                )
                expired += int(count)
                leased += [Lease.from_script(row) for row in rows]
                lost += [LostLease(Lease.from_script(row[:5]), int(row[5])) for row in gone]
            return Tick(expired, leased, lost)

        return self._retrying(attempt)

    def requeue_all_but(self, carried: Iterable[Lease]) -> int:
        """Requeue now every lease of the job except those in `carried` (same URL, same
        token): when no worker of an earlier run is alive, a lease that no chain in the
        broker carries can never complete. Returns how many went back to the queues."""
        keep = [[lease.member, lease.token] for lease in carried]
        return self._retrying(lambda policy: sum(
            int(self._call(policy, shard, Script.REQUEUE_EXCEPT, keep=keep)) for shard in range(policy.frontier_shards)
        ))

    def seen(self, urls: list[str]) -> list[bool]:
        """Whether the job scheduled each of `urls` (pages) before; with dedup=bloom, a
        false positive answers True. Nothing is scheduled."""
        def attempt(policy: Policy) -> list[bool]:
            entries = Found.seeds(urls).entries(policy)
            seen = self._seen(policy, entries)
            return [entry in seen for entry in entries]

        return self._retrying(attempt)

    def unseen(self, entries: list[tuple[str, RecordKind]]) -> list[tuple[str, RecordKind]]:
        """Those of `entries` (url, kind) the job never scheduled nor settled (read only;
        with dedup=bloom, a false positive leaves one out)."""
        def attempt(policy: Policy) -> list[tuple[str, RecordKind]]:
            seen = self._seen(policy, entries)
            return [entry for entry in entries if entry not in seen]

        return self._retrying(attempt)

    def _seen(self, policy: Policy, entries: list[tuple[str, RecordKind]]) -> set[tuple[str, RecordKind]]:
        """Those of `entries` the job scheduled or settled, asked of each shard once."""
        seen: set[tuple[str, RecordKind]] = set()
        for shard, part in calls.by_shard(policy, entries, calls.entry_host).items():
            seen.update(entry for entry, known in zip(part, self._call(policy, shard, Script.SEEN, part), strict=True)
                        if known)
        return seen

    def revisit(self, due: list[Revisit], done: bool, feed: str, reopen: bool = False) -> int:
        """Queue stored URLs that are due again; with `done`, the store has no more of
        recrawl pass `feed`, which ends (in shard 0 last, whose pass `feeding` reads).
        With `reopen`, a finished job runs again for them (unless max_pages is spent).
        Returns how many were queued (not those waiting or leased already)."""
        def attempt(policy: Policy) -> int:
            rows: list[list[Any]] = [
                [member(item.url, item.kind), host_key(item.url), item.depth, json.dumps(item.prior.to_json())]
                for item in due
            ]
            parts = calls.by_shard(policy, rows, lambda row: str(row[1]))
            shards = reversed(range(policy.frontier_shards)) if done else sorted(parts) or [0]
            return sum(int(self._call(policy, shard, Script.REVISIT, revisits=parts.get(shard, []), done=done,
                                      feed=feed, reopen=reopen))
                       for shard in shards)

        return self._retrying(attempt)

    def recrawl(self) -> str:
        """Begin a recrawl pass (the store has made the job's URLs due): a finished or
        cancelled job runs again, and none finishes before the pass is fed in. Returns
        the pass's number, which the feeder hands back when the store has no more."""
        def attempt(policy: Policy) -> str:
            number = self._call(policy, 0, Script.RECRAWL)
            for shard in range(1, policy.frontier_shards):
                self._call(policy, shard, Script.RECRAWL, **{"pass": number})
            return str(number)

        return self._retrying(attempt)

    def feeding(self) -> str | None:
        """The recrawl pass the store is still feeding in, if any."""
        feed: str | None = text(self.redis.get(self.keys.key(keys.FEED)))
        return feed

    def feed_state(self) -> FeedState:
        """What the feeder reads of the job at every tick, in one round trip (a few for a
        job of several shards)."""
        shards = self._shards()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.key(keys.STATE))
            pipe.get(self.keys.key(keys.FEED))
            for shard in shards:
                pipe.hget(shard.key(keys.STATS), Stat.REVISITS_WAITING)
            state, feed, *waiting = pipe.execute()
        job_state = self.state() if len(shards) > 1 else stats.as_state(state)
        return FeedState(job_state, text(feed), sum(int(count or 0) for count in waiting))

    def stats(self) -> JobStats:
        shards = self._shards()
        now = self._now()
        parts = [stats.read(self.redis, shard, now) for shard in shards]
        return parts[0] if len(parts) == 1 else stats.combine(parts, self.state() or JobState.RUNNING)

    def busiest_hosts(self, limit: int = BUSIEST_SHOWN) -> list[HostView]:
        return hosts.busiest(self.redis, self._shards(), self._now(), limit)

    def _share_budget(self, policy: Policy) -> None:
        """Give each shard its share of max_pages (a job of several shards only)."""
        def give(shard: int, offer: int, strict: bool) -> int:
            return int(self._call(policy, shard, Script.SHARE, target=policy.dispatch_window, offer=offer,
                                  strict=strict))

        if calls.shared_budget(policy):
            budget.share_out(self.redis, keys.Keyring(self.job, policy.frontier_shards), policy.max_pages,
                             policy.dispatch_window, give)

    def _in_host(self, where: str, script: Script, **params: Any) -> Any:
        """Run `script` in the shard of host `where`."""
        return self._retrying(
            lambda policy: self._call(policy, keys.shard_of(where, policy.frontier_shards), script, **params))

    def _retrying(self, attempt: Callable[[Policy], T]) -> T:
        """`attempt` with the job's policy; a policy found stale is read again and the
        call repeated (the URLs to schedule are chosen again under the new one; those a
        first try scheduled are seen by the next)."""
        for _ in range(STALE_RETRIES):
            try:
                return attempt(self.policy())
            except _Stale:
                self._policy = None
        raise StalePolicy(f"job {self.job!r} was re-seeded {STALE_RETRIES} times during one call")

    def _call(
        self, policy: Policy, shard: int, script: Script, entries: list[tuple[str, RecordKind]] | None = None,
        depth: int = 0, blocked: list[tuple[str, RecordKind]] | None = None, **params: Any,
    ) -> Any:
        """Run `script` in `shard`, scheduling `entries` as listed by a URL at `depth`
        and settling the `blocked` ones (COMPLETE)."""
        bloom = policy.dedup == DEDUP_BLOOM
        rows, fingerprints = calls.links(entries or [], bloom, policy.frontier_shards)
        values = calls.params(policy, rows, params, depth=depth, shard=shard)
        if blocked:
            values["blocked"], settled = calls.links(blocked, bloom, policy.frontier_shards)
            fingerprints += settled
        args: list[str | bytes] = [json.dumps(values), *fingerprints]
        try:
            return self._scripts[script](keys=[keys.JobKeys(self.job, shard).prefix], args=args)
        except redis.ResponseError as exc:
            if str(exc).startswith(STALE_POLICY):
                raise _Stale from exc
            raise


def _freed(held: HeldSlot | None) -> dict[str, Any]:
    """COMPLETE's parameters that free a slot the lease still holds, as RELEASE_HOST's
    would after an answered request."""
    return {} if held is None else {"elapsed": held.elapsed, "sent_for": held.sent_for(), "ok": True}


def list_jobs(client: redis.Redis) -> list[str]:
    return sorted(text(job) for job in client.smembers(keys.JOBS))
