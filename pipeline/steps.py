"""The three steps of one URL, as plain functions over plain data: the Celery tasks are
thin shells around these. Each takes and returns JSON-able dicts, so nothing that cannot
travel through the broker (sessions, soups, responses) ever leaves a step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.errors import PermanentFetchError
from pipeline.fetch import Fetcher, FetchResult
from pipeline.frontier import SITEMAP, Lease
from pipeline.keys import JobKeys
from pipeline.parse import parse_html
from pipeline.robots import Robots
from pipeline.settings import Policy
from pipeline.sitemaps import parse_sitemap
from pipeline.store.base import Record
from pipeline.urls import in_scope


def fetch_url(lease: Lease, keys: JobKeys, policy: Policy, fetcher: Fetcher, robots: Robots) -> FetchResult:
    """Fetch the leased URL; every hop is checked for scope and robots.txt here, and for
    its address by the fetcher's connections."""

    def check(url: str) -> None:
        if url != lease.url and not in_scope(url, policy.scope_hosts, policy.allowed_domains):
            raise PermanentFetchError("redirect out of scope")
        if not robots.allowed(keys, url, policy):
            raise PermanentFetchError("blocked by robots.txt")

    if lease.kind != SITEMAP:
        return fetcher.fetch(lease.url, policy, check)
    return _read_sitemap(lease, policy, fetcher, check)


def _read_sitemap(lease: Lease, policy: Policy, fetcher: Fetcher, check: Callable[[str], None]) -> FetchResult:
    limits = policy.merged(max_bytes=policy.max_sitemap_bytes, parse_types=())
    result = fetcher.fetch(lease.url, limits, check, keep_body=True)
    if result.error is None and result.body:
        found = parse_sitemap(
            result.body, policy.max_sitemap_urls, policy.max_sitemap_bytes, policy.drop_params, policy.max_url_length
        )
        result.links, result.sitemaps = found.pages, found.sitemaps
    result.body = result.text = None
    return result


def parse_result(result: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """Add title and outlinks to a fetch result; the page text is dropped afterwards."""
    parsed = dict(result, title=None, outlinks=result.get("links") or [])
    parsed.pop("links", None)
    text = parsed.pop("text", None)
    if text is not None and parsed.get("error") is None:
        page = parse_html(text, parsed["final_url"], policy.max_outlinks, policy.max_url_length, policy.drop_params)
        parsed.update(title=page.title, outlinks=page.outlinks)
    return parsed


def to_record(job: str, lease: Lease, parsed: dict[str, Any]) -> Record:
    """The record of what was scheduled, under its real URL; its kind keeps a sitemap's
    record apart from the page at the same URL (a footer link to /sitemap.xml)."""
    return Record.from_json(dict(parsed, job=job, url=lease.url, kind=lease.kind, depth=lease.depth))


def sitemaps_to_read(record: Record, parsed: dict[str, Any], policy: Policy) -> list[tuple[str, int]]:
    """Sitemaps a sitemap index lists, in scope, at the index's own depth."""
    return [
        (url, record.depth)
        for url in parsed.get("sitemaps", [])
        if in_scope(url, policy.scope_hosts, policy.allowed_domains)
    ]


def links_to_follow(record: Record, policy: Policy) -> list[tuple[str, int]]:
    """The outlinks the frontier should see: in scope, and only below the depth limit."""
    if record.depth >= policy.max_depth:
        return []
    depth = record.depth + 1
    return [
        (url, depth)
        for url in record.outlinks
        if in_scope(url, policy.scope_hosts, policy.allowed_domains)
    ]
