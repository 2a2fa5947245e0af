"""Sitemaps (sitemaps.org): the pages a site lists itself, including ones no link
reaches. Found through robots.txt's ``Sitemap:`` lines and ``/sitemap.xml``; a urlset
gives page URLs, a sitemap index gives more sitemaps. Parsed incrementally with lxml,
with entities and network access off, and bounded in size and count."""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml import etree
from protego import Protego

from pipeline.fetch import PermanentFetchError
from pipeline.urls import canonicalize

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Sitemap:
    """What one sitemap file lists: pages, and (for an index) further sitemaps."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def sitemap_locations(robots_body: str, site: str) -> list[str]:
    """Sitemaps of `site` (scheme://host): those robots.txt names (relative ones read
    against the site, as some sites write them), then /sitemap.xml."""
    named = [url for url in (_absolute(site, u) for u in Protego.parse(robots_body).sitemaps) if url]
    return list(dict.fromkeys([*named, f"{site}/sitemap.xml"]))


def parse_sitemap(
    body: bytes, max_urls: int, max_bytes: int, drop_params: tuple[str, ...] = (), max_url_length: int = 2048
) -> Sitemap:
    """The canonical URLs `body` lists (gzip or plain XML); at most `max_urls` of them."""
    if body[:2] == GZIP_MAGIC:
        body = _gunzip(body, max_bytes)
    found = Sitemap()
    parser = etree.iterparse(
        io.BytesIO(body), events=("end",), resolve_entities=False, no_network=True, huge_tree=False, recover=True
    )
    try:
        for _, element in parser:
            if _local(element.tag) == "loc" and element.text:
                parent = _local(element.getparent().tag) if element.getparent() is not None else ""
                url = canonicalize(element.text.strip(), drop_params)
                if url is not None and len(url) <= max_url_length:
                    (found.sitemaps if parent == "sitemap" else found.pages).append(url)
                if len(found.pages) + len(found.sitemaps) >= max_urls:
                    break
            elif _local(element.tag) in ("url", "sitemap"):
                element.clear()
    except etree.XMLSyntaxError:
        pass
    return found


def _absolute(site: str, location: str) -> str | None:
    try:
        return canonicalize(urljoin(site + "/", location.strip()))
    except ValueError:
        return None


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error):
        raise PermanentFetchError("undecodable gzip sitemap") from None
    if len(data) > max_bytes:
        raise PermanentFetchError("too large")
    return data


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
