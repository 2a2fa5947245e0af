"""How the dispatcher shares a job's max_pages out among its frontier shards: never more
than the budget in all, nothing held where no URL waits to spend it."""

from __future__ import annotations

from pipeline.frontier_budget import ShardBudget, share


class Shards:
    """Shards as SHARE leaves them: each brought toward min(queued, target), given at
    most what is offered, handing back at once what it holds too much."""

    def __init__(self, budgets: list[ShardBudget], target: int) -> None:
        self.allowance = [budget.allowance for budget in budgets]
        self.budgets, self.target = budgets, target

    def give(self, index: int, offer: int) -> int:
        change = min(self.budgets[index].queued, self.target) - self.allowance[index]
        if change > 0:
            change = min(change, offer)
        self.allowance[index] += change
        return change


def test_nothing_is_given_past_max_pages_and_the_hungriest_shard_goes_first():
    budgets = [ShardBudget(dispatched=40, allowance=5, queued=100), ShardBudget(0, 0, 100), ShardBudget(10, 0, 0)]
    shards = Shards(budgets, target=20)

    left = share(budgets, max_pages=80, target=20, give=shards.give)

    assert shards.allowance == [10, 20, 0], "the shard holding least is served first"
    assert left == 0
    assert sum(b.dispatched for b in budgets) + sum(shards.allowance) == 80


def test_an_allowance_with_no_urls_to_spend_it_goes_to_a_shard_that_has_some():
    budgets = [ShardBudget(dispatched=10, allowance=20, queued=3), ShardBudget(10, 0, 50)]
    shards = Shards(budgets, target=30)

    left = share(budgets, max_pages=45, target=30, give=shards.give)

    assert shards.allowance == [3, 22]
    assert left == 0


def test_what_no_shard_can_use_is_left_to_give():
    budgets = [ShardBudget(dispatched=0, allowance=0, queued=4), ShardBudget(0, 0, 1)]
    shards = Shards(budgets, target=10)

    assert share(budgets, max_pages=100, target=10, give=shards.give) == 95
    assert shards.allowance == [4, 1]
