"""Links their host's robots.txt disallows, settled by the store step of the page that
found them: their records are written there, and the frontier marks them seen and
counts them per host, so they never take a lease, a task or a turn of their host. A
link whose host's robots.txt is not known yet is scheduled as any other and checked
before its request."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.crawl import steps
from pipeline.crawl.context import Context
from pipeline.crawl.payload import Payload
from pipeline.fetch import HostRule, for_host, rule_for
from pipeline.frontier import Found, Frontier, RecordKind
from pipeline.settings import Policy
from pipeline.urls import host_key

Entry = tuple[str, RecordKind]


def split(found: Found, policy: Policy, verdicts: Mapping[str, bool | None]) -> tuple[Found, list[Entry]]:
    """What `found` lists less the links to settle as disallowed, and those links: in
    scope, disallowed by a known robots.txt (`verdicts[url]` is False), and for a page,
    within max_depth (a deeper one is only counted by the depth limit, as it would not
    be fetched anyway)."""
    deep = found.depth + 1 > policy.max_depth
    blocked = [
        (url, kind) for url, kind in found.entries(policy)
        if verdicts.get(url) is False and not (kind == RecordKind.PAGE and deep)
    ]
    if not blocked:
        return found, []
    out = set(blocked)
    kept = Found(
        found.depth,
        tuple(url for url in found.pages if (url, RecordKind.PAGE) not in out),
        tuple(url for url in found.sitemaps if (url, RecordKind.SITEMAP) not in out),
    )
    return kept, blocked


def depth_of(found: Found, kind: RecordKind) -> int:
    """A page is one link deeper than what listed it; a sitemap keeps its depth."""
    return max(found.depth, 0) if kind == RecordKind.SITEMAP else found.depth + 1


def settle(ctx: Context, frontier: Frontier, payload: Payload) -> Found:
    """Settle what the payload lists that robots.txt disallows, and return the rest for
    the frontier to schedule. The records of the links never seen are written first and
    then marked seen: a store that fails leaves them unseen for the retry, and a link
    seen before (maybe fetched under an older robots.txt) keeps its record. Once
    settled, the links count as sent for this process (Frontier.unsent)."""
    found = steps.found(payload)
    policy = frontier.policy()
    # A link this process sent before is seen already: settling could not change it, so
    # its robots.txt is not asked (most of a site's links repeat from page to page).
    urls = [url for url, _ in frontier.unsent(found, policy)]
    if not urls or not (policy.robots or policy.host_rules):
        return found
    kept, blocked = split(found, policy, _verdicts(ctx, frontier, urls, policy))
    if not blocked:
        return found
    fresh = frontier.unseen(blocked)
    for url, kind in fresh:
        ctx.store.put(steps.blocked_record(payload.job, url, kind, depth_of(found, kind), policy))
    if fresh:
        frontier.block(fresh)
    # Seen now, all of them: the next pages that list them (most of a site's pages do)
    # leave them out before asking robots.txt or Redis.
    frontier.settled(blocked, found.depth, policy)
    return kept


def _verdicts(ctx: Context, frontier: Frontier, urls: list[str], policy: Policy) -> dict[str, bool | None]:
    """Each link judged under its host's own policy: a rule of the host policy file may
    turn robots.txt off or on for it, or give it another user agent."""
    if not policy.host_rules:
        return ctx.robots.verdicts(frontier.keyring, urls, policy)
    by_rule: dict[HostRule | None, list[str]] = {}
    for url in urls:
        by_rule.setdefault(rule_for(policy.host_rules, host_key(url)), []).append(url)
    verdicts: dict[str, bool | None] = {}
    for rule, part in by_rule.items():
        own = policy if rule is None else for_host(policy, host_key(part[0]))
        verdicts.update(ctx.robots.verdicts(frontier.keyring, part, own))
    return verdicts
