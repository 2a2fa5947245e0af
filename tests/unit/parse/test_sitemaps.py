"""Sitemap parsing: index and urlset, gzip, bounds, and no entity expansion."""

import gzip

import pytest

from pipeline.fetch import PermanentFetchError
from pipeline.parse import parse_sitemap, sitemap_locations

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def test_an_index_lists_sitemaps_and_a_urlset_lists_pages():
    index = f"<sitemapindex {NS}><sitemap><loc>http://a.example/s1.xml</loc></sitemap></sitemapindex>".encode()
    urlset = f"<urlset {NS}><url><loc> http://A.example/x#top </loc></url><url><loc>mailto:x@y</loc></url></urlset>"

    assert parse_sitemap(index, 10, 10**6).sitemaps == ["http://a.example/s1.xml"]
    assert parse_sitemap(gzip.compress(urlset.encode()), 10, 10**6).pages == ["http://a.example/x"]


def test_bounds_hold_for_count_and_decompressed_size():
    urlset = f"<urlset {NS}>" + "".join(f"<url><loc>http://a.example/{i}</loc></url>" for i in range(100)) + "</urlset>"

    assert len(parse_sitemap(urlset.encode(), 10, 10**6).pages) == 10
    with pytest.raises(PermanentFetchError):
        parse_sitemap(gzip.compress(b" " * 2_000_000), 10, 1_000_000)


def test_entities_are_not_expanded():
    internal = b'<!DOCTYPE u [<!ENTITY e "http://evil.example/x">]><urlset><url><loc>&e;</loc></url></urlset>'
    external = b'<!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/hostname">]><urlset><url><loc>&e;</loc></url></urlset>'

    assert parse_sitemap(internal, 10, 10**6).pages == []
    assert parse_sitemap(external, 10, 10**6).pages == []


def test_long_urls_in_a_sitemap_are_dropped():
    body = f"<urlset {NS}><url><loc>http://a.example/{'x' * 300}</loc></url></urlset>".encode()

    assert parse_sitemap(body, 10, 10**6, max_url_length=100).pages == []


def test_robots_sitemap_lines_relative_ones_too_then_the_default():
    body = "User-agent: *\nSitemap: http://a.example/one.xml\nSitemap: /two.xml\n"

    assert sitemap_locations(body, "http://a.example") == [
        "http://a.example/one.xml", "http://a.example/two.xml", "http://a.example/sitemap.xml"
    ]
