"""`seed()`: put URLs into a job's frontier and start handing them out at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline import lifecycle
from tasks.app import runtime
from tasks.stages import send


def seed(urls: Iterable[str], job: str = "default", **policy: Any) -> int:
    """Seed `urls` into `job` (created if new) with policy overrides such as
    ``max_depth=3``; returns how many URLs were new. Workers pick them up at once."""
    ctx = runtime()
    listed = [urls] if isinstance(urls, str) else list(urls)
    added, leases = lifecycle.seed(ctx.frontier(job), ctx.settings, listed, policy)
    send(job, leases)
    return added
