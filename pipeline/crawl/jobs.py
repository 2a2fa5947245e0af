"""Operations on a whole job rather than on one URL: seeding it, revisiting what it
stored, feeding its due revisits in, handing back the leases a restart orphaned, and
giving up on URLs whose workers keep dying. The command line, `seed()` and the
dispatcher call them; what happens to each URL handed out is fate.py's."""

from __future__ import annotations

import logging
from typing import Any

from pipeline.crawl import revisits, steps
from pipeline.crawl.context import Context
from pipeline.crawl.payload import Payload
from pipeline.errors import ConfigError, StoreUnavailable
from pipeline.fetch import BLOCKED, FetchResult, read_rules
from pipeline.frontier import Found, Frontier, JobState, Lease, LostLease, RecordKind, Revisit, bloom, list_jobs
from pipeline.parse import check_extractors
from pipeline.settings import DEDUP_EXACT, SCOPE_ANY, Policy, Settings
from pipeline.store import Record, Store
from pipeline.urls import hostname, require_canonical

logger = logging.getLogger(__name__)

# The stored reasons of the failures a policy flag can lift (see `lifted`).
ADDRESS_REFUSED = "address not allowed"
REDIRECT_OUT_OF_SCOPE = "redirect out of scope"


def seed(
    frontier: Frontier, settings: Settings, urls: list[str], overrides: dict[str, Any], store: Store | None = None
) -> tuple[int, list[Lease]]:
    """Add seed URLs to the job (created if new) with policy overrides; returns how many
    were new and the leases due at once. The merged policy must fit this process's
    broker, as the defaults must. With the job's `store`, a seed stored as failed for a
    reason the new policy lifts (its address refused, now allowed) is fetched again, so
    following an error's hint works on the same job. A host policy file named now (or
    by the defaults of a new job) is read and its rules stored with the policy."""
    if not urls:
        raise ConfigError("no seed URLs given")
    if frontier.state() == JobState.CANCELLED:
        raise ConfigError(
            f"job {frontier.job!r} is cancelled: `crawler resume --job {frontier.job}` first, or use a new job name"
        )
    stored = frontier.stored_policy()
    policy = (stored or settings.policy).merged(**overrides)
    if stored is None or overrides.get("host_policy_file") is not None:
        # The file is read here, once: its rules go to the workers with the policy.
        policy = policy.merged(host_rules=host_rules(policy.host_policy_file))
    if stored is not None and _dedup(stored) != _dedup(policy):
        raise ConfigError(
            f"job {frontier.job!r} remembers its URLs with dedup={stored.dedup}: its dedup settings "
            "are fixed when it is created (use a new job name)"
        )
    if stored is not None and stored.frontier_shards != policy.frontier_shards:
        raise ConfigError(
            f"job {frontier.job!r} has its frontier in {stored.frontier_shards} shard(s), fixed when it was "
            "created (use a new job name)"
        )
    check_extractors(policy.extract)
    bloom.check(policy)
    canonical = [require_canonical(url, policy.drop_params) for url in urls]
    hosts = tuple(dict.fromkeys(policy.scope_hosts + tuple(hostname(url) for url in canonical)))
    policy = policy.merged(scope_hosts=hosts)
    frontier.create(policy)
    added = frontier.add(Found.seeds(canonical))
    if stored is not None and store is not None:
        added += _retry_lifted(frontier, store, stored, policy, canonical)
    return added, frontier.lease()


def host_rules(path: str) -> tuple[str, ...]:
    """The checked rules of the host policy file at `path` ("": none), as the job's
    policy stores them; a command reads it before anything starts, to fail at once."""
    return read_rules(path) if path else ()


def _retry_lifted(frontier: Frontier, store: Store, old: Policy, new: Policy, seeds: list[str]) -> int:
    """Queue again the seeds stored as failed for a reason `new` lifts; returns how many."""
    try:
        failed = [record for record in store.pages(frontier.job, seeds) if record.error and lifted(record, old, new)]
    except StoreUnavailable as exc:
        logger.warning("failed seeds of job %s not checked against the new policy: %s", frontier.job, exc)
        return 0
    if not failed:
        return 0
    return frontier.revisit([Revisit(r.url, RecordKind.PAGE, r.depth, r.prior()) for r in failed], False, "", True)


def lifted(record: Record, old: Policy, new: Policy) -> bool:
    """Whether the failure stored in `record` under policy `old` would not happen under
    `new`: a refused address now allowed, robots.txt no longer obeyed, a redirect's
    target now in scope (an allowed domain more, or scope any)."""
    error = record.error or ""
    if error.startswith(ADDRESS_REFUSED):
        return new.allow_private and not old.allow_private
    if error == BLOCKED:
        return old.robots and not new.robots
    if error == REDIRECT_OUT_OF_SCOPE:
        return bool(set(new.allowed_domains) - set(old.allowed_domains)) or old.scope != SCOPE_ANY == new.scope
    return False


def _dedup(policy: Policy) -> tuple[str, int, float]:
    """What the job's seen structure was built for: changing it would forget every URL."""
    if policy.dedup == DEDUP_EXACT:
        return (DEDUP_EXACT, 0, 0.0)
    return (policy.dedup, policy.bloom_capacity, policy.bloom_error_rate)


def recrawl(ctx: Context, job: str, older_than: float | None = None) -> int:
    """Revisit the job's stored URLs (those last fetched more than `older_than` seconds
    ago) in place, with conditional requests; returns how many are due. The dispatcher
    feeds them to the workers."""
    return revisits.start_recrawl(ctx.frontier(job), ctx.store, older_than)


def feed_revisits(ctx: Context, job: str) -> int:
    """The job's due revisits from the store into its frontier, as room allows; a store
    that is away now is asked again at the next tick."""
    try:
        return revisits.feed(ctx.frontier(job), ctx.store, ctx.settings.revisit_batch)
    except StoreUnavailable as exc:
        logger.warning("no revisits of job %s fed this tick: %s", job, exc)
        return 0


def requeue_uncarried(ctx: Context, carried: dict[str, list[Lease]]) -> None:
    """After a restart in which no worker of the earlier run can be alive: each live
    job's leases that no chain in the broker still carries (`carried`, per job) died
    with their workers, and go back to the frontier now rather than at their deadline."""
    for job in list_jobs(ctx.redis):
        frontier = ctx.frontier(job)
        if frontier.state() in (JobState.RUNNING, JobState.PAUSED):
            frontier.requeue_all_but(carried.get(job, []))


def give_up(ctx: Context, job: str, lost: list[LostLease]) -> list[Lease]:
    """URLs whose workers were lost again and again are stored as failed and completed,
    so the job can finish; returns the leases their completion made due. A record the
    store cannot take now waits for the next tick, which hands the URL back again."""
    frontier = ctx.frontier(job)
    handoff: list[Lease] = []
    for item in lost:
        failed = FetchResult.failed(item.lease.url, f"worker lost {item.times} times")
        try:
            ctx.store.put(steps.to_record(Payload(job, item.lease, failed), frontier.policy()))
        except StoreUnavailable as exc:
            logger.warning("store unavailable, %s is given up on at a later tick: %s", item.lease.url, exc)
            continue
        handoff += frontier.complete(item.lease, failed=True, found=Found(item.lease.depth)).handoff
    return handoff
