"""Every tunable of the crawler in one place: defaults, overridden by ``CRAWLER_*``
environment variables, overridden by CLI flags or ``seed()`` arguments.

Two frozen dataclasses: ``Settings`` is what a process needs (where Redis and the store
are, how the dispatcher behaves), ``Policy`` is what one job needs (limits, politeness,
scope). A job's Policy is written to Redis when it is seeded, so every worker on every
host applies the same rules to it. Each setting's `_doc` is its one description: the
settings reference (docs/settings.md) and the flags' help are made from it.

Values are checked here only as far as they stand alone; a feature checks what it needs
of them itself (the Bloom filter, proxies, the WARC upload), where a command or worker
starts, so this module imports none of them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from pipeline import __version__
from pipeline.errors import ConfigError

ENV_PREFIX = "CRAWLER_"
WORKER_POOLS = ("threads", "solo", "prefork")
# Threads of a `crawler crawl` worker by default: on the broad benchmark (500 hosts at web
# latencies, 2 workers on 2 cores) 4 left the machine idle, 32 and 64 made it CPU-bound
# (79 and 81 pages/s), 128 cost more CPU a page for fewer pages/s.
THREADS_PER_WORKER = 32
BROKER_SCHEMES = ("redis", "rediss", "unix", "amqp", "amqps")
AMQP_SCHEMES = ("amqp", "amqps")
DEDUP_EXACT, DEDUP_BLOOM = "exact", "bloom"
DEDUP_MODES = (DEDUP_EXACT, DEDUP_BLOOM)
SCOPE_HOSTS, SCOPE_ANY = "hosts", "any"
SCOPES = (SCOPE_HOSTS, SCOPE_ANY)
RENDER_NEVER, RENDER_AUTO, RENDER_ALWAYS = "never", "auto", "always"
RENDER_MODES = (RENDER_NEVER, RENDER_AUTO, RENDER_ALWAYS)
# A job's frontier shards at most: each is read on every tick and status.
MAX_SHARDS = 64
# Zero would make every request fail at once: these must be positive.
_POSITIVE = frozenset(
    {"timeout", "download_deadline", "lease_timeout", "dispatch_interval", "proxy_cooldown",
     "store_timeout", "extract_timeout", "bloom_error_rate", "render_timeout"}
)
DEFAULT_USER_AGENT = f"celery-crawler/{__version__} (+https://pypi.org/project/celery-crawler/)"


def _doc(text: str, default: Any, shown: str | None = None) -> Any:
    """A setting with its meaning; `shown` stands for a default that depends on the machine."""
    return field(default=default, metadata={"doc": text, "shown": shown})


@dataclass(frozen=True)
class Policy:
    """How one job crawls. Stored with the job, so all workers share it."""

    max_depth: int = _doc("Links from the nearest seed; links found at this depth are recorded, not followed.", 10)
    max_pages: int = _doc(
        "Pages fetched for the job, failures included (sitemaps not: CRAWLER_MAX_SITEMAPS_PER_HOST bounds them); "
        "0 means no limit. A link robots.txt disallows is recorded without a fetch and spends none of it.",
        100_000,
    )
    delay: float = _doc("Seconds between the starts of two requests to one host, across the cluster.", 1.0)
    host_concurrency: int = _doc("Requests in flight to one host at once, across the cluster.", 1)
    timeout: float = _doc("Connect and read timeout of one request, in seconds.", 10.0)
    download_deadline: float = _doc("Wall-clock seconds allowed for a whole response body.", 60.0)
    max_bytes: int = _doc("Decoded bytes kept of one response; a larger body fails as too large.", 10 * 1024 * 1024)
    max_redirects: int = _doc("Redirect hops followed for one URL.", 10)
    max_retries: int = _doc(
        "Retries of a transient failure (timeout, connection error, HTTP 408, 429, 5xx); then it is stored as failed.",
        3,
    )
    retry_backoff: float = _doc(
        "Base of the exponential retry backoff, in seconds: the first retry waits a random 50-100% of it, each next "
        "one twice as long, up to CRAWLER_RETRY_BACKOFF_MAX (or a longer Retry-After).",
        2.0,
    )
    retry_backoff_max: float = _doc("Longest wait before one retry, in seconds.", 60.0)
    host_failures_to_pause: int = _doc(
        "Different URLs of one host failing in a row (HTTP 500, slow answers...), with no success between them, that "
        "pause the whole host for every worker like a 503 does; a single URL's failures only retry that URL. "
        "0: never.",
        3,
    )
    max_pages_per_host: int = _doc(
        "URLs scheduled per host at most (bounds crawler traps); 0 means no limit. What it keeps out is counted "
        "per host and shown by `crawler status`.",
        100_000,
    )
    max_crawl_delay: float = _doc(
        "Cap on a robots.txt Crawl-delay, in seconds; the larger of it and CRAWLER_DELAY applies.", 30.0
    )
    max_retry_after: float = _doc(
        "Cap on a Retry-After pause of one host (the whole cluster waits), in seconds.", 3600.0
    )
    sitemaps: bool = _doc("Read the sitemaps robots.txt names, and /sitemap.xml, for more URLs.", True)
    max_sitemaps_per_host: int = _doc("Sitemaps (index files included) read per host at most.", 20)
    max_sitemap_bytes: int = _doc("Decompressed bytes of one sitemap at most.", 50 * 1024 * 1024)
    max_sitemap_urls: int = _doc("URLs taken from one sitemap at most.", 50_000)
    max_url_length: int = _doc("Longer URLs are dropped when found.", 2048)
    drop_params: tuple[str, ...] = _doc(
        "Query parameters removed from every URL (session ids, tracking tags); `name*` is a prefix.",
        ("utm_*", "gclid", "fbclid", "msclkid", "sessionid", "session_id", "sid", "jsessionid", "phpsessid"),
    )
    max_outlinks: int = _doc("Outlinks kept from one page.", 1000)
    user_agent: str = _doc("Sent on every request and matched against robots.txt.", DEFAULT_USER_AGENT)
    robots: bool = _doc("Obey robots.txt.", True)
    robots_ttl: int = _doc("Seconds a fetched robots.txt stays cached in Redis for all workers.", 86_400)
    allow_private: bool = _doc("Allow loopback, private, link-local and reserved addresses.", False)
    allowed_domains: tuple[str, ...] = _doc(
        "Hosts in scope besides the seeds' hosts (subdomains included); with scope any, every host is, and this "
        "adds nothing.", ())
    scope_hosts: tuple[str, ...] = _doc("The seeds' hosts; filled in by seeding, not usually set by hand.", ())
    # The open scope: a crawl that follows links to hosts its seeds never named.
    scope: str = _doc(
        "Hosts whose links are followed: hosts (the seeds' hosts and allowed_domains) or any (every host a link "
        "names, up to max_hosts).", SCOPE_HOSTS)
    max_hosts: int = _doc(
        "Hosts a job of scope any schedules URLs for at most; links to more hosts are dropped and counted (seeds "
        "are never refused, and count). 0 means no limit.", 10_000)
    deny_domains: tuple[str, ...] = _doc(
        "Hosts never crawled, subdomains included, whatever the scope: seeds, links and redirects to them are "
        "dropped.", ())
    parse_types: tuple[str, ...] = _doc(
        "Media types parsed for links; others are stored without outlinks.",
        ("text/html", "application/xhtml+xml"),
    )
    extract: tuple[str, ...] = _doc(
        "Extractors run on every page of the job: MODULE:FUNCTION, imported by each worker from its own path, or a "
        "built-in: text, metadata.",
        (),
    )
    extract_timeout: float = _doc(
        "Seconds one extractor call may take on one page; past it the call is given up on and the page gets an "
        "extract_error.",
        10.0,
    )
    max_items: int = _doc("Items one extractor may make of one page; more is an extract_error.", 1000)
    render: str = _doc(
        "Load each HTML page in headless Chromium from the fetched response and parse the DOM its scripts built: "
        "never, always, or auto (per host: its first pages are rendered both ways, and its later pages only where "
        "the browser found materially more links or text; docs/render.md says what it costs).",
        RENDER_NEVER,
    )
    render_sample: int = _doc("render=auto: pages of a host rendered both ways before its verdict.", 3)
    render_gain: float = _doc(
        "render=auto: how much more the browser must find to render a host's pages, as a share of what the fetched "
        "pages had (0.2: a fifth more links or text, and at least one link or 200 characters).",
        0.2,
    )
    render_recheck: int = _doc(
        "render=auto: pages of a host after its first verdict before it is sampled again; each check that keeps "
        "the verdict doubles this for the host, up to 8 times.",
        10_000,
    )
    render_timeout: float = _doc(
        "Wall-clock seconds one page may take in the browser, its subrequests included; past it the page is "
        "recorded as failed.",
        30.0,
    )
    render_idle: float = _doc(
        "Seconds a rendered page may wait, after its load event, for the network to fall idle (within "
        "CRAWLER_RENDER_TIMEOUT).",
        5.0,
    )
    render_max_requests: int = _doc(
        "Subrequests (scripts, styles, XHR) the browser may make for one page; more are refused.", 100
    )
    render_max_bytes: int = _doc("Bytes of subrequest bodies the browser may load for one page.", 20 * 1024 * 1024)
    screenshot: bool = _doc(
        "Keep a PNG screenshot of each rendered page's viewport, as a WARC conversion record of its response "
        "(with CRAWLER_WARC_DIR; nowhere without it).",
        False,
    )
    render_assets: bool = _doc("Let the browser fetch images, media and fonts too (off: they are refused).", False)
    revisit_interval: float = _doc(
        "Continuous crawling: seconds after its fetch that a stored page is due again, adapted per URL (x0.5 after "
        "a change, x1.5 when unchanged, within CRAWLER_REVISIT_MIN..CRAWLER_REVISIT_MAX); the job runs until paused "
        "or cancelled. 0: one pass (`crawler recrawl` revisits on demand).",
        0.0,
    )
    revisit_min: float = _doc("Shortest revisit interval of a URL in continuous crawling, in seconds.", 60.0)
    revisit_max: float = _doc("Longest revisit interval of a URL in continuous crawling, in seconds.", 2_592_000.0)
    dedup: str = _doc(
        "How the job remembers the URLs it scheduled: exact (small integer sets, ~14 bytes a URL at 1M URLs, "
        "9 at 10M) or bloom (a Bloom filter of CRAWLER_BLOOM_CAPACITY URLs at CRAWLER_BLOOM_ERROR_RATE, "
        "allocated whole when the job starts; a false positive is a URL never crawled). Fixed when the job is "
        "created.",
        DEDUP_EXACT,
    )
    bloom_capacity: int = _doc("URLs the job's Bloom filter is sized for (dedup=bloom).", 10_000_000)
    bloom_error_rate: float = _doc(
        "False-positive rate of the job's Bloom filter at its capacity (dedup=bloom): 3.6 bytes a URL at 1e-06.",
        1e-6,
    )
    lease_timeout: float = _doc(
        "Seconds a dispatched URL may take before it is handed out again; more than CRAWLER_DOWNLOAD_DEADLINE plus "
        "CRAWLER_TIMEOUT.",
        600.0,
    )
    max_requeues: int = _doc(
        "Times a URL whose lease expired (its worker died or was cut off) is handed out again; at the next "
        'expiry it is stored as failed, with `error: "worker lost N times"`.',
        5,
    )
    dispatch_window: int = _doc("URLs of the job leased to Celery at once: bounds the broker's queues.", 200)
    frontier_shards: int = _doc(
        "Parts the job's frontier is split into by host, each in a Redis Cluster slot of its own, so that one job "
        f"spreads over a cluster's masters (at least the number of masters, at most {MAX_SHARDS}); each part has "
        "its share of the dispatch window and of the Bloom filter. Fixed when the job is created.",
        1,
    )
    dispatch_lookahead: float = _doc(
        "Seconds before its host's turn that a URL may be handed out, with a countdown (about one dispatcher tick).",
        1.0,
    )
    # Politeness that adapts, per host (pipeline/fetch/hostpolicy.py, the frontier's lib/schedule.lua).
    delay_factor: float = _doc(
        "Adaptive politeness: a host's delay is this many times its last response time (as Heritrix does it), "
        "never below CRAWLER_DELAY (or the host's own) nor above CRAWLER_MAX_DELAY; a larger robots.txt "
        "Crawl-delay still wins. 0: off.",
        0.0,
    )
    max_delay: float = _doc("Cap on the adaptive delay of CRAWLER_DELAY_FACTOR, in seconds.", 60.0)
    host_policy_file: str = _doc(
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
        return {variable(f.name): _spell(getattr(self, f.name)) for f in _public(Policy)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        known = {f.name for f in fields(cls)}
        return cls(**_coerce(cls, {k: v for k, v in data.items() if k in known}))

    def merged(self, **changes: Any) -> Policy:
        """A copy with `changes` applied; None values leave the field as it is."""
        unknown = sorted(name for name in changes if not _is_field(Policy, name))
        if unknown:
            raise ConfigError(f"unknown policy option: {', '.join(unknown)}")
        return dataclasses.replace(self, **_coerce(Policy, {k: v for k, v in changes.items() if v is not None}))


@dataclass(frozen=True)
class Settings:
    """What a process needs; `policy` holds the defaults of every new job."""

    redis_url: str = _doc(
        "Broker and frontier: redis://, rediss:// or unix://. Empty: `crawler crawl` starts an embedded Redis (which "
        "the other commands then find in CRAWLER_DATA_DIR); workers use redis://127.0.0.1:6379/0.",
        "",
    )
    broker_url: str = _doc(
        "Where Celery's task messages go, when not the frontier's Redis: redis://, rediss:// or unix:// (a Redis "
        "of its own), or amqp:// / amqps:// (RabbitMQ). Empty: CRAWLER_REDIS_URL.",
        "",
    )
    redis_cluster: bool = _doc(
        "The frontier is on a Redis Cluster, CRAWLER_REDIS_URL one of its nodes (each shard of a job has its keys in "
        "one slot). "
        "Needs CRAWLER_BROKER_URL: Celery has no Redis Cluster broker.",
        False,
    )
    redis_ca_certs: str = _doc("CA bundle that verifies a rediss:// server (empty: the system's).", "")
    redis_certfile: str = _doc("Client certificate for a rediss:// server that asks for one.", "")
    redis_keyfile: str = _doc("Key of that client certificate.", "")
    store_url: str = _doc("Where records go: sqlite:///PATH (relative), sqlite:////PATH (absolute) or postgresql://…", "sqlite:///crawl.db")
    store_timeout: float = _doc(
        "Seconds a store write waits for a SQLite database another process is writing, or to connect to "
        "PostgreSQL, before it is given up and retried later.",
        10.0,
    )
    data_dir: str = _doc(
        "Where `crawler crawl` keeps its embedded Redis data (AOF on), its worker log and its lock (one crawl per "
        "data dir).",
        ".crawler",
    )
    dispatch_interval: float = _doc("Seconds between dispatcher ticks (a heartbeat, not the pace).", 1.0)
    task_events: bool = _doc(
        "Send task events from the start (Flower switches them on while it runs; they cost ~20% CPU).", False
    )
    workers: int = _doc("Worker processes `crawler crawl` starts on this machine.", os.cpu_count() or 2,
                        shown="number of CPUs")
    worker_pool: str = _doc("Celery pool of each `crawler crawl` worker: threads, solo or prefork.", "threads")
    worker_concurrency: int = _doc(
        "Pool size of each `crawler crawl` worker (threads: requests in flight); 0: by pool, "
        f"{THREADS_PER_WORKER} threads (bench/README.md, Pools: what chose it), one process for prefork.",
        0,
    )
    proxies: tuple[str, ...] = _doc(
        "Proxies this worker's requests go out through, in rotation: http, https, socks4(a), socks5(h) URLs "
        "with a port (and user:password@ if needed; percent-encode commas).",
        (),
    )
    store_retries: int = _doc(
        "Times a record is written again while the store is unavailable (with backoff), without fetching the page "
        "again; then it is given up, and its lease hands the URL out again.",
        20,
    )
    robots_cache_size: int = _doc("Parsed robots.txt files each worker process keeps (least recently used go).", 1000)
    keep_alive_hosts: int = _doc(
        "Hosts whose idle connections each worker process keeps open for its threads to reuse (least recently "
        "asked go); at most a quarter of the open-files limit.",
        1000,
    )
    redis_retries: int = _doc(
        "Times a Redis command or task message is tried again, about every 2 s, while Redis is unreachable "
        "(a restart), before the task fails and its lease hands the URL out again.",
        30,
    )
    proxy_cooldown: float = _doc("Seconds a proxy that failed stays out of the rotation.", 60.0)
    revisit_batch: int = _doc(
        "Revisits of a job held in Redis at most, fed from the store's due URLs as they are fetched: bounds Redis "
        "memory however many records the job has.",
        5000,
    )
    metrics_bind: str = _doc("Address `crawler metrics` serves Prometheus metrics on.", "127.0.0.1")
    metrics_port: int = _doc("Port of `crawler metrics`.", 9810)
    flower_user: str = _doc("User name of Flower's basic auth (`celery -A tasks flower`).", "")
    flower_password: str = _doc("Password of Flower's basic auth; Flower refuses to start without both.", "")
    flower_local_only: bool = _doc("Let Flower start without auth, bound to 127.0.0.1 only.", False)
    warc_dir: str = _doc(
        "Directory this host's worker processes write WARC files of every HTTP exchange into, each process "
        "its own files; empty: no WARC.",
        "",
    )
    warc_prefix: str = _doc("First part of each WARC file's name.", "crawler")
    warc_max_bytes: int = _doc("A WARC file is closed and a new one begun past this size, in bytes.", 1_000_000_000)
    warc_gzip_level: int = _doc(
        "zlib level (1-9) of the WARC files' gzip members: 1 is fastest, 9 smallest.", 3
    )
    warc_operator: str = _doc("Who runs the crawl (contact), written into each WARC file's warcinfo record.", "")
    warc_upload_url: str = _doc(
        "s3://bucket/prefix: each closed WARC file is uploaded there and removed locally once the upload is "
        "verified (with CRAWLER_WARC_DIR, where they wait for it); empty: files stay there.",
        "",
    )
    s3_endpoint_url: str = _doc("Endpoint of an S3-compatible store for CRAWLER_WARC_UPLOAD_URL; empty: AWS.", "")
    browser_path: str = _doc("The Chromium that render workers drive (CRAWLER_RENDER).", "/usr/bin/chromium")
    browser_pages: int = _doc("Pages one browser renders before it is closed and a fresh one started.", 100)
    browser_memory_mb: int = _doc(
        "Resident memory of a browser's processes, in MiB, past which it is closed and a fresh one started.", 1024
    )
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        if self.worker_pool not in WORKER_POOLS:
            raise ConfigError(f"CRAWLER_WORKER_POOL must be one of {', '.join(WORKER_POOLS)}")
        if self.workers < 1 or self.worker_concurrency < 0:
            raise ConfigError("CRAWLER_WORKERS must be at least 1 and CRAWLER_WORKER_CONCURRENCY at least 0")
        if self.robots_cache_size < 1 or self.keep_alive_hosts < 1:
            raise ConfigError("CRAWLER_ROBOTS_CACHE_SIZE and CRAWLER_KEEP_ALIVE_HOSTS must be at least 1")
        if self.revisit_batch < 1:
            raise ConfigError("CRAWLER_REVISIT_BATCH must be at least 1")
        if self.browser_pages < 1 or self.browser_memory_mb < 1:
            raise ConfigError("CRAWLER_BROWSER_PAGES and CRAWLER_BROWSER_MEMORY_MB must be at least 1")
        if self.warc_max_bytes < 1:
            raise ConfigError("CRAWLER_WARC_MAX_BYTES must be at least 1")
        if not 1 <= self.warc_gzip_level <= 9:
            raise ConfigError("CRAWLER_WARC_GZIP_LEVEL must be between 1 and 9")
        if self.redis_cluster and not (self.redis_url and self.broker_url):
            raise ConfigError(
                "CRAWLER_REDIS_CLUSTER needs CRAWLER_REDIS_URL (a node of the cluster) and CRAWLER_BROKER_URL "
                "(a Redis of its own or RabbitMQ: Celery has no Redis Cluster broker)"
            )
        if self.broker_url and urlsplit(self.broker_url).scheme not in BROKER_SCHEMES:
            raise ConfigError(
                f"CRAWLER_BROKER_URL: expected one of {', '.join(BROKER_SCHEMES)} URLs, got {self.broker_url!r}"
            )

    @property
    def pool_size(self) -> int:
        """Each `crawler crawl` worker's pool: CRAWLER_WORKER_CONCURRENCY, or by pool when 0.
        Threads wait on the network for many hosts at once; a prefork child is a whole process."""
        if self.worker_concurrency:
            return self.worker_concurrency
        return THREADS_PER_WORKER if self.worker_pool == "threads" else 1

    @property
    def broker_is_amqp(self) -> bool:
        return urlsplit(self.broker_url).scheme in AMQP_SCHEMES

    def redis_tls(self) -> dict[str, str]:
        """TLS options of a rediss:// URL, spelled as redis-py and kombu both take them;
        the server's certificate is always verified."""
        if not self.redis_url.startswith("rediss://"):
            return {}
        options = {"ssl_cert_reqs": "required"}
        for name, value in (("ssl_ca_certs", self.redis_ca_certs), ("ssl_certfile", self.redis_certfile),
                            ("ssl_keyfile", self.redis_keyfile)):
            if value:
                options[name] = value
        return options

    def to_environ(self) -> dict[str, str]:
        """The CRAWLER_* variables that give a process started from this one these
        settings; a job's policy reaches the workers with the job, through Redis."""
        return {
            variable(f.name): _spell(getattr(self, f.name)) for f in _public(Settings)
        }

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then CRAWLER_* variables, then `overrides` (None means not given)."""
        env = os.environ if environ is None else environ
        own = _from_env(cls, env, exclude={"policy"})
        policy_values = _from_env(Policy, env)
        for name, value in overrides.items():
            if value is None:
                continue
            if _is_field(Policy, name):
                policy_values[name] = value
            elif _is_field(cls, name) and name != "policy":
                own[name] = value
            else:
                raise ConfigError(f"unknown setting: {name}")
        return cls(**_coerce(cls, own), policy=Policy(**_coerce(Policy, policy_values)))


def documented() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the README table is checked against it."""
    return [(variable(f.name), shown_default(f.name), f.metadata["doc"]) for f in _public(Settings, Policy)]


