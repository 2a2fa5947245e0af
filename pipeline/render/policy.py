"""Which fetched pages go to the browser. Only a page that came back whole as HTML may
(never a failure, a 304, a sitemap or another type). Under `render=always` each does;
under `auto` a host's first pages are samples, rendered and measured both ways (links
and visible text, as fetched and as rendered), and the verdict from those says whether
the host's later pages are rendered; after CRAWLER_RENDER_RECHECK pages it is sampled
again. The verdict is pure (`Evidence.verdict`); the counts live in Redis (crawl). What
was decided for a page, and why, travels with it to its record (`Decision`)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import lxml.html
from lxml import etree

from pipeline.fetch import FetchResult
from pipeline.settings import RENDER_ALWAYS, RENDER_NEVER, Policy

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# The browser must find at least this much more than the fetched page, and also
# CRAWLER_RENDER_GAIN times as much, for its pages to be worth rendering.
MIN_MORE_LINKS = 1
MIN_MORE_TEXT = 200
_INVISIBLE = ("script", "style", "noscript", "template")
_SPACE = re.compile(r"\s+")


class Choice(StrEnum):
    """What becomes of one page of a host: rendered to learn from, rendered, or not; or,
    under auto while the host's samples are out, held in the render stage until its
    verdict says which."""

    SAMPLE = "sample"
    RENDER = "render"
    PLAIN = "plain"
    PENDING = "pending"


@dataclass(frozen=True)
class Measure:
    """What a person would get from a page: its distinct links and its visible text."""

    links: int
    text: int


@dataclass(frozen=True)
class Evidence:
    """A host's samples, summed: links and visible characters as fetched and as rendered."""

    pages: int
    plain: Measure
    rendered: Measure

    def verdict(self, gain: float) -> Choice:
        """RENDER when the browser found materially more links or text, else PLAIN."""
        more_links = _more(self.plain.links, self.rendered.links, gain, MIN_MORE_LINKS)
        more_text = _more(self.plain.text, self.rendered.text, gain, MIN_MORE_TEXT)
        return Choice.RENDER if more_links or more_text else Choice.PLAIN

    def summary(self) -> str:
        """By how much, as `crawler status` shows it."""
        return (f"links {self.plain.links} -> {self.rendered.links}, text {self.plain.text:,} -> "
                f"{self.rendered.text:,} chars over {self.pages} pages")

    def to_json(self) -> dict[str, Any]:
        """`{"pages": 3, "plain": {"links": 0, "text": 90}, "rendered": {...}}`, as Redis
        and the record keep it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(data["pages"], Measure(**data["plain"]), Measure(**data["rendered"]))


class Reason(StrEnum):
    """Why a page went to the browser (or, under auto, did not), as its record says it;
    a host rule's reason is followed by the rule's pattern."""

    JOB = "job policy"
    HOST_RULE = "host rule"
    SAMPLE = "auto sample"
    VERDICT = "auto verdict"


@dataclass(frozen=True)
class Decision:
    """What was decided for one fetched page: its choice and why. `evidence` backs an
    auto choice: a verdict's, the host's samples summed; a sample's, the page itself
    measured both ways, once rendered."""

    choice: Choice
    reason: str
    evidence: Evidence | None = None

    @property
    def to_browser(self) -> bool:
        """Whether the page goes to the render stage (a pending one to wait there)."""
        return self.choice != Choice.PLAIN

    def to_json(self) -> dict[str, Any]:
        evidence = self.evidence.to_json() if self.evidence is not None else None
        return {"choice": self.choice.value, "reason": self.reason, "evidence": evidence}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Decision:
        evidence = data.get("evidence")
        return cls(Choice(data["choice"]), data["reason"], None if evidence is None else Evidence.from_json(evidence))


def always_reason(rule: str | None) -> str:
    """The reason of a page rendered because its host renders always: the job's policy,
    or the rule of pattern `rule` when that sets the mode."""
    return Reason.JOB.value if rule is None else f"{Reason.HOST_RULE} {rule}"


def _more(plain: int, rendered: int, gain: float, floor: int) -> bool:
    return rendered - plain >= max(floor, gain * plain)


def renderable(result: FetchResult, sitemap: bool = False) -> bool:
    """Whether `result` is a page a browser could be given: whole, 2xx, HTML."""
    return (
        not sitemap
        and result.error is None
        and result.text is not None
        and result.status is not None
        and 200 <= result.status < 300
        and (result.content_type is None or result.content_type in HTML_TYPES)
    )


def wants_render(policy: Policy, result: FetchResult, sitemap: bool = False) -> bool:
    """Whether `result` is rendered before it is parsed, as far as the job's policy
    alone says (under `auto` its host's verdict decides too)."""
    return policy.render != RENDER_NEVER and renderable(result, sitemap)


def always(policy: Policy) -> bool:
    return policy.render == RENDER_ALWAYS


def measure(html: str) -> Measure:
    """Distinct link targets and visible characters (runs of whitespace as one) of `html`."""
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return Measure(0, 0)
    links = {element.get("href", "").strip() for element in root.iter("a", "area") if element.get("href")}
    for element in list(root.iter(*_INVISIBLE)):
        element.drop_tree()
    body = root.find("body")
    text = _SPACE.sub(" ", body.text_content() if body is not None else "").strip()
    return Measure(len(links), len(text))
