"""How a job whose frontier has several shards keeps to its max_pages exactly.

No script can read every shard (each runs in one Redis Cluster slot), so the budget is
shared out: each shard holds an allowance of new URLs it may hand out, spent by its own
scripts as they lease (a lease that goes back returns its right to the allowance). On
each tick the dispatcher reads every shard and tops up each that has new URLs waiting,
to a target; so the sum over shards of URLs handed out plus allowances only grows when
this module gives, never past max_pages. Once what is left would not top every shard
up, sharing turns strict: an allowance above a shard's waiting URLs goes back, and each
is given at most what it has waiting, so that every allowance has URLs to spend it on.
When strict sharing leaves nothing to give, each shard is told, and one that has spent
its allowance is then done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.lock import Lock

from pipeline import keys
from pipeline.frontier.names import Stat

# Seconds the sharing lock lasts at most: one sharing takes milliseconds.
LOCK_TIMEOUT = 10.0

# Runs SHARE in shard `index` offering at most `offer`, strictly or not; returns the
# allowance's change.
Give = Callable[[int, int, bool], int]


@dataclass(frozen=True)
class ShardBudget:
    dispatched: int
    allowance: int
    queued: int

    def wanted(self, target: int, strict: bool) -> int:
        """Allowance the shard could use now beyond its own; below 0, what it holds too much."""
        if strict or self.queued == 0:
            return min(self.queued, target) - self.allowance
        return max(target - self.allowance, 0)


def read(client: redis.Redis, ring: keys.Keyring) -> list[ShardBudget]:
    with client.pipeline(transaction=False) as pipe:
        for shard in ring.all():
            pipe.hmget(shard.key(keys.STATS), [Stat.DISPATCHED, Stat.QUEUED])
            pipe.get(shard.key(keys.ALLOWANCE))
        replies = pipe.execute()
    return [
        ShardBudget(int(counts[0] or 0), int(allowance or 0), int(counts[1] or 0))
        for counts, allowance in zip(replies[::2], replies[1::2], strict=True)
    ]


def share(budgets: list[ShardBudget], max_pages: int, target: int, give: Give) -> tuple[int, bool]:
    """Hand back what shards hold too much, then give the shards that hold least first;
    returns what is left to give and whether sharing was strict (0 left when strict: the
    budget is spent)."""
    left = max_pages - sum(budget.dispatched + budget.allowance for budget in budgets)
    strict = left < sum(max(budget.wanted(target, strict=False), 0) for budget in budgets)
    for index, budget in enumerate(budgets):
        if budget.wanted(target, strict) < 0:
            left -= give(index, 0, strict)
    wanting = sorted((i for i, b in enumerate(budgets) if b.wanted(target, strict) > 0),
                     key=lambda i: budgets[i].allowance)
    for index in wanting:
        if left <= 0:
            break
        left -= give(index, min(budgets[index].wanted(target, strict), left), strict)
    return max(left, 0), strict


def mark(client: redis.Redis, ring: keys.Keyring, spent: bool) -> None:
    """Tell every shard whether more allowance may come."""
    with client.pipeline(transaction=False) as pipe:
        for shard in ring.all():
            if spent:
                pipe.set(shard.key(keys.BUDGET_SPENT), 1)
            else:
                pipe.delete(shard.key(keys.BUDGET_SPENT))
        pipe.execute()


def share_out(client: redis.Redis, ring: keys.Keyring, max_pages: int, target: int, give: Give) -> None:
    """One sharing of `max_pages` over the shards of `ring`, topping each up to `target`;
    none when another process is sharing now (its result serves this tick too)."""
    sharing = lock(client, ring)
    if not sharing.acquire():
        return
    try:
        left, strict = share(read(client, ring), max_pages, target, give)
        mark(client, ring, spent=strict and left == 0)
    finally:
        sharing.release()


def lock(client: redis.Redis, ring: keys.Keyring) -> Lock:
    """One sharing at a time: two at once could each give what only one may."""
    return Lock(client, ring.shard(0).key(keys.BUDGET_LOCK), timeout=LOCK_TIMEOUT, blocking=False)
