"""The three stages of one URL, each a task on its own queue, chained per URL:
``fetch.s(job, lease) | parse.s() | store.s()``. Each body asks pipeline.lifecycle what
to do and translates the answer: the next stage, a retry, or `Ignore` for a stale chain."""

from __future__ import annotations

from typing import Any

from celery import chain
from celery.exceptions import Ignore

from pipeline import lifecycle
from pipeline.frontier import Lease
from pipeline.payload import Payload
from tasks.app import app, runtime
from tasks.names import FETCH, PARSE, STORE


@app.task(bind=True, name=FETCH, max_retries=None)
def fetch(self: Any, job: str, lease_data: dict[str, Any], attempt: int = 0, robots_site: str | None = None) -> Any:
    outcome = lifecycle.attempt_fetch(runtime(), job, Lease.from_json(lease_data), attempt, robots_site)
    match outcome:
        case lifecycle.Fetched(payload, handoff):
            send(job, handoff)
            return payload.to_json()
        case lifecycle.RetryAt(countdown, next_attempt):
            raise self.retry(args=(job, lease_data, next_attempt), countdown=countdown)
        case lifecycle.WaitAt(countdown, site):
            raise self.retry(args=(job, lease_data, attempt, site), countdown=countdown)
    raise Ignore()


@app.task(name=PARSE)
def parse(payload: dict[str, Any]) -> dict[str, Any]:
    return lifecycle.parse(runtime(), Payload.from_json(payload)).to_json()


@app.task(bind=True, name=STORE, max_retries=None)
def store(self: Any, payload: dict[str, Any], attempt: int = 0) -> None:
    outcome = lifecycle.finish(runtime(), Payload.from_json(payload), attempt)
    match outcome:
        case lifecycle.Stored(handoff):
            send(payload["job"], handoff)
            return
        case lifecycle.RetryAt(countdown, next_attempt):
            raise self.retry(args=(payload, next_attempt), countdown=countdown)
    raise Ignore()


def send(job: str, leases: list[Lease]) -> None:
    """Hand each lease to Celery as its own fetch | parse | store chain, under the time
    limit the job's policy implies."""
    if not leases:
        return
    limit = runtime().policy(job).fetch_time_limit
    for lease in leases:
        first = fetch.s(job, lease.to_json()).set(time_limit=limit, soft_time_limit=limit - 10)
        if lease.countdown > 0.01:
            first = first.set(countdown=lease.countdown)
        chain(first, parse.s(), store.s()).apply_async()
