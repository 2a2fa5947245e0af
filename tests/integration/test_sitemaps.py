"""Pages that only a sitemap lists are found: robots.txt's Sitemap lines, a sitemap
index, a gzipped urlset, and /sitemap.xml, all through the frontier's dedup and scope."""

from __future__ import annotations

import gzip

from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawl_ok, export_jsonl, summary
from tests.integration.conftest import flushed_test_redis
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


def test_a_missing_sitemap_xml_is_a_sitemap_record_not_a_failed_page_nor_one_of_max_pages(workdir):
    """A site without /sitemap.xml (the one guessed, not named by robots.txt): its 404 is the
    sitemap's record, the crawl has no failure, and --max-pages 2 still fetches two pages."""
    host = Host("127.0.0.1")
    host.routes["/robots.txt"] = Response(body="User-agent: *\nAllow: /\n", content_type="text/plain")
    host.routes["/"] = page("home", ["/a", "/b", "/c"])
    for name in "abc":
        host.routes[f"/{name}"] = page(name)
    host.start()
    try:
        env = cli_env(TEST_REDIS_URL, CRAWLER_SITEMAPS="true")
        flushed_test_redis()
        job, result = crawl_ok(workdir, host.url("/"), "--allow-private", "--delay", "0", "--workers", "1",
                               "--no-report", "--max-pages", "2", env=env)
        records = export_jsonl(workdir, job, env=env)
    finally:
        host.stop()

    pages = [record for record in records if record["kind"] == "page"]
    sitemaps = [record for record in records if record["kind"] == "sitemap"]
    assert len(pages) == 2 and all(record["status"] == 200 and record["error"] is None for record in pages), records
    assert [(record["url"], record["status"], record["error"]) for record in sitemaps] == [
        (host.url("/sitemap.xml"), 404, None)
    ]
    assert "(3 fetched OK, 0 failed)" in summary(result), summary(result)
