"""Which links a job follows: the seeds' hosts and allowed domains (scope hosts), every
host (scope any), never a denied domain; and how max_hosts is split over a job's
shards for the frontier's scripts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.errors import ConfigError
from pipeline.frontier import Found, RecordKind, in_policy_scope
from pipeline.frontier.calls import host_cap
from pipeline.settings import Policy

HOSTS = Policy(scope_hosts=("seed.example",), allowed_domains=("friend.example",))
ANY = HOSTS.merged(scope="any")
LINKS = ("http://seed.example/a", "http://www.friend.example/b", "http://stranger.example/c",
         "http://ads.tracker.example/d")


def _followed(policy: Policy, depth: int = 0) -> list[str]:
    return [url for url, _ in Found(depth, LINKS).entries(policy)]


def test_scope_hosts_follows_the_seeds_hosts_and_allowed_domains_only():
    assert _followed(HOSTS) == list(LINKS[:2])


def test_scope_any_follows_links_to_every_host():
    assert _followed(ANY) == list(LINKS)


@pytest.mark.parametrize("policy", [HOSTS, ANY])
def test_a_denied_domain_and_its_subdomains_are_never_followed_whatever_the_scope(policy):
    denied = policy.merged(deny_domains=("tracker.example", "Friend.Example"))

    assert _followed(denied) == ["http://seed.example/a"] + (["http://stranger.example/c"] if policy is ANY else [])


def test_a_denied_domain_is_not_a_suffix_trick():
    assert in_policy_scope("http://nottracker.example/", ANY.merged(deny_domains=("tracker.example",)))


def test_a_seed_of_a_denied_domain_is_dropped_and_other_seeds_are_in_whatever_the_scope():
    seeds = Found.seeds(["http://new.example/", "http://www.tracker.example/"])

    assert seeds.entries(HOSTS.merged(deny_domains=("tracker.example",))) == [("http://new.example/", RecordKind.PAGE)]


def test_a_redirect_is_judged_like_a_link():
    assert not in_policy_scope("http://stranger.example/", HOSTS)
    assert in_policy_scope("http://stranger.example/", ANY)
    assert not in_policy_scope("http://stranger.example/", ANY.merged(deny_domains=("stranger.example",)))


def test_an_unknown_scope_is_a_config_error():
    with pytest.raises(ConfigError, match="CRAWLER_SCOPE must be one of hosts, any"):
        Policy(scope="everything")


def test_max_hosts_applies_to_scope_any_alone():
    assert host_cap(HOSTS.merged(max_hosts=5), 0) == -1
    assert host_cap(ANY.merged(max_hosts=5), 0) == 5
    assert host_cap(ANY.merged(max_hosts=0), 0) == -1, "0 is no limit"


def test_max_hosts_is_split_over_the_shards_to_the_same_sum():
    policy = ANY.merged(max_hosts=10, frontier_shards=4)

    assert [host_cap(policy, shard) for shard in range(4)] == [3, 3, 2, 2]
    assert [host_cap(ANY.merged(max_hosts=1, frontier_shards=3), shard) for shard in range(3)] == [1, 0, 0]


def test_the_links_in_scope_follow_the_policy_asked_and_a_copys_own_links():
    """entries() keeps its last answer for the same policy object (a page's store step
    asks up to three times); another policy, or a copy with other links, is judged anew."""
    found = Found(0, LINKS)
    assert [url for url, _ in found.entries(HOSTS)] == list(LINKS[:2])
    assert [url for url, _ in found.entries(ANY)] == list(LINKS)
    copy = replace(found, pages=("http://stranger.example/e", "http://seed.example/f"))
    assert [url for url, _ in copy.entries(HOSTS)] == ["http://seed.example/f"]
