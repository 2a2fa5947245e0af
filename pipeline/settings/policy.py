"""How one job crawls: the `Policy` stored with the job when it is seeded, so every worker
on every host applies the same rules to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pipeline import __version__
from pipeline.errors import ConfigError
from pipeline.settings.values import coerce, is_field, public_fields, setting, spell, variable

DEDUP_EXACT, DEDUP_BLOOM = "exact", "bloom"
DEDUP_MODES = (DEDUP_EXACT, DEDUP_BLOOM)
SCOPE_HOSTS, SCOPE_ANY = "hosts", "any"
SCOPES = (SCOPE_HOSTS, SCOPE_ANY)
RENDER_NEVER, RENDER_AUTO, RENDER_ALWAYS = "never", "auto", "always"
RENDER_MODES = (RENDER_NEVER, RENDER_AUTO, RENDER_ALWAYS)
# A job's frontier shards at most: each is read on every tick and status.
MAX_SHARDS = 64
DEFAULT_USER_AGENT = f"celery-crawler/{__version__} (+https://pypi.org/project/celery-crawler/)"


@dataclass(frozen=True)
class Policy:
    """How one job crawls. Stored with the job, so all workers share it."""

    max_depth: int = setting("Links from the nearest seed; links found at this depth are recorded, not followed.", 10)
    max_pages: int = setting(
        "Pages fetched for the job, failures included (sitemaps not: CRAWLER_MAX_SITEMAPS_PER_HOST bounds them); "
        "0 means no limit. A link robots.txt disallows is recorded without a fetch and spends none of it.",
        100_000,
    )
    delay: float = setting("Seconds between the starts of two requests to one host, across the cluster.", 1.0)
    host_concurrency: int = setting("Requests in flight to one host at once, across the cluster.", 1)
    timeout: float = setting("Connect and read timeout of one request, in seconds.", 10.0)
    download_deadline: float = setting("Wall-clock seconds allowed for a whole response body.", 60.0)
    max_bytes: int = setting("Decoded bytes kept of one response; a larger body fails as too large.", 10 * 1024 * 1024)
    max_redirects: int = setting("Redirect hops followed for one URL.", 10)
    max_retries: int = setting(
        "Retries of a transient failure (timeout, connection error, HTTP 408, 429, 5xx); then it is stored as failed.",
        3,
    )
    retry_backoff: float = setting(
        "Base of the exponential retry backoff, in seconds: the first retry waits a random 50-100% of it, each next "
        "one twice as long, up to CRAWLER_RETRY_BACKOFF_MAX (or a longer Retry-After).",
        2.0,
    )
    retry_backoff_max: float = setting("Longest wait before one retry, in seconds.", 60.0)
    host_failures_to_pause: int = setting(
        "Different URLs of one host failing in a row (HTTP 500, slow answers...), with no success between them, that "
        "pause the whole host for every worker like a 503 does; a single URL's failures only retry that URL. "
        "0: never.",
        3,
    )
    max_pages_per_host: int = setting(
        "URLs scheduled per host at most (bounds crawler traps); 0 means no limit. What it keeps out is counted "
        "per host and shown by `crawler status`.",
        100_000,
    )
    max_crawl_delay: float = setting(
        "Cap on a robots.txt Crawl-delay, in seconds; the larger of it and CRAWLER_DELAY applies.", 30.0
    )
    max_retry_after: float = setting(
        "Cap on a Retry-After pause of one host (the whole cluster waits), in seconds.", 3600.0
    )
    sitemaps: bool = setting("Read the sitemaps robots.txt names, and /sitemap.xml, for more URLs.", True)
    max_sitemaps_per_host: int = setting("Sitemaps (index files included) read per host at most.", 20)
    max_sitemap_bytes: int = setting("Decompressed bytes of one sitemap at most.", 50 * 1024 * 1024)
    max_sitemap_urls: int = setting("URLs taken from one sitemap at most.", 50_000)
    max_url_length: int = setting("Longer URLs are dropped when found.", 2048)
    drop_params: tuple[str, ...] = setting(
        "Query parameters removed from every URL (session ids, tracking tags); `name*` is a prefix.",
        ("utm_*", "gclid", "fbclid", "msclkid", "sessionid", "session_id", "sid", "jsessionid", "phpsessid"),
    )
    max_outlinks: int = setting("Outlinks kept from one page.", 1000)
    user_agent: str = setting("Sent on every request and matched against robots.txt.", DEFAULT_USER_AGENT)
    robots: bool = setting("Obey robots.txt.", True)
    robots_ttl: int = setting("Seconds a fetched robots.txt stays cached in Redis for all workers.", 86_400)
    allow_private: bool = setting("Allow loopback, private, link-local and reserved addresses.", False)
    allowed_domains: tuple[str, ...] = setting(
        "Hosts in scope besides the seeds' hosts (subdomains included); with scope any, every host is, and this "
        "adds nothing.", ())
    scope_hosts: tuple[str, ...] = setting("The seeds' hosts; filled in by seeding, not usually set by hand.", ())
    # The open scope: a crawl that follows links to hosts its seeds never named.
    scope: str = setting(
        "Hosts whose links are followed: hosts (the seeds' hosts and allowed_domains) or any (every host a link "
        "names, up to max_hosts).", SCOPE_HOSTS)
    max_hosts: int = setting(
        "Hosts a job of scope any schedules URLs for at most; links to more hosts are dropped and counted (seeds "
        "are never refused, and count). 0 means no limit.", 10_000)
    deny_domains: tuple[str, ...] = setting(
        "Hosts never crawled, subdomains included, whatever the scope: seeds, links and redirects to them are "
        "dropped.", ())
    parse_types: tuple[str, ...] = setting(
        "Media types parsed for links; others are stored without outlinks.",
        ("text/html", "application/xhtml+xml"),
    )
    extract: tuple[str, ...] = setting(
        "Extractors run on every page of the job: MODULE:FUNCTION, imported by each worker from its own path, or a "
        "built-in: text, metadata.",
        (),
    )
    extract_timeout: float = setting(
        "Seconds one extractor call may take on one page; past it the call is given up on and the page gets an "
        "extract_error.",
        10.0,
    )
    max_items: int = setting("Items one extractor may make of one page; more is an extract_error.", 1000)
    render: str = setting(
        "Load each HTML page in headless Chromium from the fetched response and parse the DOM its scripts built: "
        "never, always, or auto (per host: its first pages are rendered both ways, and its later pages only where "
        "the browser found materially more links or text; docs/render.md says what it costs).",
        RENDER_NEVER,
    )
    render_sample: int = setting("render=auto: pages of a host rendered both ways before its verdict.", 3)
    render_gain: float = setting(
        "render=auto: how much more the browser must find to render a host's pages, as a share of what the fetched "
        "pages had (0.2: a fifth more links or text, and at least one link or 200 characters).",
        0.2,
    )
    render_recheck: int = setting(
        "render=auto: pages of a host after its first verdict before it is sampled again; each check that keeps "
        "the verdict doubles this for the host, up to 8 times.",
        10_000,
    )
    render_timeout: float = setting(
        "Wall-clock seconds one page may take in the browser, its subrequests included; past it the page is "
        "recorded as failed.",
        30.0,
    )
    render_idle: float = setting(
        "Seconds a rendered page may wait, after its load event, for the network to fall idle (within "
        "CRAWLER_RENDER_TIMEOUT).",
        5.0,
    )
    render_max_requests: int = setting(
        "Subrequests (scripts, styles, XHR) the browser may make for one page; more are refused.", 100
    )
    render_max_bytes: int = setting("Bytes of subrequest bodies the browser may load for one page.", 20 * 1024 * 1024)
    screenshot: bool = setting(
        "Keep a PNG screenshot of each rendered page's viewport, as a WARC conversion record of its response "
        "(with CRAWLER_WARC_DIR; nowhere without it).",
        False,
    )
    render_assets: bool = setting("Let the browser fetch images, media and fonts too (off: they are refused).", False)
    revisit_interval: float = setting(
        "Continuous crawling: seconds after its fetch that a stored page is due again, adapted per URL (x0.5 after "
        "a change, x1.5 when unchanged, within CRAWLER_REVISIT_MIN..CRAWLER_REVISIT_MAX); the job runs until paused "
        "or cancelled. 0: one pass (`crawler recrawl` revisits on demand).",
        0.0,
    )
    revisit_min: float = setting("Shortest revisit interval of a URL in continuous crawling, in seconds.", 60.0)
    revisit_max: float = setting("Longest revisit interval of a URL in continuous crawling, in seconds.", 2_592_000.0)
    dedup: str = setting(
        "How the job remembers the URLs it scheduled: exact (small integer sets, ~14 bytes a URL at 1M URLs, "
        "9 at 10M) or bloom (a Bloom filter of CRAWLER_BLOOM_CAPACITY URLs at CRAWLER_BLOOM_ERROR_RATE, "
        "allocated whole when the job starts; a false positive is a URL never crawled). Fixed when the job is "
        "created.",
        DEDUP_EXACT,
    )
    bloom_capacity: int = setting("URLs the job's Bloom filter is sized for (dedup=bloom).", 10_000_000)
    bloom_error_rate: float = setting(
        "False-positive rate of the job's Bloom filter at its capacity (dedup=bloom): 3.6 bytes a URL at 1e-06.",
        1e-6,
    )
    lease_timeout: float = setting(
        "Seconds a dispatched URL may take before it is handed out again; more than CRAWLER_DOWNLOAD_DEADLINE plus "
        "CRAWLER_TIMEOUT.",
        600.0,
    )
    max_requeues: int = setting(
        "Times a URL whose lease expired (its worker died or was cut off) is handed out again; at the next "
        'expiry it is stored as failed, with `error: "worker lost N times"`.',
        5,
    )
    dispatch_window: int = setting("URLs of the job leased to Celery at once: bounds the broker's queues.", 200)
    frontier_shards: int = setting(
        "Parts the job's frontier is split into by host, each in a Redis Cluster slot of its own, so that one job "
        f"spreads over a cluster's masters (at least the number of masters, at most {MAX_SHARDS}); each part has "
        "its share of the dispatch window and of the Bloom filter. Fixed when the job is created.",
        1,
    )
    dispatch_lookahead: float = setting(
        "Seconds before its host's turn that a URL may be handed out, with a countdown (about one dispatcher tick).",
        1.0,
    )
    # Politeness that adapts, per host (pipeline/fetch/hostpolicy.py, the frontier's lib/schedule.lua).
    delay_factor: float = setting(
        "Adaptive politeness: a host's delay is this many times its last response time (as Heritrix does it), "
        "never below CRAWLER_DELAY (or the host's own) nor above CRAWLER_MAX_DELAY; a larger robots.txt "
        "Crawl-delay still wins. 0: off.",
        0.0,
    )
    max_delay: float = setting("Cap on the adaptive delay of CRAWLER_DELAY_FACTOR, in seconds.", 60.0)
    host_policy_file: str = setting(
        "File of per-host rules, `PATTERN key=value ...` a line (delay, host_concurrency, robots, user_agent, render; "
        "PATTERN a host name or *.domain), read once when the job is seeded and stored with its policy, so every "
        "worker applies it without the file; empty: none.",
        "",
    )
    host_rules: tuple[str, ...] = field(
        default=(), metadata={"doc": "The host policy file's rules, as seeding read them.", "internal": True}
    )
    version: int = field(
        default=0, metadata={"doc": "Set when the job is seeded; tells a stale copy.", "internal": True}
    )

    def __post_init__(self) -> None:
        if self.lease_timeout <= self.download_deadline + self.timeout:
            raise ConfigError("CRAWLER_LEASE_TIMEOUT must exceed CRAWLER_DOWNLOAD_DEADLINE plus CRAWLER_TIMEOUT")
        if self.host_failures_to_pause < 0:
            raise ConfigError("CRAWLER_HOST_FAILURES_TO_PAUSE must be 0 or more")
        if self.dispatch_window < 1:
            raise ConfigError("CRAWLER_DISPATCH_WINDOW must be at least 1")
        if not 1 <= self.frontier_shards <= MAX_SHARDS:
            raise ConfigError(f"CRAWLER_FRONTIER_SHARDS must be between 1 and {MAX_SHARDS}")
        if self.scope not in SCOPES:
            raise ConfigError(f"CRAWLER_SCOPE must be one of {', '.join(SCOPES)}, not {self.scope!r}")
        if self.render_sample < 1 or self.render_recheck < 1:
            raise ConfigError("CRAWLER_RENDER_SAMPLE and CRAWLER_RENDER_RECHECK must be at least 1")
        if self.render not in RENDER_MODES:
            raise ConfigError(f"CRAWLER_RENDER must be one of {', '.join(RENDER_MODES)}, not {self.render!r}")
        if self.dedup not in DEDUP_MODES:
            raise ConfigError(f"CRAWLER_DEDUP must be one of {', '.join(DEDUP_MODES)}, not {self.dedup!r}")
        if self.revisit_interval and not self.revisit_min <= self.revisit_interval <= self.revisit_max:
            raise ConfigError(
                "CRAWLER_REVISIT_INTERVAL must lie between CRAWLER_REVISIT_MIN and CRAWLER_REVISIT_MAX"
            )

    @property
    def fetch_time_limit(self) -> float:
        """Celery's hard limit on one fetch task: a backstop behind the fetch's own deadlines
        (a task may download robots.txt and then the page, each under its own deadline, and
        render the page where it was fetched). A job with host rules is taken to render:
        a rule may set its host's render mode, and the rules are read in fetch/, not here."""
        rendering = self.render_timeout if self.render != RENDER_NEVER or self.host_rules else 0.0
        return 2 * (self.download_deadline + self.timeout) + rendering + 40

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_environ(self) -> dict[str, str]:
        """The CRAWLER_* variables that make these a process's job defaults."""
        return {variable(f.name): spell(getattr(self, f.name)) for f in public_fields(Policy)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        known = {f.name for f in fields(cls)}
        return cls(**coerce(cls, {k: v for k, v in data.items() if k in known}))

    def merged(self, **changes: Any) -> Policy:
        """A copy with `changes` applied; None values leave the field as it is."""
        unknown = sorted(name for name in changes if not is_field(Policy, name))
        if unknown:
            raise ConfigError(f"unknown policy option: {', '.join(unknown)}")
        return dataclasses.replace(self, **coerce(Policy, {k: v for k, v in changes.items() if v is not None}))

