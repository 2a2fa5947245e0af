"""How fast any crawler could go on the broad site, whatever its speed: the limits a
report compares each case against.

A polite crawler asks each host one request at a time, `delay` apart, and a request
takes at least its host's latency, so the slowest host alone bounds the crawl. What it
asks a host is more than its pages: robots.txt, a sitemap probe for crawlers that make
one, and the broken URL once plus each retry. The retries also come in a chain: each
waits for the answer before it, and for the crawler's backoff. The host's bound is the
longer of the two: all its requests in turns, or the broken URL's chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.settings import Policy

# Scrapy's RetryMiddleware default (RETRY_TIMES): retries go out at once, no backoff.
SCRAPY_RETRIES = 2


@dataclass(frozen=True)
class Visits:
    """What one crawler asks each host for besides its pages, and how it retries."""

    retries: int  # of a URL that always fails
    sitemap: bool  # asks /sitemap.xml of every host
    first_backoff: float = 0.0  # the least wait before the first retry, in seconds
    backoff_cap: float = float("inf")  # the longest wait before one retry

    def waits(self) -> list[float]:
        """The least wait before each retry: doubling from the first, up to the cap."""
        return [min(self.backoff_cap, self.first_backoff * 2.0**attempt) for attempt in range(self.retries)]


def project_visits() -> Visits:
    """The project's defaults: its retry backoff waits a random 50-100% of its base."""
    policy = Policy()
    return Visits(policy.max_retries, policy.sitemaps, 0.5 * policy.retry_backoff, policy.retry_backoff_max)


def scrapy_visits(settings: list[str]) -> Visits:
    """Scrapy's, with RETRY_TIMES as `--scrapy-set` gives it."""
    given = dict(setting.split("=", 1) for setting in settings if "=" in setting)
    return Visits(int(given.get("RETRY_TIMES", SCRAPY_RETRIES)), sitemap=False)


def host_seconds(host: dict[str, Any], visits: Visits, delay: float, pages: int, late_extra: float) -> float:
    """The least time `host` of the manifest takes to crawl alone."""
    latency = host["latency"]
    turn = max(delay, latency)
    requests = 1 + visits.sitemap + pages + 1 + visits.retries
    turns = requests * turn + (max(delay, latency + late_extra) if host["late_page"] else 0.0)
    # The broken URL goes out at the earliest after robots.txt and the home page that
    # links to it; each retry after the answer before it and its wait, and in its turn.
    chain = 2 * turn + sum(max(turn, latency + wait) for wait in visits.waits()) + latency
    return max(turns, chain)


def slowest_host_seconds(manifest: dict[str, Any], visits: Visits, delay: float) -> float:
    pages = manifest["shape"]["pages_per_host"]
    return max(host_seconds(host, visits, delay, pages, manifest["late_extra_s"]) for host in manifest["hosts"])
