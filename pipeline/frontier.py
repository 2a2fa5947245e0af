"""The Redis frontier of one job: what has been seen, what waits per host, what is
leased to workers, and the counters that say when the job is done.

The frontier, not the broker, is the source of truth. URLs are leased with a deadline
when they are handed to Celery; a lease that is not completed in time (its worker died
or was cut off) goes back to its host's queue, so no URL is ever dropped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from pipeline import keys, scripts
from pipeline.errors import ConfigError, JobNotFound, StalePolicy
from pipeline.settings import Policy, Settings
from pipeline.urls import fingerprint, host_key

RUNNING, PAUSED, CANCELLED, FINISHED = "running", "paused", "cancelled", "finished"
STATES = (RUNNING, PAUSED, CANCELLED, FINISHED)
# Leases handed out when a URL finishes: one for the slot it frees, one to grow.
HANDOFF_LIMIT = 2
PAGE, SITEMAP = "page", "sitemap"
SITEMAP_PREFIX = "sitemap:"


@dataclass(frozen=True)
class Lease:
    """A URL handed to Celery; `token` tells a live lease from one handed out again.
    A sitemap travels the frontier like a page (politeness, leases, retries) but is
    read for the URLs it lists."""

    url: str
    depth: int
    host: str
    token: int
    countdown: float = 0.0
    kind: str = PAGE

    @property
    def member(self) -> str:
        """How the frontier names it: a sitemap's URL is prefixed, so it is not the page."""
        return _member(self.url, self.kind)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lease:
        return cls(**data)

    @classmethod
    def from_script(cls, row: list[Any]) -> Lease:
        member, depth, host, token, countdown = row
        url, kind = _text(member), PAGE
        if url.startswith(SITEMAP_PREFIX):
            url, kind = url[len(SITEMAP_PREFIX):], SITEMAP
        return cls(url, int(depth), _text(host), int(token), max(0.0, float(countdown)), kind)


