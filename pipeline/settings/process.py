"""What one process needs (where Redis and the store are, its workers, the dispatcher):
`Settings`, read from defaults, `CRAWLER_*` variables and a command's flags, with the
defaults of every new job's policy."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.settings.policy import Policy
from pipeline.settings.values import coerce, from_env, is_field, public_fields, setting, spell, variable

WORKER_POOLS = ("threads", "solo", "prefork")
# Threads of a `crawler crawl` worker by default: on the broad benchmark (500 hosts at web
# latencies, 2 workers on 2 cores) 4 left the machine idle; on a slow machine 32 and 64
# were CPU-bound alike (79 and 81 pages/s), on a fast one 64 ended 10% sooner than 32 at
# the same CPU a page (a slow host's next URL waited less for a free thread); 128 cost
# more CPU a page.
THREADS_PER_WORKER = 64
BROKER_SCHEMES = ("redis", "rediss", "unix", "amqp", "amqps")
AMQP_SCHEMES = ("amqp", "amqps")


@dataclass(frozen=True)
class Settings:
    """What a process needs; `policy` holds the defaults of every new job."""

    redis_url: str = setting(
        "Broker and frontier: redis://, rediss:// or unix://. Empty: `crawler crawl` starts an embedded Redis (which "
        "the other commands then find in CRAWLER_DATA_DIR); workers use redis://127.0.0.1:6379/0.",
        "",
    )
    broker_url: str = setting(
        "Where Celery's task messages go, when not the frontier's Redis: redis://, rediss:// or unix:// (a Redis "
        "of its own), or amqp:// / amqps:// (RabbitMQ). Empty: CRAWLER_REDIS_URL.",
        "",
    )
    redis_cluster: bool = setting(
        "The frontier is on a Redis Cluster, CRAWLER_REDIS_URL one of its nodes (each shard of a job has its keys in "
        "one slot). "
        "Needs CRAWLER_BROKER_URL: Celery has no Redis Cluster broker.",
        False,
    )
    redis_ca_certs: str = setting("CA bundle that verifies a rediss:// server (empty: the system's).", "")
    redis_certfile: str = setting("Client certificate for a rediss:// server that asks for one.", "")
    redis_keyfile: str = setting("Key of that client certificate.", "")
    store_url: str = setting(
        "Where records go: sqlite:///PATH (relative), sqlite:////PATH (absolute) or postgresql://…", "sqlite:///crawl.db"
    )
    store_timeout: float = setting(
        "Seconds a store write waits for a SQLite database another process is writing, or to connect to "
        "PostgreSQL, before it is given up and retried later.",
        10.0,
    )
    data_dir: str = setting(
        "Where `crawler crawl` keeps its embedded Redis data (AOF on), its worker log and its lock (one crawl per "
        "data dir).",
        ".crawler",
    )
    dispatch_interval: float = setting("Seconds between dispatcher ticks (a heartbeat, not the pace).", 1.0)
    task_events: bool = setting(
        "Send task events from the start (Flower switches them on while it runs; they cost ~20% CPU).", False
    )
    workers: int = setting("Worker processes `crawler crawl` starts on this machine.", os.cpu_count() or 2,
                        shown="number of CPUs")
    worker_pool: str = setting("Celery pool of each `crawler crawl` worker: threads, solo or prefork.", "threads")
    worker_concurrency: int = setting(
        "Pool size of each `crawler crawl` worker (threads: requests in flight); 0: by pool, "
        f"{THREADS_PER_WORKER} threads (bench/README.md, Pools: what chose it), one process for prefork.",
        0,
    )
    proxies: tuple[str, ...] = setting(
        "Proxies this worker's requests go out through, in rotation: http, https, socks4(a), socks5(h) URLs "
        "with a port (and user:password@ if needed; percent-encode commas).",
        (),
    )
    store_retries: int = setting(
        "Times a record is written again while the store is unavailable (with backoff), without fetching the page "
        "again; then it is given up, and its lease hands the URL out again.",
        20,
    )
    robots_cache_size: int = setting(
        "Parsed robots.txt files each worker process keeps (least recently used go).", 1000
    )
    keep_alive_hosts: int = setting(
        "Hosts whose idle connections each worker process keeps open for its threads to reuse (least recently "
        "asked go); at most a quarter of the open-files limit.",
        1000,
    )
    redis_retries: int = setting(
        "Times a Redis command or task message is tried again, about every 2 s, while Redis is unreachable "
        "(a restart), before the task fails and its lease hands the URL out again.",
        30,
    )
    proxy_cooldown: float = setting("Seconds a proxy that failed stays out of the rotation.", 60.0)
    revisit_batch: int = setting(
        "Revisits of a job held in Redis at most, fed from the store's due URLs as they are fetched: bounds Redis "
        "memory however many records the job has.",
        5000,
    )
    metrics_bind: str = setting("Address `crawler metrics` serves Prometheus metrics on.", "127.0.0.1")
    metrics_port: int = setting("Port of `crawler metrics`.", 9810)
    flower_user: str = setting("User name of Flower's basic auth (`celery -A tasks flower`).", "")
    flower_password: str = setting("Password of Flower's basic auth; Flower refuses to start without both.", "")
    flower_local_only: bool = setting("Let Flower start without auth, bound to 127.0.0.1 only.", False)
    warc_dir: str = setting(
        "Directory this host's worker processes write WARC files of every HTTP exchange into, each process "
        "its own files; empty: no WARC.",
        "",
    )
    warc_prefix: str = setting("First part of each WARC file's name.", "crawler")
    warc_max_bytes: int = setting("A WARC file is closed and a new one begun past this size, in bytes.", 1_000_000_000)
    warc_gzip_level: int = setting(
        "zlib level (1-9) of the WARC files' gzip members: 1 is fastest, 9 smallest.", 3
    )
    warc_operator: str = setting("Who runs the crawl (contact), written into each WARC file's warcinfo record.", "")
    warc_upload_url: str = setting(
        "s3://bucket/prefix: each closed WARC file is uploaded there and removed locally once the upload is "
        "verified (with CRAWLER_WARC_DIR, where they wait for it); empty: files stay there.",
        "",
    )
    s3_endpoint_url: str = setting("Endpoint of an S3-compatible store for CRAWLER_WARC_UPLOAD_URL; empty: AWS.", "")
    browser_path: str = setting("The Chromium that render workers drive (CRAWLER_RENDER).", "/usr/bin/chromium")
    browser_pages: int = setting("Pages one browser renders before it is closed and a fresh one started.", 100)
    browser_memory_mb: int = setting(
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
            variable(f.name): spell(getattr(self, f.name)) for f in public_fields(Settings)
        }

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then CRAWLER_* variables, then `overrides` (None means not given)."""
        env = os.environ if environ is None else environ
        own = from_env(cls, env, exclude={"policy"})
        policy_values = from_env(Policy, env)
        for name, value in overrides.items():
            if value is None:
                continue
            if is_field(Policy, name):
                policy_values[name] = value
            elif is_field(cls, name) and name != "policy":
                own[name] = value
            else:
                raise ConfigError(f"unknown setting: {name}")
        return cls(**coerce(cls, own), policy=Policy(**coerce(Policy, policy_values)))
