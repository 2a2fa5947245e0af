"""The Scrapy peer of bench/docs.py: crawls the Python documentation served on loopback,
following every in-site link, and prints `BENCH pages=N` (responses with status 200).

It runs under a Python that has Scrapy (not the project's), so it imports nothing of the
project. The settings are what a Scrapy user would write for the same job as
`crawler crawl --delay 0 --host-concurrency 16`: no delay, 16 requests in flight to the
one host, no depth limit, no cache.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

SETTINGS: dict[str, Any] = {
    "ROBOTSTXT_OBEY": False,  # the tree has no robots.txt: asking for it would only add a 404
    "CONCURRENT_REQUESTS": 16,
    # Scrapy's default of 8 per domain would cap the one host below the 16 the project is given.
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_ENABLED": False,
    "HTTPCACHE_ENABLED": False,
    "DEPTH_LIMIT": 0,
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": False,  # a listening console is no part of crawling
}
PAGES_STAT = "downloader/response_status_count/200"


class DocsSpider(CrawlSpider):
    """Follows every link of the start URL's host and port. A rule without a callback still
    follows links and yields no items, so the item pipeline stays out of what is measured;
    the page count comes from Scrapy's own stats."""

    name = "docs"

    def __init__(self, start: str, *args: Any, **kwargs: Any) -> None:
        self.start_urls = [start]
        # allow_domains compares the netloc, port included: the bare host would match nothing.
        self.rules = (Rule(LinkExtractor(allow_domains=[urlsplit(start).netloc]), follow=True),)
        super().__init__(*args, **kwargs)


def crawl(start: str) -> int:
    """Responses with status 200, counted by Scrapy's downloader stats."""
    process = CrawlerProcess(SETTINGS)
    crawler = process.create_crawler(DocsSpider)
    process.crawl(crawler, start=start)
    process.start()
    return int(crawler.stats.get_value(PAGES_STAT, 0))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", required=True, help="the start URL, e.g. http://127.0.0.1:8000/index.html")
    args = parser.parse_args(argv)
    print(f"BENCH pages={crawl(args.start)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
