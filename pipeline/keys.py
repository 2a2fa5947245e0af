"""Every Redis key the crawler uses, and nowhere else.

A job's frontier is split into `frontier_shards` shards by host (fixed when the job is
created; one by default). Shard 0's keys have the prefix ``crawler:{JOB}:``, shard S's
``crawler:{JOB#S}:``. The braces are a Redis Cluster hash tag: one shard's keys live in
one slot, so each Lua script works in one slot, and a job of several shards spreads over
several masters. A host's keys, and a URL's seen entry, are in the host's shard.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from pipeline.errors import ConfigError

ROOT = "crawler"
JOBS = f"{ROOT}:jobs"
DISPATCH_LOCK = f"{ROOT}:dispatch:lock"

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# Suffixes under a job's prefix. The Lua scripts get these same names from LUA_NAMES.
SEEN = "seen:"         # SET per bucket (seen:BUCKET, 65,536 of them): the 48 low bits of each
                       # URL fingerprint whose 16 high bits are BUCKET, as integers (intsets)
LEGACY_SEEN = "seen"   # SET of 8-byte fingerprints, as jobs begun before the buckets keep them
BLOOM = "bloom"        # STRING: the Bloom filter of a job with dedup=bloom, instead of the seen sets
DUE = "due"            # ZSET host -> planned time of its next request start
QUEUE_DEPTHS = "qd:"   # ZSET per host (qd:HOST): the depths at which it has new URLs waiting
QUEUE = "ql:"          # LIST per depth and host (ql:DEPTH:HOST): the host's new URLs at that depth, in
                       # the order found, each as its path ('/...' for http, '+/...' for https)
LEGACY_QUEUE = "q:"    # ZSET per host (q:HOST): URL -> depth, as jobs begun before the lists keep them
REVISITS = "rq:"       # ZSET per host (rq:HOST): stored URLs due again -> depth; before the host's new URLs
RETRIES = "rt:"        # ZSET per host (rt:HOST): leased URLs waiting for their retry -> when it is due
FAILING = "failing:"  # SET per host: URLs of the host that failed since its last success
PRIOR = "prior"        # HASH URL -> JSON of its last fetch (validators, hash, WARC record), while it is revisited
PARKED = "parked"      # SET of hosts with only new URLs waiting while max_pages is spent (revisits go on)
FEED = "feed"          # STRING: number of the recrawl pass whose due URLs the store is still feeding in
SLOTS = "slots"        # HASH host -> URLs leased whose request has not finished
PLANNED = "planned"    # HASH host -> earliest planned start of its next request
STARTED = "started"    # HASH host -> when its last request really started
HOST_DELAY = "delay"   # HASH host -> robots.txt Crawl-delay (capped), when larger than the job's
RESPONSE_TIME = "rtime"  # HASH host -> seconds its last request took, when the job has a delay_factor
HOST_RULES = "hostrules"  # HASH pattern -> JSON {delay, conc} of the job's host policy file, in every shard
HOST_COUNT = "hostcount"  # HASH host -> URLs scheduled for it (the per-host budget)
HOST_SITEMAPS = "hostsitemaps"  # HASH host -> sitemaps scheduled for it
BACKOFF = "backoff"    # ZSET host -> when its pause (Retry-After, failures) ends
BACKOFF_REASON = "backoff-reason"  # HASH host -> why it is paused
LEASES = "leases"      # ZSET URL -> lease deadline
LEASE = "lease"        # HASH URL -> JSON {t: token, h: host, d: depth, s: slot held}
REQUEUES = "requeues"  # HASH URL -> times its lease expired and it was handed out again
STATS = "stats"        # HASH of counters, the fields of pipeline/frontier/names.py's Stat
CONFIG = "config"      # STRING: the job's Policy as JSON (in shard 0)
VERSION = "version"    # STRING: the version of that Policy, in every shard; scripts refuse a stale copy
STATE = "state"        # STRING: a JobState of pipeline/frontier/names.py (a job of several shards
                       # is finished when each of them is; its other states are written to all)
ALLOWANCE = "allowance"  # STRING: new URLs the shard may hand out of the job's max_pages, when
                         # several shards share it out (pipeline/frontier/budget.py)
BUDGET_SPENT = "budget-spent"  # STRING, set when no shard is given more of max_pages
BUDGET_LOCK = "budget-lock"  # STRING in shard 0: one process shares the budget out at a time
# What the limits kept out. Distinct URLs are counted by HyperLogLogs of fingerprints
# (about 1% error, at most ~14 KB of Redis memory each however many URLs), never by a
# set of the URLs.
DROPPED_DEPTH = "dropped-depth"  # HLL: unseen links of pages at the depth limit
DROPPED_PAGES = "dropped-pages:"  # HLL per host (dropped-pages:HOST): URLs its page budget kept out
DROPPED_SITEMAPS = "dropped-sitemaps:"  # HLL per host: sitemaps its sitemap budget kept out
OVER_PAGES = "over-pages"  # ZSET host -> URLs its page budget kept out (its HLL's count)
OVER_SITEMAPS = "over-sitemaps"  # ZSET host -> sitemaps its sitemap budget kept out
DROPPED_HOSTS = "dropped-hosts"  # HLL: URLs of new hosts max_hosts kept out
REFUSED_HOSTS = "refused-hosts"  # HLL: the new hosts max_hosts kept out
BLOCKED_HOSTS = "blocked-hosts"  # ZSET host -> links its robots.txt disallowed, settled where found
ROBOTS = "robots:"     # STRING per host (robots:HOST): cached robots.txt, with a TTL
ROBOTS_LOCK = "robots-lock:"  # STRING per host: one worker fetches robots.txt at a time
RENDER_HOSTS = "render-hosts"  # HASH "HOST FIELD" -> render=auto samples and verdict of each host (shard 0)

LUA_NAMES = {
    "SEEN": SEEN,
    "LEGACY_SEEN": LEGACY_SEEN,
    "BLOOM": BLOOM,
    "DUE": DUE,
    "QUEUE": QUEUE,
    "QUEUE_DEPTHS": QUEUE_DEPTHS,
    "LEGACY_QUEUE": LEGACY_QUEUE,
    "REVISITS": REVISITS,
    "RETRIES": RETRIES,
    "FAILING": FAILING,
    "PRIOR": PRIOR,
    "PARKED": PARKED,
    "FEED": FEED,
    "SLOTS": SLOTS,
    "PLANNED": PLANNED,
    "STARTED": STARTED,
    "HOST_DELAY": HOST_DELAY,
    "RESPONSE_TIME": RESPONSE_TIME,
    "HOST_RULES": HOST_RULES,
    "RENDER_HOSTS": RENDER_HOSTS,
    "HOST_COUNT": HOST_COUNT,
    "HOST_SITEMAPS": HOST_SITEMAPS,
    "BACKOFF": BACKOFF,
    "BACKOFF_REASON": BACKOFF_REASON,
    "LEASES": LEASES,
    "LEASE": LEASE,
    "REQUEUES": REQUEUES,
    "STATS": STATS,
    "STATE": STATE,
    "ALLOWANCE": ALLOWANCE,
    "BUDGET_SPENT": BUDGET_SPENT,
    "VERSION": VERSION,
    "DROPPED_DEPTH": DROPPED_DEPTH,
    "DROPPED_PAGES": DROPPED_PAGES,
    "DROPPED_SITEMAPS": DROPPED_SITEMAPS,
    "OVER_PAGES": OVER_PAGES,
    "OVER_SITEMAPS": OVER_SITEMAPS,
    "DROPPED_HOSTS": DROPPED_HOSTS,
    "REFUSED_HOSTS": REFUSED_HOSTS,
    "BLOCKED_HOSTS": BLOCKED_HOSTS,
}


def check_job_name(job: str) -> str:
    """Job names become part of keys: keep them short and plain."""
    if not isinstance(job, str) or not _JOB_NAME.fullmatch(job):
        raise ConfigError(f"invalid job name {job!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return job


def shard_of(host: str, shards: int) -> int:
    """The shard that holds `host`'s keys: the same on every machine and Python run."""
    return zlib.crc32(host.encode()) % shards if shards > 1 else 0


