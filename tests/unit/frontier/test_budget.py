"""How the dispatcher shares a job's max_pages out among its frontier shards: never more
than the budget in all, generously while it lasts, and at its end nothing held where no
URL waits to spend it."""

from __future__ import annotations

from pipeline.frontier.budget import ShardBudget, share


class Shards:
    """Shards as the SHARE script leaves them."""

    def __init__(self, budgets: list[ShardBudget], target: int) -> None:
        self.allowance = [budget.allowance for budget in budgets]
        self.budgets, self.target = budgets, target

    def give(self, index: int, offer: int, strict: bool) -> int:
        queued = self.budgets[index].queued
        wanted = min(queued, self.target) if strict or queued == 0 else self.target
        change = wanted - self.allowance[index]
        if change > 0:
            change = min(change, offer)
        elif not strict and queued > 0:
            change = 0
        self.allowance[index] += change
        return change


def test_while_the_budget_lasts_each_shard_with_urls_waiting_is_topped_up_to_the_target():
    budgets = [ShardBudget(dispatched=40, allowance=5, queued=3), ShardBudget(0, 0, 100), ShardBudget(10, 7, 0)]
    shards = Shards(budgets, target=20)

    left, strict = share(budgets, max_pages=1000, target=20, give=shards.give)

    assert not strict
    assert shards.allowance == [20, 20, 0], "more than it has waiting: links found meanwhile go out at once"
    assert left == 1000 - 50 - 40


def test_once_the_budget_runs_short_no_shard_holds_more_than_it_has_waiting():
    budgets = [ShardBudget(dispatched=10, allowance=20, queued=3), ShardBudget(10, 0, 50)]
    shards = Shards(budgets, target=30)

    left, strict = share(budgets, max_pages=45, target=30, give=shards.give)

    assert strict
    assert shards.allowance == [3, 22]
    assert left == 0
    assert sum(b.dispatched for b in budgets) + sum(shards.allowance) == 45


def test_the_shard_holding_least_is_served_first_and_nothing_is_given_past_max_pages():
    budgets = [ShardBudget(dispatched=40, allowance=5, queued=100), ShardBudget(0, 0, 100), ShardBudget(10, 0, 0)]
    shards = Shards(budgets, target=20)

    left, strict = share(budgets, max_pages=80, target=20, give=shards.give)

    assert strict and left == 0
    assert shards.allowance == [10, 20, 0]
    assert sum(b.dispatched for b in budgets) + sum(shards.allowance) == 80
