"""A hostile site: huge pages, a gzip bomb, a trickling server, endless calendars,
session ids and repeating paths, and addresses the crawler must refuse."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.urls import canonicalize
from tasks import seed
from tests.integration.site import Host, Response, page

MIB = 1024 * 1024
TITLES = {"/sjis": "東京の天気", "/cp1251": "Погода в Москве", "/utf16": "Ünïcödé", "/disagree": "Café"}
CHARSET_PAGES = {
    "/sjis": (f"<title>{TITLES['/sjis']}</title>".encode("shift_jis"), "text/html; charset=Shift_JIS"),
    "/cp1251": (
        f'<meta charset="windows-1251"><title>{TITLES["/cp1251"]}</title>'.encode("cp1251"), "text/html"
    ),
    "/utf16": (f"<title>{TITLES['/utf16']}</title>".encode("utf-16"), "text/html"),
    "/disagree": (
        f'<meta charset="iso-8859-1"><title>{TITLES["/disagree"]}</title>'.encode(),
        "text/html; charset=utf-8",
    ),
}
BOMB = gzip.compress(b"\0" * (200 * MIB), compresslevel=9)


def _huge(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(30 * MIB))
    handler.end_headers()
    chunk = b"<p>" + b"x" * (MIB - 3)
    try:
        for _ in range(30):
            handler.wfile.write(chunk)
    except OSError:
        pass


def _trickle(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(40):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.25)
    except OSError:
        pass


def _dynamic(path: str):
    if path.startswith("/cal?month="):
        month = int(path.split("=", 1)[1])
        return page(f"month {month}", [f"/cal?month={month + 1}", f"/cal?month={month - 1}"])
    if path.startswith("/sess"):
        return page("session", [f"/sess?sid={time.time_ns()}", f"/sess?sid={time.time_ns() + 1}"])
    if path.startswith("/loop/"):
        return page("loop", ["a/"])
    return Response(404, "missing")


@pytest.fixture
def hostile():
    host = Host("127.0.0.1")
    host.routes["/"] = page(
        "home", ["/huge", "/bomb", "/slow", "/cal?month=0", "/sess?sid=1", "/loop/", "/fine", "/away"]
    )
    host.routes["/away"] = Response(302, headers={"Location": "http://127.0.0.3:9/elsewhere"})
    for path, (body, content_type) in CHARSET_PAGES.items():
        host.routes[path] = Response(body=body, content_type=content_type)
    host.routes["/"].body += "".join(f'<a href="{path}">x</a>' for path in CHARSET_PAGES)
    host.routes["/huge"] = _huge
    host.routes["/bomb"] = Response(body=BOMB, headers={"Content-Encoding": "gzip"})
    host.routes["/slow"] = _trickle
    host.routes["/fine"] = page("fine")
    host.fallback = _dynamic
    host.start()
    yield host
    host.stop()


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(
    ("pool", "concurrency", "warc"), [("solo", 1, False), ("gevent", 8, False), ("gevent", 8, True)]
)
def test_a_hostile_site_is_crawled_to_the_end_within_bounded_memory(
    cluster, hostile, record_property, tmp_path, pool, concurrency, warc
):
    """With WARC on too: what is archived of a huge page or a bomb is what was read within
    the cap, never a second copy of the rest."""
    if warc:
        cluster.env["CRAWLER_WARC_DIR"] = str(tmp_path / "warc")
    worker = cluster.start_worker(pool, concurrency=concurrency, pool=pool)
    cluster.start_beat()
    started = time.monotonic()
    seed([hostile.url("/")], job="hostile", allow_private=True, delay=0, host_concurrency=2,
         max_depth=6, download_deadline=1.5, timeout=1.0, max_retries=1, retry_backoff=0.1)
    cluster.wait_finished("hostile", timeout=120)
    elapsed = time.monotonic() - started
    peak = _peak_rss_mib(worker.pid)
    record_property("worker_peak_rss_mib", round(peak, 1))
    records = {record.url: record for record in cluster.records("hostile")}

    assert records[hostile.url("/huge")].error == "too large"
    assert records[hostile.url("/bomb")].error == "too large"
    assert records[hostile.url("/slow")].error == "download deadline exceeded"
    assert records[hostile.url("/fine")].error is None
    assert {path: records[hostile.url(path)].title for path in CHARSET_PAGES} == TITLES
    assert records[hostile.url("/away")].error == "redirect out of scope"
    assert records[hostile.url("/away")].status == 302
    assert records[hostile.url("/away")].final_url == "http://127.0.0.3:9/elsewhere"
    assert peak < 150, f"worker peak RSS {peak:.0f} MiB"
    calendar = [url for url in records if "/cal?" in url]
    assert len(calendar) == 11, "months -5..5: the calendar stops at the depth limit (month 0 is at depth 1)"
    assert [url for url in records if "/sess" in url] == [hostile.url("/sess")], "session ids are dropped"
    assert max(url.count("/a") for url in records) <= 6
    assert elapsed < 60, "the trickling page did not hold the crawl up"
    if warc:
        cluster.stop()
        truncated = _truncated_captures(tmp_path / "warc")
        assert truncated[hostile.url("/huge")] == "length" and truncated[hostile.url("/bomb")] == "length"
        assert truncated[hostile.url("/slow")] == "time"


def _truncated_captures(warc_dir: Path) -> dict[str, str]:
    """WARC-Truncated of every response record that has one, by URL."""
    found = {}
    for path in warc_dir.iterdir():
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                reason = record.rec_headers.get_header("WARC-Truncated")
                if record.rec_type == "response" and reason:
                    found[record.rec_headers.get_header("WARC-Target-URI")] = reason
    return found


LOOPBACK_SPELLINGS = ["127.0.0.1", "127.1.2.3", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "2130706433"]


def test_private_addresses_are_refused_in_every_spelling_without_allow_private(cluster, hostile):
    port = hostile.server.server_address[1]
    seeds = [f"http://{host}:{port}/" for host in LOOPBACK_SPELLINGS]
    cluster.start_worker()
    cluster.start_beat()
    seed(seeds, job="ssrf", delay=0)
    cluster.wait_finished("ssrf", timeout=60)

    records = cluster.records("ssrf")
    # One record per address as the URL standard spells it: w3lib from 2.6 on writes
    # 2130706433 as 127.0.0.1, so that spelling is then the first seed's URL.
    assert sorted(record.url for record in records) == sorted({canonicalize(url) for url in seeds})
    assert all(record.error and record.error.startswith("address not allowed") for record in records), [
        (record.url, record.error) for record in records
    ]
    assert hostile.log == [], "not one request reached the server"
