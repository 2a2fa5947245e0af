"""The fate of one leased URL through fetch | parse | store, decided in one place: when
its request may start, what a failure means (retry the URL later, pause its host, record
it), when a chain is stale and must stop, and when its record is written. Each step
returns an Outcome, a small closed set of plain values that the Celery stages only
translate (`retry`, `Ignore`, the next stage)."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field, replace

from pipeline.crawl import blocked, steps
from pipeline.crawl.context import Context
from pipeline.crawl.payload import Payload
from pipeline.crawl.rendering import RenderHosts
from pipeline.errors import StoreUnavailable
from pipeline.fetch import (
    BLOCKED,
    ArchiveUnavailable,
    Blame,
    FetchResult,
    PermanentFetchError,
    RobotsPending,
    TransientFetchError,
    WorkerUnavailable,
    blame,
    for_host,
    rule_for,
)
from pipeline.frontier import Failure, Frontier, HeldSlot, Lease, RecordKind
from pipeline.render import (
    Choice,
    Decision,
    Evidence,
    Reason,
    Rendered,
    always,
    always_reason,
    measure,
    subfetch,
    wants_render,
)
from pipeline.render import render as render_page
from pipeline.settings import Policy

# Past this many doublings the backoff is at its cap anyway (and 2.0 ** attempt would
# overflow for a very large CRAWLER_MAX_RETRIES).
MAX_DOUBLINGS = 32
# Seconds a URL waits while another worker fetches its host's robots.txt.
ROBOTS_POLL = 0.5
# Seconds before a report to the frontier that a request just got its answer: the host's
# next turn counts from now.
ANSWERED = 1e-6
# Seconds a page waits in the render stage while its host's render=auto samples are out.
VERDICT_POLL = 0.25
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """The request is over (maybe as a failure to record): parse it next. `handoff` are
    the host's URLs that its freed slot made due; with `held`, the slot is still held,
    to be freed when the lease completes (`finish`), or at once (`release`) when the
    page goes on elsewhere."""

    payload: Payload
    handoff: list[Lease]
    held: HeldSlot | None = None


@dataclass(frozen=True)
class Deferred:
    """The request failed and may not next time: the URL waits in its host's retry
    queue, holding neither its host's slot nor a worker, and the frontier hands it out
    again when its time comes. `handoff` are the host's URLs the freed slot made due."""

    handoff: list[Lease]


@dataclass(frozen=True)
class RetryAt:
    """Try again in `countdown` seconds, as attempt number `attempt`; `handoff` are the
    host's URLs that a slot freed meanwhile made due."""

    countdown: float
    attempt: int
    handoff: list[Lease] = field(default_factory=list)


@dataclass(frozen=True)
class WaitAt:
    """Not this URL's turn yet (politeness, robots.txt first, no proxy): the same
    attempt again in `countdown` seconds, fetching `robots_site`'s robots.txt first."""

    countdown: float
    robots_site: str | None = None


@dataclass(frozen=True)
class Held:
    """A page in the render stage that must wait (its host's turn, or its host's
    render=auto verdict): `payload`, with what was decided of it so far, again in
    `countdown` seconds."""

    payload: Payload
    countdown: float


@dataclass(frozen=True)
class Abandon:
    """This chain no longer owns the URL (its lease expired and went to another, or the
    URL is done): it stops without a request or a write. `handoff` are the host's URLs
    that a slot freed on the way out made due."""

    reason: str
    handoff: list[Lease] = field(default_factory=list)


@dataclass(frozen=True)
class Stored:
    """The record is written and the lease released; `handoff` are URLs now due."""

    handoff: list[Lease]


FetchOutcome = Fetched | Deferred | WaitAt | Abandon
StoreOutcome = Stored | RetryAt | Abandon
LEASE_LOST = Abandon("lease lost")


def backoff(attempt: int, policy: Policy, retry_after: float | None = None) -> float:
    """Exponential with jitter, never past the cap (a longer Retry-After is kept by the
    host's schedule: the retry waits there without counting as an attempt)."""
    wait = random.uniform(0.5, 1.0) * policy.retry_backoff * 2.0 ** min(attempt, MAX_DOUBLINGS)
    return min(policy.retry_backoff_max, max(wait, retry_after or 0.0))


