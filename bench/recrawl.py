"""Revisits measured at the server. The site is the bench site's pages, each sent with
an ETag and a Last-Modified, answered with a 304 to a request that names them, as a
static web server does.

- Recrawl (default): crawls the site once with `crawler crawl`, then again with
  `--recrawl`, and counts what each pass asked for and what it cost: requests, answers
  by status, body bytes sent. `--changed` pages get a new version between the passes.
- `--continuous SECONDS`: one `crawler crawl --revisit-interval` for that long, with a
  share of the pages (`--volatile`) changing at every request, and reports how often
  each kind of page was fetched and the gaps between two fetches of a page.

    .venv/bin/python bench/recrawl.py --pages 2000 [--changed 0.1]
    .venv/bin/python bench/recrawl.py --pages 40 --continuous 180 --interval 2 --min 1 --max 8 [--dispatch-interval 1]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _bench_site() -> type:
    """bench/site.py, by its path: `import site` is the standard library's module."""
    spec = importlib.util.spec_from_file_location("bench_site", Path(__file__).with_name("site.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    site: type = module.Site
    return site


Site = _bench_site()
LAST_MODIFIED = formatdate(1_780_000_000, usegmt=True)


@dataclass
class Tally:
    """What the server answered since the last reset."""

    statuses: Counter[int] = field(default_factory=Counter)
    body_bytes: int = 0
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, status: int, body: int) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.body_bytes += body
            self.times[path].append(time.monotonic())

    def take(self) -> tuple[Counter[int], int]:
        with self.lock:
            taken = (self.statuses, self.body_bytes)
            self.statuses, self.body_bytes = Counter(), 0
            self.times.clear()
        return taken


class ValidatedSite:
    """The bench site's pages, each with validators; `change(n)` makes page n new."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.bodies = {site.path(n): site.render(n) for n in range(site.pages)}
        self.bodies["/robots.txt"] = b"User-agent: *\nAllow: /\n"
        self.volatile: set[str] = set()
        self.tally = Tally()

    def change(self, number: int) -> None:
        path = self.site.path(number)
        self.bodies[path] = self.bodies[path].replace(b"</body>", b"<p>changed</p></body>")

    def handler(self) -> type[BaseHTTPRequestHandler]:
        bodies, tally, volatile = self.bodies, self.tally, self.volatile

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = bodies.get(self.path)
                if self.path in volatile and body is not None:
                    body = body.replace(b"</body>", f"<p>{time.time()}</p></body>".encode())
                if body is None:
                    self._answer(404, b"", {})
                    return
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                self._answer(304 if self.headers.get("If-None-Match") == etag else 200, body, validators)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                sent = b"" if status == 304 else body
                tally.add(self.path, status, len(sent))
                self.send_response(status)
                if status != 304:
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(sent)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(sent)

            def log_message(self, format: str, *args: object) -> None:
                """The tally is the record."""

        return Handler


def crawl_command(seed: str, *extra: str) -> tuple[list[str], dict[str, str]]:
    """`crawler crawl` of the site (embedded Redis, SQLite in the working directory)."""
    crawler = Path(sys.executable).with_name("crawler")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWLER_")}
    command = [str(crawler), "crawl", seed, "--job", "recrawl-bench", "--workers", "2", "--delay", "0",
               "--host-concurrency", "8", "--allow-private", "--max-pages", "0", "--max-depth", "50", *extra]
    return command, {**env, "CRAWLER_MAX_PAGES_PER_HOST": "0"}


def crawl(workdir: Path, seed: str, *extra: str) -> float:
    """One whole crawl; its seconds."""
    command, env = crawl_command(seed, *extra)
    started = time.monotonic()
    subprocess.run(command, cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def row(name: str, seconds: float, statuses: Counter[int], body_bytes: int) -> str:
    requests = sum(statuses.values())
    return (f"| {name} | {requests} | {statuses[200]} | {statuses[304]} | {body_bytes / 1e6:.1f} MB "
            f"| {seconds:.1f} s |")


def recrawl(site: ValidatedSite, seed: str, workdir: Path, changed: float) -> None:
    first = crawl(workdir, seed), *site.tally.take()
    if changed:
        for number in range(0, site.site.pages, max(1, round(1 / changed))):
            site.change(number)
    again = crawl(workdir, seed, "--recrawl"), *site.tally.take()
    print("| pass | requests | 200 | 304 | body bytes sent | wall |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("first crawl", *first))
    print(row(f"recrawl ({changed:.0%} changed)", *again))


def continuous(site: ValidatedSite, seed: str, workdir: Path, args: argparse.Namespace) -> None:
    step = max(1, round(1 / args.volatile))
    site.volatile.update(site.site.path(n) for n in range(1, site.site.pages, step))
    command, env = crawl_command(
        seed, "--revisit-interval", str(args.interval), "--revisit-min", str(args.min), "--revisit-max", str(args.max)
    )
    env["CRAWLER_DISPATCH_INTERVAL"] = str(args.dispatch_interval)
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(args.continuous)
    process.send_signal(signal.SIGINT)
    process.wait()
    with site.tally.lock:
        times = {path: list(seen) for path, seen in site.tally.times.items() if path != "/robots.txt"}
    print("| pages | fetches a page (median) | gap between two fetches: min / median / max (median from the 5th) |")
    print("| --- | --- | --- |")
    for name, paths in (("changing", site.volatile), ("static", set(times) - site.volatile)):
        counts = [len(times.get(path, [])) for path in paths]
        gaps = [b - a for path in paths for a, b in itertools.pairwise(times.get(path, []))]
        late = [b - a for path in paths for a, b in list(itertools.pairwise(times.get(path, [])))[4:]]
        print(f"| {name} ({len(paths)}) | {statistics.median(counts):g} | {min(gaps):.2f} / "
              f"{statistics.median(gaps):.2f} / {max(gaps):.2f} s ({statistics.median(late or [0]):.2f} s) |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--changed", type=float, default=0.0, help="share of pages changed between the passes")
    parser.add_argument("--continuous", type=float, metavar="SECONDS", help="crawl continuously this long instead")
    parser.add_argument("--volatile", type=float, default=0.25, help="share of pages changing at every request")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--min", type=float, default=1.0)
    parser.add_argument("--max", type=float, default=8.0)
    parser.add_argument("--dispatch-interval", type=float, default=1.0, help="CRAWLER_DISPATCH_INTERVAL of the crawl")
    args = parser.parse_args()
    site = ValidatedSite(Site(pages=args.pages))
    server = ThreadingHTTPServer(("127.0.0.1", 0), site.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seed = f"http://127.0.0.1:{server.server_address[1]}/"
    with tempfile.TemporaryDirectory() as directory:
        if args.continuous:
            continuous(site, seed, Path(directory), args)
        else:
            recrawl(site, seed, Path(directory), args.changed)
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
