"""Revisits end to end, on a local site whose pages send ETag or Last-Modified and answer
304 to a matching conditional request, with a switch that changes pages:

- `crawler crawl --recrawl` in place: the server sees the conditional headers, unchanged
  pages get 304 and keep their records and items, changed pages get their new title and
  items, a link new on a changed page is followed, the WARC files hold revisit records,
  and the job finishes;
- a worker SIGKILLed during a recrawl (`seed(recrawl=True)`, real workers and beat):
  every URL revisited, none lost;
- continuous crawling with a 2-second interval for two minutes: pages that change are
  fetched more often than static ones, every gap between two fetches of a page lies in
  the interval bounds, and nothing else is requested.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.frontier import JobState
from pipeline.store import open_store
from tasks import seed
from tasks.app import runtime
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import by_url, cli_env, crawl_ok, crawler, describe, export_jsonl
from tests.integration.cluster import Cluster, wait_until
from tests.integration.site import Host

pytestmark = pytest.mark.integration

# Seconds since the epoch of a page's first version; each version is an hour later.
EPOCH = 1_780_000_000
TITLES = "crawler_it_titles"
TITLES_MODULE = '''
def titles(page):
    """The page's title, so a test can tell which version the items came from."""
    yield {"title": page.soup.title.get_text() if page.soup.title else None}