def attempt_fetch(
    ctx: Context, job: str, lease: Lease, attempt: int = 0, robots_site: str | None = None, hold: bool = False,
) -> FetchOutcome:
    """One go at the leased URL: robots.txt first when its host's is not known, then the
    request when the host's politeness allows it (a URL robots.txt disallows claims no turn).
    A URL handed out again for a retry carries its attempt in its lease.

    `hold`: the caller parses and stores the page itself, at once. Where the host has a
    delay (the job's, or its rule's), the parse and store take a small part of it, so
    the slot stays held through them and the completion frees it: one call to Redis a
    page instead of two. Without a delay the slot is freed at once, for the next request
    to overlap the parse; so is it after a request that took half the lease, to renew
    the lease for the parse."""
    attempt = max(attempt, lease.attempt)
    frontier = ctx.frontier(job)
    policy = for_host(frontier.policy(), lease.host)
    first = [robots_site + "/"] if robots_site else []
    for url in [*first, lease.url]:
        site = ctx.robots.pending(frontier.keyring, url, policy)
        if site is not None:
            return _fetch_robots(ctx, frontier, lease, site, attempt, hold)
    if not ctx.robots.allowed(frontier.keyring, lease.url, policy):
        # Known to be disallowed (its robots.txt came after it was queued): settled
        # without a request, so without the host's turn.
        return _fetched(frontier, Payload(job, lease, FetchResult.failed(lease.url, BLOCKED)))
    wait = frontier.claim_start(lease)
    if wait < 0:
        return LEASE_LOST
    if wait > 0:
        return WaitAt(_within_lease(wait, policy))
    outcome = _request(ctx, frontier, lease, attempt, policy)
    if not isinstance(outcome, FetchResult):
        return outcome
    if hold and policy.delay > 0 and outcome.elapsed < policy.lease_timeout / 2:
        return Fetched(Payload(job, lease, outcome), [], HeldSlot(outcome.elapsed, ctx.fetcher.sent_at or 0.0))
    return _fetched(frontier, Payload(job, lease, outcome), sent_for=_sent_for(ctx))


def release(ctx: Context, payload: Payload, held: HeldSlot | None) -> list[Lease]:
    """Free the host slot that a fetch returned still `held`, for a page that will not
    be completed here (it goes to the browser, its store must wait, its parse or store
    failed), renewing its lease: the host's URLs now due. No call when the fetch freed
    the slot itself; nothing when the lease is lost or already completed."""
    if held is None:
        return []
    handoff = ctx.frontier(payload.job).release_host(payload.lease, held.elapsed, True, held.sent_for())
    return handoff or []


def _fetched(frontier: Frontier, payload: Payload, ok: bool = True, sent_for: float = 0.0) -> FetchOutcome:
    """The request is over: its host's slot is freed and the lease renewed, unless the
    lease went to another chain meanwhile, which then owns the URL. A request that did
    not fail (`ok`) ends its host's run of failing URLs; one that went out `sent_for`
    seconds ago paces its host's next from then."""
    handoff = frontier.release_host(payload.lease, payload.result.elapsed, ok, sent_for)
    return LEASE_LOST if handoff is None else Fetched(payload, handoff)


def _sent_for(ctx: Context) -> float:
    """Seconds since this thread's last fetch's request went out; 0 when none did."""
    sent_at = ctx.fetcher.sent_at
    return 0.0 if sent_at is None else max(0.0, time.monotonic() - sent_at)


