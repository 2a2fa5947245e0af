"""`seed()`: put URLs into a job's frontier and start handing them out at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.crawl import jobs
from tasks.app import runtime
from tasks.stages import send


def seed(urls: Iterable[str], job: str = "default", recrawl: bool = False, **policy: Any) -> int:
    """Seed `urls` into `job` (created if new) with policy overrides such as
    ``max_depth=3``; returns how many URLs were new. Workers pick them up at once. With
    `recrawl`, every URL the job stored is revisited too (with conditional requests),
    a finished or cancelled job included."""
    ctx = runtime()
    listed = [urls] if isinstance(urls, str) else list(urls)
    if recrawl and ctx.frontier(job).exists():
        jobs.recrawl(ctx, job)
    added, leases = jobs.seed(ctx.frontier(job), ctx.settings, listed, policy, ctx.store)
    send(job, leases)
    return added
