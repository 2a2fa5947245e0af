"""Pages that only a sitemap lists are found: robots.txt's Sitemap lines, a sitemap
index, a gzipped urlset, and /sitemap.xml, all through the frontier's dedup and scope."""

from __future__ import annotations

import gzip

from tasks import seed
from tests.integration.site import Host, Response, page


def _urlset(urls: list[str]) -> str:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'


def test_sitemap_only_pages_are_crawled_and_out_of_scope_entries_are_not(cluster):
    host = Host("127.0.0.1")
    outside = "http://127.0.0.3:9/elsewhere"
    host.routes["/robots.txt"] = Response(body="User-agent: *\nSitemap: /index.xml\n", content_type="text/plain")
    host.routes["/"] = page("home", ["/linked"])
    host.routes["/linked"] = page("linked")
    host.routes["/index.xml"] = Response(
        body=(
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{host.url('/pages.xml.gz')}</loc></sitemap></sitemapindex>"
        ),
        content_type="application/xml",
    )
    hidden = [host.url(f"/hidden/{i}") for i in range(1, 4)]
    host.routes["/pages.xml.gz"] = Response(
        body=gzip.compress(_urlset([*hidden, host.url("/linked"), outside]).encode()),
        content_type="application/gzip",
    )
    host.routes["/sitemap.xml"] = Response(body=_urlset([host.url("/hidden/4")]), content_type="application/xml")
    for i in range(1, 5):
        host.routes[f"/hidden/{i}"] = page(f"hidden {i}")
    host.start()
    try:
        cluster.start_worker()
        cluster.start_beat()
        seed([host.url("/")], job="maps", allow_private=True, delay=0, sitemaps=True)
        cluster.wait_finished("maps")
        records = {record.url: record for record in cluster.records("maps")}
    finally:
        host.stop()

    for url in [*hidden, host.url("/hidden/4")]:
        assert records[url].title and records[url].depth == 1 and records[url].error is None
    assert outside not in records
    listing = records[host.url("/pages.xml.gz")]
    assert listing.kind == "sitemap" and listing.outlinks == [*hidden, host.url("/linked"), outside]
    assert listing.final_url == host.url("/pages.xml.gz")
    requests = host.requests()
    assert requests["/linked"] == 1, "a page both linked and listed is fetched once"
    assert all(requests[path] == 1 for path in ("/index.xml", "/pages.xml.gz", "/sitemap.xml"))
