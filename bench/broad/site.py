"""A broad web on loopback for bench/broad/run.py: many hosts (127.1.X.Y, one listening
socket each, one port for all), each answering after a latency of its own, with one URL
that always answers 500, a page that answers 4 s late on every 10th host, and links that
its robots.txt disallows. Home pages link to a few other hosts, so a crawl seeded with a
handful of hosts can find them all.

Everything is drawn from one seed and rendered before the first request, so every run
crawls the same bytes. Every request's arrival and answer is logged on the machine-wide
monotonic clock: politeness is judged by when requests reached the server
(bench/broad/politeness.py), never by when a crawler saw its answers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import resource
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

MEDIAN_LATENCY = 0.2  # seconds: the lognormal most hosts answer after
LATENCY_SIGMA = 0.5  # of the lognormal's logarithm: 95% of hosts under about 0.45 s
FASTEST, SLOWEST_TYPICAL = 0.02, 1.0
SLOW_HOST_SHARE = 0.05  # hosts that answer after 1-3 s, like an overloaded server
SLOW_HOST_LATENCY = (1.0, 3.0)
LATE_PAGE_EVERY = 10  # every 10th host has a page that answers 4 s later than the rest
LATE_PAGE_EXTRA = 4.0
BROKEN_SHARE = 0.3  # of a host's pages link to its URL that answers 500 every time
DISALLOWED_PER_HOST = 20
DISALLOWED_PER_PAGE = 2
IN_HOST_LINKS = 8  # random links of a page to other pages of its host, besides home
CROSS_LINKS = 3  # random other hosts a home page links to, besides the next host
PAGE_BYTES = (15_000, 30_000)
FEW_SEEDS = 5

ROBOTS, HOME, LATE, BROKEN = "/robots.txt", "/", "/late.html", "/api/broken"
DISALLOWED_PREFIX = "/private/"
FLUSH_SECONDS = 0.25
BACKLOG = 256
PORT_ATTEMPTS = 5

_REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "po", "zu", "an", "el", "or", "ti", "ba")


# --- what the site is -------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One host of the site; `latency` is how long it takes over every answer."""

    index: int
    address: str
    latency: float
    late_page: bool
    cross: tuple[int, ...]  # hosts whose home pages this host links to


@dataclass(frozen=True)
class Shape:
    """The site's size and seed: the same shape always gives byte-identical pages."""

    hosts: int = 500
    pages_per_host: int = 20  # pages answering 200 per host, home included, the late page not
    seed: int = 1
    latency_scale: float = 1.0  # multiplies every latency: tests serve the same site fast


def address(index: int) -> str:
    """127.1.X.Y, never .0 or .255 in the last byte: all of 127.0.0.0/8 is loopback."""
    return f"127.1.{index // 254}.{index % 254 + 1}"


def plan(shape: Shape) -> list[Host]:
    """Each host's latency and links to other hosts, drawn from the seed. Every host links
    to the next one besides random others, so any seed reaches every host."""
    rng = random.Random(f"{shape.seed}:hosts")
    slow = set(rng.sample(range(shape.hosts), round(shape.hosts * SLOW_HOST_SHARE)))
    hosts = []
    for index in range(shape.hosts):
        if index in slow:
            latency = rng.uniform(*SLOW_HOST_LATENCY)
        else:
            typical = math.exp(rng.gauss(math.log(MEDIAN_LATENCY), LATENCY_SIGMA))
            latency = min(max(typical, FASTEST), SLOWEST_TYPICAL)
        others = [other for other in range(shape.hosts) if other != index]
        cross = {(index + 1) % shape.hosts, *rng.sample(others, min(CROSS_LINKS, len(others)))} - {index}
        hosts.append(Host(index, address(index), latency, index % LATE_PAGE_EVERY == 0, tuple(sorted(cross))))
    return hosts


def page_paths(shape: Shape) -> list[str]:
    """Paths answering 200 with HTML on every host, home first."""
    return [HOME, *(f"/page/{number}.html" for number in range(1, shape.pages_per_host))]


def disallowed_paths() -> list[str]:
    return [f"{DISALLOWED_PREFIX}{number}.html" for number in range(DISALLOWED_PER_HOST)]


def robots_txt() -> bytes:
    return f"User-agent: *\nDisallow: {DISALLOWED_PREFIX}\n".encode()