@dataclass(frozen=True)
class JobStats:
    """A snapshot of a job's counters."""

    job: str
    state: str
    seen: int
    queued: int
    leased: int
    dispatched: int
    stored: int
    errors: int
    requeued: int
    started_at: float | None
    finished_at: float | None
    backing_off: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HostBackoff:
    """A host no worker sends requests to until its pause is over."""

    host: str
    seconds_left: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Frontier:
    """One job's frontier in Redis; cheap to build, holds no state of its own."""

    def __init__(self, client: redis.Redis, job: str, settings: Settings) -> None:
        self.redis = client
        self.job = keys.check_job_name(job)
        self.keys = keys.JobKeys(job)
        self.settings = settings
        self._scripts = {name: client.register_script(getattr(scripts, name)) for name in _SCRIPT_NAMES}

    def create(self, policy: Policy) -> Policy:
        """Write the job's policy (keeping scope hosts of earlier seeds); a new job starts
        running, an existing one keeps its state (a finished one runs again only when
        new URLs are added to it)."""
        old = self.load_policy(missing_ok=True)
        if old is not None:
            hosts = tuple(dict.fromkeys(old.scope_hosts + policy.scope_hosts))
            policy = policy.merged(scope_hosts=hosts)
        policy = policy.merged(version=time.time_ns() // 1000)
        with self.redis.pipeline() as pipe:
            pipe.set(self.keys.key(keys.CONFIG), json.dumps(policy.to_json()))
            pipe.set(self.keys.key(keys.VERSION), policy.version)
            pipe.set(self.keys.key(keys.STATE), RUNNING, nx=True)
            pipe.hsetnx(self.keys.key(keys.STATS), "started_at", time.time())
            pipe.sadd(keys.JOBS, self.job)
            pipe.execute()
        return policy

    def exists(self) -> bool:
        return bool(self.redis.exists(self.keys.key(keys.CONFIG)))

    def load_policy(self, missing_ok: bool = False) -> Policy | None:
        raw = self.redis.get(self.keys.key(keys.CONFIG))
        if raw is None:
            if missing_ok:
                return None
            raise JobNotFound(f"no job named {self.job!r}")
        return Policy.from_json(json.loads(raw))

    def state(self) -> str | None:
        return _text(self.redis.get(self.keys.key(keys.STATE)))

    def set_state(self, state: str) -> None:
        if state not in STATES:
            raise ConfigError(f"unknown job state {state!r}")
        if not self.exists():
            raise JobNotFound(f"no job named {self.job!r}")
        self.redis.set(self.keys.key(keys.STATE), state)

    def add(self, links: Iterable[tuple[str, int]], policy: Policy, kind: str = PAGE) -> int:
        """Schedule canonical URLs (with their depth) that were never seen; returns how many."""
        entries = [(url, depth, kind) for url, depth in links]
        return int(self._run("ADD", policy, _link_args(entries), links=_link_rows(entries)))

    def lease(self, policy: Policy, limit: int) -> list[Lease]:
        return [Lease.from_script(row) for row in self._run("LEASE", policy, limit=limit)]

    def claim_start(self, host: str, policy: Policy) -> float:
        """0 when a request to `host` may start now (and it is recorded); else seconds to wait."""
        return float(self._run("CLAIM_START", policy, host=host))

    def release_host(self, lease: Lease, policy: Policy) -> list[Lease]:
        """The request of `lease` is over: free its host slot and hand out what is now due."""
        rows = self._run("RELEASE_HOST", policy, url=lease.member, token=lease.token, limit=HANDOFF_LIMIT)
        return [Lease.from_script(row) for row in rows]

    def postpone(self, host: str, seconds: float, policy: Policy, reason: str) -> None:
        """No request to `host` starts, on any worker, for `seconds` (its Retry-After, or
        a backoff after a failure)."""
        self._run("POSTPONE", policy, host=host, seconds=seconds, reason=reason)

    def backoffs(self, limit: int = 10) -> list[HostBackoff]:
        """The hosts paused now, longest pause first."""
        now = self._now()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrangebyscore(self.keys.key(keys.BACKOFF), "+inf", f"({now}", start=0, num=limit, withscores=True)
            pipe.hgetall(self.keys.key(keys.BACKOFF_REASON))
            paused, reasons = pipe.execute()
        reasons = {_text(host): _text(reason) for host, reason in reasons.items()}
        return [
            HostBackoff(_text(host), round(resume - now, 1), reasons.get(_text(host), ""))
            for host, resume in paused
        ]

    def _now(self) -> float:
        """Redis's clock, which the schedule runs on."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1_000_000

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Record robots.txt's Crawl-delay of `host`; the larger of it and the job's delay wins."""
        self.redis.hset(self.keys.key(keys.HOST_DELAY), host, seconds)

    def extend(self, lease: Lease, policy: Policy) -> bool:
        """Push the lease deadline out again, e.g. before a retry; False if it was lost."""
        return bool(self._run("EXTEND", policy, url=lease.member, token=lease.token))

    def complete(
        self,
        lease: Lease,
        policy: Policy,
        failed: bool,
        links: list[tuple[str, int]],
        sitemaps: list[tuple[str, int]] = (),
    ) -> tuple[bool, list[Lease]]:
        """Release the lease, schedule `links` (and `sitemaps`), and hand out what is now due."""
        entries = [(url, depth, PAGE) for url, depth in links] + [(url, depth, SITEMAP) for url, depth in sitemaps]
        counted, rows = self._run(
            "COMPLETE",
            policy,
            _link_args(entries),
            url=lease.member,
            token=lease.token,
            failed=failed,
            links=_link_rows(entries),
            limit=HANDOFF_LIMIT,
        )
        return bool(counted), [Lease.from_script(row) for row in rows]

    def tick(self, policy: Policy, limit: int | None = None, expire_all: bool = False) -> tuple[int, list[Lease]]:
        """Requeue expired leases (all of them with `expire_all`), then lease what is due."""
        limit = self.settings.dispatch_window if limit is None else limit
        expired, rows = self._run("TICK", policy, limit=limit, expire_limit=1000, expire_all=expire_all)
        return int(expired), [Lease.from_script(row) for row in rows]

    def stats(self) -> JobStats:
        k = self.keys
        now = self._now()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(k.key(keys.STATE))
            pipe.scard(k.key(keys.SEEN))
            pipe.zcard(k.key(keys.LEASES))
            pipe.hgetall(k.key(keys.STATS))
            pipe.zcount(k.key(keys.BACKOFF), f"({now}", "+inf")
            state, seen, leased, counters, backing_off = pipe.execute()
        if state is None:
            raise JobNotFound(f"no job named {self.job!r}")
        counters = {_text(name): float(value) for name, value in counters.items()}
        return JobStats(
            job=self.job,
            state=_text(state),
            seen=seen,
            queued=int(counters.get("queued", 0)),
            leased=leased,
            dispatched=int(counters.get("dispatched", 0)),
            stored=int(counters.get("stored", 0)),
            errors=int(counters.get("errors", 0)),
            requeued=int(counters.get("requeued", 0)),
            started_at=counters.get("started_at"),
            finished_at=counters.get("finished_at"),
            backing_off=backing_off,
        )

    def _run(self, name: str, policy: Policy, extra: list[bytes] | None = None, **params: Any) -> Any:
        params.update(
            conc=max(1, policy.host_concurrency),
            delay=policy.delay,
            max_pages=policy.max_pages,
            host_budget=policy.max_pages_per_host,
            sitemap_budget=policy.max_sitemaps_per_host,
            window=self.settings.dispatch_window,
            lookahead=self.settings.dispatch_interval,
            lease_timeout=self.settings.lease_timeout,
        )
        params["version"] = policy.version
        args = [self.keys.prefix, json.dumps(params), *(extra or [])]
        try:
            return self._scripts[name](args=args)
        except redis.ResponseError as exc:
            if str(exc).startswith("STALE_POLICY"):
                raise StalePolicy(f"job {self.job!r} has a newer policy") from None
            raise


def list_jobs(client: redis.Redis) -> list[str]:
    return sorted(_text(job) for job in client.smembers(keys.JOBS))


_SCRIPT_NAMES = ("ADD", "LEASE", "CLAIM_START", "RELEASE_HOST", "POSTPONE", "EXTEND", "COMPLETE", "TICK")


def _member(url: str, kind: str) -> str:
    return SITEMAP_PREFIX + url if kind == SITEMAP else url


def _link_rows(entries: list[tuple[str, int, str]]) -> list[list[Any]]:
    return [[_member(url, kind), host_key(url), depth, int(kind == SITEMAP)] for url, depth, kind in entries]


def _link_args(entries: list[tuple[str, int, str]]) -> list[bytes]:
    return [fingerprint(_member(url, kind)) for url, _, kind in entries]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
