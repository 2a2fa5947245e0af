"""The built-in extractors, `text` and `metadata`, named without a module.

Most users of a crawler want one of two things from an HTML page, the article it carries
or the structured data it declares, and both are hard to get right by hand: telling the
main text from navigation and boilerplate is trafilatura's whole job, and JSON-LD,
OpenGraph and microdata each have their own parsing rules, which extruct knows. So they
ship with the crawler instead of being rewritten in every job.

Both are ordinary extractors (`f(page)` yielding dicts), held to what a user's extractor
is held to: one item per HTML page at most and none for other pages, values that
`json.dumps` takes (strict JSON: no NaN), nothing fetched, and no exception for structured
data a page gets wrong, such as JSON-LD that does not parse. They see the page
through the small `PageLike` protocol below, the part of pipeline/parse/page.py's Page
they read, so that their tests can hand them a stand-in.

`text` runs trafilatura favouring precision, in its fast mode (without the fallback
algorithms it would run and compare on every page: 8.8 ms instead of 12 ms a page on the
benchmark site's 30 KB pages, with the same results on the test articles), without
comments or deduplication, so the same page always gives the same item. Date search
is not "extensive": that mode guesses from free text and takes a footer's "© 2024" for
a publication date of 2024-01-01. trafilatura reports a language
only through an optional classifier this project does not install, so `language` is what
the page declares (`<html lang>`, else a Content-Language or og:locale meta tag).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import extruct
import lxml.etree
import lxml.html
import trafilatura
from bs4 import BeautifulSoup
from bs4.element import Tag
from trafilatura.settings import Document

LOGGER = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_FIELDS = ("title", "text", "author", "date", "language")
# htmldate's options: the publication date rather than the last update, from markup only.
DATE_PARAMS: dict[str, Any] = {"original_date": True, "extensive_search": False}


class PageLike(Protocol):
    """What the built-ins read of a page (pipeline/parse/page.py's Page has all of it)."""

    @property
    def text(self) -> str | None: ...

    @property
    def final_url(self) -> str: ...

    @property
    def content_type(self) -> str | None: ...

    @property
    def soup(self) -> BeautifulSoup: ...


def html_text(page: PageLike) -> str | None:
    """The page's document if it is HTML (or XHTML) with decoded text, else None; content
    type parameters (`; charset=…`) and case do not matter."""
    document, content_type = page.text, page.content_type
    if document is None or not content_type:
        return None
    return document if content_type.split(";", 1)[0].strip().lower() in HTML_TYPES else None


def text(page: PageLike) -> Iterator[dict[str, Any]]:
    """The main content of an HTML page: one item with `title`, `text` (the main text, no
    navigation or boilerplate), `author`, `date` (ISO, YYYY-MM-DD) and `language`, each
    present only when found. A page where trafilatura finds no main text still gives an
    item with the metadata it found; a page where none of title, text, author and date is
    found gives no item (a declared language alone says nothing of the page)."""
    document_text = html_text(page)
    if document_text is None:
        return
    tree = trafilatura.load_html(document_text)
    if tree is None:
        return
    url = page.final_url or None
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        fast=True,
        include_comments=False,
        with_metadata=True,
        date_extraction_params=DATE_PARAMS,
    )
    if not isinstance(document, Document):
        # no main text: keep what the metadata says (bare_extraction dropped it with the text)
        document = trafilatura.extract_metadata(tree, url, date_config=DATE_PARAMS, extensive=False)
        document.text = None
    item: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        value = getattr(document, field, None)
        if isinstance(value, str) and (value := _tidy(value)):
            item[field] = value
    if not item.keys() - {"language"}:
        return
    if "language" not in item and (language := declared_language(tree)):
        item["language"] = language
    yield item


def _tidy(value: str) -> str:
    """`value` with the runs of spaces inside each line (indentation from the markup that
    trafilatura keeps where a block holds inline elements) made one space, and no blank lines."""
    return "\n".join(" ".join(words) for line in value.splitlines() if (words := line.split()))


