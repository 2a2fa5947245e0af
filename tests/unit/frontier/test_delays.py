"""A host's effective delay: the largest of its own (its rule's or the job's), the
adaptive one (factor x last response time, capped) and its robots.txt Crawl-delay, and
the source `crawler status --host` names for it."""

from __future__ import annotations

import json

import pytest

from pipeline.frontier import DelaySource
from pipeline.frontier.delays import adaptive, effective, script_rules
from pipeline.settings import Policy

RULES = ("slow.example delay=3", "*.busy.example host_concurrency=4", "bot.example robots=off")


@pytest.mark.parametrize(
    ("factor", "last", "cap", "expected"),
    [(0.0, 5.0, 60.0, 0.0), (2.0, 0.3, 60.0, 0.6), (10.0, 9.0, 60.0, 60.0), (1.0, 0.0, 60.0, 0.0)],
)
def test_the_adaptive_delay_is_factor_times_the_last_response_at_most_the_cap(factor, last, cap, expected):
    assert adaptive(factor, last, cap) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "host", "crawl_delay", "last", "delay", "source"),
    [
        (Policy(delay=1.0), "a.example", 0.0, None, 1.0, DelaySource.POLICY),
        (Policy(delay=1.0, delay_factor=5.0), "a.example", 0.0, 0.1, 1.0, DelaySource.POLICY),  # clamped up
        (Policy(delay=1.0, delay_factor=5.0), "a.example", 0.0, 0.4, 2.0, DelaySource.ADAPTIVE),
        (Policy(delay=1.0, delay_factor=5.0, max_delay=3.0), "a.example", 0.0, 10.0, 3.0, DelaySource.ADAPTIVE),
        (Policy(delay=1.0, delay_factor=5.0, max_delay=3.0), "a.example", 4.0, 10.0, 4.0, DelaySource.ROBOTS),
        (Policy(delay=1.0, host_rules=RULES), "slow.example", 0.0, None, 3.0, DelaySource.HOST_FILE),
        (Policy(delay=1.0, host_rules=RULES), "slow.example", 5.0, None, 5.0, DelaySource.ROBOTS),
        (Policy(delay=1.0, delay_factor=2.0, host_rules=RULES), "slow.example", 0.0, 1.0, 3.0, DelaySource.HOST_FILE),
        (Policy(delay=1.0, host_rules=RULES), "bot.example", 0.0, None, 1.0, DelaySource.POLICY),
    ],
)
def test_the_effective_delay_is_the_largest_and_names_its_source(policy, host, crawl_delay, last, delay, source):
    found = effective(policy, host, crawl_delay, last)

    assert (found.delay, found.source) == (pytest.approx(delay), source)


def test_the_status_has_the_hosts_rule_concurrency_robots_and_user_agent():
    found = effective(Policy(host_rules=RULES, user_agent="JobBot"), "x.busy.example:8080", 0.0, None)

    assert (found.rule, found.host_concurrency, found.robots, found.user_agent) == ("*.busy.example", 4, True, "JobBot")
    assert json.loads(json.dumps(found.to_json()))["source"] == "policy"


def test_the_scripts_get_only_the_rules_that_set_a_delay_or_a_concurrency():
    assert {pattern: json.loads(value) for pattern, value in script_rules(RULES).items()} == {
        "slow.example": {"delay": 3.0}, "*.busy.example": {"conc": 4},
    }
