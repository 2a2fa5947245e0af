"""A host's effective delay and why: its rule's delay or the job's, the adaptive delay
(delay_factor times its last response time, at most max_delay), or its robots.txt
Crawl-delay, whichever is largest. lib/schedule.lua's delay_of keeps the schedule by
the same sum in Redis; this is its explanation for `crawler status --host`, and the
rules table the scripts read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from pipeline.fetch import HostRule, for_host, parse_rules, rule_for
from pipeline.settings import Policy


class DelaySource(StrEnum):
    POLICY = "policy"
    HOST_FILE = "host policy file"
    ADAPTIVE = "adaptive"
    ROBOTS = "robots.txt Crawl-delay"


@dataclass(frozen=True)
class HostDelay:
    """What one host of a job crawls with now, and where its delay and render mode come from."""

    host: str
    delay: float
    source: DelaySource
    why: str  # the rule, or the sum of the adaptive delay ('' for the others)
    rule: str | None  # the pattern of the host policy file's rule that matches, if any
    last_response: float | None  # seconds its last request took, when one was recorded
    crawl_delay: float  # its robots.txt Crawl-delay (0: none)
    host_concurrency: int
    robots: bool
    user_agent: str
    render: str  # never, always or auto
    render_source: DelaySource  # the job's policy or the host policy file's rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def adaptive(factor: float, last_response: float, cap: float) -> float:
    """Heritrix's delay: `factor` times the last response time, at most `cap` (0 when off)."""
    return min(factor * last_response, cap) if factor > 0 else 0.0


def effective(policy: Policy, host: str, crawl_delay: float, last_response: float | None) -> HostDelay:
    """The delay of `host` under the job's `policy`, with its robots.txt `crawl_delay`
    and `last_response` time: the largest of its own (rule or job), the adaptive one and
    the Crawl-delay; the first of them on a tie."""
    own = for_host(policy, host)
    rule = rule_for(policy.host_rules, host)
    from_rule = rule is not None and rule.delay is not None
    fast = adaptive(policy.delay_factor, last_response or 0.0, policy.max_delay)
    choices = [
        (own.delay, DelaySource.HOST_FILE if from_rule else DelaySource.POLICY,
         f"rule {rule.pattern}" if from_rule and rule else ""),
        (fast, DelaySource.ADAPTIVE,
         f"{policy.delay_factor:g} x last response {last_response or 0.0:.3f} s, at most {policy.max_delay:g} s"),
        (crawl_delay, DelaySource.ROBOTS, ""),
    ]
    delay, source, why = max(choices, key=lambda choice: choice[0])
    render_source = DelaySource.HOST_FILE if rule is not None and rule.render is not None else DelaySource.POLICY
    return HostDelay(host, delay, source, why, rule.pattern if rule else None, last_response, crawl_delay,
                     own.host_concurrency, own.robots, own.user_agent, own.render, render_source)


def script_rules(lines: tuple[str, ...]) -> dict[str, str]:
    """The rules the frontier's scripts read (HOST_RULES): pattern -> JSON of the delay
    and concurrency it sets, for the rules that set either."""
    return {rule.pattern: json.dumps(_for_scripts(rule)) for rule in parse_rules("\n".join(lines), "host policy")
            if _for_scripts(rule)}


def _for_scripts(rule: HostRule) -> dict[str, float]:
    values: dict[str, float] = {}
    if rule.delay is not None:
        values["delay"] = rule.delay
    if rule.host_concurrency is not None:
        values["conc"] = rule.host_concurrency
    return values
