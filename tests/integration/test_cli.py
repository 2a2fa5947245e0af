"""The `crawler` command as a user runs it: a real subprocess in a fresh directory
(so the default sqlite:///crawl.db and the .crawler data dir land there), against the
embedded Redis or the test Redis, checked through what it prints, what it exports,
what the web servers were asked for, and which processes it leaves behind."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.fetch import BLOCKED
from pipeline.frontier import Frontier, JobState
from pipeline.store import EXPORT_FIELDS
from tasks.cli.demo import DemoSite
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import (
    GONE_WITHIN,
    assert_nothing_left,
    by_url,
    check_record_format,
    cli_env,
    crawl_ok,
    crawler,
    describe,
    export_jsonl,
    kill_leftovers,
    processes_in,
    status_json,
    summary,
    this_run,
    uses_embedded_redis,
)
from tests.integration.conftest import TwoHostSite
from tests.integration.proxy import ProxyServer

pytestmark = pytest.mark.integration

# --- one crawl on the embedded Redis, shared by the next three tests ------------------------


@dataclass
class EmbeddedCrawl:
    site: TwoHostSite
    directory: Path
    job: str
    result: subprocess.CompletedProcess[str]
    left_running: dict[int, str]
    requests_after: Counter[str]  # requests both hosts had seen when the first run ended
    finished_at: float  # when the first run finished the job, as `crawler status` says
    _rerun: subprocess.CompletedProcess[str] | None = None

    def rerun(self) -> subprocess.CompletedProcess[str]:
        """The same `crawler crawl` command again, run once for the tests that need it."""
        if self._rerun is None:
            job, self._rerun = crawl_ok(self.directory, *_site_args(self.site))
            assert job == self.job
        return self._rerun


def _all_requests(site: TwoHostSite) -> Counter[str]:
    return Counter({site.a.url(p): n for p, n in site.a.requests().items()}) + Counter(
        {site.b.url(p): n for p, n in site.b.requests().items()}
    )


def _site_args(site: TwoHostSite) -> list[str]:
    return [site.a.url("/"), "--allow-domain", "127.0.0.2", "--allow-private", "--delay", "0", "--workers", "2"]


@pytest.fixture(scope="module")
def embedded_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCrawl]:
    """One `crawler crawl` of the two-host site with no CRAWLER_REDIS_URL."""
    site = TwoHostSite().build()
    site.a.start()
    site.b.start()
    directory = tmp_path_factory.mktemp("embedded")
    try:
        job, result = crawl_ok(directory, *_site_args(site))
        left = dict(processes_in(directory))
        deadline = time.monotonic() + GONE_WITHIN
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = processes_in(directory)
        requests = _all_requests(site)
        finished_at = status_json(directory, job)["finished_at"]
        yield EmbeddedCrawl(site, directory, job, result, left, requests, finished_at)
    finally:
        kill_leftovers(directory)
        site.a.stop()
        site.b.stop()


def test_crawl_on_embedded_redis_exports_every_reachable_page(embedded_crawl: EmbeddedCrawl) -> None:
    crawl, site = embedded_crawl, embedded_crawl.site
    expected = site.depths(site.a.url("/"))

    assert uses_embedded_redis(crawl.directory), "no embedded Redis data in ./.crawler"
    assert crawl.left_running == {}, f"the crawl left processes running: {crawl.left_running}"
    assert f"job {crawl.job} finished: {len(expected)} stored" in summary(crawl.result), crawl.result.stderr
    exported = export_jsonl(crawl.directory, crawl.job)
    disallowed = sum(1 for record in exported if record["error"] == BLOCKED and record["status"] is None)
    failed = sum(1 for record in exported if record["error"]) - disallowed
    assert disallowed == 1, "the site's robots.txt disallows the one /private/ link of its home page"
    assert f"({len(expected) - failed - disallowed} fetched OK, {failed} failed, {disallowed} disallowed)" \
        in crawl.result.stdout

    records = by_url(export_jsonl(crawl.directory, crawl.job))
    assert set(records) == set(expected)
    for record in records.values():
        check_record_format(record)
    assert {url: record["depth"] for url, record in records.items()} == expected
    home = records[site.a.url("/")]
    assert (home["status"], home["title"], home["content_type"], home["error"]) == (200, "A home", "text/html", None)
    assert site.a.url("/a/1") in home["outlinks"] and site.outside in home["outlinks"]
    assert records[site.a.url("/moved")]["final_url"] == site.a.url("/a/3")
    assert (records[site.a.url("/gone")]["status"], records[site.a.url("/gone")]["error"]) == (404, "HTTP 404")
    blocked = records[site.a.url("/private/x")]
    assert blocked["status"] is None and blocked["error"] == "blocked by robots.txt"

    out = crawl.directory / "pages.csv"
    result = crawler(crawl.directory, "export", "--job", crawl.job, "--format", "csv", "--output", str(out))
    assert result.returncode == 0 and result.stdout == "", describe(result, crawl.directory)
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames[: len(EXPORT_FIELDS)]) == EXPORT_FIELDS
    assert len(rows) == len(expected) and {row["url"] for row in rows} == set(expected)
    to_stdout = crawler(crawl.directory, "export", "--job", crawl.job, "--output", "-")
    assert to_stdout.returncode == 0 and not (crawl.directory / "-").exists(), describe(to_stdout, crawl.directory)
    assert {json.loads(line)["url"] for line in to_stdout.stdout.splitlines()} == set(expected)

    stats = status_json(crawl.directory, crawl.job)
    assert stats["state"] == JobState.FINISHED and stats["stored"] == len(records) and stats["leased"] == 0
    # `status` reads the embedded data through a redis-server of its own: gone with it.
    assert_nothing_left(crawl.directory)


def test_running_the_same_crawl_again_fetches_nothing_and_duplicates_nothing(embedded_crawl: EmbeddedCrawl) -> None:
    crawl, site = embedded_crawl, embedded_crawl.site
    before = len(site.depths(site.a.url("/")))  # what the first run exported (checked above)

    result = crawl.rerun()

    assert f"job {crawl.job} finished: {before} stored" in " ".join(result.stdout.split()), result.stderr
    assert f"job {crawl.job!r} had already finished" in summary(result) and "--restart" in result.stderr
    assert_nothing_left(crawl.directory)
    new = _all_requests(site) - crawl.requests_after
    # The job was finished: not one page is asked for again. robots.txt is cached in the
    # (persisted) embedded Redis and nothing is fetched, but that is not part of the
    # contract, so at most one more robots.txt request per host is tolerated.
    pages = {url: n for url, n in new.items() if not url.endswith("/robots.txt")}
    assert pages == {}, f"pages requested again by the second run: {pages}"
    assert all(n <= 1 for n in new.values()), f"robots.txt requested more than once per host: {new}"
    records = export_jsonl(crawl.directory, crawl.job)
    assert len(records) == before and len(by_url(records)) == before


def test_the_summary_gives_this_runs_pace_and_a_rerun_that_did_nothing_says_so(embedded_crawl: EmbeddedCrawl) -> None:
    pages, rate, seconds = this_run(embedded_crawl.result)
    assert pages is None and rate > 0 and seconds > 0, "the first run stored all the job has"
    log, job = embedded_crawl.result.stderr, embedded_crawl.job
    assert f"job {job} running: stored 0 " in log and f"job {job} finished: stored " in log, log
    assert " pages (" not in log, "a bar toward the built-in max_pages, which the crawl was not given"

    again = summary(embedded_crawl.rerun())

    assert f"job {embedded_crawl.job} finished: " in again and "; this run fetched nothing; " in again, again


def test_running_a_finished_job_again_leaves_its_finished_time_as_it_was(embedded_crawl: EmbeddedCrawl) -> None:
    """A re-run that had nothing to do must not restamp the job as finished now: the
    job's average rate (`crawler status`: stored over seeded to finished) stays what it was."""
    embedded_crawl.rerun()

    again = status_json(embedded_crawl.directory, embedded_crawl.job)["finished_at"]

    assert again == embedded_crawl.finished_at, "the re-run moved the job's finished_at to its own time"


