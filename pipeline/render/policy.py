"""Which fetched pages go to the browser: under `render=always`, every page that came
back whole as HTML; never a failure, a redirect's end that is not HTML, a 304 (nothing
new to render) or a sitemap."""

from __future__ import annotations

from pipeline.fetch import FetchResult
from pipeline.settings import RENDER_ALWAYS, Policy

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def wants_render(policy: Policy, result: FetchResult, sitemap: bool = False) -> bool:
    """Whether `result` is rendered before it is parsed."""
    return (
        policy.render == RENDER_ALWAYS
        and not sitemap
        and result.error is None
        and result.text is not None
        and result.status is not None
        and 200 <= result.status < 300
        and (result.content_type is None or result.content_type in HTML_TYPES)
    )
