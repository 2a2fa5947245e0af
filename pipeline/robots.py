"""robots.txt for every worker at once: fetched by one worker per host and job, cached
in Redis with a TTL, parsed with protego, and kept parsed in each process for a while.

RFC 9309: a 2xx file is obeyed (its first 500 KiB), 4xx means everything is allowed,
and a 5xx, 429 or network failure means everything is disallowed until it is tried again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import redis
from protego import Protego

from pipeline.fetch import Fetcher
from pipeline.keys import HOST_DELAY, JobKeys
from pipeline.settings import Policy

MAX_BYTES = 500 * 1024
UNAVAILABLE_TTL = 600
LOCK_SECONDS = 60
_DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
_LOCAL_TTL = 30.0
# Called once per host and job when robots.txt was fetched: (keys, scheme://host, body).
OnFetched = Callable[[JobKeys, str, str], None]


class Robots:
    """Answers "may this URL be fetched?" for one worker process."""

    def __init__(self, client: redis.Redis, fetcher: Fetcher, on_fetched: OnFetched | None = None) -> None:
        self.redis = client
        self.fetcher = fetcher
        self.on_fetched = on_fetched
        self._parsed: dict[str, tuple[float, Protego]] = {}

    def allowed(self, keys: JobKeys, url: str, policy: Policy) -> bool:
        if not policy.robots:
            return True
        return self._parser(keys, url, policy).can_fetch(url, policy.user_agent)

    def _parser(self, keys: JobKeys, url: str, policy: Policy) -> Protego:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        key = keys.robots(site)
        cached = self._parsed.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        body = self._shared_body(keys, site, policy)
        parser = Protego.parse(body)
        self._parsed[key] = (time.monotonic() + _LOCAL_TTL, parser)
        return parser

    def _shared_body(self, keys: JobKeys, site: str, policy: Policy) -> str:
        """One worker downloads while the others wait for its answer (or give up waiting
        and download it themselves)."""
        key, lock = keys.robots(site), keys.robots_lock(site)
        deadline = time.monotonic() + policy.timeout * 2 + 1
        while True:
            raw = self.redis.get(key)
            if raw is not None:
                return json.loads(raw)["body"]
            owner = bool(self.redis.set(lock, "1", nx=True, ex=LOCK_SECONDS))
            if owner or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        host = urlsplit(site).netloc
        try:
            body, ttl = self._download(site + "/robots.txt", policy)
            delay = min(Protego.parse(body).crawl_delay(policy.user_agent) or 0.0, policy.max_crawl_delay)
            if self.on_fetched is not None and body != _DISALLOW_ALL:
                # Before the cache is written: if this fails, the next URL fetches again.
                self.on_fetched(keys, site, body)
            with self.redis.pipeline() as pipe:
                pipe.set(key, json.dumps({"body": body}), ex=ttl)
                pipe.hset(keys.key(HOST_DELAY), host, delay)
                pipe.execute()
            return body
        finally:
            if owner:
                self.redis.delete(lock)

    def _download(self, robots_url: str, policy: Policy) -> tuple[str, int]:
        status, text = self.fetcher.get_text(robots_url, policy, MAX_BYTES)
        if status is not None and 200 <= status < 300:
            return text, policy.robots_ttl
        if status is not None and 400 <= status < 500 and status != 429:
            return "", policy.robots_ttl
        return _DISALLOW_ALL, min(policy.robots_ttl, UNAVAILABLE_TTL)
