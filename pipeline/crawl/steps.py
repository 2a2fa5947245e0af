"""The three steps of one URL as plain functions over plain data: fetch a leased URL,
parse what came back, and turn it into a record and the URLs it lists. The decisions
around them (retry, wait, give up) are pipeline/crawl/fate.py's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from pipeline.crawl.payload import Payload
from pipeline.fetch import (
    BLOCKED,
    NOT_MODIFIED,
    REVISIT_IDENTICAL,
    Fetcher,
    FetchResult,
    PermanentFetchError,
    Robots,
    next_visit,
)
from pipeline.frontier import Found, Lease, RecordKind, in_policy_scope
from pipeline.keys import Keyring
from pipeline.parse import Page, parse_html, parse_sitemap, run_extractors
from pipeline.settings import Policy
from pipeline.store import Record
from pipeline.urls import host_key

logger = logging.getLogger(__name__)
# What a sitemap that is not there answers.
ABSENT_STATUSES = frozenset({404, 410})


def fetch_url(lease: Lease, ring: Keyring, policy: Policy, fetcher: Fetcher, robots: Robots) -> FetchResult:
    """Fetch the leased URL; every hop is checked for scope and robots.txt here, and for
    its address by the fetcher's connections."""

    def check(url: str) -> None:
        if url != lease.url and not in_policy_scope(url, policy):
            raise PermanentFetchError("redirect out of scope")
        if not robots.allowed(ring, url, policy):
            raise PermanentFetchError(BLOCKED)

    if lease.kind != RecordKind.SITEMAP:
        return fetcher.fetch(lease.url, policy, check, prior=lease.prior)
    return _read_sitemap(lease, policy, fetcher, check)


def _read_sitemap(lease: Lease, policy: Policy, fetcher: Fetcher, check: Callable[[str], None]) -> FetchResult:
    """The pages and sitemaps a sitemap lists. One that is not there (404, 410: most sites
    have no /sitemap.xml) is no failure: its record keeps the status, without an error."""
    limits = policy.merged(max_bytes=policy.max_sitemap_bytes, parse_types=())
    result = fetcher.fetch(lease.url, limits, check, keep_body=True, prior=lease.prior)
    if result.status in ABSENT_STATUSES:
        return replace(result, error=None, body=None, text=None)
    if result.error is None and result.body:
        found = parse_sitemap(
            result.body, policy.max_sitemap_urls, policy.max_sitemap_bytes, policy.drop_params, policy.max_url_length
        )
        result = replace(result, links=found.pages, sitemaps=found.sitemaps)
    return replace(result, body=None, text=None)


def parse(payload: Payload, policy: Policy) -> Payload:
    """Title and outlinks of a fetched page (a sitemap's outlinks are the pages it
    lists), and the items of the job's extractors. A page the parser chokes on is still
    recorded, with the reason. A 304 has nothing new: the store keeps what the last full
    response gave, items included."""
    result = payload.result
    if result.status == NOT_MODIFIED:
        return payload.parsed(None, [])
    if result.text is None or result.error is not None:
        parsed = payload.parsed(None, list(result.links or []))
    else:
        try:
            page = parse_html(
                result.text, result.final_url, policy.max_outlinks, policy.max_url_length, policy.drop_params
            )
        except Exception as exc:
            logger.exception("parsing %s failed unexpectedly", payload.lease.url)
            parsed = payload.parsed(None, [], error=f"parse error: {type(exc).__name__}")
        else:
            parsed = payload.parsed(page.title, page.outlinks)
    if not policy.extract:
        return parsed
    return _extracted(payload, parsed, policy)


