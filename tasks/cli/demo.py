"""A bundled demo site, generated on the fly, so a crawl can be tried with no network:
a few hundred small pages that link to each other, plus the odd non-HTML file, broken
link and nofollow link a real site has."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PAGES = 300


@dataclass(frozen=True)
class DemoSite:
    """Pages /, /page/1.html … /page/N.html; page i links to 2i and 2i+1 and a few others."""

    pages: int = DEFAULT_PAGES

    def links(self, number: int) -> list[int]:
        targets = [2 * number, 2 * number + 1, (number * 7 + 3) % self.pages + 1, max(1, number // 2)]
        return [t for t in dict.fromkeys(targets) if 1 <= t <= self.pages and t != number]

    def respond(self, path: str, base: str = "") -> tuple[int, str, bytes]:
        """(status, content type, body) for a request path; `base` (scheme://host:port)
        makes the sitemap's URLs absolute, as sitemaps require."""
        if path in ("/", "/index.html"):
            return 200, "text/html; charset=utf-8", self._html("Demo site", [1], extra=_EXTRAS)
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nDisallow: /private/\nSitemap: /sitemap.xml\n"
        if path == "/sitemap.xml":
            return 200, "application/xml", _SITEMAP.format(base=base).encode()
        if path == "/extra.html":
            return 200, "text/html; charset=utf-8", self._html("Found only in the sitemap", [])
        if path == "/about.txt":
            return 200, "text/plain; charset=utf-8", b"A demo site for celery-crawler.\n"
        if path.startswith("/page/") and path.endswith(".html"):
            number = path[len("/page/"):-len(".html")]
            if number.isdigit() and 1 <= int(number) <= self.pages:
                return 200, "text/html; charset=utf-8", self._html(f"Demo page {int(number)}", self.links(int(number)))
        return 404, "text/html; charset=utf-8", b"<html><head><title>Not found</title></head></html>"

    def reachable(self) -> set[str]:
        """Every path a crawl that obeys robots.txt and nofollow fetches."""
        listed = {"/sitemap.xml", "/extra.html"}
        return {"/", "/about.txt", "/missing.html"} | listed | {f"/page/{i}.html" for i in range(1, self.pages + 1)}

    def _html(self, title: str, links: list[int], extra: str = "") -> bytes:
        anchors = "".join(f'<li><a href="/page/{n}.html">Page {n}</a></li>' for n in links)
        body = (
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<h1>{title}</h1><ul>{anchors}</ul>{extra}<p>{'Lorem ipsum dolor sit amet. ' * 20}</p>"
            "</body></html>"
        )
        return body.encode("utf-8")


_EXTRAS = (
    '<a href="/about.txt">about</a> <a href="/missing.html">a broken link</a> '
    '<a href="/private/secret.html">private</a> <a rel="nofollow" href="/page/1.html?ref=nofollow">nofollow</a>'
)


_SITEMAP = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>{base}/extra.html</loc></url><url><loc>{base}/page/1.html</loc></url></urlset>"
)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A crawler hanging up mid-response is normal; the terminal belongs to the progress display."""


class DemoServer:
    """Serves a DemoSite on a local address in a background thread."""

    def __init__(self, site: DemoSite, host: str = "127.0.0.1", port: int = 0) -> None:
        self.site = site
        self.host = host
        self.httpd = _QuietServer((host, port), _handler(site))
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.httpd.server_port}/"

    def __enter__(self) -> DemoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(site: DemoSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            base = f"http://{self.headers.get('Host', '')}"
            status, content_type, body = site.respond(self.path.split("?", 1)[0], base)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the crawl's progress display owns the terminal."""

    return Handler
