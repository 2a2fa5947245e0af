"""The three stages of one URL, each a task on its own queue, chained per URL:
``fetch.s(job, lease) | parse.s() | store.s()``. Task bodies only call ``pipeline``."""

from __future__ import annotations

import random
from typing import Any

from celery import chain

from pipeline import steps
from pipeline.errors import PermanentFetchError, TransientFetchError
from pipeline.fetch import FetchResult
from pipeline.frontier import Lease
from pipeline.settings import Policy
from tasks.app import app, runtime


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
    wait = frontier.claim_start(lease.host, policy)
    if wait > 0:
        frontier.extend(lease, policy)
        raise self.retry(args=(job, lease_data, attempt), countdown=min(wait, policy.retry_backoff_max))
    try:
        result = steps.fetch_url(lease, frontier.keys, policy, ctx.fetcher, ctx.robots)
    except TransientFetchError as exc:
        if exc.retry_after:
            frontier.postpone(lease.host, min(exc.retry_after, policy.max_retry_after), policy)
        if attempt < policy.max_retries:
            frontier.extend(lease, policy)
            raise self.retry(args=(job, lease_data, attempt + 1), countdown=backoff(attempt, policy, exc.retry_after))
        result = FetchResult.failed(lease.url, exc.reason, exc.status)
    except PermanentFetchError as exc:
        result = FetchResult.failed(lease.url, exc.reason, exc.status)
    send(job, frontier.release_host(lease, policy))
    return {"job": job, "lease": lease_data, "result": result.to_json()}


@app.task(name="crawler.parse")
def parse(payload: dict[str, Any]) -> dict[str, Any]:
    policy = runtime().policy(payload["job"])
    return dict(payload, result=steps.parse_result(payload["result"], policy))


@app.task(name="crawler.store")
def store(payload: dict[str, Any]) -> None:
    job, lease = payload["job"], Lease.from_json(payload["lease"])
    ctx = runtime()
    policy = ctx.policy(job)
    record = steps.to_record(job, lease, payload["result"])
    ctx.store.put(record)
    _, leases = ctx.frontier(job).complete(
        lease, policy, failed=record.error is not None, links=steps.links_to_follow(record, policy)
    )
    send(job, leases)


def send(job: str, leases: list[Lease]) -> None:
    """Hand each lease to Celery as its own fetch | parse | store chain."""
    for lease in leases:
        first = fetch.s(job, lease.to_json())
        if lease.countdown > 0.01:
            first = first.set(countdown=lease.countdown)
        chain(first, parse.s(), store.s()).apply_async()
