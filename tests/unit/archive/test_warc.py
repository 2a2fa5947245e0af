"""WARC capture without services: the fetcher hands every exchange to a real WarcWriter,
and the files are read back with warcio as any archive tool would read them."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.archive import OPEN_SUFFIX, WarcWriter, adopt_orphans, warcinfo
from pipeline.fetch import (
    Exchange,
    Fetcher,
    PermanentFetchError,
    TransientFetchError,
)
from pipeline.settings import Policy
from tests.unit.archive.warcs import records, sample_exchange
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
def fetcher(writer):
    fetcher = Fetcher(archive=writer)
    yield fetcher
    fetcher.close()


def url(site, path):
    return site.url(path).replace("127.0.0.1", HOST)


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
    after.exchange(sample_exchange())
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
    writer.exchange(sample_exchange())
    assert adopt_orphans(tmp_path, min_age=0) == []
    writer.exchange(sample_exchange())
    writer.close()
    (path,) = tmp_path.iterdir()
    with open(path, "rb") as stream:
        assert [r.rec_type for r in ArchiveIterator(stream)] == ["warcinfo"] + ["response", "request"] * 2


def test_a_forked_child_writes_a_file_of_its_own(tmp_path):
    writer = WarcWriter(str(tmp_path), "fork", 10**9, warcinfo(True, "", "agent"))
    writer.exchange(sample_exchange())
    pid = os.fork()
    if pid == 0:
        writer.exchange(sample_exchange())
        writer.close()
        os._exit(0)
    os.waitpid(pid, 0)
    writer.exchange(sample_exchange())
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
