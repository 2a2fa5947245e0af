"""A job whose frontier is split by host into shards (frontier_shards), driven on the
test Redis: each host's keys live in its shard's slot, links cross between shards with
every URL handed out once, the job finishes only when every shard has, max_pages is
kept exactly however the shards share it, and a recrawl pass spans the shards."""

from __future__ import annotations

import pytest

from pipeline import keys
from pipeline.crawl.jobs import seed
from pipeline.errors import ConfigError
from pipeline.fetch import Prior
from pipeline.frontier import Found, Frontier, JobState, Lease, RecordKind, Revisit, Stat
from pipeline.settings import Settings
from tests.integration.frontiers import new_frontier

pytestmark = pytest.mark.integration

SHARDS = 3
HOSTS = tuple(f"h{i}.example" for i in range(9))


def _hosts_by_shard() -> dict[int, list[str]]:
    by_shard: dict[int, list[str]] = {}
    for host in HOSTS:
        by_shard.setdefault(keys.shard_of(host, SHARDS), []).append(host)
    assert len(by_shard) == SHARDS, "the made-up hosts cover every shard"
    return by_shard


def _sharded(client, **changes) -> Frontier:
    return new_frontier(client, "sharded", frontier_shards=SHARDS, scope_hosts=HOSTS, **changes)


def _links_of(url: str) -> Found:
    """Each page of the made-up site links to the same page number on the next host."""
    host, number = url.split("/")[2], int(url.rsplit("/", 1)[1])
    following = HOSTS[(HOSTS.index(host) + 1) % len(HOSTS)]
    return Found(0, (f"http://{following}/p/{number}", f"http://{host}/p/{number + 1}"))


def _crawl(frontier: Frontier, pages_per_host: int, pending: list[Lease] | None = None) -> list[str]:
    """Work the job as workers and the dispatcher would, from `pending` (default: a
    tick's leases), completing each lease with the links of its page (up to
    `pages_per_host` per host); the URLs in the order leased."""
    leased: list[str] = []
    pending = frontier.tick().leases if pending is None else list(pending)
    while pending or frontier.state() != JobState.FINISHED:
        if not pending:
            pending = frontier.tick().leases
            assert pending or frontier.state() == JobState.FINISHED, "a running job has something to hand out"
            continue
        lease = pending.pop(0)
        leased.append(lease.url)
        links = _links_of(lease.url)
        wanted = tuple(url for url in links.pages if int(url.rsplit("/", 1)[1]) < pages_per_host)
        pending += frontier.complete(lease, failed=False, found=Found(lease.depth, wanted)).handoff
    return leased


def test_each_hosts_keys_live_in_its_shard_and_links_across_shards_are_handed_out_once(redis_client):
    frontier = _sharded(redis_client, host_concurrency=2)
    frontier.add(Found.seeds([f"http://{host}/p/0" for host in HOSTS]))

    for shard, hosts in _hosts_by_shard().items():
        shard_keys = keys.JobKeys("sharded", shard)
        assert shard_keys.prefix == ("crawler:{sharded}:" if shard == 0 else f"crawler:{{sharded#{shard}}}:")
        for host in hosts:
            assert redis_client.exists(shard_keys.queue_depths(host)), f"{host} is queued in shard {shard}"
            others = [keys.JobKeys("sharded", other) for other in range(SHARDS) if other != shard]
            assert not any(redis_client.exists(other.queue_depths(host)) for other in others)
        assert int(redis_client.hget(shard_keys.key(keys.STATS), Stat.QUEUED)) == len(hosts)

    leased = _crawl(frontier, pages_per_host=6)

    expected = sorted(f"http://{host}/p/{number}" for host in HOSTS for number in range(6))
    assert sorted(leased) == expected, "every URL once, whichever shard found it"
    stats = frontier.stats()
    assert (stats.state, stats.seen, stats.stored, stats.queued, stats.leased) == (JobState.FINISHED, 54, 54, 0, 0)
    assert stats.finished_at is not None


def test_the_job_is_not_finished_while_one_shard_still_has_work(redis_client):
    frontier = _sharded(redis_client)
    first, second = (hosts[0] for _, hosts in sorted(_hosts_by_shard().items())[:2])
    frontier.add(Found.seeds([f"http://{first}/"]))
    (lease,) = frontier.tick().leases

    done = frontier.complete(lease, failed=False, found=Found(0, (f"http://{second}/",)))

    assert frontier.state() == JobState.RUNNING, "the link went to another shard before this one finished"
    (other,) = done.handoff or frontier.tick().leases
    assert other.url == f"http://{second}/"
    frontier.complete(other, failed=False, found=Found(1))
    frontier.tick()
    assert frontier.state() == JobState.FINISHED


