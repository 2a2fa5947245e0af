"""WARC output end to end: the real `crawler crawl --warc DIR` against a small site that
records every byte it sends, then the files read back with the tools an archive uses
(warcio, cdxj-indexer, pywb) and checked against what the server actually sent and what
the store points at.

The site is crawled once per module (two worker processes, so two WARC files); every
test reads that crawl. The pywb replay runs from its own virtual environment
(tests/integration/replay.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import assert_nothing_left, by_url, cli_env, crawl_ok, export_jsonl, kill_leftovers
from tests.integration.conftest import flushed_test_redis
from tests.integration.replay import collection, get, pywb_bin, tail, wayback
from tests.integration.warc_site import (
    BINARY,
    CHUNKED_HTML,
    GZIP_BODY,
    GZIP_HTML,
    HOME,
    HUGE_SIZE,
    LANDED,
    LINKS,
    MISSING,
    ROBOTS,
    WarcSite,
)

pytestmark = pytest.mark.integration

JOB = "warc-e2e"
MAX_BYTES = 100_000  # CRAWLER_MAX_BYTES of the crawl: /huge is three times that
# {prefix}-{17-digit UTC timestamp}-{5-digit serial}-{hostname}-{pid}.warc.gz
FILE_NAME = re.compile(r"crawler-(\d{17})-(\d{5})-(.+)-(\d+)\.warc\.gz")


# --- the WARC files, read back --------------------------------------------------------------


@dataclass
class WarcRecord:
    file: str
    offset: int
    length: int
    kind: str
    headers: Any  # warcio StatusAndHeaders of the WARC record
    http: Any  # the HTTP headers (response, request), else None
    payload: bytes  # response/request: the payload as stored (no decoding); others: the block

    def header(self, name: str) -> str | None:
        return self.headers.get_header(name)

    @property
    def uri(self) -> str | None:
        return self.header("WARC-Target-URI")

    @property
    def id(self) -> str:
        return self.header("WARC-Record-ID") or ""


def read_warcs(directory: Path) -> list[WarcRecord]:
    """Every record of every file, in file order. Digests are the business of the tests
    that check them (warcio check, the payloads against what was sent), not of this."""
    found = []
    for path in sorted(directory.iterdir()):
        with open(path, "rb") as stream:
            iterator = ArchiveIterator(stream)
            for record in iterator:
                if record.rec_type in ("response", "request"):
                    payload = record.raw_stream.read()
                else:
                    payload = record.content_stream().read()
                iterator.read_to_end(record)
                found.append(WarcRecord(path.name, iterator.get_record_offset(), iterator.get_record_length(),
                                        record.rec_type, record.rec_headers, record.http_headers, payload))
    return found


def warc_sha1(data: bytes) -> str:
    """A payload digest as warcio writes it: sha1:BASE32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def warc_date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the crawl, shared by the tests -----------------------------------------------------------


