"""What one worker process holds on to, for fate.py and jobs.py to work with: a Redis
client, its kept-alive HTTP connections, the robots cache, the store, its WARC files, and
a frontier per job (each keeps its job's policy). Built lazily, so a process that forks
workers opens nothing before the fork; the HTTP session is kept per thread (a threads or
gevent pool shares nothing that is not thread-safe), its connections in pools all
threads share."""

from __future__ import annotations

import atexit
import threading
from functools import cached_property
from pathlib import Path
from typing import cast

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from pipeline.archive import WarcUploader, WarcWriter, adopt_orphans, upload, upload_leftovers, warcinfo
from pipeline.crawl.rendering import RenderHosts
from pipeline.fetch import Fetcher, Pools, ProxyRotation, Robots, parse_proxy, proxies
from pipeline.frontier import Found, Frontier, bloom
from pipeline.keys import JobKeys
from pipeline.parse import sitemap_locations
from pipeline.render import Browser
from pipeline.settings import Policy, Settings
from pipeline.store import Store, open_store

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Longest wait, in seconds, between two tries of a Redis command while Redis is away.
RETRY_CAP = 2.0


def check(settings: Settings) -> None:
    """Each feature's check of its own settings, where a command or worker starts: a typo
    fails it at once with one line, rather than every URL or upload later."""
    bloom.check(settings.policy)
    proxies.check(settings)
    upload.check(settings)


class Context:
    """One per process, from the host's settings: every task a worker process runs shares it."""

    def __init__(self, settings: Settings) -> None:
        check(settings)
        self.settings = settings
        self._frontiers: dict[str, Frontier] = {}
        self._render_hosts: dict[str, RenderHosts] = {}
        self._local = threading.local()
        self._warc: WarcWriter | None = None
        self._warc_lock = threading.Lock()
        self._browser: Browser | None = None
        self._browser_lock = threading.Lock()
        # Connections are made on first use, so nothing is open before a fork.
        self._pools = Pools(settings.keep_alive_hosts)
        # One rotation for all threads, so a proxy that failed for one is skipped by all.
        self._proxies = (
            ProxyRotation([parse_proxy(url) for url in settings.proxies], settings.proxy_cooldown)
            if settings.proxies
            else None
        )

    @cached_property
    def redis(self) -> redis.Redis:
        settings = self.settings
        return connect(settings.redis_url or DEFAULT_REDIS_URL, settings.redis_tls(), settings.redis_retries,
                       cluster=settings.redis_cluster)

    @property
    def fetcher(self) -> Fetcher:
        if not hasattr(self._local, "fetcher"):
            self._local.fetcher = Fetcher(self._proxies, self.warc, self._pools)
        fetcher: Fetcher = self._local.fetcher
        return fetcher

    @cached_property
    def robots(self) -> Robots:
        return Robots(self.redis, self.settings.robots_cache_size, on_fetched=self._schedule_sitemaps)

    @property
    def browser(self) -> Browser:
        """This process's one browser for all its threads, started on the first page to
        render (made under a lock, as the WARC writer is); stopped at exit."""
        if self._browser is None:
            with self._browser_lock:
                if self._browser is None:
                    settings = self.settings
                    self._browser = Browser(settings.browser_path, settings.browser_pages, settings.browser_memory_mb)
                    atexit.register(self._browser.close)
        return self._browser

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.store_url, self.settings.store_timeout)

    @property
    def warc(self) -> WarcWriter | None:
        """This process's WARC files, when the host writes WARC: one writer for all its
        threads (made under a lock, as cached_property no longer is from Python 3.12)."""
        if self._warc is None and self.settings.warc_dir:
            with self._warc_lock:
                if self._warc is None:
                    self._warc = self._open_warc()
        return self._warc

    def _open_warc(self) -> WarcWriter:
        """The writer, closed at exit at the latest."""
        settings = self.settings
        adopt_orphans(Path(settings.warc_dir))
        uploader = self._uploader
        policy = settings.policy
        writer = WarcWriter(
            settings.warc_dir,
            settings.warc_prefix,
            settings.warc_max_bytes,
            warcinfo(policy.robots, settings.warc_operator, policy.user_agent),
            on_closed=uploader.submit if uploader is not None else None,
            gzip_level=settings.warc_gzip_level,
        )
        atexit.register(self.close_warc)
        return writer

    @cached_property
    def _uploader(self) -> WarcUploader | None:
        settings = self.settings
        if not settings.warc_upload_url:
            return None
        uploader = WarcUploader(settings.warc_upload_url, settings.s3_endpoint_url)
        upload_leftovers(Path(settings.warc_dir), uploader)
        return uploader

    def close_warc(self) -> None:
        """Close the WARC file being written (it gets its final name) and finish uploads."""
        if self._warc is None:
            return
        self._warc.close()
        if self._uploader is not None:
            self._uploader.close()

    def frontier(self, job: str) -> Frontier:
        if job not in self._frontiers:
            self._frontiers[job] = Frontier(self.redis, job)
        return self._frontiers[job]

    def render_hosts(self, job: str) -> RenderHosts:
        """The job's render=auto hosts, with the verdicts this process keeps."""
        if job not in self._render_hosts:
            self._render_hosts[job] = RenderHosts(self.frontier(job))
        return self._render_hosts[job]

    def policy(self, job: str) -> Policy:
        return self.frontier(job).policy()

    def _schedule_sitemaps(self, keys: JobKeys, site: str, robots_body: str) -> None:
        """A host's robots.txt was just fetched: its sitemaps join the frontier."""
        frontier = self.frontier(keys.job)
        if frontier.policy().sitemaps:
            frontier.add(Found(depth=0, sitemaps=tuple(sitemap_locations(robots_body, site))))


def connect(url: str, tls: dict[str, str] | None = None, retries: int = 3, cluster: bool = False) -> redis.Redis:
    """A client for `url` (redis://, rediss:// with `tls` options, or unix://), with health
    checks for long idles. A command that loses its connection is tried again `retries`
    times, backing off to 2 s: a worker rides out a Redis restart instead of failing the
    task. Every frontier script tolerates a repeat: a stale token or a seen URL is a no-op.

    With `cluster`, `url` is one node of a Redis Cluster: the client learns the others
    and sends each command to the master of its key's slot, following the cluster when a
    replica takes over (the same retries cover the failover)."""
    retry = Retry(ExponentialBackoff(cap=RETRY_CAP, base=0.2), retries)
    options: dict[str, object] = {"health_check_interval": 30}
    if not url.startswith("unix://"):
        options.update(socket_keepalive=True, **(tls or {}))
    if cluster:
        # The frontier uses only commands that name their keys, which a cluster client
        # routes as a Redis client would run them: it stands in for one.
        return cast(redis.Redis, RedisCluster.from_url(url, retry=retry, **options))
    return redis.Redis.from_url(url, retry=retry, retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                                **options)
