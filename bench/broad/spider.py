"""The Scrapy peers of bench/broad/run.py: Scrapy in one process, and scrapy-redis with
several processes sharing one Redis (its scheduler queue and its dupe filter), each given
what a Scrapy user would write for a polite broad crawl: 256 requests in flight, one per
host, a fixed delay of 1 s between requests to a host, robots.txt obeyed.

It runs under a Python that has Scrapy (not the project's), so it imports nothing of the
project. Each page that answers 200 becomes one item (URL, title, outlinks) written as
JSON lines, as the project stores each page; it prints `BENCH pages=N` last, N being the
items of all its processes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor

SETTINGS: dict[str, Any] = {
    "CONCURRENT_REQUESTS": 256,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "DOWNLOAD_DELAY": 1.0,
    "RANDOMIZE_DOWNLOAD_DELAY": False,
    "ROBOTSTXT_OBEY": True,
    "LOG_LEVEL": "INFO",
    "TELNETCONSOLE_ENABLED": False,  # a listening console is no part of crawling
}
REDIS_SETTINGS: dict[str, Any] = {
    "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
    "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
    # A process with nothing to do for this long stops; the others may still be crawling.
    "MAX_IDLE_TIME_BEFORE_CLOSE": 2,
    # Without it, the first process to stop empties the shared dupe filter and queue under
    # the others' feet, and they crawl everything again; crawl_shared() cleans up instead.
    "SCHEDULER_PERSIST": True,
}
REDIS_KEYS = ("broad:start_urls", "broad:requests", "broad:dupefilter", "broad:items")
PAGES_LINE = re.compile(r"^BENCH pages=(\d+)$", re.MULTILINE)


class _Pages:
    """What both spiders do with a page: one item, and every link of it followed (the
    offsite filter keeps to allowed_domains when the scope is the seeds' hosts)."""

    extractor = LinkExtractor(unique=True)

    def parse(self, response: Response) -> Iterator[Any]:
        links = [link.url for link in self.extractor.extract_links(response)]
        yield {"url": response.url, "title": response.css("title::text").get(), "outlinks": links}
        for link in links:
            yield scrapy.Request(link, callback=self.parse)


def _scope(seeds: list[str], scope: str) -> list[str]:
    return sorted({urlsplit(seed).hostname or "" for seed in seeds}) if scope == "hosts" else []


class BroadSpider(_Pages, scrapy.Spider):
    name = "broad"

    def __init__(self, seeds: list[str], scope: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seeds = seeds
        if domains := _scope(seeds, scope):
            self.allowed_domains = domains

    async def start(self) -> Any:
        for seed in self.seeds:
            yield scrapy.Request(seed, callback=self.parse)


def _redis_spider() -> type[scrapy.Spider]:
    """Defined on demand: scrapy-redis is needed only for the scrapy-redis case."""
    from scrapy_redis.spiders import RedisSpider

    class BroadRedisSpider(_Pages, RedisSpider):
        name = "broad"
        redis_key = REDIS_KEYS[0]

        def __init__(self, seeds: list[str], scope: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if domains := _scope(seeds, scope):
                self.allowed_domains = domains

        def make_request_from_data(self, data: bytes) -> scrapy.Request:
            """A plain GET through the shared dupe filter (scrapy-redis's default makes a
            form request that bypasses it)."""
            return scrapy.Request(json.loads(data)["url"], callback=self.parse)

    return BroadRedisSpider


def crawl(args: argparse.Namespace, seeds: list[str]) -> int:
    """One Scrapy process to the end; returns its items."""
    settings = dict(SETTINGS, DOWNLOAD_DELAY=args.delay)
    settings["FEEDS"] = {str(args.feed): {"format": "jsonlines", "encoding": "utf8", "overwrite": True}}
    if args.redis_url:
        settings.update(REDIS_SETTINGS, REDIS_URL=args.redis_url)
    for assignment in args.set:
        name, _, value = assignment.partition("=")
        settings[name] = value
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(_redis_spider() if args.redis_url else BroadSpider)
    process.crawl(crawler, seeds=seeds, scope=args.scope)
    process.start()
    return int(crawler.stats.get_value("item_scraped_count", 0))


def crawl_shared(args: argparse.Namespace, seeds: list[str]) -> int:
    """Seeds pushed to Redis, then `--processes` crawls of this script sharing it; returns
    the items of all of them."""
    import redis

    client = redis.Redis.from_url(args.redis_url)
    client.delete(*REDIS_KEYS)
    client.rpush(REDIS_KEYS[0], *(json.dumps({"url": seed}) for seed in seeds))
    command = [sys.executable, os.path.abspath(__file__), "--seeds", str(args.seeds), "--scope", args.scope,
               "--delay", str(args.delay), "--redis-url", args.redis_url, "--child"]
    for assignment in args.set:
        command += ["--set", assignment]
    children = [
        subprocess.Popen([*command, "--feed", f"{args.feed}.{number}"], stdout=subprocess.PIPE, text=True)
        for number in range(args.processes)
    ]
    outputs = [child.communicate()[0] for child in children]
    if any(child.returncode for child in children):
        raise SystemExit(f"a scrapy-redis process failed: exit codes {[child.returncode for child in children]}")
    client.delete(*REDIS_KEYS)
    return sum(int(found[-1]) for output in outputs if (found := PAGES_LINE.findall(output)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=Path, required=True, help="a file of start URLs, one a line")
    parser.add_argument("--scope", choices=("hosts", "any"), default="hosts",
                        help="follow links to the seeds' hosts only, or to any host")
    parser.add_argument("--delay", type=float, default=SETTINGS["DOWNLOAD_DELAY"])
    parser.add_argument("--feed", type=Path, required=True, help="items as JSON lines (PATH.N with --processes)")
    parser.add_argument("--redis-url", help="crawl with scrapy-redis's scheduler and dupe filter in this Redis")
    parser.add_argument("--processes", type=int, default=1, help="scrapy-redis processes sharing --redis-url")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="another Scrapy setting")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    seeds = [line.strip() for line in args.seeds.read_text().splitlines() if line.strip()]
    pages = crawl_shared(args, seeds) if args.redis_url and not args.child else crawl(args, seeds)
    print(f"BENCH pages={pages}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
