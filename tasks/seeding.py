"""`seed()`: put URLs into a job's frontier and start handing them out at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.errors import ConfigError
from pipeline.frontier import CANCELLED
from pipeline.urls import hostname, require_canonical
from tasks.app import runtime
from tasks.stages import send


def seed(urls: Iterable[str], job: str = "default", **policy: Any) -> int:
    """Seed `urls` into `job` (created if new) with policy overrides such as
    ``max_depth=3``; returns how many URLs were new. Workers pick them up at once."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not urls:
        raise ConfigError("no seed URLs given")
    ctx = runtime()
    frontier = ctx.frontier(job)
    if frontier.state() == CANCELLED:
        raise ConfigError(f"job {job!r} is cancelled: `crawler resume --job {job}` first, or use a new job name")
    base = frontier.load_policy(missing_ok=True) or ctx.settings.policy
    merged = base.merged(**policy)
    canonical = [require_canonical(url, merged.drop_params) for url in urls]
    seed_hosts = tuple(dict.fromkeys(hostname(url) for url in canonical))
    merged = frontier.create(merged.merged(scope_hosts=tuple(dict.fromkeys(merged.scope_hosts + seed_hosts))))
    added = frontier.add([(url, 0) for url in canonical], merged)
    send(job, frontier.lease(merged, ctx.settings.dispatch_window))
    return added