'''


@dataclass(frozen=True)
class Answer:
    """One request the site answered: what it was asked, and what it sent."""

    at: float
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    body_bytes: int


class ValidatedSite:
    """A front page linking to /p/0../p/N-1 and /plain. Even pages send an ETag, odd ones a
    Last-Modified, and each answers 304 to a request that names its current version;
    /plain sends neither (a revisit gets it whole). `change(path)` makes a new version
    (a new title, and a link to a new page, /fresh/N); paths in `volatile` change on every
    request."""

    def __init__(self, pages: int, volatile: tuple[str, ...] = ()) -> None:
        self.host = Host("127.0.0.1")
        self.pages = [f"/p/{number}" for number in range(pages)]
        self.versions = dict.fromkeys(["/", "/plain", *self.pages], 1)
        self.volatile = set(volatile)
        self.linked: set[str] = set()
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        for path in self.versions:
            self.host.routes[path] = self._serve
        self.host.routes["/robots.txt"] = self._serve
        # Anything else is answered (404) and logged here too.
        self.host.fallback = lambda path: self._serve

    def url(self, path: str) -> str:
        return self.host.url(path)

    def change(self, *paths: str) -> None:
        with self._lock:
            for path in paths:
                self.versions[path] += 1
                self.host.routes.setdefault(path.replace("/p/", "/fresh/"), self._serve)
                self.versions.setdefault(path.replace("/p/", "/fresh/"), 1)
                self.linked.add(path)

    def requested(self, since: float = 0.0) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if answer.at >= since]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            if path in self.volatile:
                self.versions[path] += 1
            version = self.versions.get(path)
        if version is None:
            self._send(handler, 404, b"", {})
            return
        validators = self._validators(path, version)
        if self._not_modified(handler, validators):
            self._send(handler, 304, b"", validators)
            return
        self._send(handler, 200, self._body(path, version), validators)

    @staticmethod
    def _validators(path: str, version: int) -> dict[str, str]:
        if path in ("/plain", "/robots.txt"):
            return {}
        if path == "/" or int(path.rsplit("/", 1)[1]) % 2 == 0:
            return {"ETag": f'"{path}-{version}"'}
        return {"Last-Modified": formatdate(EPOCH + 3600 * version, usegmt=True)}

    @staticmethod
    def _not_modified(handler: BaseHTTPRequestHandler, validators: dict[str, str]) -> bool:
        etag, since = handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")
        if etag is not None and "ETag" in validators:
            return etag == validators["ETag"]
        if since is not None and "Last-Modified" in validators:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(validators["Last-Modified"])
        return False

    def _body(self, path: str, version: int) -> bytes:
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n"
        links = [*self.pages, "/plain"] if path == "/" else []
        if path in self.linked:
            links.append(path.replace("/p/", "/fresh/"))
        anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
        return f"<html><head><title>{path} v{version}</title></head><body>{anchors}</body></html>".encode()

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        with self._lock:
            self.answers.append(Answer(
                time.time(), handler.path, handler.headers.get("If-None-Match"),
                handler.headers.get("If-Modified-Since"), status, len(body),
            ))
        handler.send_response(status)
        if status != 304:
            handler.send_header("Content-Type", "text/plain" if handler.path == "/robots.txt" else "text/html")
            handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> ValidatedSite:
        self.host.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.stop()


# --- 1. `crawler crawl --recrawl` ----------------------------------------------------------


def test_a_recrawl_in_place_revalidates_every_page_and_keeps_what_did_not_change(workdir: Path) -> None:
    (workdir / f"{TITLES}.py").write_text(TITLES_MODULE, encoding="utf-8")
    flags = ["--job", "rv", "--allow-private", "--delay", "0", "--host-concurrency", "4", "--workers", "2",
             "--extract", f"{TITLES}:titles", "--warc", "warc"]
    with ValidatedSite(pages=8) as site:
        crawl_ok(workdir, site.url("/"), *flags)
        first = {record["url"]: record for record in export_jsonl(workdir, "rv")}
        first_items = _items(workdir)
        changed = ("/p/1", "/p/2")
        site.change(*changed)
        started = time.time()

        _, result = crawl_ok(workdir, site.url("/"), *flags, "--recrawl")
        answers = site.requested(since=started)

    assert "10 stored URLs due again" in " ".join(result.stderr.split()), describe(result, workdir)
    pages = [site.url(path) for path in ["/", "/plain", *site.pages]]
    assert sorted(first) == sorted(pages)
    asked = defaultdict(list)
    for answer in answers:
        asked[answer.path].append(answer)
    assert sorted(asked) == sorted(["/", "/plain", *site.pages, "/fresh/1", "/fresh/2"]), "nothing else was asked for"
    assert all(len(requests) == 1 for requests in asked.values()), "each URL once"
    for path in site.pages:
        (answer,) = asked[path]
        assert (answer.if_none_match or answer.if_modified_since), f"{path} was not asked conditionally"
        assert answer.status == (200 if path in changed else 304), path
    assert asked["/fresh/1"][0].if_none_match is asked["/fresh/1"][0].if_modified_since is None
    assert asked["/plain"][0].status == 200

    records = by_url(export_jsonl(workdir, "rv"))
    for path in site.pages:
        record, before = records[site.url(path)], first[site.url(path)]
        assert record["fetch_count"] == 2 and record["fetched_at"] > before["fetched_at"]
        if path in changed:
            assert (record["title"], record["revisit"]) == (f"{path} v2", "changed")
            assert record["changed_at"] == record["fetched_at"]
        else:
            kept = ("title", "outlinks", "status", "content_hash", "warc_file", "warc_offset", "changed_at")
            assert {name: record[name] for name in kept} == {name: before[name] for name in kept}, path
            assert record["revisit"] == "not-modified" and record["status"] == 200
    assert records[site.url("/plain")]["revisit"] == "unchanged"
    assert records[site.url("/fresh/1")]["fetch_count"] == 1 and records[site.url("/fresh/1")]["revisit"] is None

    items = _items(workdir)
    for path in site.pages:
        expected = f"{path} v2" if path in changed else first_items[site.url(path)]
        assert items[site.url(path)] == expected, "an unchanged page keeps its items, a changed one gets new ones"
    _check_revisit_records(workdir / "warc", site, first, changed)


def _items(workdir: Path) -> dict[str, str]:
    store = open_store(f"sqlite:///{workdir / 'crawl.db'}")
    try:
        return {url: item.data["title"] for url, item in store.items("rv")}
    finally:
        store.close()


def _check_revisit_records(directory: Path, site: ValidatedSite, first: dict[str, dict], changed: tuple) -> None:
    """The recrawl's 304s are server-not-modified revisits of the first crawl's records,
    /plain an identical-payload-digest one; the changed pages full responses again."""
    records: dict[str, list] = defaultdict(list)
    for path in sorted(directory.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    records[record.rec_headers.get_header("WARC-Target-URI")].append(record.rec_headers)
    for path in site.pages:
        url = site.url(path)
        kinds = [headers.get_header("WARC-Type") for headers in records[url]]
        assert kinds == (["response", "response"] if path in changed else ["response", "revisit"]), (path, kinds)
        if path not in changed:
            revisit = records[url][1]
            assert revisit.get_header("WARC-Profile").endswith("/revisit/server-not-modified")
            assert revisit.get_header("WARC-Refers-To") == records[url][0].get_header("WARC-Record-ID")
            assert revisit.get_header("WARC-Refers-To-Target-URI") == url
    plain = records[site.url("/plain")]
    assert [headers.get_header("WARC-Type") for headers in plain] == ["response", "revisit"]
    assert plain[1].get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert plain[1].get_header("WARC-Payload-Digest") == plain[0].get_header("WARC-Payload-Digest")
    assert first[site.url("/plain")]["warc_offset"] is not None


# --- 2. a worker SIGKILLed during a recrawl -------------------------------------------------


@pytest.fixture
def slow_site() -> Iterator[ValidatedSite]:
    with ValidatedSite(pages=40) as site:
        site.host.delay = 0.05
        yield site


@pytest.fixture
def cluster_store(tmp_path: Path, monkeypatch) -> Iterator[str]:
    """The store the cluster's workers write, for this process's `seed()` as well: a
    recrawl makes the URLs of that store due."""
    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    monkeypatch.setenv("CRAWLER_STORE_URL", url)
    runtime.cache_clear()
    yield url
    runtime.cache_clear()


def test_a_worker_killed_during_a_recrawl_loses_no_url(
    tmp_path: Path, redis_client, slow_site, cluster_store
) -> None:
    site = slow_site
    cluster = Cluster(tmp_path, TEST_REDIS_URL, cluster_store, CRAWLER_LEASE_TIMEOUT="9")
    policy = {"allow_private": True, "delay": 0, "host_concurrency": 4}
    try:
        cluster.start_worker("first", concurrency=4)
        cluster.start_beat()
        seed([site.url("/")], job="rv-kill", **policy)
        cluster.wait_finished("rv-kill")
        stored = {record.url: record for record in cluster.records("rv-kill")}
        frontier = cluster.frontier("rv-kill")
        started = time.time()

        seed([site.url("/")], job="rv-kill", recrawl=True, **policy)
        wait_until(lambda: frontier.stats().revisited >= 10, "ten revisits", timeout=60,
                   detail=lambda: f"{frontier.stats()}\n{cluster.logs()}")
        cluster.kill(cluster.processes[0])
        cluster.start_worker("second", concurrency=4)
        stats = cluster.wait_finished("rv-kill", timeout=120)
    finally:
        cluster.stop()

    records = {record.url: record for record in cluster.records("rv-kill")}
    assert sorted(records) == sorted(stored), "no record lost, none added"
    assert stats.revisited == len(stored), "every URL revisited once"
    assert all(record.error is None and record.fetch_count >= 2 for record in records.values())
    asked = defaultdict(int)
    for answer in site.requested(since=started):
        asked[answer.path] += 1
    assert {site.url(path) for path in asked if path != "/robots.txt"} == set(stored)
    assert sum(count - 1 for count in asked.values()) <= 4, "only what the killed worker had in flight twice"
    assert stats.seen == len(stored) and stats.stored == len(stored)
    assert stats.requeued >= 1, "the kill cut revisits off mid-way"


def test_crawler_recrawl_revisits_the_urls_fetched_longer_ago_than_asked(tmp_path: Path, redis_client) -> None:
    cluster = Cluster(tmp_path, TEST_REDIS_URL)
    env = cli_env(TEST_REDIS_URL, CRAWLER_STORE_URL=cluster.store_url)
    with ValidatedSite(pages=4) as site:
        try:
            cluster.start_worker("w", concurrency=2)
            cluster.start_beat()
            seed([site.url("/")], job="rv-cli", allow_private=True, delay=0, host_concurrency=2)
            cluster.wait_finished("rv-cli")
            started = time.time()

            recent = crawler(tmp_path, "recrawl", "--job", "rv-cli", "--older-than", "3600", env=env)
            everything = crawler(tmp_path, "recrawl", "--job", "rv-cli", env=env)
            stats = cluster.wait_finished("rv-cli")
        finally:
            cluster.stop()
        asked = sorted(answer.path for answer in site.requested(since=started))

    assert (recent.returncode, recent.stdout.strip()) == (0, "job rv-cli: 0 stored URL(s) due again; the workers "
                                                          "revisit them now"), describe(recent, tmp_path)
    assert everything.returncode == 0 and "6 stored URL(s) due again" in everything.stdout
    assert asked == sorted(["/", "/plain", *site.pages]) and stats.revisited == 6
    missing = crawler(tmp_path, "recrawl", "--job", "nope", env=env)
    negative = crawler(tmp_path, "recrawl", "--job", "rv-cli", "--older-than", "-5", env=env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "crawler: error: no job named 'nope'")
    assert negative.returncode == 2 and "expected a number of seconds" in negative.stderr


# --- 3. continuous crawling ------------------------------------------------------------------

RUN_SECONDS = 120
MIN, INTERVAL, MAX = 1.0, 2.0, 8.0
# A page is due `interval` after it was stored; it is then fed and handed out by the
# next dispatcher ticks (every 0.5 s in the tests) and fetched.
LATENESS = 3.0


def test_continuous_crawling_revisits_changing_pages_more_often_within_the_bounds(
    tmp_path: Path, redis_client
) -> None:
    volatile = ("/p/0", "/p/1", "/p/2")
    with ValidatedSite(pages=6, volatile=volatile) as site:
        cluster = Cluster(tmp_path, TEST_REDIS_URL)
        try:
            cluster.start_worker("w", concurrency=4)
            cluster.start_beat()
            started = time.time()
            seed([site.url("/")], job="rv-live", allow_private=True, delay=0, host_concurrency=4,
                 revisit_interval=INTERVAL, revisit_min=MIN, revisit_max=MAX)
            time.sleep(RUN_SECONDS)
            status = crawler(tmp_path, "status", "--job", "rv-live", "--json",
                             env=cli_env(TEST_REDIS_URL, CRAWLER_STORE_URL=cluster.store_url))
            frontier = cluster.frontier("rv-live")
            assert frontier.state() == "running", "a continuous job does not finish"
            frontier.set_state(JobState.CANCELLED)
        finally:
            cluster.stop()
        answers = site.requested(since=started)

    times: dict[str, list[float]] = defaultdict(list)
    for answer in answers:
        times[answer.path].append(answer.at)
    assert set(times) == {"/robots.txt", "/", "/plain", *site.pages}, "nothing else was requested"
    assert len(times["/robots.txt"]) == 1
    changing = min(len(times[path]) for path in volatile)
    static = max(len(times[path]) for path in site.pages if path not in volatile)
    assert changing >= 2 * static, f"changing pages fetched {changing} times at least, static ones {static} at most"
    for path, seen in times.items():
        gaps = [later - earlier for earlier, later in itertools.pairwise(seen)]
        assert all(gap >= MIN for gap in gaps), (path, gaps)
        assert all(gap <= MAX + LATENESS for gap in gaps), (path, gaps)

    records = {record.url: record for record in cluster.records("rv-live")}
    assert {records[site.url(path)].revisit_interval for path in volatile} == {MIN}
    assert {records[site.url(path)].revisit_interval for path in site.pages if path not in volatile} == {MAX}
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert 0 < report["due_now"] + report["due_later"] <= len(records), "URLs fed in or fetched are not due"
    assert report["revisited"] > 0
