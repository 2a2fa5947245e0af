"""robots.txt for every worker at once: fetched by one worker per host and job, as a
request of its own under the host's politeness, cached in Redis with a TTL, parsed with
protego, and kept parsed in each process for a while (a bounded, least-recently-used
cache: a long crawl meets many hosts).

RFC 9309: a 2xx file is obeyed (its first 500 KiB), 4xx means everything is allowed,
and a 5xx, 429 or network failure means everything is disallowed until it is tried again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import redis
from cachetools import TTLCache
from protego import Protego
from redis.exceptions import LockError

from pipeline.fetch.errors import RobotsPending
from pipeline.fetch.fetcher import Fetcher
from pipeline.keys import HOST_DELAY, JobKeys, Keyring
from pipeline.settings import Policy

MAX_BYTES = 500 * 1024
UNAVAILABLE_TTL = 600
# Seconds the robots.txt lock outlives a whole download, so it never expires mid-fetch
# (a worker that died while fetching holds it no longer than that).
LOCK_SLACK = 5.0
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
# The error of the record of a URL robots.txt disallows.
BLOCKED = "blocked by robots.txt"
# Seconds a parsed robots.txt is reused before Redis is asked again.
LOCAL_TTL = 30.0
# Called once per host and job when robots.txt was fetched: (keys, scheme://host, body).
OnFetched = Callable[[JobKeys, str, str], None]
logger = logging.getLogger(__name__)


def site_of(url: str) -> str:
    """scheme://host[:port]: the unit robots.txt applies to."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def verdict(status: int | None, text: str, policy: Policy) -> tuple[str, int]:
    """The robots.txt to obey for an answer, and how long to keep it (RFC 9309)."""
    if status is not None and 200 <= status < 300:
        return text, policy.robots_ttl
    if status is not None and 400 <= status < 500 and status != 429:
        return "", policy.robots_ttl
    return DISALLOW_ALL, min(policy.robots_ttl, UNAVAILABLE_TTL)


class Robots:
    """Answers "may this URL be fetched?" for one worker process, all its threads."""

    def __init__(self, client: redis.Redis, cache_size: int, on_fetched: OnFetched | None = None) -> None:
        self.redis = client
        self.on_fetched = on_fetched
        self._parsed: TTLCache[str, Protego] = TTLCache(maxsize=cache_size, ttl=LOCAL_TTL)
        self._lock = threading.Lock()

    def allowed(self, ring: Keyring, url: str, policy: Policy) -> bool:
        """Raises RobotsPending when the site's robots.txt has not been fetched yet."""
        if not policy.robots:
            return True
        allowed = _can_fetch(self._known(ring, site_of(url)), url, policy)
        if allowed is None:
            raise RobotsPending(site_of(url))
        return allowed

    def verdicts(self, ring: Keyring, urls: list[str], policy: Policy) -> dict[str, bool | None]:
        """Per URL, whether it may be fetched when its site's robots.txt is known (this
        process's cache, else Redis: one round trip for all the sites it lacks), None
        when it is not yet. Nothing is fetched or waited for."""
        if not policy.robots:
            return dict.fromkeys(urls, True)
        parsers = self._known_sites(ring, {site_of(url) for url in urls})
        return {url: _can_fetch(parsers[site_of(url)], url, policy) for url in urls}

    def pending(self, ring: Keyring, url: str, policy: Policy) -> str | None:
        """The site whose robots.txt must be fetched before `url`, or None."""
        if not policy.robots or self._known(ring, site_of(url)) is not None:
            return None
        return site_of(url)

    @contextmanager
    def fetching(self, ring: Keyring, site: str, policy: Policy) -> Iterator[bool]:
        """Hold the cluster-wide right to fetch the robots.txt of `site` (True), or learn
        that another worker holds it (False: come back later rather than wait in a pool
        slot). The lock is token-checked: it never releases another worker's."""
        seconds = policy.download_deadline + policy.timeout + LOCK_SLACK
        lock = self.redis.lock(_keys(ring, site).robots_lock(site), timeout=seconds, blocking=False)
        if not lock.acquire():
            yield False
            return
        try:
            yield True
        finally:
            try:
                lock.release()
            except LockError:
                logger.warning("the robots.txt lock of %s expired during its download", site)

    def download(self, ring: Keyring, site: str, policy: Policy, fetcher: Fetcher) -> None:
        """Fetch the robots.txt of `site` and share it with every worker; call it while
        `fetching` says so, as the request the host's politeness allowed."""
        keys = _keys(ring, site)
        if self.redis.exists(keys.robots(site)):
            return
        status, text = fetcher.get_text(site + "/robots.txt", policy, MAX_BYTES)
        body, ttl = verdict(status, text, policy)
        delay = min(Protego.parse(body).crawl_delay(policy.user_agent) or 0.0, policy.max_crawl_delay)
        if self.on_fetched is not None and body != DISALLOW_ALL:
            # Before the cache is written: if this fails, the next URL fetches again.
            self.on_fetched(keys, site, body)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.robots(site), json.dumps({"body": body}), ex=ttl)
            pipe.hset(keys.key(HOST_DELAY), urlsplit(site).netloc, delay)
            pipe.execute()

    def _known_sites(self, ring: Keyring, sites: set[str]) -> dict[str, Protego | None]:
        """The parsed robots.txt of each of `sites`, None for one not fetched yet."""
        with self._lock:
            parsers = {site: self._parsed.get(_keys(ring, site).robots(site)) for site in sites}
        missing = sorted(site for site, parser in parsers.items() if parser is None)
        if not missing:
            return parsers
        with self.redis.pipeline(transaction=False) as pipe:
            for site in missing:
                pipe.get(_keys(ring, site).robots(site))
            replies = pipe.execute()
        for site, raw in zip(missing, replies, strict=True):
            if raw is not None:
                parsers[site] = self._remember(_keys(ring, site).robots(site), raw)
        return parsers

    def _remember(self, key: str, raw: bytes | str) -> Protego:
        parser = Protego.parse(json.loads(raw)["body"])
        with self._lock:
            self._parsed[key] = parser
        return parser

    def _known(self, ring: Keyring, site: str) -> Protego | None:
        key = _keys(ring, site).robots(site)
        with self._lock:
            parser = self._parsed.get(key)
        if parser is not None:
            return parser
        raw = self.redis.get(key)
        return None if raw is None else self._remember(key, raw)


def _can_fetch(parser: Protego | None, url: str, policy: Policy) -> bool | None:
    return None if parser is None else bool(parser.can_fetch(url, policy.user_agent))


def _keys(ring: Keyring, site: str) -> JobKeys:
    """A site's robots.txt is kept in its host's shard, beside the host's Crawl-delay."""
    return ring.for_host(urlsplit(site).netloc)
