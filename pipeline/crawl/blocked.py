"""Links their host's robots.txt disallows, settled by the store step of the page that
found them: their records are written there, and the frontier marks them seen and
counts them per host as it completes the page (in the same call), so they never take a
lease, a task or a turn of their host. A link whose host's robots.txt is not known yet is
scheduled as any other and checked before its request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Settlement:
    """What a page listed, once its disallowed links are settled in the store: `kept`
    for the frontier to schedule; `fresh`, the disallowed links the job never saw (their
    records now written), for the frontier to mark seen and count (Frontier.complete);
    `blocked`, every disallowed link, seen from then on by this process."""

    kept: Found
    fresh: tuple[Entry, ...] = ()
    blocked: tuple[Entry, ...] = ()


def settle(ctx: Context, frontier: Frontier, payload: Payload, policy: Policy) -> Settlement:
    """Write the records of the links the payload lists that robots.txt disallows and the
    job never saw, and split them from the rest. The records are written before the
    frontier marks the links seen: a store that fails leaves them unseen for the retry,
    and a link seen before (maybe fetched under an older robots.txt) keeps its record."""
    found = steps.found(payload)
    # A link this process sent before is seen already: settling could not change it, so
    # its robots.txt is not asked (most of a site's links repeat from page to page).
    urls = [url for url, _ in frontier.unsent(found, policy)]
    if not urls or not (policy.robots or policy.host_rules):
        return Settlement(found)
    kept, blocked = split(found, policy, _verdicts(ctx, frontier, urls, policy))
    if not blocked:
        return Settlement(found)
    fresh = frontier.unseen(blocked)
    for url, kind in fresh:
        ctx.store.put(steps.blocked_record(payload.job, url, kind, depth_of(found, kind), policy))
    return Settlement(kept, tuple(fresh), tuple(blocked))


def settled(frontier: Frontier, settlement: Settlement, policy: Policy) -> None:
    """Once the frontier has them, the disallowed links count as sent for this process:
    the next pages that list them (most of a site's pages do) leave them out before
    asking robots.txt or Redis."""
    if settlement.blocked:
        frontier.settled(list(settlement.blocked), settlement.kept.depth, policy)


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
