"""The built-in extractors `text` (trafilatura) and `metadata` (extruct and the page's
soup) on saved pages, through a stand-in page that has what pipeline/parse/extractors.py's
PageLike asks for: the real libraries run, nothing is mocked."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from bs4 import BeautifulSoup

from pipeline.parse.extractors import BUILTINS, PageLike, metadata, text

ARTICLES = ["article_news.html", "article_blog.html"]


@dataclass
class StandInPage:
    text: str | None
    final_url: str = "https://news.example.com/2024/harbour/tidal-mill"
    content_type: str | None = "text/html; charset=utf-8"
    soup_builds: int = 0

    @cached_property
    def soup(self) -> BeautifulSoup:
        self.soup_builds += 1
        return BeautifulSoup(self.text or "", "lxml")


def page_of(sample: Callable[[str], str], name: str, **kwargs: Any) -> StandInPage:
    return StandInPage(sample(name), **kwargs)


def one(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The only item, after checking that it is strict JSON."""
    found = list(items)
    assert len(found) == 1, found
    json.dumps(found[0], allow_nan=False)
    return found[0]


def test_the_stand_in_is_what_the_builtins_read():
    page: PageLike = StandInPage("<html></html>")

    assert page.soup is page.soup
    assert BUILTINS["text"] is text
    assert BUILTINS["metadata"] is metadata
    assert set(BUILTINS) == {"text", "metadata"}


# --- text ---------------------------------------------------------------------------------


def test_text_of_a_news_article_is_its_story_without_the_furniture(sample):
    item = one(text(page_of(sample, "article_news.html")))

    assert item["title"] == "Harbour town votes to rebuild its tidal mill"
    body = item["text"]
    assert "original oak sluice frames had survived under a metre of silt" in body
    assert "We are putting the tide back to work." in body
    for boilerplate in [
        "Local Affairs",  # navigation
        "Regatta Results",
        "Tide Tables",
        "Subscribe Today",
        "Most Read",  # sidebar
        "Winter ferry timetable",
        "Get the Ledger delivered",
        "Copyright © 2024 Coastal Ledger Publishing Ltd",  # footer
        "Privacy Notice",
        "Contact the Newsroom",
    ]:
        assert boilerplate not in body, boilerplate
    assert item["author"] == "Morwenna Trelawny"
    assert item["language"] == "en"
    # no date in the markup: the footer's copyright year is not taken for one
    assert "date" not in item


def test_text_of_a_blog_post_has_its_author_and_date(sample):
    item = one(text(page_of(sample, "article_blog.html")))

    assert item["title"] == "Why my sourdough starter sulks in October"
    assert "the starter now spends autumn nights in the oven with only the light switched on" in item["text"]
    for boilerplate in ["Recipe Index", "Join the Newsletter", "Popular posts", "Crispy rye crackers",
                        "Flour Notes from the Valley", "© 2023 Ingrid Halvorsen", "Leave a comment"]:
        assert boilerplate not in item["text"], boilerplate
    assert item["author"] == "Ingrid Halvorsen"
    assert item["date"] == "2023-10-14"
    assert item["language"] == "en"


def test_text_omits_what_it_does_not_find(sample):
    item = one(text(page_of(sample, "product.html")))

    assert set(item) == {"title", "text", "language"}
    assert "\n\n" not in item["text"] and "  " not in item["text"]


def test_text_keeps_the_metadata_of_a_page_without_main_text():
    page = StandInPage("<html lang='de'><head><title>Nur ein Titel</title></head><body></body></html>")

    assert one(text(page)) == {"title": "Nur ein Titel", "language": "de"}


def test_text_yields_nothing_for_a_page_where_nothing_is_found():
    assert list(text(StandInPage("<html lang='en'><head></head><body></body></html>"))) == []
    assert list(text(StandInPage(""))) == []


def test_text_reads_an_xhtml_page_with_an_xml_declaration():
    page = StandInPage(
        "<?xml version='1.0' encoding='iso-8859-1'?>"
        "<html xmlns='http://www.w3.org/1999/xhtml' xml:lang='fr'><head><title>Le café</title></head>"
        "<body><p>Une tasse de café, sans sucre, au comptoir du coin de la rue.</p></body></html>",
        content_type="application/xhtml+xml",
    )

    item = one(text(page))

    assert item["title"] == "Le café"
    assert "Une tasse de café" in item["text"]
    assert item["language"] == "fr"


# --- metadata -----------------------------------------------------------------------------


