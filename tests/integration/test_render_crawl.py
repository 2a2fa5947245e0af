"""Crawls of a site whose links are all made by scripts, through real Redis, real Celery
workers and real Chromium: with `render=always` every page is found and stored (and
says how long the browser took), with `never` only the home page; the render stage runs
in the fetching worker, or on a worker of its own through the render queue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tasks import seed
from tests.integration.js_site import js_host, pages
from tests.integration.site import Host


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

    records = _crawl(cluster, js_site, "split", render="always")

    assert set(records) == pages(js_site.base), cluster.logs()
    conversions, responses = {}, set()
    # Files still being written (.open) hold complete records too.
    for path in (tmp_path / "warc").glob("*.warc.gz*"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                url = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "conversion":
                    conversions[url] = record.content_stream().read().decode()
                elif record.rec_type == "response":
                    responses.add(url)
    assert set(conversions) == pages(js_site.base)
    assert 'href="/articles/1"' in conversions[js_site.url("/")], "the DOM as the browser left it"
    assert js_site.url("/links.json") in responses, "the browser's own requests are archived"


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
