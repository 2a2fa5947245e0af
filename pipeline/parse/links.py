"""Link and title extraction from HTML with BeautifulSoup and lxml: what the crawler
itself reads of every page, the job's extractors reading the whole Page (page.py).

Only the elements that matter (``a``, ``area``, ``base``, ``title``, ``meta``) are
built into the tree, chosen in lxml's C code (pipeline/parse/soup.py): about a third of the
cost of bs4's own lxml builder with a SoupStrainer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin

from bs4 import Tag

from pipeline.parse.soup import strained_soup
from pipeline.urls import canonicalize

_WANTED = ("a", "area", "base", "title", "meta")
_LINKING = frozenset(("a", "area"))


@dataclass
class Links:
    """What a page tells the crawler: its title, and the links it may follow (none when
    its robots meta tag says nofollow)."""

    title: str | None = None
    outlinks: list[str] = field(default_factory=list)
    nofollow: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_html(
    html: str, url: str, max_outlinks: int = 1000, max_url_length: int = 2048, drop_params: tuple[str, ...] = ()
) -> Links:
    """Title and canonical http(s) outlinks of `html`, fetched from `url`."""
    # The strained soup holds little besides the wanted tags: one walk lists them, and
    # the readers below look through that short list. Four bs4 searches of the soup, one
    # per reader, took 0.19 ms of a 1.24 ms parse of a 27-link page.
    tags = [node for node in strained_soup(html, _WANTED).descendants if isinstance(node, Tag)]
    base = _base_url(tags, url)
    found = Links(title=_title(tags), nofollow=_meta_nofollow(tags))
    if found.nofollow:
        return found
    seen: set[str] = set()
    for tag in tags:
        if tag.name not in _LINKING or not tag.has_attr("href") or "nofollow" in _rel(tag):
            continue
        try:
            link = canonicalize(urljoin(base, _attr(tag, "href").strip()), drop_params)
        except ValueError:
            continue
        if link is None or len(link) > max_url_length or link in seen:
            continue
        seen.add(link)
        found.outlinks.append(link)
        if len(found.outlinks) >= max_outlinks:
            break
    return found


def _base_url(tags: list[Tag], url: str) -> str:
    base = next((tag for tag in tags if tag.name == "base" and tag.has_attr("href")), None)
    if base is None:
        return url
    try:
        return urljoin(url, _attr(base, "href").strip())
    except ValueError:
        return url


def _title(tags: list[Tag]) -> str | None:
    tag = next((tag for tag in tags if tag.name == "title"), None)
    if tag is None:
        return None
    text = " ".join(tag.get_text().split())
    return text or None


def _meta_nofollow(tags: list[Tag]) -> bool:
    for meta in tags:
        if meta.name != "meta" or not (meta.has_attr("name") and meta.has_attr("content")):
            continue
        if _attr(meta, "name").strip().lower() == "robots":
            directives = {part.strip().lower() for part in _attr(meta, "content").split(",")}
            if directives & {"nofollow", "none"}:
                return True
    return False


def _rel(tag: Tag) -> set[str]:
    """The lower-cased tokens of `rel`, whether bs4 split it into a list or not."""
    return {token.lower() for value in tag.get_attribute_list("rel") for token in value.split()}


def _attr(tag: Tag, name: str) -> str:
    """A single-valued attribute (href, name, content) as text: bs4 types every value as
    a string or a list, lists being for multi-valued attributes such as `rel`."""
    return " ".join(tag.get_attribute_list(name))