def _extracted(fetched: Payload, parsed: Payload, policy: Policy) -> Payload:
    """Extraction of a page that came back (a failure has nothing to extract from, but
    its empty list still replaces what an earlier fetch of the URL left in the store)."""
    result = fetched.result
    if result.error is not None or result.status is None or fetched.lease.kind == RecordKind.SITEMAP:
        return replace(parsed, items=[])
    page = Page(
        url=fetched.lease.url,
        final_url=result.final_url,
        status=result.status,
        headers=result.headers or {},
        content_type=result.content_type,
        encoding=result.encoding,
        text=result.text,
        depth=fetched.lease.depth,
        job=fetched.job,
        drop_params=policy.drop_params,
        max_url_length=policy.max_url_length,
    )
    done = run_extractors(page, policy.extract, policy.extract_timeout, policy.max_items)
    outlinks = list(dict.fromkeys(parsed.outlinks + page.followed))
    return replace(parsed, outlinks=outlinks, items=done.items, extract_error=done.error)


def to_record(payload: Payload, policy: Policy) -> Record:
    """The record of what was scheduled, under its real URL; its kind keeps a sitemap's
    record apart from the page at the same URL (a footer link to /sitemap.xml). A page
    archived as a revisit of an identical payload points at the record that holds it;
    a continuous job's page gets its next visit."""
    result, lease = payload.result, payload.lease
    visit = next_visit(policy, lease.prior, result.status, result.content_hash, failed=result.error is not None)
    warc = result.warc
    if warc is not None and warc.revisit == REVISIT_IDENTICAL and lease.prior is not None:
        warc = lease.prior.warc
    return Record(
        job=payload.job,
        url=lease.url,
        kind=lease.kind,
        final_url=result.final_url,
        status=result.status,
        depth=lease.depth,
        content_type=result.content_type,
        title=payload.title,
        outlinks=payload.outlinks,
        fetched_at=result.fetched_at,
        error=result.error,
        content_hash=result.content_hash,
        length=result.length,
        elapsed=result.elapsed,
        encoding=result.encoding,
        redirects=result.redirects,
        warc=warc,
        extract_error=payload.extract_error,
        etag=result.etag,
        last_modified=result.last_modified,
        first_fetched_at=result.fetched_at,
        changed_at=result.fetched_at if result.content_hash is not None else None,
        revisit_interval=visit.interval,
        next_fetch_at=visit.at,
        render_time=payload.render_time,
        render_reason=payload.render.reason if payload.render is not None else None,
        render_evidence=payload.render.evidence.to_json() if payload.render and payload.render.evidence else None,
    )


def blocked_record(job: str, url: str, kind: RecordKind, depth: int, policy: Policy) -> Record:
    """The record of a URL robots.txt disallows, as its own failed fetch would have it,
    though no lease or request was ever made for it."""
    lease = Lease(url, depth, host_key(url), token=0, kind=kind)
    return to_record(Payload(job, lease, FetchResult.failed(url, BLOCKED)), policy)


def warc_metadata(payload: Payload, policy: Policy) -> list[tuple[str, str]]:
    """The fields of a page's WARC metadata record: how it was reached and what it links
    to, and the job's robots policy and user agent (a file's warcinfo has only the
    worker's defaults: one file holds the pages of every job its worker ran)."""
    result = payload.result
    fields = [
        ("job", payload.job),
        ("robots", "obey" if policy.robots else "ignore"),
        ("http-header-user-agent", policy.user_agent),
        ("depth", str(payload.lease.depth)),
        ("fetchedAt", result.fetched_at),
        ("fetchTimeMs", str(round(result.elapsed * 1000))),
    ]
    if payload.render_time is not None:
        fields.append(("renderTimeMs", str(round(payload.render_time * 1000))))
    if payload.render is not None:
        fields.append(("renderReason", payload.render.reason))
    fields += [("redirect", url) for url in result.redirects]
    fields += [("outlink", url) for url in payload.outlinks]
    fields += [("sitemap", url) for url in result.sitemaps]
    return fields


def found(payload: Payload) -> Found:
    """What the URL listed, for the frontier to schedule: a page's outlinks, a sitemap
    index's sitemaps."""
    return Found(payload.lease.depth, tuple(payload.outlinks), tuple(payload.result.sitemaps))
