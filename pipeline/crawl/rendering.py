"""The render=auto evidence of a job's hosts, shared by every worker through one Redis
hash: per host, the samples reserved and taken in, their sums (links and text, as
fetched and as rendered), the verdict and what it rests on (the sums it was made from,
as JSON), the pages since the verdict and how many go between checks. A host's samples
are reserved atomically (lua/render_choice.lua), so workers racing on its first pages
render CRAWLER_RENDER_SAMPLE of them, not every page fetched before the verdict; those
pages wait for it instead. A verdict that a check confirms holds twice as long before
the next check. Each process keeps the verdicts it read for a few pages.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import Any

from pipeline.frontier import Frontier
from pipeline.keys import RENDER_HOSTS
from pipeline.render import Choice, Decision, Evidence, Measure, Reason
from pipeline.settings import Policy

_COUNTS = ("sampled", "plain_links", "rendered_links", "plain_text", "rendered_text")
# A sample reserved and not taken in within this many times the page's render budget
# (its worker died) is given back, so the host's waiting pages get their verdict.
HOLD_BUDGETS = 2.0
# Pages of a host decided by its verdict as this process last read it before asking
# Redis again: a check (or another process's new verdict) is seen this many pages late.
KEPT_PAGES = 32
# A check that confirms a verdict doubles the pages before the next, up to this many
# times CRAWLER_RENDER_RECHECK.
MOST_RECHECK_GROWTH = 8


@dataclass(frozen=True)
class HostVerdict:
    """A host's state as `crawler status` shows it."""

    host: str
    choice: Choice | None  # None: still sampling for its first verdict
    evidence: str
    sampled: int

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "choice": self.choice, "evidence": self.evidence, "sampled": self.sampled}


@dataclass(frozen=True)
class _Kept:
    """A verdict a process goes by: `used` pages since it asked Redis, `allowed` before
    it asks again."""

    decision: Decision
    used: int
    allowed: int


class RenderHosts:
    """The job's hosts under render=auto."""

    def __init__(self, frontier: Frontier) -> None:
        self.frontier = frontier
        self.client = frontier.redis
        self.key = frontier.keyring.shard(0).key(RENDER_HOSTS)
        # Verdicts this process goes by without asking Redis, by host.
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def decide(self, host: str, policy: Policy) -> Decision:
        """What becomes of the host's next page: one of its CRAWLER_RENDER_SAMPLE
        samples, PENDING while those are out and no verdict is in, else its verdict with
        the evidence it rests on; after CRAWLER_RENDER_RECHECK pages (more once checks
        agree) its samples start again, the verdict holding meanwhile. A verdict is kept
        here for up to KEPT_PAGES pages, counted to Redis in one call after, so a host
        under its verdict costs a round trip every few dozen pages, not every page."""
        with self._lock:
            kept = self._kept.pop(host, None)
            if kept is not None and kept.used < kept.allowed:
                self._kept[host] = replace(kept, used=kept.used + 1)
                return kept.decision
        choice, evidence, left = self.frontier.render_choice(
            host, policy.render_sample, policy.render_recheck, HOLD_BUDGETS * policy.render_timeout,
            pages=1 + (kept.used if kept is not None else 0))
        if choice == Choice.SAMPLE:
            return Decision(Choice.SAMPLE, Reason.SAMPLE)
        if choice == Choice.PENDING:
            return Decision(Choice.PENDING, Reason.SAMPLE)
        decision = Decision(Choice(choice), Reason.VERDICT, _evidence(evidence))
        with self._lock:
            self._kept[host] = _Kept(decision, 0, min(KEPT_PAGES, left - 1))
        return decision

    def forfeit(self, host: str) -> None:
        """Give back a sample reservation whose render failed, for another page to take."""
        self.client.hincrby(self.key, f"{host} taken", -1)

    def sample(self, host: str, plain: Measure, rendered: Measure, policy: Policy) -> Choice | None:
        """Add one page measured both ways; the verdict once the host has its samples."""
        pipe = self.client.pipeline(transaction=False)
        for name, value in zip(_COUNTS, (1, plain.links, rendered.links, plain.text, rendered.text), strict=True):
            pipe.hincrby(self.key, f"{host} {name}", value)
        pipe.hmget(self.key, [f"{host} verdict", f"{host} every"])
        sampled, *sums, (before, every) = pipe.execute()
        if sampled < policy.render_sample:
            return None
        evidence = Evidence(sampled, Measure(sums[0], sums[2]), Measure(sums[1], sums[3]))
        verdict = evidence.verdict(policy.render_gain)
        self.client.hset(self.key, mapping={
            f"{host} verdict": verdict.value, f"{host} evidence": json.dumps(evidence.to_json()), f"{host} since": 0,
            f"{host} every": _next_check(policy.render_recheck, before, every, verdict)})
        return verdict

    def verdicts(self) -> list[HostVerdict]:
        """Every host's state, hosts in name order."""
        fields = {_text(key): _text(value) for key, value in self.client.hgetall(self.key).items()}
        hosts = sorted({name.rsplit(" ", 1)[0] for name in fields})
        return [_verdict(host, fields) for host in hosts]

    def verdict(self, host: str) -> HostVerdict:
        """One host's state (sampling none so far, when it has no page yet)."""
        names = [f"{host} {name}" for name in ("verdict", "evidence", "sampled")]
        values = self.client.hmget(self.key, names)
        return _verdict(host, {name: _text(value) for name, value in zip(names, values, strict=True)
                               if value is not None})


def _verdict(host: str, fields: dict[str, str]) -> HostVerdict:
    verdict, evidence = fields.get(f"{host} verdict"), _evidence(fields.get(f"{host} evidence"))
    return HostVerdict(
        host,
        None if verdict is None else Choice(verdict),
        "" if evidence is None else evidence.summary(),
        int(fields.get(f"{host} sampled", 0)),
    )


def _next_check(recheck: int, before: bytes | None, every: bytes | None, verdict: Choice) -> int:
    """Pages until the host's next check: twice as many as last time when the check
    kept the verdict, CRAWLER_RENDER_RECHECK after a first or a changed verdict."""
    if before is None or _text(before) != verdict.value:
        return recheck
    return min(2 * int(every or recheck), MOST_RECHECK_GROWTH * recheck)


def _evidence(value: bytes | str | None) -> Evidence | None:
    return None if value is None else Evidence.from_json(json.loads(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
