"""Link and title extraction on saved pages (tests/sample_data)."""

from __future__ import annotations

import pytest

from pipeline.parse import Links, parse_html

URL = "http://example.com/section/page.html"


def test_relative_base_href_resolves_against_the_page_url(sample):
    page = parse_html(sample("base_relative.html"), URL)

    assert page.outlinks == [
        "http://example.com/docs/v2/intro.html",
        "http://example.com/docs/v1/old.html",
        "http://example.com/about",
        "https://other.example.org/x",
    ]


def test_absolute_base_href_replaces_the_page_url(sample):
    page = parse_html(sample("base_absolute.html"), URL)

    assert page.outlinks == [
        "https://mirror.example.net/archive/2020/jan.html",
        "https://mirror.example.net/index.html",
        "https://mirror.example.net/archive/2020/?page=2",
    ]


def test_without_base_links_resolve_against_the_page_url():
    page = parse_html('<a href="next.html">n</a><a href="../up.html">u</a><a href="?p=2">q</a>', URL)

    assert page.outlinks == [
        "http://example.com/section/next.html",
        "http://example.com/up.html",
        "http://example.com/section/page.html?p=2",
    ]


def test_rel_nofollow_on_a_and_area_is_dropped(sample):
    page = parse_html(sample("nofollow.html"), URL)

    assert page.outlinks == [
        "http://example.com/followed",
        "http://example.com/noopener",
        "http://example.com/area-followed",
    ]
    assert page.nofollow is False


@pytest.mark.parametrize("name", ["meta_nofollow.html", "meta_none.html"])
def test_meta_robots_nofollow_or_none_drops_every_link(sample, name):
    page = parse_html(sample(name), URL)

    assert page.nofollow is True
    assert page.outlinks == []
    assert page.title  # the title is still recorded


def test_meta_robots_noindex_alone_keeps_links(sample):
    page = parse_html(sample("meta_noindex_only.html"), URL)

    assert page.nofollow is False
    assert page.outlinks == ["http://example.com/still-followed"]


def test_only_http_and_https_links_are_kept(sample):
    page = parse_html(sample("schemes.html"), URL)

    assert page.outlinks == ["http://example.com/ok", "https://example.com/secure"]


def test_malformed_markup_still_yields_title_and_links(sample):
    page = parse_html(sample("malformed.html"), URL)

    assert page.title == "Broken & still useful"
    assert page.outlinks == [
        "http://example.com/one",
        "http://example.com/two",
        "http://example.com/three",
        "http://example.com/four",
        "http://example.com/five",
    ]


def test_unusable_hrefs_are_skipped_not_fatal(sample):
    # One broken link must not cost the page its other links (or its record).
    page = parse_html(sample("bad_links.html"), URL)

    assert page.title == "Links no parser can use"
    assert page.outlinks == ["http://example.com/before", "http://example.com/after"]


def test_unusable_base_href_falls_back_to_the_page_url(sample):
    page = parse_html(sample("bad_base.html"), URL)

    assert page.outlinks == ["http://example.com/kept"]


@pytest.mark.parametrize(
    "junk",
    ["", "   ", "\x00\x01\x02", "<<<<>>>>", "<a href>", "<a href=''>", "</html></body>", "<!-- unterminated"],
)
def test_junk_input_gives_an_empty_page(junk):
    page = parse_html(junk, URL)

    assert isinstance(page, Links)
    assert page.title is None
    assert all(link.startswith("http://example.com/") for link in page.outlinks)


def test_duplicate_links_are_kept_once_in_first_seen_order(sample):
    page = parse_html(sample("duplicates.html"), URL)

    assert page.outlinks == [
        "http://example.com/page",
        "http://example.com/list?a=1&b=2",
        "http://example.com/other",
    ]


def test_outlinks_are_canonical():
    page = parse_html('<a href="HTTP://Other.EXAMPLE:80/a/./b/../c?z=1&a=2#frag">x</a>', URL)

    assert page.outlinks == ["http://other.example/a/c?a=2&z=1"]


def test_max_outlinks_keeps_the_first_n_distinct_links():
    html = "".join(f'<a href="/p{i % 7}">x</a>' for i in range(50))

    page = parse_html(html, URL, max_outlinks=5)

    assert page.outlinks == [f"http://example.com/p{i}" for i in range(5)]


def test_max_url_length_drops_longer_links_only():
    short = "http://example.com/s"
    exact = "http://example.com/" + "e" * (60 - len("http://example.com/"))
    long = "http://example.com/" + "l" * 100
    html = f'<a href="{long}">l</a><a href="{short}">s</a><a href="{exact}">e</a>'

    page = parse_html(html, URL, max_url_length=60)

    assert page.outlinks == [short, exact]


def test_title_whitespace_is_collapsed(sample):
    page = parse_html(sample("title_whitespace.html"), URL)

    assert page.title == "Breaking News: the crawler works"


@pytest.mark.parametrize("html", ["<html><head></head></html>", "<title>   </title>", "<title></title>"])
def test_missing_or_blank_title_is_none(html):
    assert parse_html(html, URL).title is None


def test_title_entities_are_decoded():
    assert parse_html("<title>Fish &amp; Chips &eacute;t&#233;</title>", URL).title == "Fish & Chips été"


def test_links_are_plain_json():
    page = parse_html('<title>T</title><a href="/x">x</a>', URL)

    assert page.to_json() == {"title": "T", "outlinks": ["http://example.com/x"], "nofollow": False}


def test_the_first_base_with_an_href_and_the_first_title_are_the_ones_read():
    page = parse_html(
        '<base target="_top"><base href="http://b.example/dir/"><base href="http://c.example/">'
        "<title>First</title><title>Second</title>"
        '<a href="x">x</a><a>no href</a><a name="anchor">named</a><area href="y">',
        URL,
    )

    assert page.title == "First"
    assert page.outlinks == ["http://b.example/dir/x", "http://b.example/dir/y"]


def test_a_robots_meta_needs_both_name_and_content_to_count():
    listed = '<a href="/a">a</a>'

    assert parse_html('<meta name="robots">' + listed, URL).outlinks == ["http://example.com/a"]
    assert parse_html('<meta content="nofollow">' + listed, URL).outlinks == ["http://example.com/a"]
    assert parse_html('<META NAME="Robots" CONTENT="NoFollow">' + listed, URL).nofollow
