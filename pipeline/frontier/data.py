"""The plain values the frontier hands out and takes in: leases, what a page found, and
snapshots of a job's counters. Kept apart from the Redis code so that every step can
use them without the frontier's machinery."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.fetch import Prior
from pipeline.frontier.names import SITEMAP_PREFIX, JobState
from pipeline.settings import SCOPE_ANY, Policy
from pipeline.store import RecordKind
from pipeline.urls import hostname, in_scope


@dataclass(frozen=True)
class Lease:
    """A URL handed to Celery; `token` tells a live lease from one handed out again.
    A sitemap travels the frontier like a page (politeness, leases, retries) but is
    read for the URLs it lists. A revisit of a stored URL carries its last fetch; a URL
    handed out again for a retry, the number of its attempt."""

    url: str
    depth: int
    host: str
    token: int
    countdown: float = 0.0
    kind: RecordKind = RecordKind.PAGE
    prior: Prior | None = None
    attempt: int = 0

    @property
    def member(self) -> str:
        """How the frontier names it: a sitemap's URL is prefixed, so it is not the page."""
        return member(self.url, self.kind)

    def to_json(self) -> dict[str, Any]:
        data = {**asdict(self), "prior": None if self.prior is None else self.prior.to_json()}
        if not self.attempt:
            # Only a retry carries its attempt: a first try reads as it did before retries had one.
            del data["attempt"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lease:
        prior = data.get("prior")
        return cls(**{**data, "kind": RecordKind(data.get("kind", RecordKind.PAGE)),
                      "prior": None if prior is None else Prior.from_json(prior)})

    @classmethod
    def from_script(cls, row: list[Any]) -> Lease:
        """A row of the LEASE helper: url, depth, host, token, countdown, for a revisit
        the JSON of its last fetch, and the attempt of a retry."""
        name, depth, host, token, countdown = row[:5]
        url, kind = text(name), RecordKind.PAGE
        if url.startswith(SITEMAP_PREFIX):
            url, kind = url[len(SITEMAP_PREFIX):], RecordKind.SITEMAP
        prior = Prior.from_json(json.loads(row[5])) if len(row) > 5 and row[5] else None
        attempt = int(row[6]) if len(row) > 6 else 0
        return cls(url, int(depth), text(host), int(token), max(0.0, float(countdown)), kind, prior, attempt)


@dataclass(frozen=True)
class Revisit:
    """A stored URL due again, as the store feeds it to the frontier."""

    url: str
    kind: RecordKind
    depth: int
    prior: Prior


@dataclass(frozen=True)
class FeedState:
    """The job's state, the recrawl pass the store is still feeding in (if any), and the
    revisits waiting in Redis."""

    state: JobState | None
    feeding: str | None
    waiting: int


@dataclass(frozen=True)
class Completed:
    """What completing a lease did: whether it counted (the lease was still the chain's),
    the URLs now due, and the URL's depth, lowered if a shorter path was found while it
    was leased (-1 when it did not count)."""

    counted: bool
    handoff: list[Lease]
    depth: int


@dataclass(frozen=True)
class LostLease:
    """A URL whose workers were lost `times` times in a row (a page that kills them, a
    host that hangs them past every deadline): the caller stores it as failed and
    completes `lease`."""

    lease: Lease
    times: int


@dataclass(frozen=True)
class Tick:
    """What one dispatcher tick did: leases that expired, URLs now handed out, and URLs
    given up on."""

    expired: int
    leases: list[Lease]
    lost: list[LostLease]


@dataclass(frozen=True)
class JobStats:
    """A snapshot of a job's counters. `dropped` is, per limit (named like its policy
    field), the distinct URLs it kept out: HyperLogLog estimates (about 1%), except for
    max_pages, the URLs left queued when it stopped the job. For the per-host limits,
    `dropped_hosts` has the hosts that lost most and `hosts_at_limit` how many reached it.
    `hosts` is how many hosts were given URLs to crawl (seeds' and discovered), and
    `hosts_refused` how many new hosts max_hosts kept out (an estimate too).
    `blocked` counts the links robots.txt disallowed, settled where they were found
    without a request (their records are in `stored` and `errors` too), and
    `blocked_hosts` the hosts that had most."""

    job: str
    state: JobState
    seen: int
    queued: int
    leased: int
    dispatched: int
    stored: int
    errors: int
    requeued: int
    started_at: float | None
    finished_at: float | None
    backing_off: int = 0
    # Revisits of stored URLs: waiting in Redis, handed out, and stored again.
    revisits_waiting: int = 0
    revisits: int = 0
    revisited: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    hosts_at_limit: dict[str, int] = field(default_factory=dict)
    hosts: int = 0
    hosts_refused: int = 0
    blocked: int = 0
    blocked_hosts: dict[str, int] = field(default_factory=dict)

    @property
    def fetched_ok(self) -> int:
        return self.stored - self.errors

    @property
    def failed(self) -> int:
        """Records of requests that failed: the disallowed links' records apart."""
        return self.errors - self.blocked

    @property
    def requested(self) -> int:
        """Records of URLs a request was made for: what a crawl's rate counts, as a crawl
        that settles thousands of disallowed links without a request is not faster."""
        return self.stored - self.blocked

    @property
    def stopped_short(self) -> bool:
        """Some limit kept URLs of the crawl out: the job did not crawl everything it found."""
        return any(self.dropped.values())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Failure:
    """A failed request that may pass, as the frontier counts it against the URL's host:
    a failure of the host's (`host_level`) pauses it for `seconds` at once; one of the
    URL's only once several different URLs of the host failed in a row."""

    reason: str
    seconds: float
    host_level: bool


@dataclass(frozen=True)
class HeldSlot:
    """The host slot of a lease whose request is over, kept through the parse and store
    to be freed by the completion. The request took `elapsed` seconds and went out at
    `sent_at` (this process's monotonic clock; 0: unknown), which paces the host's next
    request from when the slot is freed, however long after."""

    elapsed: float
    sent_at: float

    def sent_for(self) -> float:
        """Seconds since the request went out; 0 when that is unknown."""
        return max(0.0, time.monotonic() - self.sent_at) if self.sent_at else 0.0


@dataclass(frozen=True)
class HostBackoff:
    """A host no worker sends requests to until its pause is over."""

    host: str
    seconds_left: float
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Found:
    """URLs a page (or a sitemap, or robots.txt) listed, and the depth of what listed
    them. Which of them are in scope is decided against the job's policy when they are
    added; their depth, and the depth limit, in the frontier's script: so a job re-seeded
    meanwhile with a wider scope or depth is obeyed at once, and what the limit keeps out
    is counted where the frontier knows which URLs were never seen."""

    depth: int
    pages: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    # (policy, entries) of the last entries() call: a page's store step asks for them up
    # to three times (its disallowed links, its unsent links, the frontier's add). Not an
    # init field, so a copy made by dataclasses.replace() starts without it.
    _entries: list[Any] = field(default_factory=list, init=False, compare=False, repr=False)

    @classmethod
    def seeds(cls, urls: Iterable[str]) -> Found:
        """Seeds are depth 0, in scope by definition (seeding widens the scope to them)
        unless their domain is denied."""
        return cls(depth=-1, pages=tuple(urls))

    def entries(self, policy: Policy) -> list[tuple[str, RecordKind]]:
        """(url, kind) of what is in scope: pages (one link deeper, followed only up to
        max_depth) and sitemaps (at the depth of what listed them, whatever the limit).
        Scope is a host's, and a page's links name few hosts: each is judged once."""
        if self._entries and self._entries[0] is policy:
            return list(self._entries[1])
        judged: dict[str, bool] = {}

        def wanted(url: str) -> bool:
            name = hostname(url)
            if name not in judged:
                judged[name] = in_policy_scope(url, policy, seed=self.depth < 0)
            return judged[name]

        entries = [(url, RecordKind.PAGE) for url in self.pages if wanted(url)] + [
            (url, RecordKind.SITEMAP) for url in self.sitemaps if wanted(url)
        ]
        self._entries[:] = [policy, tuple(entries)]
        return entries


def in_policy_scope(url: str, policy: Policy, seed: bool = False) -> bool:
    """Whether the job follows a link (or a redirect) to `url`: never to a denied domain,
    else to any host with scope any, else to the seeds' hosts and allowed domains. A seed
    is in whatever the scope, unless denied."""
    return in_scope(url, policy.scope_hosts, policy.allowed_domains, policy.deny_domains,
                    seed or policy.scope == SCOPE_ANY)


def member(url: str, kind: RecordKind) -> str:
    """How the frontier names a URL: a sitemap's is prefixed, so it is not the page."""
    return SITEMAP_PREFIX + url if kind == RecordKind.SITEMAP else url


def text(value: Any) -> Any:
    """A Redis reply as str (bytes decoded), other values as they are."""
    return value.decode() if isinstance(value, bytes) else value