def variable(name: str) -> str:
    """The CRAWLER_* variable of setting `name`."""
    return ENV_PREFIX + name.upper()


def doc(name: str) -> str:
    """What setting `name` means: the one text the reference and the flags' help show."""
    text: str = _field(name).metadata["doc"]
    return text


def shown_default(name: str) -> str:
    """The default of setting `name` as its variable spells it ("" for none)."""
    f = _field(name)
    return f.metadata.get("shown") or _spell(_default(f))


def reference(flags: Mapping[str, str]) -> str:
    """Every setting in Markdown: its variable, default, flag (from `flags`, which maps a
    setting to how the command line spells it) and meaning."""
    return "\n".join([
        "Defaults, overridden by `CRAWLER_*` environment variables, overridden by command-line flags or "
        "`seed()` arguments.",
        "",
        "## Process settings",
        "",
        "What each process (command, worker, beat, Flower) needs; each host may set its own.",
        "",
        *_table(_public(Settings), flags),
        "",
        "## Policy of a job",
        "",
        "Stored with the job when it is seeded, so every worker applies the same; a policy flag that is not "
        "given keeps the value of a job that exists.",
        "",
        *_table(_public(Policy), flags),
    ]) + "\n"


def _table(settings: list[dataclasses.Field[Any]], flags: Mapping[str, str]) -> list[str]:
    rows = ["| variable | default | flag | meaning |", "| --- | --- | --- | --- |"]
    for f in settings:
        listed = isinstance(_default(f), tuple)
        meaning = doc(f.name) + (" Comma-separated." if listed else "")
        cells = (f"`{variable(f.name)}`", _default_cell(f, listed), flags.get(f.name, ""), meaning)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return rows


