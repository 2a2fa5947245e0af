"""The small site the WARC test crawls: every kind of exchange the WARC output must keep
(redirects, gzip, chunks, a binary, a body past max_bytes, a 404), each answer logged
with the bytes it sent, for the test to compare with what the archive holds."""

from __future__ import annotations

import gzip
import hashlib
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.integration.site import QuietServer

HUGE_SIZE = 300_000  # three times the crawl's CRAWLER_MAX_BYTES


def _html(title: str, body: str = "") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


_rng = random.Random(20260101)  # the same bytes every run
BINARY = _rng.randbytes(4096)
HUGE = b"<html><body>" + _rng.randbytes(HUGE_SIZE // 2).hex().encode()[: HUGE_SIZE - 12]
LINKS = ["/hop1", "/gzip", "/chunked", "/blob.bin", "/huge", "/missing"]
HOME = _html("WARC home", "".join(f'<a href="{link}">{link}</a> ' for link in LINKS))
LANDED = _html("Landed", "<p>after two redirects</p>")
GZIP_HTML = _html("Gzipped", "<p>" + "compressible text " * 200 + "</p>")
GZIP_BODY = gzip.compress(GZIP_HTML, mtime=0)
CHUNKED_HTML = _html("Chunked", "<p>" + "sent in pieces " * 300 + "</p>")
CHUNK_SIZES = (1, 100, 1000)  # then the rest: chunks of different sizes, one of a byte
MISSING = _html("Not here", "<p>404</p>")
ROBOTS = b"User-agent: *\nAllow: /\n"
SITEMAP_MISSING = b"no sitemap here"


@dataclass
class Sent:
    """One request the site answered: what it sent, body byte for byte (for /huge, the
    whole body it set out to send; the crawler hangs up part way)."""

    path: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.body).hexdigest()


class WarcSite:
    """127.0.0.1, a port of its own: every kind of exchange the WARC output must keep."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> WarcSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def log(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def by_path(self) -> dict[str, Sent]:
        log = self.log()
        paths = Counter(sent.path for sent in log)
        assert all(n == 1 for n in paths.values()), f"paths requested more than once: {paths}"
        return {sent.path: sent for sent in log}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path
                if path == "/":
                    self.plain(path, 200, HOME)
                elif path == "/robots.txt":
                    self.plain(path, 200, ROBOTS, "text/plain")
                elif path == "/sitemap.xml":
                    self.plain(path, 404, SITEMAP_MISSING, "text/plain")
                elif path == "/hop1":
                    self.plain(path, 301, b"moved permanently", "text/plain", {"Location": "/hop2"})
                elif path == "/hop2":
                    self.plain(path, 302, b"found elsewhere", "text/plain", {"Location": site.url("/landed")})
                elif path == "/landed":
                    self.plain(path, 200, LANDED)
                elif path == "/gzip":
                    self.plain(path, 200, GZIP_BODY, extra={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
                elif path == "/chunked":
                    self.chunked(path, CHUNKED_HTML)
                elif path == "/blob.bin":
                    self.plain(path, 200, BINARY, "application/octet-stream")
                elif path == "/huge":
                    self.plain(path, 200, HUGE)
                else:
                    self.plain(path, 404, MISSING)

            def record(self, path: str, status: int, body: bytes, headers: dict[str, str]) -> None:
                # Logged before the body goes out: the crawl may hang up on /huge mid-way.
                with site._lock:
                    site.sent.append(Sent(path, status, body, headers))

            def plain(
                self,
                path: str,
                status: int,
                body: bytes,
                content_type: str = "text/html; charset=utf-8",
                extra: dict[str, str] | None = None,
            ) -> None:
                headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **(extra or {})}
                self.record(path, status, body, headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the client stopped reading (/huge)

            def chunked(self, path: str, body: bytes) -> None:
                headers = {"Content-Type": "text/html; charset=utf-8", "Transfer-Encoding": "chunked"}
                self.record(path, 200, body, headers)
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                pieces, rest = [], body
                for size in CHUNK_SIZES:
                    pieces.append(rest[:size])
                    rest = rest[size:]
                pieces.append(rest)
                for piece in pieces:
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: object) -> None:
                """`sent` is the record."""

        return Handler
