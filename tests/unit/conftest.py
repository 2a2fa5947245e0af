"""Fixtures of the unit tests: saved pages, and a local HTTP server with the endpoints the
fetcher's limits are tested against (status codes, redirects, slow and oversized bodies).
Nothing here needs Redis, Celery or the network."""

from __future__ import annotations

import gzip
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"

PAGE_TITLE = "Café — ünïcode page"
PAGE_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'>"
    f"<title>  {PAGE_TITLE}  </title></head>"
    "<body><a href='/a'>a</a></body></html>"
).encode()
SJIS_TITLE = "日本語のページ"
BIG_SIZE = 200 * 1024
BOMB_SIZE = 5 * 1024 * 1024


@pytest.fixture
def sample() -> Callable[[str], str]:
    """The text of a saved page in tests/sample_data."""

    def read(name: str) -> str:
        return (SAMPLE_DATA / name).read_text(encoding="utf-8")

    return read


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[str] = []
        self.hosts: list[str] = []
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up on a slow endpoint is expected, not an error."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
            self.server.hosts.append(self.headers.get("Host", ""))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        for pattern, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match:
                getattr(self, name)(*match.groups(), **query)
                return
        self._send(404, b"<html><title>Not found</title></html>")

    def _send(
        self, status: int, body: bytes, content_type: str | None = "text/html; charset=utf-8", **headers: str
    ) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def html(self) -> None:
        self._send(200, PAGE_HTML)

    def sjis(self) -> None:
        body = f"<html><head><title>{SJIS_TITLE}</title></head></html>".encode("shift_jis")
        self._send(200, body, "text/html; charset=Shift_JIS")

    def plain(self) -> None:
        self._send(200, b"just some text, <title>not a title</title>", "text/plain; charset=utf-8")

    def untyped(self) -> None:
        self._send(200, PAGE_HTML, content_type=None)

    def status(self, code: str, retry_after: str | None = None, retry_in: str | None = None) -> None:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if retry_in is not None:
            headers["Retry-After"] = formatdate(time.time() + float(retry_in), usegmt=True)
        self._send(int(code), f"<html><title>status {code}</title></html>".encode(), **headers)

    def redirect(self, hops: str, code: str = "302") -> None:
        remaining = int(hops)
        location = "/html" if remaining <= 1 else f"/redirect/{remaining - 1}?code={code}"
        self._send(int(code), b"", Location=location)

    def redirect_to(self, to: str) -> None:
        self._send(302, b"", Location=to)

    def loop(self, name: str) -> None:
        self._send(302, b"", Location="/loop/b" if name == "a" else "/loop/a")

    def slow_headers(self, seconds: str = "2") -> None:
        time.sleep(float(seconds))
        self._send(200, PAGE_HTML)

    def stall_body(self, seconds: str = "2") -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"<html><title>half")
        self.wfile.flush()
        time.sleep(float(seconds))

    def trickle(self, size: str = "60", every: str = "0.05") -> None:
        """A body that never pauses long enough for a read timeout, yet takes long."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", size)
        self.end_headers()
        for _ in range(int(size)):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(float(every))

    def trickle_headers(self, count: str = "60", every: str = "0.05") -> None:
        """Headers that never pause long enough for a read timeout, yet never end."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for number in range(int(count)):
                self.wfile.write(f"X-Slow-{number}: y\r\n".encode())
                self.wfile.flush()
                time.sleep(float(every))
        except OSError:
            return
        self.wfile.write(b"Content-Length: 0\r\n\r\n")

    def validated(self) -> None:
        """Validators, and a 304 to a request that names the ETag."""
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            return
        self._send(200, PAGE_HTML, ETag='"v1"', Last_Modified="Sun, 22 Nov 2026 10:00:00 GMT")

    def close_delimited(self, size: str = "20", every: str = "0") -> None:
        """An HTTP/1.0 answer without Content-Length: the body ends with the connection."""
        self.close_connection = True
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nSet-Cookie: a=1\r\nX-Between: y\r\n"
                         b"Set-Cookie: b=2\r\n\r\n")
        try:
            for _ in range(int(size)):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(float(every))
        except OSError:
            return

    def stacked(self, layers: str = "6") -> None:
        body = b"<html><title>deep</title></html>"
        for _ in range(int(layers)):
            body = gzip.compress(body)
        self._send(200, body, Content_Encoding=", ".join(["gzip"] * int(layers)))

    def big(self) -> None:
        self._send(200, b"x" * BIG_SIZE)

    def exact(self, size: str) -> None:
        self._send(200, b"y" * int(size), "text/plain")

    def gzip_bomb(self) -> None:
        body = gzip.compress(b"\0" * BOMB_SIZE)
        self._send(200, body, Content_Encoding="gzip")

    def gzip_page(self) -> None:
        self._send(200, gzip.compress(PAGE_HTML), Content_Encoding="gzip")


_ROUTES = [
    (r"/html", "html"),
    (r"/stacked", "stacked"),
    (r"/close-delimited", "close_delimited"),
    (r"/validated", "validated"),
    (r"/trickle-headers", "trickle_headers"),
    (r"/sjis", "sjis"),
    (r"/plain", "plain"),
    (r"/untyped", "untyped"),
    (r"/status/(\d+)", "status"),
    (r"/redirect/(\d+)", "redirect"),
    (r"/redirect-to", "redirect_to"),
    (r"/loop/(\w+)", "loop"),
    (r"/slow-headers", "slow_headers"),
    (r"/stall-body", "stall_body"),
    (r"/trickle", "trickle"),
    (r"/big", "big"),
    (r"/exact/(\d+)", "exact"),
    (r"/gzip-bomb", "gzip_bomb"),
    (r"/gzip-page", "gzip_page"),
]


@pytest.fixture(scope="session")
def _http_server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


TLS_HOST = "site.test"


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def _https_server(tls_ca: trustme.CA) -> Iterator[_Server]:
    """The same endpoints over TLS, with a certificate for TLS_HOST signed by `tls_ca`."""
    server = _Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert(TLS_HOST).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class LocalSite:
    """The running server as a test sees it: its base URL and the paths it was asked for."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base = f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def requests(self) -> list[str]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def hosts(self) -> list[str]:
        """The Host header of each request."""
        with self._server.lock:
            return list(self._server.hosts)


@pytest.fixture
def site(_http_server: _Server) -> LocalSite:
    with _http_server.lock:
        _http_server.requests.clear()
        _http_server.hosts.clear()
    return LocalSite(_http_server)


@pytest.fixture
def https_site(_https_server: _Server) -> LocalSite:
    """The TLS server, reached as https://TLS_HOST:PORT; resolving TLS_HOST is the test's job."""
    with _https_server.lock:
        _https_server.requests.clear()
        _https_server.hosts.clear()
    site = LocalSite(_https_server)
    site.base = f"https://{TLS_HOST}:{_https_server.server_address[1]}"
    return site
