"""Crawls of a site whose links are all made by scripts, through real Redis, real Celery
workers and real Chromium: with `render=always` or `auto` every page is found and stored
(and says how long the browser took), with `never` only the home page; `auto` stops
rendering a host whose pages need no browser; the render stage runs
in the fetching worker, or on a worker of its own through the render queue."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.crawl import Choice, HostVerdict, RenderHosts
from pipeline.frontier import Frontier
from pipeline.render import Decision, Evidence, Measure, Reason
from pipeline.render.browser import browser_processes
from tasks import seed
from tests.integration.cli import cli_env, crawler
from tests.integration.frontiers import new_frontier
from tests.integration.js_site import js_host, pages
from tests.integration.site import Host, page


@pytest.fixture
def js_site() -> Iterator[Host]:
    host = js_host().start()
    yield host
    host.stop()


def _crawl(cluster, host: Host, job: str, **policy):
    seed([host.url("/")], job=job, allow_private=True, delay=0, **policy)
    stats = cluster.wait_finished(job, timeout=120)
    records = {record.url: record for record in cluster.records(job)}
    assert stats.stored == len(records)
    return records


def test_render_always_stores_every_page_that_scripts_link(cluster, js_site):
    cluster.start_worker(queues="fetch,render,parse,store", concurrency=2, pool="threads")
    cluster.start_beat()

    records = _crawl(cluster, js_site, "rendered", render="always")

    assert set(records) == pages(js_site.base), cluster.logs()
    assert all(record.error is None and record.render_time and record.render_time > 0 for record in records.values())
    assert {(record.render_reason, record.render_evidence) for record in records.values()} == {("job policy", None)}
    assert records[js_site.url("/app/about")].title == "App about"
    assert js_site.requests()["/"] == 1, "the browser loads the page from what was fetched"


def test_render_never_stores_only_the_home_page(cluster, js_site):
    cluster.start_worker(queues="fetch,render,parse,store", concurrency=2, pool="threads")
    cluster.start_beat()

    records = _crawl(cluster, js_site, "plain", render="never")

    assert set(records) == {js_site.url("/")}
    assert records[js_site.url("/")].render_time is None and records[js_site.url("/")].outlinks == []


def test_a_render_worker_of_its_own_takes_pages_through_the_render_queue(cluster, js_site, tmp_path: Path):
    cluster.env["CRAWLER_WARC_DIR"] = str(tmp_path / "warc")
    cluster.start_worker("fetcher", queues="fetch,parse,store", concurrency=2, pool="threads")
    cluster.start_worker("renderer", queues="render", concurrency=1, pool="threads")
    cluster.start_beat()

    records = _crawl(cluster, js_site, "split", render="always", screenshot=True)

    assert set(records) == pages(js_site.base), cluster.logs()
    conversions, screenshots, responses, refers = {}, {}, {}, {}
    # Files still being written (.open) hold complete records too.
    for path in (tmp_path / "warc").glob("*.warc.gz*"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                target = record.rec_headers.get_header("WARC-Target-URI")
                url = record.rec_headers.get_header("WARC-Refers-To-Target-URI")
                if record.rec_type == "conversion" and record.rec_headers.get_header("Content-Type") == "image/png":
                    assert target == "urn:view:" + url, "replay finds the page's response under its URL"
                    screenshots[url] = record.content_stream().read()
                elif record.rec_type == "conversion":
                    assert target == "urn:dom:" + url
                    conversions[url] = record.content_stream().read().decode()
                    refers[url] = record.rec_headers.get_header("WARC-Refers-To")
                elif record.rec_type == "response":
                    responses[target] = record.rec_headers.get_header("WARC-Record-ID")
    assert set(conversions) == pages(js_site.base)
    assert 'href="/articles/1"' in conversions[js_site.url("/")], "the DOM as the browser left it"
    assert all(refers[url] == responses[url] for url in conversions), "each refers to its page's response"
    assert js_site.url("/links.json") in responses, "the browser's own requests are archived"
    assert set(screenshots) == pages(js_site.base) and all(png.startswith(b"\x89PNG") for png in screenshots.values())


def test_a_host_rule_renders_its_host_while_the_job_renders_never(cluster, js_site, tmp_path: Path):
    other = js_host("127.0.0.2").start()
    rules = tmp_path / "hosts.txt"
    rules.write_text("127.0.0.1 render=always\n", encoding="utf-8")
    try:
        cluster.start_worker(queues="fetch,render,parse,store", concurrency=2, pool="threads")
        cluster.start_beat()
        seed([js_site.url("/"), other.url("/")], job="ruled", allow_private=True, delay=0, render="never",
             host_policy_file=str(rules))
        stats = cluster.wait_finished("ruled", timeout=120)
    finally:
        other.stop()

    records = {record.url: record for record in cluster.records("ruled")}
    assert stats.stored == len(records)
    assert set(records) == pages(js_site.base) | {other.url("/")}, cluster.logs()
    assert all(records[url].render_time is not None for url in pages(js_site.base))
    assert {records[url].render_reason for url in pages(js_site.base)} == {"host rule 127.0.0.1"}
    assert records[other.url("/")].render_time is None and records[other.url("/")].outlinks == []
    assert records[other.url("/")].render_reason is None
    env = cli_env(cluster.redis_url)
    ruled = crawler(cluster.tmp_path, "status", "--job", "ruled", "--host", js_site.base, env=env).stdout
    plain = crawler(cluster.tmp_path, "status", "--job", "ruled", "--host", other.base, env=env).stdout
    assert "  render always, from rule 127.0.0.1 of the host policy file" in ruled.splitlines(), ruled
    assert "  render never, from the job's policy (--render)" in plain.splitlines(), plain


def test_a_killed_render_worker_loses_nothing(cluster, js_site):
    slow = threading.Event()

    def slow_links(handler) -> None:
        slow.set()
        time.sleep(3)
        body = json.dumps({"links": ["/articles/1"]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    js_site.routes["/links.json"] = slow_links
    cluster.start_worker("fetcher", queues="fetch,parse,store", concurrency=2, pool="threads")
    renderer = cluster.start_worker("renderer", queues="render", concurrency=1, pool="threads")
    cluster.start_beat()
    seed([js_site.url("/")], job="killed", allow_private=True, delay=0, render="always", lease_timeout=12,
         download_deadline=4, timeout=4)
    assert slow.wait(60), cluster.logs()

    cluster.kill(renderer)
    slow.clear()
    cluster.start_worker("renderer2", queues="render", concurrency=1, pool="threads")
    stats = cluster.wait_finished("killed", timeout=120)

    records = {record.url: record for record in cluster.records("killed")}
    assert set(records) == pages(js_site.base), cluster.logs()
    assert all(record.error is None for record in records.values())
    assert stats.requeued >= 1 and js_site.requests()["/"] == 2, "the home page was handed out again"


def test_render_auto_renders_a_host_whose_links_scripts_make_and_says_why(cluster, js_site):
    cluster.start_worker(queues="fetch,render,parse,store", concurrency=2, pool="threads")
    cluster.start_beat()

    records = _crawl(cluster, js_site, "auto-js", render="auto", render_sample=2)

    assert set(records) == pages(js_site.base), cluster.logs()
    assert all(record.render_time is not None for record in records.values())
    samples = [record for record in records.values() if record.render_reason == "auto sample"]
    judged = [record for record in records.values() if record.render_reason == "auto verdict"]
    assert len(samples) == 2 and len(samples) + len(judged) == len(records), "workers racing take no extra samples"
    home = records[js_site.url("/")]
    assert home.render_reason == "auto sample", "the first page of a host is a sample"
    assert home.render_evidence["pages"] == 1 and home.render_evidence["plain"]["links"] == 0
    assert home.render_evidence["rendered"]["links"] == 1, "the home page's one script-made link"
    assert all(record.render_evidence["pages"] >= 2 and record.render_evidence["rendered"]["links"] > 0
               for record in judged), "a verdict's evidence is the host's samples summed"
    status = crawler(cluster.tmp_path, "status", "--job", "auto-js", env=cli_env(cluster.redis_url))
    host = js_site.base.removeprefix("http://")
    assert f"render=auto {host}: pages rendered; links 0 -> " in status.stdout, status.stdout + status.stderr


def test_render_auto_stops_rendering_a_host_whose_pages_need_no_browser(cluster):
    # A wide host crawled by many threads at once: every page fetched while the samples
    # are out waits for the verdict instead of going to the browser too.
    count = 40
    links = {f"/p/{n}": page(f"page {n}", []) for n in range(count)}
    host = Host("127.0.0.1", {"/": page("home", list(links)), **links}).start()
    try:
        cluster.start_worker(queues="fetch,render,parse,store", concurrency=8, pool="threads")
        cluster.start_beat()

        records = _crawl(cluster, host, "auto-plain", render="auto", render_sample=3)
    finally:
        host.stop()

    assert len(records) == count + 1 and all(record.error is None for record in records.values())
    rendered = [url for url, record in records.items() if record.render_time is not None]
    assert len(rendered) == 3, "only the samples went to the browser"
    assert {records[url].render_reason for url in rendered} == {"auto sample"}
    (verdict,) = RenderHosts(Frontier(cluster.client, "auto-plain")).verdicts()
    assert verdict.choice == Choice.PLAIN
    assert re.fullmatch(r"links (\d+) -> \1, text (\d+) -> \2 chars over 3 pages", verdict.evidence), verdict
    plain = [record for url, record in records.items() if url not in rendered]
    assert {record.render_reason for record in plain} == {"auto verdict"}, "the record says why it was not rendered"
    evidence = plain[0].render_evidence
    assert evidence["pages"] == 3 and evidence["plain"] == evidence["rendered"]


def test_a_host_is_sampled_again_after_its_recheck_pages(redis_client):
    frontier = new_frontier(redis_client, "recheck", render="auto", render_sample=2, render_recheck=3)
    policy, hosts = frontier.policy(), RenderHosts(frontier)
    shell, rendered = Measure(0, 10), Measure(5, 900)

    def choices(pages: int) -> list[Choice]:
        return [hosts.decide("a.example", policy).choice for _ in range(pages)]

    assert choices(3) == [Choice.SAMPLE, Choice.SAMPLE, Choice.PENDING], "two samples out, the third page waits"
    assert hosts.sample("a.example", shell, rendered, policy) is None
    assert hosts.verdict("a.example") == HostVerdict("a.example", None, "", 1)
    assert hosts.sample("a.example", shell, rendered, policy) == Choice.RENDER
    assert hosts.verdict("a.example") == HostVerdict(
        "a.example", Choice.RENDER, "links 0 -> 10, text 20 -> 1,800 chars over 2 pages", 2)
    assert hosts.decide("a.example", policy) == Decision(
        Choice.RENDER, Reason.VERDICT, Evidence(2, Measure(0, 20), Measure(10, 1800))), "the verdict with its evidence"
    assert choices(4) == [Choice.RENDER, Choice.SAMPLE, Choice.SAMPLE, Choice.RENDER], (
        "after 3 pages two samples again, the verdict holding meanwhile")
    hosts.sample("a.example", shell, rendered, policy)
    assert hosts.sample("a.example", shell, rendered, policy) == Choice.RENDER
    assert choices(6) == [Choice.RENDER] * 5 + [Choice.SAMPLE], "a verdict confirmed holds twice as long"
    hosts.forfeit("a.example")
    assert choices(2) == [Choice.SAMPLE, Choice.SAMPLE], "a failed sample's place goes to the next page"
    hosts.sample("a.example", rendered, rendered, policy)
    assert hosts.sample("a.example", rendered, rendered, policy) == Choice.PLAIN
    assert choices(3) == [Choice.PLAIN, Choice.PLAIN, Choice.SAMPLE], "a changed verdict is checked as soon as a first"


def test_a_sample_reserved_by_a_worker_that_died_is_given_back_after_its_hold(redis_client):
    frontier = new_frontier(redis_client, "lost-sample", render="auto", render_sample=1, render_timeout=0.1)
    policy, hosts = frontier.policy(), RenderHosts(frontier)

    assert hosts.decide("a.example", policy).choice == Choice.SAMPLE
    assert hosts.decide("a.example", policy).choice == Choice.PENDING
    time.sleep(2 * policy.render_timeout + 0.1)
    assert hosts.decide("a.example", policy).choice == Choice.SAMPLE, "the lost sample's place is free again"


def test_a_page_load_waits_for_its_hosts_politeness_like_a_request(cluster, js_site):
    cluster.start_worker(queues="fetch,render,parse,store", concurrency=2, pool="threads")
    cluster.start_beat()
    delay = 0.5

    seed([js_site.url("/")], job="polite", allow_private=True, delay=delay, render="always")
    cluster.wait_finished("polite", timeout=120)

    # Every request the site saw is a fetch or the one data request of a page load, each
    # made within its own turn of the host: none closer than the delay to the last.
    log = sorted(js_site.log)
    gaps = [(later[1], round(later[0] - earlier[0], 3)) for earlier, later in itertools.pairwise(log)]
    assert len(log) >= 9 and min(gap for _, gap in gaps) >= delay * 0.9, gaps


def test_a_worker_that_renders_launches_its_browser_as_it_starts(cluster):
    renderer = cluster.start_worker("renderer", queues="render", concurrency=1, pool="threads")
    fetcher = cluster.start_worker("fetcher", queues="fetch,render,parse,store", concurrency=1, pool="threads")

    deadline = time.monotonic() + 60
    while not browser_processes(renderer.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert browser_processes(renderer.pid), "a worker that only renders has its browser before any page"
    assert not browser_processes(fetcher.pid), "a worker whose crawls render never launches none until a page asks"
