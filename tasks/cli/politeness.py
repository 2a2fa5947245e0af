"""`crawler status --job J --host HOST`: what one host of a job crawls with now (delay,
concurrency, robots.txt, user agent, render mode) and where its delay and render mode
come from. A module of its own, apart from the live view's layout in progress.py."""

from __future__ import annotations

from pipeline.crawl import Choice, HostVerdict
from pipeline.frontier import DelaySource, HostDelay
from pipeline.urls import host_key


def host_of(given: str) -> str:
    """The host key a user means: `example.org`, `example.org:8080`, or a URL of it."""
    return host_key(given).lower() if "://" in given else given.strip().lower()


RENDER_CHOICES = {Choice.RENDER: "pages rendered", Choice.PLAIN: "pages not rendered"}


def host_lines(job: str, view: HostDelay, verdict: HostVerdict | None = None) -> list[str]:
    """The host's lines; `verdict` is its render=auto state, when its mode is auto."""
    rule = f"rule {view.rule} of the host policy file" if view.rule else "no rule of the host policy file"
    lines = [
        f"host {view.host} of job {job}: delay {view.delay:.2f} s, from {_source(view)}",
        f"  host_concurrency {view.host_concurrency}, robots.txt {'obeyed' if view.robots else 'ignored'}, "
        f"user agent {view.user_agent!r} ({rule})",
        f"  render {view.render}, from " + (f"rule {view.rule} of the host policy file"
                                           if view.render_source == DelaySource.HOST_FILE
                                           else "the job's policy (--render)"),
    ]
    if verdict is not None:
        lines.append(f"  render=auto: {verdict_text(verdict)}")
    if view.last_response is not None:
        lines.append(f"  last response time {view.last_response:.3f} s")
    if view.crawl_delay:
        lines.append(f"  robots.txt Crawl-delay {view.crawl_delay:g} s")
    return lines


def _source(view: HostDelay) -> str:
    if view.source == DelaySource.POLICY:
        return "the job's policy (--delay)"
    return f"{view.source} ({view.why})" if view.why else str(view.source)


def verdict_text(verdict: HostVerdict) -> str:
    """A host's render=auto state: its verdict and the evidence it rests on, or how far
    its sampling has got."""
    if verdict.choice is None:
        return f"sampling ({verdict.sampled} pages so far)"
    return RENDER_CHOICES[verdict.choice] + (f"; {verdict.evidence}" if verdict.evidence else "")
