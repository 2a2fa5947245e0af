"""A crawl that its limits stop short says so: `crawler crawl`'s summary, `crawler status`
(text and --json) and `crawler metrics` all name each limit that kept URLs out and how
many, checked through a real crawl with Celery workers on the test Redis."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawl_ok, crawler, describe, status_json, summary
from tests.integration.cluster import wait_until
from tests.integration.proxy import free_port
from tests.integration.scrape import scrape, serving
from tests.integration.site import Host, page

pytestmark = pytest.mark.integration

PAGES = 60
BUDGET = 20  # the seed and 19 of its 60 pages
MAX_PAGES = 15
# What each limit keeps out: 41 pages over the host's budget; the deep link of each of
# the 14 pages fetched besides the seed (at the depth limit); and the 5 scheduled URLs
# left queued when max_pages stopped the job.
OVER_BUDGET, TOO_DEEP, LEFT = PAGES + 1 - BUDGET, MAX_PAGES - 1, BUDGET - MAX_PAGES


@dataclass
class LimitedCrawl:
    host: Host
    directory: Path
    env: dict[str, str]
    job: str
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def clean_redis() -> Iterator[None]:
    """The module's crawl has the test Redis database to itself: flushed around it."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, clean_redis: None) -> Iterator[LimitedCrawl]:
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(PAGES)])
    for i in range(PAGES):
        host.routes[f"/p/{i}"] = page(f"p{i}", [f"/deep/{i}"])
    host.start()
    directory = tmp_path_factory.mktemp("limited")
    env = cli_env(TEST_REDIS_URL, CRAWLER_MAX_PAGES_PER_HOST=str(BUDGET))
    try:
        job, result = crawl_ok(
            directory, host.url("/"), "--allow-private", "--delay", "0", "--host-concurrency", "4", "--workers", "1",
            "--max-depth", "1", "--max-pages", str(MAX_PAGES), env=env,
        )
        yield LimitedCrawl(host, directory, env, job, result)
    finally:
        host.stop()


def test_the_crawl_summary_says_the_job_stopped_short_which_limits_and_how_many(limited: LimitedCrawl) -> None:
    text = summary(limited.result)

    assert f"job {limited.job} stopped at its max_pages limit ({MAX_PAGES} URLs): {MAX_PAGES} stored" in text
    assert f"{LEFT} URLs left queued" in text
    assert f" of {MAX_PAGES} pages (" in limited.result.stderr, "no progress toward --max-pages shown"
    match = re.search(r"stopped short: max_pages_per_host kept (\d+) URLs out, max_depth kept (\d+) URLs out, "
                      r"max_pages kept (\d+) URLs out \(raise CRAWLER_MAX_PAGES_PER_HOST, CRAWLER_MAX_DEPTH, "
                      r"CRAWLER_MAX_PAGES to crawl them\)", text)
    assert match, text
    assert int(match.group(1)) == pytest.approx(OVER_BUDGET, abs=1)
    assert int(match.group(2)) == pytest.approx(TOO_DEEP, abs=1)
    assert int(match.group(3)) == LEFT


def test_status_json_reports_what_each_limit_dropped(limited: LimitedCrawl) -> None:
    stats = status_json(limited.directory, limited.job, env=limited.env)

    netloc = limited.host.base.removeprefix("http://")
    assert stats["state"] == "finished" and stats["stored"] == MAX_PAGES
    dropped = stats["dropped"]
    assert dropped["max_pages_per_host"] == pytest.approx(OVER_BUDGET, abs=1)
    assert dropped["max_depth"] == pytest.approx(TOO_DEEP, abs=1)
    assert (dropped["max_pages"], dropped["max_sitemaps_per_host"]) == (LEFT, 0)
    assert stats["dropped_hosts"]["max_pages_per_host"] == {netloc: dropped["max_pages_per_host"]}
    assert stats["hosts_at_limit"] == {"max_pages_per_host": 1, "max_sitemaps_per_host": 0}


def test_status_prints_a_line_per_limit_hit(limited: LimitedCrawl) -> None:
    result = crawler(limited.directory, "status", "--job", limited.job, env=limited.env)

    assert result.returncode == 0, describe(result, limited.directory)
    netloc = re.escape(limited.host.base.removeprefix("http://"))
    lines = result.stdout.splitlines()
    assert lines[1] == "  hosts discovered: 1", result.stdout
    assert re.fullmatch(rf"  limit max_pages_per_host: {netloc} dropped \d+ URLs", lines[2]), result.stdout
    assert re.fullmatch(r"  limit max_depth: dropped \d+ URLs", lines[3]), result.stdout
    assert lines[4] == f"  limit max_pages: dropped {LEFT} URLs (left queued)", result.stdout


def test_metrics_count_what_each_limit_dropped(limited: LimitedCrawl) -> None:
    port = free_port("127.0.0.1")
    server = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "metrics", "--port", str(port)],
        cwd=limited.directory, env=limited.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: serving(port), "the metrics endpoint to answer", timeout=30)
        metrics = scrape(port)
    finally:
        server.terminate()
        server.wait(10)

    def dropped(limit: str) -> float:
        return metrics[("crawler_urls_dropped_total", (("job", limited.job), ("limit", limit)))]

    assert dropped("max_pages_per_host") == pytest.approx(OVER_BUDGET, abs=1)
    assert dropped("max_depth") == pytest.approx(TOO_DEEP, abs=1)
    assert (dropped("max_pages"), dropped("max_sitemaps_per_host")) == (LEFT, 0)
    at_limit = ("crawler_hosts_at_limit", (("job", limited.job), ("limit", "max_pages_per_host")))
    assert metrics[at_limit] == 1