@dataclass
class Crawl:
    site: WarcSite
    directory: Path  # the crawl's working directory: ./crawl.db is the store
    warc_dir: Path
    names: list[str]  # the WARC directory's entries when `crawler crawl` had exited
    records: list[WarcRecord]
    export: dict[str, dict]
    env: dict[str, str]
    started: datetime
    ended: datetime

    def responses(self, url: str) -> list[WarcRecord]:
        return [r for r in self.records if r.kind == "response" and r.uri == url]

    def response(self, url: str) -> WarcRecord:
        found = self.responses(url)
        assert len(found) == 1, f"{len(found)} response records of {url}"
        return found[0]

    def files(self) -> list[str]:
        return [str(self.warc_dir / name) for name in self.names]


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    client = flushed_test_redis()
    site = WarcSite().start()
    directory = tmp_path_factory.mktemp("warc-crawl")
    warc_dir = directory / "warc"
    env = cli_env(TEST_REDIS_URL, CRAWLER_MAX_BYTES=str(MAX_BYTES), CRAWLER_SITEMAPS="true")
    for name in [name for name in env if name.startswith("CRAWLER_WARC_") or name == "CRAWLER_S3_ENDPOINT_URL"]:
        del env[name]
    try:
        started = datetime.now(UTC)
        job, result = crawl_ok(
            directory, site.url("/"), "--job", JOB, "--warc", str(warc_dir), "--allow-private", "--delay", "0",
            "--workers", "2", env=env,
        )
        ended = datetime.now(UTC)
        assert job == JOB
        assert f"WARC files in {warc_dir.resolve()}" in result.stdout + result.stderr
        assert_nothing_left(directory)  # the workers shut down: that is when files are closed
        names = sorted(path.name for path in warc_dir.iterdir())
        export = by_url(export_jsonl(directory, JOB, env=env))
        yield Crawl(site, directory, warc_dir, names, read_warcs(warc_dir), export, env, started, ended)
    finally:
        kill_leftovers(directory)
        site.stop()
        client.flushdb()
        client.close()


# --- the tests ---------------------------------------------------------------------------------


EXPECTED_PATHS = {"/robots.txt", "/sitemap.xml", "/", "/hop1", "/hop2", "/landed", *LINKS}


def test_files_are_closed_named_and_each_begins_with_warcinfo(crawl: Crawl) -> None:
    # (g) `crawler crawl` exited: every worker closed its file, none is left as ….open.
    assert crawl.names, "no WARC file written"
    assert not [name for name in crawl.names if name.endswith(".open")], f"files left open: {crawl.names}"
    assert all(FILE_NAME.fullmatch(name) for name in crawl.names), crawl.names
    # Two worker processes, a file each (a process that fetched nothing writes none).
    pids = {FILE_NAME.fullmatch(name).group(4) for name in crawl.names}
    assert len(pids) == len(crawl.names) <= 2, crawl.names
    by_file: dict[str, list[WarcRecord]] = {}
    for record in crawl.records:
        by_file.setdefault(record.file, []).append(record)
    assert sorted(by_file) == crawl.names
    for name, records in by_file.items():
        assert records[0].kind == "warcinfo" and records[0].offset == 0, name
        assert records[0].header("WARC-Filename") == name
        assert [r.kind for r in records].count("warcinfo") == 1, name
        info = records[0].payload.decode()
        assert "software: celery-crawler/" in info and "format: WARC File Format 1.1" in info, info
        assert "robots: obey" in info, info
        for record in records:
            assert record.headers.protocol == "WARC/1.1", (name, record.kind, record.headers.protocol)
        # The records tile the file: each gzip member starts where the one before ended.
        ends = [r.offset + r.length for r in records]
        assert [r.offset for r in records[1:]] == ends[:-1], name
        assert ends[-1] == (crawl.warc_dir / name).stat().st_size, name


def test_every_exchange_is_one_response_and_one_request_tied_together(crawl: Crawl) -> None:
    # (a) What the server answered, and the WARC files, URL by URL.
    sent = crawl.site.by_path()
    assert set(sent) == EXPECTED_PATHS
    server = Counter(crawl.site.url(path) for path in sent)
    responses = Counter(r.uri for r in crawl.records if r.kind == "response")
    requests = Counter(r.uri for r in crawl.records if r.kind == "request")
    assert responses == server, "response records per URL differ from the requests the site answered"
    assert requests == server, "request records per URL differ from the requests the site answered"
    by_id = {r.id: r for r in crawl.records}
    assert len(by_id) == len(crawl.records), "WARC-Record-IDs are not unique"
    for request in (r for r in crawl.records if r.kind == "request"):
        response = by_id.get(request.header("WARC-Concurrent-To") or "")
        assert response is not None and response.kind == "response", f"request of {request.uri} ties to nothing"
        assert response.uri == request.uri
        # The request directly follows its response, in the same file.
        index = crawl.records.index(response)
        assert crawl.records[index + 1] is request, request.uri
        path = request.uri.removeprefix(crawl.site.base)
        assert (request.http.protocol, request.http.statusline) == ("GET", f"{path} HTTP/1.1")
        assert request.http.get_header("Host") == crawl.site.base.removeprefix("http://")
        assert (request.http.get_header("User-Agent") or "").startswith("celery-crawler/")
        assert request.payload == b""
        assert request.header("WARC-Date") == response.header("WARC-Date")


