"""What one worker process holds on to: a Redis client, an HTTP session, the robots
cache, the store, and recently read job policies. Built lazily, so a process that forks
workers opens nothing before the fork; the HTTP session and robots cache are kept per
thread, so a threads or gevent pool shares nothing that is not thread-safe."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import redis

from pipeline import sitemaps
from pipeline.errors import StalePolicy
from pipeline.fetch import Fetcher
from pipeline.frontier import SITEMAP, Frontier
from pipeline.keys import JobKeys
from pipeline.proxies import ProxyRotation, parse_proxy
from pipeline.robots import Robots
from pipeline.settings import Policy, Settings
from pipeline.store import Store, open_store
from pipeline.urls import in_scope

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Seconds a job's policy is reused before it is read again (re-seeding may change it).
POLICY_TTL = 5.0
# Times a call refused for a stale policy is repeated with a fresh one.
STALE_RETRIES = 3
logger = logging.getLogger(__name__)
T = TypeVar("T")


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._frontiers: dict[str, Frontier] = {}
        self._policies: dict[str, tuple[float, Policy]] = {}
        self._local = threading.local()
        # One rotation for all threads, so a proxy that failed for one is skipped by all.
        self._proxies = (
            ProxyRotation([parse_proxy(url) for url in settings.proxies], settings.proxy_cooldown)
            if settings.proxies
            else None
        )

    @cached_property
    def redis(self) -> redis.Redis:
        return connect(self.settings.redis_url or DEFAULT_REDIS_URL, self.settings.redis_tls())

    @property
    def fetcher(self) -> Fetcher:
        if not hasattr(self._local, "fetcher"):
            self._local.fetcher = Fetcher(self._proxies)
        return self._local.fetcher

    @property
    def robots(self) -> Robots:
        if not hasattr(self._local, "robots"):
            self._local.robots = Robots(self.redis, self.fetcher, on_fetched=self._schedule_sitemaps)
        return self._local.robots

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.store_url)

    def frontier(self, job: str) -> Frontier:
        if job not in self._frontiers:
            self._frontiers[job] = Frontier(self.redis, job, self.settings)
        return self._frontiers[job]

    def policy(self, job: str) -> Policy:
        cached = self._policies.get(job)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        policy = self.frontier(job).load_policy()
        self._policies[job] = (time.monotonic() + POLICY_TTL, policy)
        return policy

    def forget_policy(self, job: str) -> None:
        """After StalePolicy: the next `policy(job)` reads Redis."""
        self._policies.pop(job, None)

    def with_policy(self, job: str, call: Callable[[Policy], T]) -> T:
        """`call(policy)`, repeated with a fresh policy if the job was re-seeded meanwhile."""
        for _ in range(STALE_RETRIES):
            try:
                return call(self.policy(job))
            except StalePolicy:
                self.forget_policy(job)
        return call(self.policy(job))

    def _schedule_sitemaps(self, keys: JobKeys, site: str, robots_body: str) -> None:
        """A host's robots.txt was just fetched: its sitemaps join the frontier."""
        for _ in range(STALE_RETRIES):
            policy = self.policy(keys.job)
            if not policy.sitemaps:
                return
            found = [
                (url, 0)
                for url in sitemaps.locations(robots_body, site)
                if in_scope(url, policy.scope_hosts, policy.allowed_domains)
            ]
            try:
                self.frontier(keys.job).add(found, policy, kind=SITEMAP)
                return
            except StalePolicy:
                self.forget_policy(keys.job)
        logger.warning("sitemaps of %s not scheduled: the policy of job %s kept changing", site, keys.job)


def connect(url: str, tls: dict[str, str] | None = None) -> redis.Redis:
    """A client for `url` (redis://, rediss:// with `tls` options, or unix://), with health
    checks for long idles."""
    if url.startswith("unix://"):
        return redis.Redis.from_url(url, health_check_interval=30)
    return redis.Redis.from_url(url, health_check_interval=30, socket_keepalive=True, **(tls or {}))
