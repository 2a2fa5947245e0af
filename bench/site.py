"""A deterministic local site for the crawl benchmark: N pages of about 30 KB with about
33 links each, laid out as a tree (so every page is a few links from /) plus seeded
random cross links. Every response is rendered once at start-up and served from memory
by several forked processes sharing one listening socket, so the site never limits or
skews what the benchmark measures."""

from __future__ import annotations

import argparse
import functools
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Self

_VOCABULARY = (
    "crawler", "frontier", "politeness", "lease", "worker", "broker", "queue", "redis", "celery",
    "fetch", "parse", "store", "page", "link", "host", "depth", "robots", "delay", "timeout",
    "retry", "canonical", "fingerprint", "dedup", "schedule", "dispatch", "chain", "task", "result",
    "record", "export", "status", "error", "redirect", "encoding", "content", "title", "anchor",
    "scope", "domain", "seed", "job", "counter", "stats", "memory", "latency", "throughput",
    "benchmark", "site",
)
_PARAGRAPH_MARKUP = 120  # <p>, <a href>, anchor text: what a paragraph adds besides its filler
_EXTERNAL_HOSTS = ("https://example.com", "https://example.org", "https://example.net")


@dataclass(frozen=True)
class Site:
    """The shape of the site; the same arguments always give byte-identical pages."""

    pages: int = 2000
    page_bytes: int = 30_000
    links: int = 33
    fanout: int = 8
    external_links: int = 2
    seed: int = 1

    def path(self, number: int) -> str:
        return "/" if number == 0 else f"/page/{number}.html"

    def children(self, number: int) -> list[int]:
        """Tree edges: page n links to fanout*n+1 .. fanout*n+fanout, so depth grows as log(N)."""
        first = self.fanout * number + 1
        return list(range(first, min(first + self.fanout, self.pages)))

    def outlinks(self, number: int) -> list[str]:
        """Absolute paths and external URLs that page `number` links to, in page order."""
        rng = random.Random(f"{self.seed}:links:{number}")
        internal = dict.fromkeys(self.children(number))
        if number:
            internal[(number - 1) // self.fanout] = None
        wanted = min(self.links - self.external_links, self.pages - 1)
        while len(internal) < wanted:
            target = rng.randrange(self.pages)
            if target != number:
                internal.setdefault(target)
        external = [f"{rng.choice(_EXTERNAL_HOSTS)}/ref/{rng.randrange(10**6)}" for _ in range(self.external_links)]
        return [self.path(n) for n in internal] + external

    def render(self, number: int) -> bytes:
        """The page's HTML: links spread through paragraphs of filler text up to page_bytes."""
        rng = random.Random(f"{self.seed}:text:{number}")
        pool = _sentences(self.seed)
        title = f"Benchmark page {number}"
        head = f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body><h1>{title}</h1>\n'
        parts = [head]
        size = len(head)
        links = self.outlinks(number)
        budget = (self.page_bytes - size) // (len(links) + 1) - _PARAGRAPH_MARKUP
        for href in links:
            paragraph = f'<p>{_filler(rng, pool, budget)} <a href="{href}">{rng.choice(pool)}</a></p>\n'
            parts.append(paragraph)
            size += len(paragraph)
        parts.append(f"<p>{_filler(rng, pool, self.page_bytes - size - 30)}</p></body></html>\n")
        return "".join(parts).encode("utf-8")

    def responses(self) -> dict[str, bytes]:
        """Request path -> complete HTTP/1.1 response bytes, ready to write in one call."""
        routes = {self.path(n): _response(200, "text/html; charset=utf-8", self.render(n)) for n in range(self.pages)}
        routes["/robots.txt"] = _response(200, "text/plain", b"User-agent: *\nAllow: /\n")
        return routes


@functools.cache
def _sentences(seed: int) -> tuple[str, ...]:
    """A fixed pool of sentences: drawing whole sentences keeps start-up fast for big sites."""
    rng = random.Random(f"{seed}:sentences")
    return tuple(" ".join(rng.choices(_VOCABULARY, k=rng.randint(4, 14))).capitalize() + "." for _ in range(4096))


def _filler(rng: random.Random, pool: tuple[str, ...], length: int) -> str:
    chosen: list[str] = []
    size = 0
    while size < length:
        sentence = rng.choice(pool)
        chosen.append(sentence)
        size += len(sentence) + 1
    return " ".join(chosen)


def _response(status: int, content_type: str, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


_NOT_FOUND = _response(404, "text/html; charset=utf-8", b"<html><head><title>Not found</title></head></html>")


def _handler(routes: dict[str, bytes], latency: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the crawler's HTTP session expects

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            self.wfile.write(routes.get(self.path, _NOT_FOUND))

        def log_message(self, format: str, *args: object) -> None:
            """Silent: a log line per request would cost more CPU than serving it."""

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs under a burst of new connections


class SiteServer:
    """Serves a Site on 127.0.0.1 from `processes` forked children sharing one listening socket.

    The parent only owns the children, so fork before starting threads in the calling
    process. Whichever child is idle accepts a connection and serves it from a thread of
    its own; with every response pre-rendered a request costs well under a millisecond.
    """

    def __init__(self, site: Site, port: int = 0, processes: int = 2, latency: float = 0.0) -> None:
        self.httpd = _Server(("127.0.0.1", port), _handler(site.responses(), latency))
        self.processes = processes
        self.pids: list[int] = []

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> Self:
        for _ in range(self.processes):
            pid = os.fork()
            if pid == 0:
                self._serve_child()
            self.pids.append(pid)
        return self

    def stop(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        self.pids.clear()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve_child(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when children stop
        try:
            self.httpd.serve_forever()
        finally:
            os._exit(0)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or Ctrl-C; the first line on stdout is the site's URL (a readiness signal)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=Site.pages)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=Site.seed)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each response waits, as the web would")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    site = Site(pages=args.pages, seed=args.seed)
    with SiteServer(site, port=args.port, processes=args.processes, latency=args.latency) as server:
        print(server.url, flush=True)
        while True:
            signal.pause()


if __name__ == "__main__":
    sys.exit(main())