# --- a crawl on a configured Redis -----------------------------------------------------------


def test_crawl_on_the_configured_redis(workdir: Path, site: TwoHostSite, redis_client) -> None:
    env = cli_env(TEST_REDIS_URL)

    job, result = crawl_ok(workdir, *_site_args(site), env=env)

    expected = site.depths(site.a.url("/"))
    assert f"job {job} finished: {len(expected)} stored" in summary(result)
    assert not uses_embedded_redis(workdir), "started an embedded Redis although CRAWLER_REDIS_URL was set"
    # The frontier is in the configured Redis.
    frontier = Frontier(redis_client, job)
    assert frontier.stats().state == JobState.FINISHED and frontier.stats().stored == len(expected)
    records = by_url(export_jsonl(workdir, job, env=env))
    assert set(records) == set(expected)
    assert_nothing_left(workdir)


def test_restart_crawls_a_finished_job_again_from_nothing(workdir: Path, site: TwoHostSite, redis_client) -> None:
    env = cli_env(TEST_REDIS_URL)
    job, _ = crawl_ok(workdir, *_site_args(site), env=env)
    expected = site.depths(site.a.url("/"))
    first = _all_requests(site)

    _, result = crawl_ok(workdir, *_site_args(site), "--restart", env=env)

    assert f"job {job!r} starts over: its frontier and its {len(expected)} records are removed" in summary(result)
    again = _all_requests(site) - first
    assert {url for url in again if not url.endswith("/robots.txt")} == set(expected) - {site.a.url("/private/x")}
    records = export_jsonl(workdir, job, env=env)
    assert len(records) == len(by_url(records)) == len(expected)
    assert Frontier(redis_client, job).stats().stored == len(expected)