def broken_pages(shape: Shape, host: Host) -> set[str]:
    """The pages of `host` that link to its broken URL: BROKEN_SHARE of them, home included."""
    paths = page_paths(shape)
    rng = random.Random(f"{shape.seed}:broken:{host.index}")
    return {HOME, *rng.sample(paths[1:], max(0, round(len(paths) * BROKEN_SHARE) - 1))}


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A whole HTTP response, rendered once, and the seconds to wait before sending it."""

    raw: bytes
    head_length: int
    status: int
    delay: float


def _answer(status: int, content_type: str, body: bytes, delay: float) -> Answer:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii")
    return Answer(head + body, len(head), status, delay)


_DISALLOWED_BODY = b'<html><body><p>Robots.txt disallows this page.</p><a href="/">home</a></body></html>'


def _filler(seed: int) -> str:
    """About 2 MB of pseudo-words that page bodies take slices of: drawing words per page
    would make rendering 10,000 pages take tens of seconds."""
    rng = random.Random(f"{seed}:filler")
    words = ["".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]
    return " ".join(rng.choices(words, k=400_000))


def _page(shape: Shape, hosts: list[Host], host: Host, path: str, port: int, filler: str) -> bytes:
    rng = random.Random(f"{shape.seed}:page:{host.index}:{path}")
    paths = page_paths(shape)
    number = paths.index(path) if path in paths else len(paths)
    links = [HOME]
    if path == HOME:
        links += paths[1:] + ([LATE] if host.late_page else [])
        links += [f"http://{hosts[other].address}:{port}/" for other in host.cross]
    elif path != LATE:
        links += rng.sample(paths[1:], min(IN_HOST_LINKS, len(paths) - 1))
        links.append(f"http://{hosts[rng.choice(host.cross)].address}:{port}/" if host.cross else HOME)
    if path in broken_pages(shape, host):
        links.append(BROKEN)
    private = disallowed_paths()
    links += [private[(DISALLOWED_PER_PAGE * number + k) % len(private)] for k in range(DISALLOWED_PER_PAGE)]
    anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    title = f"Host {host.index} {path}"
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1>"
    tail = f"<ul>{anchors}</ul></body></html>"
    room = rng.randint(*PAGE_BYTES) - len(head) - len(tail) - len("<p></p>")
    start = rng.randrange(len(filler) - room)
    return f"{head}<p>{filler[start:start + room]}</p>{tail}".encode()


def render(shape: Shape, hosts: list[Host], port: int) -> dict[tuple[str, str], Answer]:
    """(address, path) -> answer, for every URL that does not answer 404."""
    filler = _filler(shape.seed)
    answers = {}
    html = "text/html; charset=utf-8"
    for host in hosts:
        wait = host.latency * shape.latency_scale
        answers[host.address, ROBOTS] = _answer(200, "text/plain", robots_txt(), wait)
        answers[host.address, BROKEN] = _answer(500, html, b"<html><body>Internal error</body></html>", wait)
        for path in disallowed_paths():
            answers[host.address, path] = _answer(200, html, _DISALLOWED_BODY, wait)
        for path in page_paths(shape) + ([LATE] if host.late_page else []):
            late = LATE_PAGE_EXTRA * shape.latency_scale if path == LATE else 0.0
            answers[host.address, path] = _answer(200, html, _page(shape, hosts, host, path, port, filler), wait + late)
    return answers


def not_found(latency: float) -> Answer:
    return _answer(404, "text/html; charset=utf-8", b"<html><body>Not found</body></html>", latency)


def manifest(shape: Shape, hosts: list[Host], port: int) -> dict[str, Any]:
    """What a complete, polite crawl of the site is: read by the runner and the politeness check."""
    late = sum(host.late_page for host in hosts)
    step = max(1, len(hosts) // FEW_SEEDS)
    return {
        "shape": vars(shape),
        "port": port,
        "seeds": [f"http://{host.address}:{port}/" for host in hosts],
        "few_seeds": [f"http://{hosts[index].address}:{port}/" for index in range(0, len(hosts), step)][:FEW_SEEDS],
        "html_pages": len(hosts) * shape.pages_per_host + late,
        "robots": len(hosts),
        "late_pages": late,
        "broken_path": BROKEN,
        "disallowed_prefix": DISALLOWED_PREFIX,
        "late_extra_s": LATE_PAGE_EXTRA * shape.latency_scale,
        "hosts": [
            {"address": host.address, "latency": host.latency * shape.latency_scale, "late_page": host.late_page,
             "links_to": [hosts[other].address for other in host.cross]}
            for host in hosts
        ],
    }


# --- the request log --------------------------------------------------------------------


class EventLog:
    """Arrivals and answers as lines `A|S TIME ADDRESS PATH [STATUS]` (S with status 0: the
    client left before its answer), gathered in memory and written every FLUSH_SECONDS, so
    logging costs no write per request; `#flushed TIME` marks a flush someone asked for."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: list[str] = []

    def arrival(self, host: str, path: str) -> None:
        self._lines.append(f"A {time.monotonic():.6f} {host} {path}\n")

    def answer(self, host: str, path: str, status: int) -> None:
        self._lines.append(f"S {time.monotonic():.6f} {host} {path} {status}\n")

    def flush(self, mark: bool = False) -> None:
        if mark:
            self._lines.append(f"#flushed {time.monotonic():.6f}\n")
        if self._lines:
            self._stream.write("".join(self._lines))
            self._lines.clear()
            self._stream.flush()


# --- serving ----------------------------------------------------------------------------