def declared_language(tree: lxml.html.HtmlElement) -> str | None:
    """The language the document declares: `<html lang>` (or `xml:lang`), else a
    Content-Language or og:locale meta tag; the first one if several are listed."""
    root = tree.getroottree().getroot()
    # an HTML parser keeps XHTML's xml:lang as a plain attribute of that name
    candidates = [root.get("lang"), root.get("xml:lang")]
    for meta in root.iterfind(".//meta[@content]"):
        equiv, prop = (meta.get("http-equiv") or "").strip().lower(), (meta.get("property") or "").strip()
        if equiv == "content-language" or prop == "og:locale":
            candidates.append(meta.get("content"))
    for candidate in candidates:
        tokens = (candidate or "").replace(",", " ").split()
        if tokens:
            return tokens[0].replace("_", "-")
    return None


def metadata(page: PageLike) -> Iterator[dict[str, Any]]:
    """The structured data an HTML page declares: one item with `json_ld` (list of the
    JSON-LD objects, as written), `opengraph` (property → content, e.g. "og:title"),
    `microdata` (list of items in extruct's W3C microdata format: `type`, `properties`)
    and `meta` (each `<meta name|property=… content=…>`: lowercased name, or property as
    written → content). Every key is always present, empty when the page has none; the
    first value wins where a name repeats. JSON-LD that cannot be parsed is skipped, one
    `<script>` at a time."""
    document_text = html_text(page)
    if document_text is None:
        return
    tree = _lxml_tree(document_text)
    found: dict[str, Any] = {}
    if tree is not None:
        found = extruct.extract(
            tree,
            base_url=page.final_url or None,
            syntaxes=["json-ld", "opengraph", "microdata"],
            errors="ignore",
            uniform=False,
        )
        if "json-ld" not in found:
            # one bad script made extruct drop them all: keep those that parse
            found["json-ld"] = _json_ld_by_script(tree)
    yield {
        "json_ld": [_jsonable(obj) for obj in found.get("json-ld", []) if isinstance(obj, dict)],
        "opengraph": _opengraph(found.get("opengraph", [])),
        "microdata": [_jsonable(obj) for obj in found.get("microdata", []) if isinstance(obj, dict)],
        "meta": _meta_tags(page.soup),
    }


def _lxml_tree(document: str) -> lxml.html.HtmlElement | None:
    """The page as extruct parses it, but from UTF-8 bytes: lxml refuses a str that
    carries an XML encoding declaration, as XHTML pages may."""
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        tree: lxml.html.HtmlElement = lxml.html.fromstring(document.encode("utf-8", "replace"), parser=parser)
    except (lxml.etree.ParserError, ValueError):  # an empty document, mostly
        return None
    return tree


def _json_ld_by_script(tree: lxml.html.HtmlElement) -> list[Any]:
    extractor = extruct.JsonLdExtractor()
    objects: list[Any] = []
    for script in tree.iterfind('.//script[@type="application/ld+json"]'):
        try:
            objects.extend(extractor.extract_items(script))
        except Exception:  # extruct raises whatever json/jstyleson raise
            LOGGER.debug("skipping a JSON-LD script that does not parse", exc_info=True)
    return objects


def _opengraph(found: Iterable[dict[str, Any]]) -> dict[str, str]:
    """extruct's OpenGraph objects ({"namespace", "properties": [(property, content)]})
    as one dict; the first non-empty content of a repeated property wins."""
    flat: dict[str, str] = {}
    for obj in found:
        for prop, content in obj.get("properties", []):
            if isinstance(prop, str) and isinstance(content, str) and (prop not in flat or not flat[prop].strip()):
                flat[prop] = content
    return flat


def _meta_tags(soup: BeautifulSoup) -> dict[str, str]:
    meta: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        if not isinstance(tag, Tag):
            continue
        content = tag.get("content")
        if not isinstance(content, str):
            continue
        name, prop = tag.get("name"), tag.get("property")
        keys = [name.strip().lower() if isinstance(name, str) else "", prop.strip() if isinstance(prop, str) else ""]
        for key in keys:
            if key and key not in meta:
                meta[key] = content.strip()
    return meta


def _jsonable(value: Any) -> Any:
    """`value` with only what JSON has: NaN and infinities (which json.loads accepts but
    JSON does not) become None, tuples lists, keys strings, anything else its str()."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return str(value)


BUILTINS: dict[str, Callable[..., Iterable[dict[str, Any]]]] = {"text": text, "metadata": metadata}

__all__ = ["BUILTINS", "PageLike", "metadata", "text"]
