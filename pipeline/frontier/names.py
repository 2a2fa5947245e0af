"""The names the frontier's Python code and its Lua scripts share: job states, the
fields of a job's stats hash, the scripts, and the limits whose dropped URLs are
counted. The scripts are given the states and stats fields as Lua constants made from
these enums (lua.CONSTANTS), so each name is spelled here alone."""

from __future__ import annotations

from enum import StrEnum, auto

# The start of the error a script returns when the caller's policy is stale.
STALE_POLICY = "STALE_POLICY"
# How the frontier names a sitemap: its URL behind this prefix, so it is not the page.
SITEMAP_PREFIX = "sitemap:"


class JobState(StrEnum):
    """A job's state, kept in each shard's `state` key."""

    RUNNING = auto()
    PAUSED = auto()
    CANCELLED = auto()
    FINISHED = auto()


class Stat(StrEnum):
    """The fields of each shard's `stats` hash: counters, and when the job started and
    finished (Redis clock, seconds)."""

    SEEN = auto()  # URLs scheduled once
    QUEUED = auto()  # new URLs waiting
    DISPATCHED = auto()  # new pages handed out (sitemaps not: max_pages counts these), less those gone back
    STORED = auto()  # records stored, failures included
    ERRORS = auto()  # records stored with an error
    REQUEUED = auto()  # leases that expired, or died with their worker, and went back
    HANDED_BACK = auto()  # leases whose chains a worker dropped unrun, gone back
    TOKENS = auto()  # leases handed out ever: the last lease's token
    REVISITS_WAITING = auto()  # stored URLs due again, waiting
    REVISITS = auto()  # revisits handed out, less those that went back
    REVISITED = auto()  # revisits stored again
    RETRIES_WAITING = auto()  # leased URLs waiting in their host's retry queue
    DROPPED_PAGES = auto()  # URLs the per-host page budgets kept out (sum of over-pages)
    DROPPED_SITEMAPS = auto()  # sitemaps the per-host sitemap budgets kept out
    BLOCKED = auto()  # links robots.txt disallowed, settled where found (also in stored and errors)
    RESTARTS = auto()  # times the shard ran again after finishing
    HOSTS = auto()  # hosts given URLs to crawl (max_hosts admits new ones while below it)
    STARTED_AT = auto()
    FINISHED_AT = auto()


class Script(StrEnum):
    """The frontier's Lua scripts, each in lua/NAME.lua."""

    ADD = auto()
    LEASE = auto()
    CLAIM_START = auto()
    RELEASE_HOST = auto()
    POSTPONE = auto()
    RETRY = auto()
    EXTEND = auto()
    COMPLETE = auto()
    TICK = auto()
    HAND_BACK = auto()
    REQUEUE_EXCEPT = auto()
    REVISIT = auto()
    RECRAWL = auto()
    SEEN = auto()
    SHARE = auto()
    BLOCK = auto()
    RENDER_CHOICE = auto()


class Limit(StrEnum):
    """The limits whose dropped URLs are counted, named like their policy fields."""

    MAX_PAGES_PER_HOST = auto()
    MAX_SITEMAPS_PER_HOST = auto()
    MAX_DEPTH = auto()
    MAX_PAGES = auto()
    MAX_HOSTS = auto()


# The limits that apply per host: their dropped URLs are counted per host too.
HOST_LIMITS = (Limit.MAX_PAGES_PER_HOST, Limit.MAX_SITEMAPS_PER_HOST)
