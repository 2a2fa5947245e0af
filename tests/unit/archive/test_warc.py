"""WARC capture without services: the fetcher hands every exchange to a real WarcWriter,
and the files are read back with warcio as any archive tool would read them."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.archive import OPEN_SUFFIX, WarcWriter, adopt_orphans, warcinfo
from pipeline.fetch import (
    REVISIT_IDENTICAL,
    REVISIT_NOT_MODIFIED,
    Exchange,
    Fetcher,
    PermanentFetchError,
    Reference,
    TransientFetchError,
    WarcPointer,
)
from pipeline.settings import Policy
from tests.unit.conftest import BIG_SIZE, PAGE_HTML

HOST = "warc.test"


@pytest.fixture
def guarded_loopback(monkeypatch):
    """HOST resolves to 127.0.0.1 and the guard counts that address (only) as public, so
    the guarded connections run as they do against the real web."""
    import socket

    from pipeline.fetch import guard

    resolve = socket.getaddrinfo
    monkeypatch.setattr(guard, "is_public", lambda address: address == "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kw: resolve("127.0.0.1", *args, **kw))


@pytest.fixture
def writer(tmp_path):
    writer = WarcWriter(str(tmp_path), "test", 10**9, warcinfo(True, "ops@example.org", "test-agent"))
    yield writer
    writer.close()


@pytest.fixture
def fetcher(writer):
    fetcher = Fetcher(archive=writer)
    yield fetcher
    fetcher.close()


def url(site, path):
    return site.url(path).replace("127.0.0.1", HOST)


def records(directory):
    """Every record of every WARC file in `directory`, digests checked, in file order."""
    found = []
    for path in sorted(directory.iterdir()):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, check_digests="raise"):
                found.append((path.name, record.rec_type, record.rec_headers, record.http_headers,
                              record.content_stream().read() if record.rec_type == "metadata"
                              else record.raw_stream.read()))
    return found


def test_a_page_is_archived_as_a_request_and_a_response_tied_together(site, fetcher, writer, tmp_path,
                                                                      guarded_loopback):
    result = fetcher.fetch(url(site, "/html"), Policy(timeout=5.0))
    writer.close()

    found = records(tmp_path)
    kinds = [kind for _, kind, *_ in found]
    assert kinds == ["warcinfo", "response", "request"]
    info = found[0][4].decode()
    assert "software: celery-crawler/" in info and "operator: ops@example.org" in info
    assert "robots: obey" in info and "format: WARC File Format 1.1" in info
    _, _, response_headers, http, payload = found[1]
    _, _, request_headers, request_http, _ = found[2]
    assert response_headers.get_header("WARC-Target-URI") == url(site, "/html")
    assert response_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert request_headers.get_header("WARC-Concurrent-To") == response_headers.get_header("WARC-Record-ID")
    assert response_headers.get_header("WARC-Payload-Digest", "").startswith("sha1:")
    assert response_headers.get_header("WARC-Block-Digest", "").startswith("sha1:")
    assert http.get_statuscode() == "200" and http.get_header("Content-Type") == "text/html; charset=utf-8"
    assert payload == PAGE_HTML
    assert request_http.protocol == "GET" and request_http.statusline == "/html HTTP/1.1"
    assert request_http.get_header("User-Agent") == Policy().user_agent
    assert request_http.get_header("Host") == url(site, "").removeprefix("http://")
    assert result.warc.file == found[1][0] and result.warc.record_id == response_headers.get_header("WARC-Record-ID")


def test_the_records_pointer_seeks_straight_to_its_response(site, fetcher, writer, tmp_path):
    policy = Policy(allow_private=True, timeout=5.0)
    results = [fetcher.fetch(site.url(path), policy) for path in ("/html", "/plain", "/sjis")]
    writer.close()

    for result in results:
        with open(tmp_path / result.warc.file, "rb") as stream:
            stream.seek(result.warc.offset)
            member = stream.read(result.warc.length)
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == result.url


def test_a_gzip_body_is_archived_as_sent_and_parsed_decoded(site, fetcher, writer, tmp_path):
    result = fetcher.fetch(site.url("/gzip-page"), Policy(allow_private=True, timeout=5.0))
    writer.close()

    assert result.text is not None and "<title>" in result.text
    (_, _, headers, http, payload) = records(tmp_path)[1]
    assert http.get_header("Content-Encoding") == "gzip"
    assert payload[:2] == b"\x1f\x8b" and gzip.decompress(payload) == PAGE_HTML
    assert headers.get_header("WARC-Truncated") is None


def test_every_redirect_hop_is_an_exchange_of_its_own(site, fetcher, writer, tmp_path):
    result = fetcher.fetch(site.url("/redirect/3"), Policy(allow_private=True, timeout=5.0))
    writer.close()

    responses = [(h.get_header("WARC-Target-URI"), http.get_statuscode())
                 for _, kind, h, http, _ in records(tmp_path) if kind == "response"]
    assert responses == [
        (site.url("/redirect/3"), "302"),
        (site.url("/redirect/2?code=302"), "302"),
        (site.url("/redirect/1?code=302"), "302"),
        (site.url("/html"), "200"),
    ]
    assert result.final_url == site.url("/html")
    requests = [h.get_header("WARC-Target-URI") for _, kind, h, _, _ in records(tmp_path) if kind == "request"]
    assert requests == [target for target, _ in responses]


def test_error_pages_are_archived_with_their_bodies(site, fetcher, writer, tmp_path):
    policy = Policy(allow_private=True, timeout=5.0, max_retries=0)
    result = fetcher.fetch(site.url("/status/404"), policy)
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/status/503"), policy)
    writer.close()

    found = [(http.get_statuscode(), payload) for _, kind, _, http, payload in records(tmp_path) if kind == "response"]
    assert found == [
        ("404", b"<html><title>status 404</title></html>"),
        ("503", b"<html><title>status 503</title></html>"),
    ]
    assert result.error == "HTTP 404" and result.warc.file is not None
    assert info.value.warc is not None


def test_a_body_past_the_size_cap_is_archived_as_far_as_read_and_marked(site, fetcher, writer, tmp_path):
    cap = BIG_SIZE // 2
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/big"), Policy(allow_private=True, max_bytes=cap, timeout=5.0))
    writer.close()

    (_, _, headers, http, payload) = records(tmp_path)[1]
    assert info.value.reason == "too large" and info.value.warc is not None
    assert headers.get_header("WARC-Truncated") == "length"
    assert http.get_header("Content-Length") == str(BIG_SIZE)
    # What was read within the cap, plus at most the one read that went past it.
    assert cap < len(payload) <= cap + 64 * 1024 and set(payload) == {ord("x")}


def test_a_gzip_bomb_is_archived_compressed_and_cut_at_the_decoded_cap(site, fetcher, writer, tmp_path):
    with pytest.raises(PermanentFetchError):
        fetcher.fetch(site.url("/gzip-bomb"), Policy(allow_private=True, max_bytes=100 * 1024, timeout=5.0))
    writer.close()

    (_, _, headers, _, payload) = records(tmp_path)[1]
    assert headers.get_header("WARC-Truncated") == "length"
    assert payload[:2] == b"\x1f\x8b" and len(payload) <= 64 * 1024


def test_a_body_cut_by_the_download_deadline_is_marked_time(site, fetcher, writer, tmp_path):
    policy = Policy(allow_private=True, timeout=5.0, download_deadline=0.5, lease_timeout=600)
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/trickle?size=100&every=0.02"), policy)
    writer.close()

    (_, _, headers, _, payload) = records(tmp_path)[1]
    assert info.value.reason == "download deadline exceeded"
    assert headers.get_header("WARC-Truncated") == "time"
    assert 0 < len(payload) < 100 and set(payload) == {ord("x")}


def test_robots_txt_is_archived_like_a_page(site, fetcher, writer, tmp_path):
    status, _ = fetcher.get_text(site.url("/robots.txt"), Policy(allow_private=True, timeout=5.0), 1000)
    writer.close()

    responses = [(h.get_header("WARC-Target-URI"), http.get_statuscode())
                 for _, kind, h, http, _ in records(tmp_path) if kind == "response"]
    assert status == 404 and responses == [(site.url("/robots.txt"), "404")]


def test_files_rotate_at_their_size_and_each_starts_with_warcinfo(site, tmp_path):
    writer = WarcWriter(str(tmp_path), "rot", 2000, warcinfo(True, "", "agent"))
    fetcher = Fetcher(archive=writer)
    paths = ["/html", "/plain", "/sjis", "/untyped", "/exact/300", "/gzip-page"]
    results = [fetcher.fetch(site.url(path), Policy(allow_private=True, timeout=5.0)) for path in paths]
    open_before_close = [p.name for p in tmp_path.iterdir() if p.name.endswith(OPEN_SUFFIX)]
    writer.close()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) >= 3 and not any(name.endswith(OPEN_SUFFIX) for name in names)
    assert len(open_before_close) <= 1
    serials = [name.split("-")[2] for name in names]
    assert serials == [f"{n:05d}" for n in range(len(names))]
    for name in names:
        assert name.startswith("rot-") and name.endswith(f"-{os.getpid()}.warc.gz")
        with open(tmp_path / name, "rb") as stream:
            assert next(iter(ArchiveIterator(stream))).rec_type == "warcinfo"
    assert {result.warc.file for result in results} <= set(names)
    fetcher.close()


def test_a_killed_writer_leaves_an_open_file_readable_to_its_last_record(site, tmp_path):
    """A child writes records until it is SIGKILLed mid-way; what it left is a valid WARC up
    to the last complete record, and another writer never appends to it."""
    script = textwrap.dedent(f"""
        import sys
        from pipeline.fetch import Exchange
        from pipeline.archive import WarcWriter, warcinfo
        writer = WarcWriter({str(tmp_path)!r}, "killed", 10**9, warcinfo(True, "", "agent"))
        body = bytes(range(256)) * 4096
        n = 0
        while True:
            writer.exchange(Exchange("http://example.com/%d" % n, "2026-01-01T00:00:00Z", "GET / HTTP/1.1", [],
                                     "HTTP/1.1", 200, "OK", [("Content-Length", str(len(body)))], [body]))
            n += 1
            if n == 20:
                print("ready", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=os.getcwd())
    assert child.stdout.readline() == b"ready\n"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    after = WarcWriter(str(tmp_path), "killed", 10**9, warcinfo(True, "", "agent"))
    after.exchange(_exchange())
    after.close()

    left = [p for p in tmp_path.iterdir() if p.name.endswith(OPEN_SUFFIX)]
    assert len(left) == 1 and left[0].name.endswith(f"-{child.pid}.warc.gz{OPEN_SUFFIX}")
    responses = 0
    with open(left[0], "rb") as stream:
        iterator = ArchiveIterator(stream, check_digests="raise")
        try:
            for record in iterator:
                if record.rec_type == "response":
                    assert hashlib.sha1(record.raw_stream.read()).digest() == hashlib.sha1(
                        bytes(range(256)) * 4096).digest()
                    responses += 1
        except Exception:
            pass  # the record the kill cut short: everything before it was read and checked
    assert responses >= 20
    closed = [p for p in tmp_path.iterdir() if not p.name.endswith(OPEN_SUFFIX)]
    assert len(closed) == 1 and closed[0].name.endswith(f"-{os.getpid()}.warc.gz")

    # The next writer on the host adopts the orphan once it has gone unwritten a while.
    assert adopt_orphans(tmp_path) == [], "too recent: it might be a writer that has not locked it yet"
    (adopted,) = adopt_orphans(tmp_path, min_age=0)
    assert adopted == left[0].with_name(left[0].name.removesuffix(OPEN_SUFFIX)) and not left[0].exists()
    with open(adopted, "rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream, check_digests="raise")]
    assert kinds[0] == "warcinfo" and kinds.count("response") == responses, "cut back to the last whole record"


def test_a_live_writers_file_is_never_adopted(tmp_path):
    writer = WarcWriter(str(tmp_path), "live", 10**9, warcinfo(True, "", "agent"))
    writer.exchange(_exchange())
    assert adopt_orphans(tmp_path, min_age=0) == []
    writer.exchange(_exchange())
    writer.close()
    (path,) = tmp_path.iterdir()
    with open(path, "rb") as stream:
        assert [r.rec_type for r in ArchiveIterator(stream)] == ["warcinfo"] + ["response", "request"] * 2


def test_a_forked_child_writes_a_file_of_its_own(tmp_path):
    writer = WarcWriter(str(tmp_path), "fork", 10**9, warcinfo(True, "", "agent"))
    writer.exchange(_exchange())
    pid = os.fork()
    if pid == 0:
        writer.exchange(_exchange())
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    writer.exchange(_exchange())
    writer.close()

    kinds = {}
    for path in tmp_path.iterdir():
        with open(path, "rb") as stream:
            kinds[path.name.rsplit("-", 1)[1]] = [record.rec_type for record in ArchiveIterator(stream)]
    assert kinds == {
        f"{os.getpid()}.warc.gz": ["warcinfo", "response", "request", "response", "request"],
        f"{pid}.warc.gz": ["warcinfo", "response", "request"],
    }


def test_warcio_check_accepts_the_files(site, fetcher, writer, tmp_path):
    policy = Policy(allow_private=True, timeout=5.0, max_retries=0)
    for path in ("/html", "/gzip-page", "/redirect/2", "/status/404", "/plain"):
        fetcher.fetch(site.url(path), policy)
    writer.close()

    files = [str(p) for p in tmp_path.iterdir()]
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", *files],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout


def _exchange():
    return Exchange("http://example.com/", "2026-01-01T00:00:00Z", "GET / HTTP/1.1", [("Accept", "*/*")],
                    "HTTP/1.1", 200, "OK", [("Content-Length", "2")], [b"o", b"k"])


def _digest(payload):
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()


NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# The response of _exchange() as archived a month before.
ORIGINAL = Reference("http://example.com/", "2025-12-01T17:30:55.123Z",
                     "<urn:uuid:8b1f4a4e-4f1e-4e5c-9d55-0c3b3c1f2a10>", _digest(b"ok"))


def _not_modified(refers_to):
    return Exchange("http://example.com/", "2026-01-01T00:00:00Z", "GET / HTTP/1.1",
                    [("If-None-Match", '"v1"'), ("If-Modified-Since", "Mon, 01 Dec 2025 17:30:55 GMT")],
                    "HTTP/1.1", 304, "Not Modified", [("ETag", '"v1"'), ("Cache-Control", "max-age=60")], [],
                    refers_to=refers_to)


def _record_at(directory, capture):
    """The record a capture points at, read from its gzip member alone."""
    with open(directory / capture.file, "rb") as stream:
        stream.seek(capture.offset)
        member = stream.read(capture.length)
    record = next(iter(ArchiveIterator(io.BytesIO(member), no_record_parse=True)))
    return record.rec_headers, record.raw_stream.read()


def _assert_refers_to_original(headers, profile):
    assert headers.get_header("WARC-Profile") == profile
    assert headers.get_header("WARC-Refers-To-Target-URI") == ORIGINAL.target_uri
    assert headers.get_header("WARC-Refers-To-Date") == ORIGINAL.date
    assert headers.get_header("WARC-Refers-To") == ORIGINAL.record_id
    assert headers.get_header("WARC-Truncated") is None


def test_a_304_to_a_revisit_is_archived_as_a_server_not_modified_revisit(writer, tmp_path):
    capture = writer.exchange(_not_modified(ORIGINAL))
    writer.close()

    (_, (name, kind, headers, http, payload), (_, request_kind, request_headers, request_http, _)) = records(tmp_path)
    assert kind == "revisit" and request_kind == "request"
    _assert_refers_to_original(headers, NOT_MODIFIED_PROFILE)
    assert headers.get_header("WARC-Payload-Digest") is None
    assert http.get_statuscode() == "304" and http.get_header("ETag") == '"v1"' and payload == b""
    assert request_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert request_http.get_header("If-None-Match") == '"v1"'
    assert capture == WarcPointer(name, capture.offset, capture.length, headers.get_header("WARC-Record-ID"),
                              None, REVISIT_NOT_MODIFIED)
    pointed, block = _record_at(tmp_path, capture)
    assert pointed.get_header("WARC-Record-ID") == capture.record_id
    assert block.startswith(b"HTTP/1.1 304 Not Modified\r\n") and block.endswith(b"max-age=60\r\n\r\n")


def test_an_unchanged_payload_is_archived_as_an_identical_payload_digest_revisit(writer, tmp_path):
    capture = writer.exchange(replace(_exchange(), refers_to=ORIGINAL))
    writer.close()

    (_, (_, kind, headers, http, payload), (_, _, request_headers, _, _)) = records(tmp_path)
    assert kind == "revisit"
    _assert_refers_to_original(headers, IDENTICAL_PROFILE)
    assert headers.get_header("WARC-Payload-Digest") == ORIGINAL.digest == capture.digest
    assert http.get_statuscode() == "200" and http.get_header("Content-Length") == "2" and payload == b""
    assert request_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert capture.revisit == REVISIT_IDENTICAL and capture.record_id == headers.get_header("WARC-Record-ID")
    pointed, block = _record_at(tmp_path, capture)
    assert pointed.get_header("WARC-Type") == "revisit"
    assert block.startswith(b"HTTP/1.1 200 OK\r\n") and block.endswith(b"Content-Length: 2\r\n\r\n")


@pytest.mark.parametrize("change", [
    {"payload": [b"changed"]},
    {"truncated": "length"},
    {"refers_to": None},
    {"refers_to": replace(ORIGINAL, digest=None)},
    {"status": 404, "reason": "Not Found"},
    {"status": 304, "reason": "Not Modified", "payload": [], "refers_to": None},
], ids=["changed", "truncated", "no reference", "no digest", "not a 200", "304 to a first visit"])
def test_any_other_answer_is_archived_as_a_full_response(writer, tmp_path, change):
    exchange = replace(_exchange(), **{"refers_to": ORIGINAL, **change})
    capture = writer.exchange(exchange)
    writer.close()

    (_, (_, kind, headers, http, payload), _) = records(tmp_path)
    assert kind == "response" and http.get_statuscode() == str(exchange.status)
    assert payload == b"".join(exchange.payload)
    assert headers.get_header("WARC-Truncated") == exchange.truncated
    assert headers.get_header("WARC-Profile") is None and headers.get_header("WARC-Refers-To") is None
    assert capture.digest == headers.get_header("WARC-Payload-Digest") == _digest(payload)
    assert capture.revisit is None and capture.record_id == headers.get_header("WARC-Record-ID")


def test_a_reference_without_a_record_id_leaves_out_warc_refers_to(writer, tmp_path):
    unknown = replace(ORIGINAL, record_id=None)
    writer.exchange(_not_modified(unknown))
    writer.exchange(replace(_exchange(), refers_to=unknown))
    writer.close()

    revisits = [headers for _, kind, headers, *_ in records(tmp_path) if kind == "revisit"]
    assert [headers.get_header("WARC-Profile") for headers in revisits] == [NOT_MODIFIED_PROFILE, IDENTICAL_PROFILE]
    for headers in revisits:
        assert headers.get_header("WARC-Refers-To") is None
        assert headers.get_header("WARC-Refers-To-Target-URI") == ORIGINAL.target_uri
        assert headers.get_header("WARC-Refers-To-Date") == ORIGINAL.date


def test_warcio_check_accepts_revisit_records(writer, tmp_path):
    for exchange in (_exchange(), _not_modified(ORIGINAL), replace(_exchange(), refers_to=ORIGINAL)):
        writer.exchange(exchange)
    writer.close()

    (path,) = tmp_path.iterdir()
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("digest present but not checked (revisit)") == 2
    # warcio checks no digest of a revisit record: the block digest is checked here.
    with open(path, "rb") as stream:
        blocks = [(record.rec_headers, record.raw_stream.read())
                  for record in ArchiveIterator(stream, no_record_parse=True) if record.rec_type == "revisit"]
    assert len(blocks) == 2
    for headers, block in blocks:
        assert headers.get_header("WARC-Block-Digest") == _digest(block)
        assert int(headers.get_header("Content-Length")) == len(block) and block.endswith(b"\r\n\r\n")


def test_a_rendered_pages_conversions_are_under_urns_of_their_own(writer, tmp_path):
    page = "http://warc.test/app"
    writer.dom(page, "<urn:uuid:1>", "<html><body><a href='/x'>é</a></body></html>")
    writer.screenshot(page, "<urn:uuid:1>", b"\x89PNG\r\n")
    writer.close()

    conversions = [(headers, body) for _, kind, headers, _, body in records(tmp_path) if kind == "conversion"]
    # A replay tool looking the page's URL up finds its response, not what it became.
    assert [headers.get_header("WARC-Target-URI") for headers, _ in conversions] == ["urn:dom:" + page,
                                                                                     "urn:view:" + page]
    assert [headers.get_header("Content-Type") for headers, _ in conversions] == ["text/html; charset=utf-8",
                                                                                  "image/png"]
    for headers, _ in conversions:
        assert (headers.get_header("WARC-Refers-To"), headers.get_header("WARC-Refers-To-Target-URI")) == (
            "<urn:uuid:1>", page)
    assert conversions[0][1] == "<html><body><a href='/x'>é</a></body></html>".encode()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB file system, to run out of space on for real (needs root, as CI has)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


def test_a_full_disk_stops_archiving_without_leaving_a_partial_record(tiny_disk, site):
    from pipeline.fetch import ArchiveUnavailable

    writer = WarcWriter(str(tiny_disk), "full", 10**9, warcinfo(True, "", "agent"), gzip_level=1)
    body = os.urandom(40 * 1024)
    exchange = Exchange("http://example.com/", "2026-01-01T00:00:00Z", "GET / HTTP/1.1", [], "HTTP/1.1", 200, "OK",
                        [("Content-Length", str(len(body)))], [body])
    written = 0
    with pytest.raises(ArchiveUnavailable) as info:
        for _ in range(100):
            writer.exchange(exchange)
            written += 1
    assert 0 < written < 100 and "No space left on device" in str(info.value)
    writer.close()

    before = list(site.requests)
    with pytest.raises(ArchiveUnavailable):
        Fetcher(archive=writer).fetch(site.url("/html"), Policy(allow_private=True, timeout=5.0))
    assert site.requests == before, "no request is sent while its answer could not be kept"

    (path,) = tiny_disk.iterdir()
    with open(path, "rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream, check_digests="raise")]
    assert kinds == ["warcinfo"] + ["response", "request"] * written


def test_a_response_that_ends_with_its_connection_keeps_its_address_and_headers(site, fetcher, writer, tmp_path):
    result = fetcher.fetch(site.url("/close-delimited"), Policy(allow_private=True, timeout=5.0))
    writer.close()

    (_, _, headers, http, payload) = records(tmp_path)[1]
    assert result.error is None and payload == b"z" * 20
    assert headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert http.protocol == "HTTP/1.0"
    assert [name for name, _ in http.headers] == ["Content-Type", "Set-Cookie", "X-Between", "Set-Cookie"]


def test_a_close_delimited_body_cut_by_the_deadline_is_marked_time(site, fetcher, writer, tmp_path):
    policy = Policy(allow_private=True, timeout=5.0, download_deadline=0.5)
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/close-delimited?size=100&every=0.02"), policy)
    writer.close()

    (_, _, headers, _, payload) = records(tmp_path)[1]
    assert info.value.reason == "download deadline exceeded" and info.value.warc is not None
    assert headers.get_header("WARC-Truncated") == "time" and 0 < len(payload) < 100


def test_a_refused_redirect_points_at_the_hop_it_refused(site, fetcher, writer, tmp_path):
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/loop/a"), Policy(allow_private=True, timeout=5.0))
    writer.close()

    assert info.value.reason == "redirect loop"
    responses = [h for _, kind, h, _, _ in records(tmp_path) if kind == "response"]
    assert info.value.warc.record_id == responses[-1].get_header("WARC-Record-ID")