def test_metadata_of_a_product_page(sample):
    page = page_of(sample, "product.html", final_url="https://shop.example.com/products/fellside-trail-kettle")

    item = one(metadata(page))

    assert set(item) == {"json_ld", "opengraph", "microdata", "meta"}
    products = [obj for obj in item["json_ld"] if obj.get("@type") == "Product"]
    assert len(products) == 1
    product = products[0]
    assert product["name"] == "Fellside Trail Kettle 1.2 L"
    assert product["sku"] == "BW-FTK-120"
    assert product["offers"]["price"] == "54.90"
    assert product["offers"]["priceCurrency"] == "GBP"
    assert any(obj.get("@type") == "BreadcrumbList" for obj in item["json_ld"])

    assert item["opengraph"]["og:title"] == "Fellside Trail Kettle 1.2 L"
    assert item["opengraph"]["og:type"] == "product"
    assert item["opengraph"]["og:image"] == "https://shop.example.com/images/fellside-kettle-large.jpg"

    assert item["meta"]["description"].startswith("A lightweight titanium camping kettle")
    assert item["meta"]["og:title"] == "Fellside Trail Kettle 1.2 L"
    assert item["meta"]["robots"] == "index, follow"

    assert item["microdata"]
    kettle = item["microdata"][0]
    assert kettle["type"] == "https://schema.org/Product"
    assert kettle["properties"]["name"] == "Fellside Trail Kettle 1.2 L"
    assert kettle["properties"]["offers"]["properties"]["price"] == "54.90"
    # relative URLs are resolved against the page's final URL
    assert kettle["properties"]["image"] == "https://shop.example.com/images/fellside-kettle.jpg"

    assert page.soup_builds == 1


def test_metadata_meta_uses_the_pages_shared_soup(sample):
    page = page_of(sample, "article_blog.html")
    soup = page.soup

    item = one(metadata(page))

    assert page.soup is soup and page.soup_builds == 1
    assert item["meta"]["author"] == "Ingrid Halvorsen"
    assert item["meta"]["article:published_time"] == "2023-10-14T08:30:00+00:00"
    assert item["opengraph"] == {
        "og:title": "Why my sourdough starter sulks in October",
        "og:type": "article",
        "article:published_time": "2023-10-14T08:30:00+00:00",
    }
    assert item["json_ld"] == [] and item["microdata"] == []


def test_metadata_skips_broken_json_ld_and_keeps_the_rest():
    page = StandInPage(
        "<html><head><title>t</title>"
        '<script type="application/ld+json">{"@type": "Thing", "name": unquoted,,}</script>'
        '<script type="application/ld+json">{"@type": "Event", "name": "Fair", "score": NaN}</script>'
        '<script type="application/ld+json"></script>'
        '<meta name="Description" content=" Spring fair ">'
        "</head><body></body></html>"
    )

    item = one(metadata(page))

    assert item["json_ld"] == [{"@type": "Event", "name": "Fair", "score": None}]
    assert item["meta"] == {"description": "Spring fair"}


def test_metadata_of_an_empty_html_page_is_empty():
    assert one(metadata(StandInPage(""))) == {"json_ld": [], "opengraph": {}, "microdata": [], "meta": {}}


# --- not HTML -----------------------------------------------------------------------------


@pytest.mark.parametrize("extractor", [text, metadata], ids=["text", "metadata"])
@pytest.mark.parametrize(
    "page",
    [
        StandInPage("%PDF-1.7 <html><title>no</title></html>", content_type="application/pdf"),
        StandInPage(None, content_type="text/html"),
        StandInPage("<html><title>no</title></html>", content_type=None),
        StandInPage('{"title": "no"}', content_type="application/json"),
    ],
    ids=["pdf", "no-text", "no-content-type", "json"],
)
def test_a_page_that_is_not_html_yields_nothing(extractor, page):
    assert list(extractor(page)) == []
    assert page.soup_builds == 0


@pytest.mark.parametrize("content_type", ["text/html", "TEXT/HTML; charset=ISO-8859-1", "application/xhtml+xml"])
def test_html_content_types(content_type):
    page = StandInPage("<html><head><title>A page</title></head><body><p>Hello.</p></body></html>",
                       content_type=content_type)

    assert one(text(page))["title"] == "A page"
    one(metadata(page))


# --- cost ---------------------------------------------------------------------------------


def test_time_per_page(sample, record_property, capsys):
    """Measured, not asserted: the mean time of each built-in on each article, over 20 runs,
    each on a fresh page (so `metadata` pays for building the soup)."""
    runs = 20
    lines = []
    for name in ARTICLES:
        document = sample(name)
        for builtin in (text, metadata):
            list(builtin(StandInPage(document)))  # warm up imports and caches
            started = time.perf_counter()
            for _ in range(runs):
                list(builtin(StandInPage(document)))
            per_page = (time.perf_counter() - started) / runs
            record_property(f"{builtin.__name__}[{name}] ms", round(per_page * 1000, 2))
            lines.append(f"{builtin.__name__:>8} on {name}: {per_page * 1000:.2f} ms/page")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