def _fetch_robots(
    ctx: Context, frontier: Frontier, lease: Lease, site: str, attempt: int, hold: bool = False
) -> FetchOutcome:
    """robots.txt is a request to the host like any other: it takes the host's turn, and
    the URL itself comes back for the next one, the delay after robots.txt's answer."""
    policy = for_host(frontier.policy(), lease.host)
    with ctx.robots.fetching(frontier.keyring, site, policy) as ours:
        if not ours:
            return _keep(frontier, lease, WaitAt(ROBOTS_POLL))
        wait = frontier.claim_start(lease)
        if wait < 0:
            return LEASE_LOST
        if wait > 0:
            return WaitAt(_within_lease(wait, policy), robots_site=site)
        try:
            ctx.robots.download(frontier.keyring, site, policy, ctx.fetcher)
        except PermanentFetchError as exc:
            failed = FetchResult.failed(lease.url, exc.reason, exc.status)
            return _fetched(frontier, Payload(frontier.job, lease, failed))
        except WorkerUnavailable as exc:
            return _keep(frontier, lease, WaitAt(_within_lease(exc.wait, policy), robots_site=site))
    # The next request waits the delay from robots.txt's answer, not from its claim nor
    # from when it went out: the first request on a new connection, when many hosts are
    # asked at once, can leave well after its claim and wait in the server's backlog
    # after that; its answer is the one moment known to be after its arrival.
    wait = frontier.claim_start(lease, sent_for=ANSWERED) if ctx.fetcher.sent_at is not None else 0.0
    if wait < 0:
        return LEASE_LOST
    if wait > 0:
        return WaitAt(_within_lease(wait, policy))
    return attempt_fetch(ctx, frontier.job, lease, attempt, hold=hold)


def _request(
    ctx: Context, frontier: Frontier, lease: Lease, attempt: int, policy: Policy
) -> FetchResult | FetchOutcome:
    """The request itself: a result (maybe a failure to record), or when to come back.
    `policy` is the leased URL's host's (its rule's user agent and robots.txt), and holds
    for its redirects."""
    started = time.monotonic()
    try:
        return steps.fetch_url(lease, frontier.keyring, policy, ctx.fetcher, ctx.robots)
    except RobotsPending as exc:
        # A redirect led to a site whose robots.txt is not known: it is fetched first.
        return WaitAt(0.0, robots_site=exc.site)
    except TransientFetchError as exc:
        # An answer's time paces the host (the adaptive delay); a failure before one does not.
        answered = time.monotonic() - started if exc.status is not None else 0.0
        return _transient(frontier, lease, attempt, exc, answered, _sent_for(ctx))
    except PermanentFetchError as exc:
        return FetchResult.failed(lease.url, exc.reason, exc.status, exc.redirects, exc.warc)
    except WorkerUnavailable as exc:
        # Our proxies or WARC files are down, not the site: wait for them, same attempt,
        # waking within the lease to renew it however long their cooldown is.
        return _keep(frontier, lease, WaitAt(_within_lease(exc.wait, policy)))
    except Exception as exc:
        # A bug or a limit hit deep in a library must not send the URL round forever:
        # it is recorded as failed, and the log has the traceback.
        logger.exception("fetching %s failed unexpectedly", lease.url)
        return FetchResult.failed(lease.url, f"internal error: {type(exc).__name__}")


def _transient(
    frontier: Frontier, lease: Lease, attempt: int, exc: TransientFetchError, elapsed: float = 0.0,
    sent_for: float = 0.0,
) -> FetchOutcome:
    """A failure that may pass, answered after `elapsed` seconds (0: no answer): the URL
    waits for its retry in the frontier, or is recorded once out of tries; either way the
    failure counts against its host, which pauses when the failure is the host's
    (`host_failure`)."""
    policy = frontier.policy()
    countdown = backoff(attempt, policy, exc.retry_after)
    failure = host_failure(exc, policy, countdown)
    if attempt >= policy.max_retries:
        frontier.failed(lease, failure)
        failed = replace(FetchResult.failed(lease.url, exc.reason, exc.status, exc.redirects, exc.warc),
                         elapsed=elapsed)
        return _fetched(frontier, Payload(frontier.job, lease, failed), ok=False, sent_for=sent_for)
    handoff = frontier.retry(lease, countdown, attempt + 1, failure, elapsed, sent_for)
    return LEASE_LOST if handoff is None else Deferred(handoff)


def host_failure(exc: TransientFetchError, policy: Policy, countdown: float) -> Failure:
    """How a transient failure counts against its host: the host's own (pipeline.fetch's
    blame table: 429, 503, Retry-After, a connection refused, reset or timed out) pauses
    it for every worker; the URL's (a 500, a slow answer) retries that URL alone, and
    pauses the host only when several different URLs of it fail in a row. The host waits
    out the server's Retry-After (up to the job's cap), else the URL's backoff."""
    host_level = blame(exc) == Blame.HOST
    if exc.retry_after:
        return Failure(f"{exc.reason}, Retry-After", min(exc.retry_after, policy.max_retry_after), host_level)
    return Failure(exc.reason, countdown, host_level)