def test_every_exchange_has_its_date_and_the_address_it_went_to(crawl: Crawl) -> None:
    wrong = []
    for record in crawl.records:
        if record.kind not in ("response", "request"):
            continue
        when = warc_date(record.header("WARC-Date") or "")
        assert crawl.started <= when <= crawl.ended, (record.uri, when)
        if record.header("WARC-IP-Address") != "127.0.0.1":
            wrong.append((record.kind, record.uri, record.header("WARC-IP-Address")))
    assert wrong == [], f"records without the server's address as WARC-IP-Address: {wrong}"


def test_payloads_are_the_bytes_the_server_sent(crawl: Crawl) -> None:
    # (b) The payload, as stored (no decoding), is what went over the wire: every URL is
    # checked before the assertion, so a failure lists all the payloads that differ.
    differ = []
    for path, sent in crawl.site.by_path().items():
        response = crawl.response(crawl.site.url(path))
        assert int(response.http.get_statuscode()) == sent.status, path
        for name, value in sent.headers.items():
            if name != "Transfer-Encoding":
                assert response.http.get_header(name) == value, (path, name)
        if path == "/huge":
            continue
        assert response.header("WARC-Truncated") is None, path
        if hashlib.sha1(response.payload).hexdigest() != sent.sha1:
            differ.append(f"{path}: payload {response.payload[:40]!r} ({len(response.payload)} bytes), "
                          f"the site sent {sent.body[:40]!r} ({len(sent.body)} bytes)")
        elif response.header("WARC-Payload-Digest") != warc_sha1(sent.body):
            differ.append(f"{path}: WARC-Payload-Digest {response.header('WARC-Payload-Digest')}, "
                          f"sha1 of what was sent {warc_sha1(sent.body)}")
    assert differ == [], "payloads that are not what the site sent:\n" + "\n".join(differ)

    gzipped = crawl.response(crawl.site.url("/gzip"))
    assert gzipped.payload[:2] == b"\x1f\x8b"
    assert gzip.decompress(gzipped.payload) == GZIP_HTML
    assert gzipped.http.get_header("Content-Encoding") == "gzip"

    chunked = crawl.response(crawl.site.url("/chunked"))
    assert chunked.payload == CHUNKED_HTML  # de-chunked
    assert chunked.http.get_header("Transfer-Encoding") is None
    assert chunked.http.get_header("X-Crawler-Transfer-Encoding") == "chunked"

    assert crawl.response(crawl.site.url("/blob.bin")).payload == BINARY
    hops = [crawl.response(crawl.site.url(p)) for p in ("/hop1", "/hop2")]
    assert [(h.http.get_statuscode(), h.http.get_header("Location")) for h in hops] == [
        ("301", "/hop2"), ("302", crawl.site.url("/landed"))
    ]


def test_a_body_past_max_bytes_is_a_truncated_prefix(crawl: Crawl) -> None:
    # (c)
    sent = crawl.site.by_path()["/huge"]
    assert len(sent.body) == HUGE_SIZE
    response = crawl.response(crawl.site.url("/huge"))
    assert response.header("WARC-Truncated") == "length"
    assert MAX_BYTES <= len(response.payload) < HUGE_SIZE, len(response.payload)
    assert sent.body.startswith(response.payload), "the truncated payload is not a prefix of the body sent"
    assert response.header("WARC-Payload-Digest") == warc_sha1(response.payload)
    assert response.http.get_header("Content-Length") == str(HUGE_SIZE)
    record = crawl.export[crawl.site.url("/huge")]
    assert record["error"] == "too large"