@dataclass(frozen=True)
class JobKeys:
    """The key names of one shard of a job (shard 0 holds the job's policy)."""

    job: str
    shard: int = 0

    @property
    def prefix(self) -> str:
        tag = self.job if self.shard == 0 else f"{self.job}#{self.shard}"
        return f"{ROOT}:{{{tag}}}:"

    def key(self, suffix: str) -> str:
        return self.prefix + suffix

    def queue(self, depth: int, host: str) -> str:
        return f"{self.prefix}{QUEUE}{depth}:{host}"

    def queue_depths(self, host: str) -> str:
        return self.prefix + QUEUE_DEPTHS + host

    def legacy_queue(self, host: str) -> str:
        return self.prefix + LEGACY_QUEUE + host

    def robots(self, host: str) -> str:
        return self.prefix + ROBOTS + host

    def robots_lock(self, host: str) -> str:
        return self.prefix + ROBOTS_LOCK + host


@dataclass(frozen=True)
class Keyring:
    """The keys of every shard of one job."""

    job: str
    shards: int = 1

    def shard(self, index: int) -> JobKeys:
        return JobKeys(self.job, index)

    def all(self) -> list[JobKeys]:
        return [JobKeys(self.job, index) for index in range(self.shards)]

    def for_host(self, host: str) -> JobKeys:
        return JobKeys(self.job, shard_of(host, self.shards))