def decide_render(ctx: Context, payload: Payload) -> Payload:
    """The fetched page with what is decided of it (`payload.render`): to the browser
    before it is parsed when it came back whole as HTML and its host renders always (by
    the job's policy or its rule in the host policy file), or under `auto` while the
    host is sampled or when its verdict is to render; under `auto` a page the verdict
    leaves as fetched is decided too, so its record says why."""
    frontier = ctx.frontier(payload.job)
    job = frontier.policy()
    policy = for_host(job, payload.lease.host)
    if not wants_render(policy, payload.result, sitemap=payload.lease.kind == RecordKind.SITEMAP):
        return payload
    if always(policy):
        rule = rule_for(job.host_rules, payload.lease.host)
        decision = Decision(Choice.RENDER, always_reason(rule.pattern if rule and rule.render else None))
    else:
        decision = ctx.render_hosts(payload.job).decide(payload.lease.host, policy)
    return replace(payload, render=decision)


RenderOutcome = Fetched | Held | Abandon


def render(ctx: Context, payload: Payload) -> RenderOutcome:
    """The page loaded in this process's browser from its fetched text, its DOM then in
    place of that text; the browser's subrequests go through this thread's own
    fetcher's rules (and WARC files). A page load asks the host for more (scripts, data),
    so it takes the host's turn as a request does: it waits for the host's politeness
    (Held), and frees the slot after (`handoff`, as a fetch's). With WARC on, the DOM
    is archived as a conversion of the response. A render that fails (a hang, a crash)
    makes the page a failure (and gives its sample reservation back). A page that came
    PENDING waits here, holding its lease, for its host's verdict, then is rendered or
    passed on as fetched."""
    frontier = ctx.frontier(payload.job)
    # The host's rule may set the render mode and the user agent the browser shows.
    policy = for_host(frontier.policy(), payload.lease.host)
    hosts = ctx.render_hosts(payload.job)
    if payload.render is not None and payload.render.choice == Choice.PENDING:
        decision = hosts.decide(payload.lease.host, policy)
        if decision.choice == Choice.PENDING:
            return Held(payload, VERDICT_POLL) if frontier.extend(payload.lease) else LEASE_LOST
        payload = replace(payload, render=decision)
        if not decision.to_browser:
            return Fetched(payload, [])
    wait = frontier.claim_start(payload.lease)
    if wait < 0:
        return LEASE_LOST
    if wait > 0:
        return Held(payload, _within_lease(wait, policy)) if frontier.extend(payload.lease) else LEASE_LOST
    # ctx.fetcher is read in the browser's thread, which has a fetcher of its own.
    rendered = render_page(ctx.browser, payload.result, policy, subfetch(lambda: ctx.fetcher, policy))
    sample = None
    sampling = payload.render is not None and payload.render.choice == Choice.SAMPLE
    if rendered.error is not None:
        logger.warning("rendering %s failed: %s", payload.result.final_url, rendered.error)
        if sampling:
            hosts.forfeit(payload.lease.host)
    elif sampling:
        sample = _learn(hosts, payload, rendered.html or "", policy)
    _archive(ctx, payload, rendered)
    handoff = frontier.release_host(payload.lease)
    if handoff is None:
        return LEASE_LOST
    return Fetched(payload.rendered(rendered.html, rendered.elapsed, rendered.error, sample), handoff)


def _archive(ctx: Context, payload: Payload, rendered: Rendered) -> None:
    """With WARC on, the rendered DOM (and screenshot) as conversions of the response."""
    warc = payload.result.warc
    if ctx.warc is None or warc is None or not warc.record_id or rendered.html is None:
        return
    url = payload.result.final_url
    try:
        ctx.warc.dom(url, warc.record_id, rendered.html)
        if rendered.screenshot is not None:
            ctx.warc.screenshot(url, warc.record_id, rendered.screenshot)
    except ArchiveUnavailable as exc:
        logger.warning("no WARC record of the rendered %s: %s", url, exc)