def test_warcio_check_passes_every_file(crawl: Crawl) -> None:
    # (d)
    checked = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", *crawl.files()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    out = checked.stdout + checked.stderr
    assert checked.returncode == 0, out
    assert "digest pass" in checked.stdout, out
    assert "digest fail" not in out and "invalid" not in out.lower(), out
    for name in crawl.names:
        assert name in checked.stdout, out


def test_cdxj_indexer_indexes_every_file_and_page(crawl: Crawl) -> None:
    # (e)
    script = Path(sys.executable).parent / "cdxj-indexer"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "cdxj_indexer.main"]
    indexed = subprocess.run(
        [*command, *crawl.files()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    lines = [line for line in indexed.stdout.splitlines() if line.strip()]
    entries = []
    for line in lines:
        surt, stamp, data = line.split(" ", 2)
        assert surt.startswith("1,0,0,127:") and re.fullmatch(r"\d{14}", stamp), line
        entries.append(json.loads(data))
    assert {entry["filename"] for entry in entries} == set(crawl.names)
    responses = {(e["url"], e["filename"], int(e["offset"]), int(e["length"])): e for e in entries if "status" in e}
    digests = []
    for path, sent in crawl.site.by_path().items():
        url = crawl.site.url(path)
        record = crawl.response(url)
        entry = responses.get((url, record.file, record.offset, record.length))
        assert entry is not None, f"no index line for the response of {url}: {lines}"
        assert int(entry["status"]) == sent.status, url
        if path != "/huge" and entry["digest"] != warc_sha1(sent.body):
            digests.append(f"{path}: indexed {entry['digest']}, sent {warc_sha1(sent.body)}")
    for record in crawl.export.values():
        key = (record["final_url"], record["warc_file"], record["warc_offset"], record["warc_length"])
        assert key in responses, f"the store's pointer of {record['url']} is not an indexed response: {key}"
    assert digests == [], "index digests that are not those of what the site sent:\n" + "\n".join(digests)


def test_the_stores_pointers_seek_to_the_final_response(crawl: Crawl) -> None:
    # (f)
    site = crawl.site
    expected = {site.url(p) for p in ("/", *LINKS, "/sitemap.xml")}
    assert set(crawl.export) == expected
    assert crawl.export[site.url("/hop1")]["final_url"] == site.url("/landed")
    assert crawl.export[site.url("/gzip")]["title"] == "Gzipped"
    assert crawl.export[site.url("/chunked")]["title"] == "Chunked"
    assert crawl.export[site.url("/missing")]["status"] == 404
    assert crawl.export[site.url("/sitemap.xml")]["status"] == 404
    ids = {r.id for r in crawl.records if r.kind == "response"}
    for url, record in crawl.export.items():
        name, offset, length = record["warc_file"], record["warc_offset"], record["warc_length"]
        assert isinstance(name, str) and isinstance(offset, int) and isinstance(length, int), (url, record)
        assert name in crawl.names, f"{url} points at {name!r}, not a file of the crawl ({crawl.names})"
        with open(crawl.warc_dir / name, "rb") as stream:
            stream.seek(offset)
            member = stream.read(length)
            after = stream.read(2)
        assert len(member) == length, url
        # Exactly one gzip member: nothing of it is cut off, nothing of the next is in it.
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        decompressor.decompress(member)
        assert decompressor.eof and decompressor.unused_data == b"", f"{url}: not one whole gzip member"
        assert after in (b"", b"\x1f\x8b"), f"{url}: the next record does not start where the pointer ends"
        parsed = list(ArchiveIterator(io.BytesIO(member), check_digests="raise"))
        assert len(parsed) == 1 and parsed[0].rec_type == "response", url
        assert parsed[0].rec_headers.get_header("WARC-Target-URI") == record["final_url"], url
        assert parsed[0].rec_headers.get_header("WARC-Record-ID") in ids
        assert int(parsed[0].http_headers.get_statuscode()) == record["status"], url


def test_metadata_records_refer_to_their_response(crawl: Crawl) -> None:
    # (h)
    site = crawl.site
    metadata = [r for r in crawl.records if r.kind == "metadata"]
    home = crawl.response(site.url("/"))
    about_home = [m for m in metadata if m.header("WARC-Refers-To") == home.id]
    assert len(about_home) == 1, f"metadata records about {site.url('/')}: {len(about_home)}"
    record = about_home[0]
    assert record.uri == site.url("/") and record.header("Content-Type") == "application/warc-fields"
    fields = [tuple(line.split(": ", 1)) for line in record.payload.decode().splitlines()]
    values = {name: value for name, value in fields}
    assert values["job"] == JOB and values["depth"] == "0", fields
    assert warc_date(values["fetchedAt"]) and int(values["fetchTimeMs"]) >= 0
    outlinks = [value for name, value in fields if name == "outlink"]
    assert sorted(outlinks) == sorted(site.url(link) for link in LINKS)
    assert sorted(outlinks) == sorted(crawl.export[site.url("/")]["outlinks"])

    landed = crawl.response(site.url("/landed"))
    about_landed = [m for m in metadata if m.header("WARC-Refers-To") == landed.id]
    assert len(about_landed) == 1
    redirects = [line.split(": ", 1)[1] for line in about_landed[0].payload.decode().splitlines()
                 if line.startswith("redirect: ")]
    assert redirects == [site.url("/hop2"), site.url("/landed")]
    # Every metadata record refers to a response of the crawl.
    responses = {r.id for r in crawl.records if r.kind == "response"}
    assert all(m.header("WARC-Refers-To") in responses for m in metadata)


# --- replay with pywb -------------------------------------------------------------------------


def test_pywb_replays_the_pages_as_served(crawl: Crawl, tmp_path: Path) -> None:
    bin_dir = pywb_bin()
    collection(tmp_path, bin_dir, crawl.files())

    site = crawl.site
    served = {
        "/": (200, HOME),
        "/landed": (200, LANDED),
        "/gzip": (200, GZIP_HTML),
        "/chunked": (200, CHUNKED_HTML),
        "/blob.bin": (200, BINARY),
        "/robots.txt": (200, ROBOTS),
        "/missing": (404, MISSING),
    }
    with wayback(tmp_path, bin_dir) as port:
        for path, (status, body) in served.items():
            got_status, headers, got = get(port, f"/coll/id_/{site.url(path)}")
            context = f"{path}: pywb answered {got_status} {headers}\n{got[:300]!r}\n{tail(tmp_path / 'wayback.log')}"
            assert got_status == status, context
            # To a client that does not take gzip, pywb sends the gzip page decoded.
            if headers.get("content-encoding") == "gzip":
                got = gzip.decompress(got)
            assert got == body, context
        # To one that does, the archived bytes as they are: what the site sent.
        got_status, headers, got = get(port, f"/coll/id_/{site.url('/gzip')}", encoding="gzip")
        assert (got_status, headers.get("content-encoding")) == (200, "gzip"), (got_status, headers)
        assert got == GZIP_BODY
        # The redirect hops replay as the redirects they were, bodies and all.
        for path, status, location, body in (
            ("/hop1", 301, "/hop2", b"moved permanently"),
            ("/hop2", 302, site.url("/landed"), b"found elsewhere"),
        ):
            got_status, headers, got = get(port, f"/coll/id_/{site.url(path)}", timeout=5)
            assert (got_status, got) == (status, body), (path, got_status, headers, got)
            assert headers.get("location", "").endswith(location), (path, headers)