class Exchange(asyncio.Protocol):
    """One client connection: requests are answered one at a time, in order, each after its
    host's latency, which a timer waits out without holding up any other connection."""

    def __init__(self, answers: dict[tuple[str, str], Answer], log: EventLog, latencies: dict[str, float]) -> None:
        self._answers, self._log, self._latencies = answers, log, latencies
        self._buffer = bytearray()
        self._pending: asyncio.TimerHandle | None = None
        self._current = ("", "")
        self._transport: asyncio.Transport | None = None
        self._host = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._host = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._log.answer(self._host, self._current[1], 0)
            self._pending = None

    def _next(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if self._pending is not None or end < 0 or self._transport is None:
            return
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[: end + 4]
        method, target, version = [*head.split("\r\n", 1)[0].split(" "), "", "", ""][:3]
        path = target.split("?", 1)[0] or "/"
        self._log.arrival(self._host, path)
        answer = self._answers.get((self._host, path)) or not_found(self._latencies[self._host])
        closing = version == "HTTP/1.0" or "\r\nconnection: close" in head.lower()
        self._current = (method, path)
        loop = asyncio.get_running_loop()
        self._pending = loop.call_later(answer.delay, self._send, answer, method == "HEAD", closing)

    def _send(self, answer: Answer, head_only: bool, closing: bool) -> None:
        self._pending = None
        assert self._transport is not None
        self._transport.write(answer.raw[: answer.head_length] if head_only else answer.raw)
        self._log.answer(self._host, self._current[1], answer.status)
        if closing:
            self._transport.close()
        else:
            self._next()


def listen(addresses: Sequence[str], port: int) -> tuple[list[socket.socket], int]:
    """One listening socket per address, all on one port: `port`, or with 0 the first port
    the kernel picks that every address can bind."""
    for _ in range(PORT_ATTEMPTS):
        sockets: list[socket.socket] = []
        try:
            for host in addresses:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(listener)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((host, port or (sockets[0].getsockname()[1] if len(sockets) > 1 else 0)))
                listener.listen(BACKLOG)
                listener.setblocking(False)
            return sockets, sockets[0].getsockname()[1]
        except OSError:
            for listener in sockets:
                listener.close()
            if port:
                raise
    raise OSError(f"no port that all {len(addresses)} addresses could bind in {PORT_ATTEMPTS} attempts")


class Server:
    """The whole site in one event loop: start() binds and renders, serve() runs until stop()."""

    def __init__(self, shape: Shape, port: int, log: EventLog) -> None:
        self.shape, self.log = shape, log
        self.hosts = plan(shape)
        self.sockets, self.port = listen([host.address for host in self.hosts], port)
        self.answers = render(shape, self.hosts, self.port)
        self._latencies = {host.address: host.latency * shape.latency_scale for host in self.hosts}
        self._stopped: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halted = False

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        if self._halted:
            self._stopped.set()
        servers = [
            await self._loop.create_server(lambda: Exchange(self.answers, self.log, self._latencies), sock=listener)
            for listener in self.sockets
        ]
        flusher = asyncio.create_task(self._flush_often())
        try:
            await self._stopped.wait()
        finally:
            flusher.cancel()
            for server in servers:
                server.close()
            self.log.flush()

    async def _flush_often(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.log.flush()

    def stop(self) -> None:
        """Safe from any thread, from a signal handler, before serve() and more than once."""
        self._halted = True
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)

    def mark(self) -> None:
        """Flush now and write a `#flushed` line: what the runner waits for to read a run's log."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.log.flush, True)


async def _main(server: Server, manifest_path: Path | None) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.stop)
    loop.add_signal_handler(signal.SIGUSR1, server.mark)
    if manifest_path:
        manifest_path.write_text(json.dumps(manifest(server.shape, server.hosts, server.port)) + "\n")
    print(f"listening {server.port}", flush=True)
    await server.serve()


def _more_files() -> None:
    """A socket per host plus a kept-alive connection per host and crawler thread can pass
    the usual soft limit of 1,024 open files: raise it to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=Shape.hosts)
    parser.add_argument("--pages-per-host", type=int, default=Shape.pages_per_host,
                        help="pages answering 200 per host, home included, the late page not")
    parser.add_argument("--seed", type=int, default=Shape.seed)
    parser.add_argument("--latency-scale", type=float, default=1.0, help="multiplies every latency")
    parser.add_argument("--port", type=int, default=0, help="one port for every host (0: a free one)")
    parser.add_argument("--log", type=Path, required=True, help="append every arrival and answer here")
    parser.add_argument("--manifest", type=Path, help="write what a complete crawl is here, as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.hosts < 1 or args.hosts > 254 * 256 or args.pages_per_host < 1:
        print("site: --hosts must be 1..65024 and --pages-per-host at least 1", file=sys.stderr)
        return 2
    shape = Shape(args.hosts, args.pages_per_host, args.seed, args.latency_scale)
    _more_files()
    with open(args.log, "a", buffering=1 << 20) as stream:
        try:
            server = Server(shape, args.port, EventLog(stream))
        except OSError as exc:
            print(f"site: cannot listen: {exc}", file=sys.stderr)
            return 1
        asyncio.run(_main(server, args.manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
