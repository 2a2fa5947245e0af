"""How a frontier call becomes a script's arguments: the policy's values every script
reads, the URLs to schedule as rows and fingerprints, and a job's work split over its
shards (each has its part of the dispatch window and of the Bloom filter)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pipeline import keys
from pipeline.frontier.bloom import geometry, halves
from pipeline.frontier.data import member
from pipeline.settings import DEDUP_BLOOM, SCOPE_ANY, Policy
from pipeline.store import RecordKind
from pipeline.urls import fingerprint, host_key, seen_entry

T = TypeVar("T")


def params(
    policy: Policy, rows: list[list[Any]], call: dict[str, Any], depth: int, shard: int = 0
) -> dict[str, Any]:
    """What every script reads of the job's policy, with the call's own parameters and
    the URLs to schedule (`links` rows), listed by a URL at `depth`, for `shard`. Each
    shard has its part of the window and of max_hosts."""
    window = math.ceil(policy.dispatch_window / policy.frontier_shards)
    values = dict(call)
    if values.get("limit", 0) is None:
        values["limit"] = window
    values.update(
        conc=max(1, policy.host_concurrency),
        delay=policy.delay,
        delay_factor=policy.delay_factor,
        max_delay=policy.max_delay,
        host_rules=bool(policy.host_rules),
        max_pages=policy.max_pages,
        shared_budget=shared_budget(policy),
        max_depth=policy.max_depth,
        host_budget=policy.max_pages_per_host,
        sitemap_budget=policy.max_sitemaps_per_host,
        host_cap=host_cap(policy, shard),
        window=window,
        lookahead=policy.dispatch_lookahead,
        lease_timeout=policy.lease_timeout,
        max_requeues=policy.max_requeues,
        failures_to_pause=policy.host_failures_to_pause,
        version=policy.version,
        continuous=policy.revisit_interval > 0,
        **_bloom(policy),
        links=rows,
        depth=depth,
    )
    return values


def shared_budget(policy: Policy) -> bool:
    return policy.frontier_shards > 1 and policy.max_pages > 0


def host_cap(policy: Policy, shard: int) -> int:
    """Hosts `shard` may schedule URLs for (-1: no limit): max_hosts, with scope any,
    split over the shards (hosts go to shards by hash, so a job of several shards may
    stop short of max_hosts when one shard's part fills first)."""
    if policy.scope != SCOPE_ANY or policy.max_hosts == 0:
        return -1
    whole, rest = divmod(policy.max_hosts, policy.frontier_shards)
    return whole + (shard < rest)


def per_shard(policy: Policy, limit: int | None) -> int | None:
    """A shard's part of `limit` URLs to lease (None: its part of the window)."""
    return None if limit is None else math.ceil(limit / policy.frontier_shards)


def by_shard(policy: Policy, items: Iterable[T], host: Callable[[T], str]) -> dict[int, list[T]]:
    """`items` split by the shard of their `host`, each part in order."""
    if policy.frontier_shards == 1:
        whole = list(items)
        return {0: whole} if whole else {}
    parts: dict[int, list[T]] = {}
    for item in items:
        parts.setdefault(keys.shard_of(host(item), policy.frontier_shards), []).append(item)
    return parts


def entry_host(entry: tuple[str, RecordKind]) -> str:
    """The host of a (url, kind) entry to schedule."""
    return host_key(entry[0])


def links(entries: list[tuple[str, RecordKind]], bloom: bool, shards: int) -> tuple[list[list[Any]], list[bytes]]:
    """Per URL to schedule, its row for the scripts ({member, host, is_sitemap, then the
    seen set's bucket and entry, or the Bloom filter's h1 and h2}) and its fingerprint
    (an ARGV of its own: binary, not JSON)."""
    rows, fingerprints = [], []
    for url, kind in entries:
        name = member(url, kind)
        digest = fingerprint(name)
        where: tuple[Any, Any] = halves(digest) if bloom else seen_entry(digest, shards)
        rows.append([name, host_key(url), int(kind == RecordKind.SITEMAP), *where])
        fingerprints.append(digest)
    return rows, fingerprints


def _bloom(policy: Policy) -> dict[str, int]:
    """The filter's size and positions a URL, or zeros for the exact seen sets. Each
    shard has a filter of its part of the capacity."""
    if policy.dedup != DEDUP_BLOOM:
        return {"bloom_bits": 0, "bloom_hashes": 0}
    shape = geometry(math.ceil(policy.bloom_capacity / policy.frontier_shards), policy.bloom_error_rate)
    return {"bloom_bits": shape.bits, "bloom_hashes": shape.hashes}