def test_restart_with_recrawl_or_without_seeds_is_refused_and_removes_nothing(workdir: Path, site: TwoHostSite,
                                                                           redis_client) -> None:
    env = cli_env(TEST_REDIS_URL)
    job, _ = crawl_ok(workdir, *_site_args(site), env=env)

    both = crawler(workdir, "crawl", *_site_args(site), "--restart", "--recrawl", env=env)
    no_seeds = crawler(workdir, "crawl", "--job", job, "--restart", env=env)

    assert both.returncode == 2 and "choose one" in both.stderr
    assert no_seeds.returncode == 2 and "--restart needs the seed URLs" in no_seeds.stderr
    assert len(export_jsonl(workdir, job, env=env)) == len(site.depths(site.a.url("/")))


def test_crawl_through_a_proxy(workdir: Path, site: TwoHostSite, redis_client) -> None:
    proxy = ProxyServer(workdir / "proxy.log")
    try:
        job, result = crawl_ok(workdir, *_site_args(site), "--proxy", proxy.url("socks5h"), env=cli_env(TEST_REDIS_URL))
    finally:
        proxy.stop()

    expected = site.depths(site.a.url("/"))
    assert f"job {job} finished: {len(expected)} stored" in summary(result)
    for host in (site.a, site.b):
        assert proxy.carried(host.base.removeprefix("http://")), f"nothing to {host.base} went through the proxy"
    assert_nothing_left(workdir)


# --- the demo -----------------------------------------------------------------------------


def test_demo_crawl(workdir: Path) -> None:
    job, result = crawl_ok(workdir, "--demo", "--delay", "0", "--workers", "2")

    assert job == "demo" and "job demo finished" in summary(result)
    assert_nothing_left(workdir)
    records = by_url(export_jsonl(workdir, job))
    seeds = [url for url, record in records.items() if record["depth"] == 0 and not url.endswith("/sitemap.xml")]
    assert len(seeds) == 1, f"expected one seed record, got {seeds}"
    base = urlsplit(seeds[0])
    assert base.path == "/"
    assert {urlsplit(url).netloc for url in records} == {base.netloc}
    paths = {urlsplit(url).path: record for url, record in records.items()}
    assert set(paths) == DemoSite().reachable() | {"/private/secret.html"}
    assert len(records) == len(paths)  # no query-string variants (the nofollow link)
    for record in records.values():
        check_record_format(record)
    assert paths["/private/secret.html"]["error"] == "blocked by robots.txt"
    assert paths["/missing.html"]["status"] == 404 and paths["/missing.html"]["error"]
    assert paths["/about.txt"]["content_type"] == "text/plain" and paths["/about.txt"]["error"] is None
    assert paths["/page/1.html"]["title"] == "Demo page 1"
    assert paths["/extra.html"]["title"] == "Found only in the sitemap" and paths["/extra.html"]["depth"] == 1
    errors = sorted(path for path, record in paths.items() if record["error"])
    assert errors == ["/missing.html", "/private/secret.html"]