def _default_cell(f: dataclasses.Field[Any], listed: bool) -> str:
    """The default as a variable spells it, or what it depends on, or that there is none."""
    if f.metadata.get("shown"):
        return str(f.metadata["shown"])
    spelled = _spell(_default(f))
    if spelled:
        return f"`{spelled}`"
    return "(none)" if listed else "(unset)"


def _public(*klasses: type) -> list[dataclasses.Field[Any]]:
    """The fields of `klasses` that are settings (not Settings.policy, nor internal ones)."""
    return [f for klass in klasses for f in fields(klass) if f.name != "policy" and not f.metadata.get("internal")]


def _field(name: str) -> dataclasses.Field[Any]:
    for f in _public(Settings, Policy):
        if f.name == name:
            return f
    raise KeyError(name)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _spell(value: Any) -> str:
    """`value` as a CRAWLER_* variable gives it: the inverse of `_convert`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _is_field(klass: type, name: str) -> bool:
    return any(f.name == name for f in fields(klass))


def _from_env(klass: type, env: Mapping[str, str], exclude: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    out = {}
    for f in fields(klass):
        name = ENV_PREFIX + f.name.upper()
        if f.name not in exclude and not f.metadata.get("internal") and name in env:
            out[f.name] = env[name]
    return out


def _coerce(klass: type, values: Mapping[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(klass)
    return {name: _convert(name, hints[name], value) for name, value in values.items()}


def _convert(name: str, hint: Any, value: Any) -> Any:
    variable = ENV_PREFIX + name.upper()
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if hint is int:
            number = int(value)
            if number < 0:
                raise ValueError(value)
            return number
        if hint is float:
            real = float(value)
            if not math.isfinite(real) or real < 0 or (real == 0 and name in _POSITIVE):
                raise ValueError(value)
            return real
        if hint == tuple[str, ...]:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(part) for part in value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{variable}: invalid value {value!r}") from None
