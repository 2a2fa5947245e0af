"""A small multi-host site for integration tests, served on 127.0.0.x addresses with a
log of every request, so tests can check what the crawler asked for, not only what it
stored."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Response:
    status: int = 200
    body: str | bytes = ""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds this route answers later than the host's own delay


NOT_FOUND = Response(404, "<html><title>missing</title></html>")
# A route may also write its own response (streaming, trickling, hanging up).
Handler = Callable[[BaseHTTPRequestHandler], None]


def page(title: str, links: list[str] = ()) -> Response:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return Response(body=f"<html><head><title>{title}</title></head><body>{anchors}</body></html>")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (a killed worker) are expected here."""


class Host:
    """One HTTP server on one loopback address; `routes` maps a path to a Response."""

    def __init__(self, address: str, routes: dict[str, Response] | None = None, delay: float = 0.0) -> None:
        self.routes: dict[str, Response | Handler] = dict(routes or {})
        self.delay = delay
        self.fallback: Callable[[str], Response | Handler] = lambda path: NOT_FOUND
        self.log: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self.server = QuietServer((address, 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def requests(self) -> Counter[str]:
        with self._lock:
            return Counter(path for _, path in self.log)

    def start(self) -> Host:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with host._lock:
                    host.log.append((time.time(), self.path))
                time.sleep(host.delay)
                response = host.routes.get(self.path) or host.fallback(self.path)
                if callable(response):
                    response(self)
                    return
                time.sleep(response.delay)
                body = response.body if isinstance(response.body, bytes) else response.body.encode("utf-8")
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """The request log above is the record."""

        return Handler
