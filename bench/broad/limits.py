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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.settings import Settings

# Scrapy's RetryMiddleware default (RETRY_TIMES): retries go out at once, no backoff.
SCRAPY_RETRIES = 2


@dataclass(frozen=True)
class Visits:
    """What one crawler asks each host for besides its pages, and how it retries."""

    retries: int  # of a URL that always fails
    sitemap: bool  # asks /sitemap.xml of every host
    first_backoff: float = 0.0  # the least wait before the first retry, in seconds
    backoff_cap: float = float("inf")  # the longest wait before one retry

    def describe(self) -> str:
        """What the crawler asks a host for besides its pages, for the report's limit line."""
        probe = "a /sitemap.xml probe" if self.sitemap else "no sitemap probe"
        return f"robots.txt, {probe}, the broken URL tried {1 + self.retries} times"

    def waits(self) -> list[float]:
        """The least wait before each retry: doubling from the first, up to the cap."""
        return [min(self.backoff_cap, self.first_backoff * 2.0**attempt) for attempt in range(self.retries)]


def project_visits(environ: Mapping[str, str] | None = None) -> Visits:
    """The project's, as the crawl runs: its settings read from `environ` (the CRAWLER_*
    variables the benchmark passes on). Its retry backoff waits a random 50-100% of its
    base, doubling from one retry to the next."""
    policy = Settings.load(environ).policy
    return Visits(policy.max_retries, policy.sitemaps, 0.5 * policy.retry_backoff, policy.retry_backoff_max)


def scrapy_visits(settings: list[str]) -> Visits:
    """Scrapy's, with RETRY_TIMES and RETRY_ENABLED as `--scrapy-set` gives them."""
    given = dict(setting.split("=", 1) for setting in settings if "=" in setting)
    enabled = given.get("RETRY_ENABLED", "True").strip().lower() not in ("false", "0", "")
    return Visits(int(given.get("RETRY_TIMES", SCRAPY_RETRIES)) if enabled else 0, sitemap=False)


def host_seconds(host: dict[str, Any], visits: Visits, delay: float, pages: int, late_extra: float) -> float:
    """The least time `host` of the manifest takes to crawl alone."""
    latency = host["latency"]
    turn = max(delay, latency)
    requests = 1 + visits.sitemap + pages + 1 + visits.retries
    turns = requests * turn + (max(delay, latency + late_extra) if host["late_page"] else 0.0)
    # The last request is over when its answer comes, not a whole turn later.
    turns -= turn - latency
    # The broken URL goes out at the earliest after robots.txt and the home page that
    # links to it; each retry after the answer before it and its wait, and in its turn.
    chain = 2 * turn + sum(max(turn, latency + wait) for wait in visits.waits()) + latency
    return max(turns, chain)


def slowest_host_seconds(manifest: dict[str, Any], visits: Visits, delay: float) -> float:
    """The longest any host of the manifest takes to crawl alone: no polite crawler asking
    what `visits` says ends sooner, so the site's pages over it bound its pages/s."""
    pages = manifest["shape"]["pages_per_host"]
    return max(host_seconds(host, visits, delay, pages, manifest["late_extra_s"]) for host in manifest["hosts"])
