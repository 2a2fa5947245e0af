"""One HTTP exchange within the crawler's rules: address guard, robots.txt, proxies and
their failover, limits and deadlines; what it gave (FetchResult), where its WARC records
are (WarcPointer), why a URL was not fetched (errors.py), and whose failure a transient
one is (blame.py). Code outside the package imports these names from here."""

from pipeline.fetch.blame import Blame, Signal, blame
from pipeline.fetch.connections import Pools
from pipeline.fetch.errors import (
    ArchiveUnavailable,
    EgressUnavailable,
    FetchError,
    PermanentFetchError,
    RobotsPending,
    TransientFetchError,
    WorkerUnavailable,
)
from pipeline.fetch.exchange import (
    REVISIT_IDENTICAL,
    REVISIT_NOT_MODIFIED,
    WARC_COLUMNS,
    Archive,
    Exchange,
    Reference,
    WarcPointer,
)
from pipeline.fetch.fetcher import Fetcher
from pipeline.fetch.history import NOT_MODIFIED, NextVisit, Prior, next_visit
from pipeline.fetch.hostpolicy import HostRule, for_host, parse_rules, read_rules, rule_for
from pipeline.fetch.proxies import Proxy, ProxyRotation, parse_proxy
from pipeline.fetch.result import FetchResult, utc_text, utcnow
from pipeline.fetch.robots import BLOCKED, Robots

__all__ = [
    "BLOCKED",
    "NOT_MODIFIED",
    "REVISIT_IDENTICAL",
    "REVISIT_NOT_MODIFIED",
    "WARC_COLUMNS",
    "Archive",
    "ArchiveUnavailable",
    "Blame",
    "EgressUnavailable",
    "Exchange",
    "FetchError",
    "FetchResult",
    "Fetcher",
    "HostRule",
    "NextVisit",
    "PermanentFetchError",
    "Pools",
    "Prior",
    "Proxy",
    "ProxyRotation",
    "Reference",
    "Robots",
    "RobotsPending",
    "Signal",
    "TransientFetchError",
    "WarcPointer",
    "WorkerUnavailable",
    "blame",
    "for_host",
    "next_visit",
    "parse_proxy",
    "parse_rules",
    "read_rules",
    "rule_for",
    "utc_text",
    "utcnow",
]
