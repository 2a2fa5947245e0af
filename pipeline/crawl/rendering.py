"""The render=auto evidence of a job's hosts, shared by every worker through one Redis
hash: per host, the samples' sums (links and text, as fetched and as rendered), the
verdict and what it rests on (the sums it was made from, as JSON), and the pages since
the verdict. Counters are bumped atomically (HINCRBY); a sample more than
CRAWLER_RENDER_SAMPLE, from workers racing, only adds evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from pipeline.keys import RENDER_HOSTS, Keyring
from pipeline.render import Choice, Decision, Evidence, Measure, Reason
from pipeline.settings import Policy

_COUNTS = ("sampled", "plain_links", "rendered_links", "plain_text", "rendered_text")


@dataclass(frozen=True)
class HostVerdict:
    """A host's state as `crawler status` shows it."""

    host: str
    choice: Choice | None  # None: still sampling for its first verdict
    evidence: str
    sampled: int

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "choice": self.choice, "evidence": self.evidence, "sampled": self.sampled}


class RenderHosts:
    """The job's hosts under render=auto."""

    def __init__(self, client: redis.Redis, keyring: Keyring) -> None:
        self.client = client
        self.key = keyring.shard(0).key(RENDER_HOSTS)

    def decide(self, host: str, policy: Policy) -> Decision:
        """What becomes of the host's next page: a sample while its samples are fewer
        than CRAWLER_RENDER_SAMPLE, else its verdict with the evidence it rests on, until
        CRAWLER_RENDER_RECHECK pages after which its samples start again (the verdict
        holds meanwhile)."""
        sampled, verdict, evidence = self.client.hmget(
            self.key, [f"{host} sampled", f"{host} verdict", f"{host} evidence"])
        if verdict is None or int(sampled or 0) < policy.render_sample:
            return Decision(Choice.SAMPLE, Reason.SAMPLE)
        if self.client.hincrby(self.key, f"{host} since", 1) >= policy.render_recheck:
            self.client.hdel(self.key, *(f"{host} {name}" for name in (*_COUNTS, "since")))
            return Decision(Choice.SAMPLE, Reason.SAMPLE)
        return Decision(Choice(_text(verdict)), Reason.VERDICT, _evidence(evidence))

    def sample(self, host: str, plain: Measure, rendered: Measure, policy: Policy) -> Choice | None:
        """Add one page measured both ways; the verdict once the host has its samples."""
        pipe = self.client.pipeline(transaction=False)
        for name, value in zip(_COUNTS, (1, plain.links, rendered.links, plain.text, rendered.text), strict=True):
            pipe.hincrby(self.key, f"{host} {name}", value)
        sampled, *sums = pipe.execute()
        if sampled < policy.render_sample:
            return None
        evidence = Evidence(sampled, Measure(sums[0], sums[2]), Measure(sums[1], sums[3]))
        verdict = evidence.verdict(policy.render_gain)
        self.client.hset(self.key, mapping={f"{host} verdict": verdict.value,
                                            f"{host} evidence": json.dumps(evidence.to_json()), f"{host} since": 0})
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


def _evidence(value: bytes | str | None) -> Evidence | None:
    return None if value is None else Evidence.from_json(json.loads(value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