@pytest.mark.parametrize("max_pages", [1, 7, 40])
def test_max_pages_is_kept_exactly_across_shards(redis_client, max_pages):
    frontier = _sharded(redis_client, max_pages=max_pages, host_concurrency=4, dispatch_window=12)
    frontier.add(Found.seeds([f"http://{host}/p/0" for host in HOSTS]))
    # One lease dropped unrun gives its URL, and its share of the budget, back.
    first = frontier.tick().leases
    assert frontier.hand_back(first[:1]) == 1

    leased = _crawl(frontier, pages_per_host=50, pending=first[1:])

    assert len(leased) == len(set(leased)) == max_pages
    stats = frontier.stats()
    assert (stats.state, stats.dispatched, stats.stored) == (JobState.FINISHED, max_pages, max_pages)
    assert stats.queued > 0 and stats.dropped["max_pages"] == stats.queued


def test_a_larger_max_pages_carries_a_finished_sharded_job_on(redis_client):
    frontier = _sharded(redis_client, max_pages=5)
    frontier.add(Found.seeds([f"http://{host}/p/0" for host in HOSTS]))
    assert len(_crawl(frontier, pages_per_host=1)) == 5

    frontier.create(frontier.policy().merged(max_pages=9))
    frontier.add(Found.seeds([f"http://{HOSTS[0]}/p/0"]))

    assert frontier.state() == JobState.RUNNING
    assert len(_crawl(frontier, pages_per_host=1)) == 4
    assert frontier.stats().dispatched == 9


def test_a_recrawl_pass_spans_every_shard(redis_client):
    frontier = _sharded(redis_client)
    urls = [f"http://{host}/p/0" for host in HOSTS]
    frontier.add(Found.seeds(urls))
    _crawl(frontier, pages_per_host=1)

    feed = frontier.recrawl()
    due = [Revisit(url, RecordKind.PAGE, 0, Prior(url, "2026-12-01T00:00:00.000Z")) for url in urls]
    assert frontier.revisit(due, done=True, feed=feed) == len(HOSTS)
    assert frontier.state() == JobState.RUNNING and frontier.feeding() is None

    revisited = _crawl(frontier, pages_per_host=0)
    assert sorted(revisited) == sorted(urls)
    stats = frontier.stats()
    assert (stats.state, stats.revisited, stats.stored) == (JobState.FINISHED, len(HOSTS), len(HOSTS))


def test_seen_answers_per_url_in_the_order_asked(redis_client):
    frontier = _sharded(redis_client)
    known = [f"http://{host}/known" for host in HOSTS]
    frontier.add(Found.seeds(known))
    unknown = [f"http://{host}/unknown" for host in HOSTS]

    asked = [url for pair in zip(known, unknown, strict=True) for url in pair]
    assert frontier.seen(asked) == [True, False] * len(HOSTS)


def test_the_number_of_shards_is_fixed_when_the_job_is_created(redis_client):
    frontier = Frontier(redis_client, "fixed")
    settings = Settings.load()
    seed(frontier, settings, ["http://a.example/"], {"frontier_shards": 4, "allow_private": True})

    seed(frontier, settings, ["http://b.example/"], {})
    assert frontier.policy().frontier_shards == 4, "a re-seed keeps the job's shards"
    with pytest.raises(ConfigError, match="4 shard"):
        seed(frontier, settings, ["http://c.example/"], {"frontier_shards": 2})


def test_forget_removes_every_shard(redis_client):
    frontier = _sharded(redis_client)
    frontier.add(Found.seeds([f"http://{host}/" for host in HOSTS]))

    frontier.forget()

    assert not any(redis_client.scan_iter(match="crawler:{sharded*"))


def test_disallowed_links_are_settled_in_their_own_shards_as_the_page_completes(redis_client):
    frontier = _sharded(redis_client)
    hosts = [hosts[0] for _, hosts in sorted(_hosts_by_shard().items())]
    frontier.add(Found.seeds([f"http://{hosts[0]}/"]))
    (lease,) = frontier.tick().leases
    blocked = [(f"http://{host}/private", RecordKind.PAGE) for host in hosts]

    frontier.complete(lease, failed=False, found=Found(0), blocked=blocked)
    stats = frontier.stats()

    assert stats.blocked == SHARDS and stats.blocked_hosts == {host: 1 for host in hosts}
    assert (stats.stored, stats.errors) == (1 + SHARDS, SHARDS), "each one's record is counted, with its error"
    assert frontier.seen([url for url, _ in blocked]) == [True] * SHARDS
    assert frontier.state() == JobState.FINISHED, "nothing was scheduled for them"