def _learn(hosts: RenderHosts, payload: Payload, html: str, policy: Policy) -> Decision:
    """Under `auto`, a sample is measured both ways (the fetched text and the DOM), and
    its host gets its verdict once it has its samples; the sample's decision with its
    own measures as evidence."""
    host = payload.lease.host
    plain, rendered = measure(payload.result.text or ""), measure(html)
    verdict = hosts.sample(host, plain, rendered, policy)
    if verdict is not None:
        logger.info("render=auto: %s's pages are %s from now on", host, "rendered" if verdict == Choice.RENDER
                    else "not rendered")
    return Decision(Choice.SAMPLE, Reason.SAMPLE, Evidence(1, plain, rendered))


def parse(ctx: Context, payload: Payload) -> Payload:
    """Title and outlinks; the page text stops here. With WARC on, what was found is
    archived beside the response, as a metadata record that refers to it."""
    policy = ctx.frontier(payload.job).policy()
    parsed = steps.parse(payload, policy)
    record_id = parsed.result.warc.record_id if parsed.result.warc is not None else None
    if ctx.warc is not None and record_id:
        try:
            ctx.warc.metadata(parsed.result.final_url, record_id,
                              steps.warc_metadata(parsed, for_host(policy, payload.lease.host)))
        except ArchiveUnavailable as exc:
            # The response is archived; only what was found in it is missing there.
            logger.warning("no WARC metadata record for %s: %s", parsed.result.final_url, exc)
    return parsed


def finish(
    ctx: Context, payload: Payload, attempt: int = 0, renewed: bool = False, held: HeldSlot | None = None
) -> StoreOutcome:
    """Write the record and complete the lease, only while the lease is this chain's: a
    chain redelivered after its URL was done, or handed to another worker, writes
    nothing. A store that cannot be written now is tried again without a refetch.

    `renewed` says the caller is the process whose fetch just returned `Fetched` for
    this payload: that fetch checked and renewed the lease (at its claim or its
    release), so the check is not repeated. A lease taken away within that parse would
    see its record written anyway; its completion is still refused. `held` is the host
    slot that fetch kept: the completion frees it, or, when the record cannot be
    written now, it is freed before the store is tried again."""
    frontier = ctx.frontier(payload.job)
    if not renewed and not frontier.extend(payload.lease):
        return LEASE_LOST
    policy = frontier.policy()
    record = steps.to_record(payload, policy)
    try:
        ctx.store.put(record, payload.items)
        settlement = blocked.settle(ctx, frontier, payload, policy)
    except StoreUnavailable as exc:
        handoff = release(ctx, payload, held)
        if attempt >= ctx.settings.store_retries:
            logger.error("giving up storing %s, its lease will hand it out again: %s", record.url, exc)
            return Abandon(f"store unavailable: {exc}", handoff)
        logger.warning("store unavailable, retrying %s: %s", record.url, exc)
        return RetryAt(backoff(attempt, policy), attempt + 1, handoff)
    done = frontier.complete(
        payload.lease, failed=record.error is not None, found=settlement.kept, blocked=settlement.fresh,
        disallowed=record.disallowed, held=held,
    )
    blocked.settled(frontier, settlement, policy)
    if done.counted and done.depth < record.depth:
        # A shorter path was found while the URL was leased: its record says so too.
        try:
            ctx.store.put(replace(record, depth=done.depth))
        except StoreUnavailable as exc:
            logger.warning("%s keeps depth %d, not %d: %s", record.url, record.depth, done.depth, exc)
    return Stored(done.handoff)


def _keep(frontier: Frontier, lease: Lease, outcome: WaitAt) -> FetchOutcome:
    """Before waiting, push the lease deadline out; a lease already handed to another
    worker means this chain is stale and stops here."""
    return outcome if frontier.extend(lease) else LEASE_LOST


def _within_lease(seconds: float, policy: Policy) -> float:
    """A wait is cut so that the chain wakes in time to renew its lease."""
    return min(seconds, policy.lease_timeout / 2)
