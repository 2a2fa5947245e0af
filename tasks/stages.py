"""The three stages of one URL, each a task on its own queue, chained per URL:
``fetch.s(job, lease) | parse.s() | store.s()``. Task bodies only call ``pipeline``."""

from __future__ import annotations

import random
from typing import Any

from celery import chain
from celery.exceptions import Ignore
from celery.utils.log import get_task_logger

from pipeline import steps
from pipeline.errors import EgressUnavailable, PermanentFetchError, StalePolicy, StoreUnavailable, TransientFetchError
from pipeline.fetch import FetchResult
from pipeline.frontier import Frontier, Lease
from pipeline.settings import Policy
from tasks.app import app, runtime

logger = get_task_logger(__name__)
# A store retry's backoff stops doubling here: long past CRAWLER_RETRY_BACKOFF_MAX, and
# 2**n stays a float however long the store is away.
STORE_BACKOFF_DOUBLINGS = 16


def backoff(attempt: int, policy: Policy, retry_after: float | None) -> float:
    """Exponential with jitter, never past the cap (a longer Retry-After is kept by the
    host's schedule: the retry waits there without counting as an attempt)."""
    wait = random.uniform(0.5, 1.0) * policy.retry_backoff * 2**attempt
    return min(policy.retry_backoff_max, max(wait, retry_after or 0.0))


@app.task(bind=True, name="crawler.fetch", max_retries=None)
def fetch(self: Any, job: str, lease_data: dict[str, Any], attempt: int = 0) -> dict[str, Any]:
    lease = Lease.from_json(lease_data)
    ctx = runtime()
    frontier, policy = ctx.frontier(job), ctx.policy(job)
    try:
        wait = frontier.claim_start(lease.host, policy)
        if wait > 0:
            _keep_lease(frontier, lease, policy)
            raise self.retry(args=(job, lease_data, attempt), countdown=min(wait, policy.retry_backoff_max))
        result = _fetch_once(self, job, lease_data, lease, attempt, policy)
        send(job, ctx.with_policy(job, lambda fresh: frontier.release_host(lease, fresh)))
    except StalePolicy:
        ctx.forget_policy(job)
        raise self.retry(args=(job, lease_data, attempt), countdown=0) from None
    return {"job": job, "lease": lease_data, "result": result.to_json()}


def _fetch_once(task: Any, job: str, lease_data: dict[str, Any], lease: Lease, attempt: int, policy: Policy) -> FetchResult:
    """One attempt: a result (maybe a failure to record), or a retry raised for later."""
    ctx = runtime()
    frontier = ctx.frontier(job)
    try:
        return steps.fetch_url(lease, frontier.keys, policy, ctx.fetcher, ctx.robots)
    except TransientFetchError as exc:
        # The whole host pauses, on every worker: a server that is failing gets a rest,
        # not the same load from the host's other URLs.
        countdown = backoff(attempt, policy, exc.retry_after)
        if exc.retry_after:
            frontier.postpone(lease.host, min(exc.retry_after, policy.max_retry_after), policy, f"{exc.reason}, Retry-After")
        else:
            frontier.postpone(lease.host, countdown, policy, exc.reason)
        if attempt >= policy.max_retries:
            return FetchResult.failed(lease.url, exc.reason, exc.status, exc.redirects)
        _keep_lease(frontier, lease, policy)
        raise task.retry(args=(job, lease_data, attempt + 1), countdown=countdown) from None
    except PermanentFetchError as exc:
        return FetchResult.failed(lease.url, exc.reason, exc.status, exc.redirects)
    except EgressUnavailable as exc:
        # Our proxies are down, not the site: wait for one to come back, same attempt,
        # waking within the lease to renew it however long the proxies' cooldown is.
        _keep_lease(frontier, lease, policy)
        countdown = min(exc.wait, ctx.settings.lease_timeout / 2)
        raise task.retry(args=(job, lease_data, attempt), countdown=countdown) from None
    except Exception as exc:
        # A bug or a limit hit deep in a library must not send the URL round forever:
        # it is recorded as failed, and the log has the traceback.
        logger.exception("fetching %s failed unexpectedly", lease.url)
        return FetchResult.failed(lease.url, f"internal error: {type(exc).__name__}")


def _keep_lease(frontier: Frontier, lease: Lease, policy: Policy) -> None:
    """Before waiting, push the lease deadline out; a lease already handed to another
    worker means this chain is stale and stops here."""
    if not frontier.extend(lease, policy):
        raise Ignore()


@app.task(name="crawler.parse")
def parse(payload: dict[str, Any]) -> dict[str, Any]:
    policy = runtime().policy(payload["job"])
    try:
        return dict(payload, result=steps.parse_result(payload["result"], policy))
    except Exception as exc:
        logger.exception("parsing %s failed unexpectedly", payload["lease"]["url"])
        failed = dict(payload["result"], text=None, links=None, title=None, outlinks=[])
        return dict(payload, result=dict(failed, error=f"parse error: {type(exc).__name__}"))


@app.task(bind=True, name="crawler.store", max_retries=None)
def store(self: Any, payload: dict[str, Any]) -> None:
    job, lease = payload["job"], Lease.from_json(payload["lease"])
    ctx = runtime()
    record = steps.to_record(job, lease, payload["result"])
    try:
        ctx.store.put(record)
    except StoreUnavailable:
        # The store is away for now: the same write later, never the fetch again.
        _keep_lease(ctx.frontier(job), lease, ctx.policy(job))
        attempt = min(self.request.retries, STORE_BACKOFF_DOUBLINGS)
        countdown = min(backoff(attempt, ctx.policy(job), None), ctx.settings.lease_timeout / 2)
        raise self.retry(countdown=countdown) from None

    def complete(policy: Policy) -> list[Lease]:
        _, leases = ctx.frontier(job).complete(
            lease,
            policy,
            failed=record.error is not None,
            links=steps.links_to_follow(record, policy),
            sitemaps=steps.sitemaps_to_read(record, payload["result"], policy),
        )
        return leases

    send(job, ctx.with_policy(job, complete))


def send(job: str, leases: list[Lease]) -> None:
    """Hand each lease to Celery as its own fetch | parse | store chain."""
    for lease in leases:
        first = fetch.s(job, lease.to_json())
        if lease.countdown > 0.01:
            first = first.set(countdown=lease.countdown)
        chain(first, parse.s(), store.s()).apply_async()
