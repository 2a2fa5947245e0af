"""CPU per page of this project against Scrapy on a real site: the Python 3.11
documentation that Debian's python3-doc installs (530 pages of ~96 KB with hundreds of
links each), served on loopback and crawled in turns by `crawler crawl` and by the Scrapy
spider of bench/docs_spider.py.

bench/crawl.py's synthetic pages say how the crawler scales; this says what a page costs on
markup nobody shaped for the benchmark (navigation, indexes of thousands of links, ~96 KB
pages), next to the crawler a user would otherwise pick.

Each crawler's CPU is getrusage(RUSAGE_CHILDREN) around its subprocess. The server is a
subprocess too, but it is reaped only after the last run, so it is never counted. The
project's figure adds the Redis server's CPU (INFO cpu): its frontier and broker live
there, while Scrapy keeps both in its own process.
"""

from __future__ import annotations

import argparse
import functools
import json
import mimetypes
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import redis
from crawl import (
    LOG_TAIL_BYTES,
    RedisTarget,
    _handle_signals,
    bench_redis,
    crawl_command,
    job_status,
    redis_cpu_seconds,
    reset_job,
    run_crawl,
    tree_cpu_seconds,
    url_server,
)

DOCS_ROOT = Path("/usr/share/doc/python3.11/html")
SEED_PAGE = "index.html"
SPIDER_SCRIPT = Path(__file__).resolve().with_name("docs_spider.py")
SCRAPY_PYTHON = Path("/tmp/anchorenv/bin/python")
JOB = "docs"
# The command the figures are for: what crawl_command() turns into `crawler crawl` flags.
CRAWL_SETTINGS = argparse.Namespace(job=JOB, workers=2, delay=0, host_concurrency=16, max_depth=50, max_pages=0)
# On python3-doc 3.11 both count 527, for different reasons. Both reach the same 526 .html
# files (of 530: nothing links to three distutils stubs and includes/wasm-notavail.html) and
# get a 404 for whatsnew/changelog.html, which Debian leaves out. The project also stores
# _downloads/…/tzinfo_examples.py, linked from library/datetime.html (status 200, not
# parsed), which Scrapy's LinkExtractor skips as a .py among its IGNORED_EXTENSIONS; Scrapy
# fetches index.html twice, since a start request bypasses the dupe filter and so is not
# recorded in it. More than 2% apart means one of them missed part of the site.
PAGE_TOLERANCE = 0.02
PAGES_LINE = re.compile(rb"^BENCH pages=(\d+)$", re.MULTILINE)
CASES = ("project", "scrapy")


class BenchError(RuntimeError):
    """A run failed or the crawlers disagree: the figures would compare different work."""


@dataclass
class Run:
    """One crawl; cpu_s is all the CPU counted for it (Redis included for the project).
    server_cpu_s is not counted: it is there to show that the server was cheap."""

    case: str
    round: int
    pages: int
    wall_s: float
    cpu_s: float
    redis_cpu_s: float | None
    cpu_ms_per_page: float
    server_cpu_s: float | None = None


# --- the server -----------------------------------------------------------------------


def load_tree(root: Path) -> dict[str, bytes]:
    """Request path -> complete HTTP/1.1 response, read once at start-up, so a request costs
    a lookup and one write and the server stays far below either crawler's CPU."""
    return {
        "/" + path.relative_to(root).as_posix(): _response(200, _media_type(path), path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _media_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed == "text/html" else guessed


def _response(status: int, content_type: str, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found"}[status]
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


_NOT_FOUND = _response(404, "text/html; charset=utf-8", b"<html><head><title>Not found</title></head></html>")


def _handler(routes: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as both crawlers' HTTP clients expect

        def do_GET(self) -> None:
            self.wfile.write(routes.get(unquote(urlsplit(self.path).path), _NOT_FOUND))

        def log_message(self, format: str, *args: object) -> None:
            """Silent: a log line per request would cost more CPU than serving it."""

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs under a burst of new connections


def serve(root: Path) -> None:
    """Serve `root` on a free loopback port until killed; the first line on stdout is the
    URL, which url_server() waits for as the sign that the server is listening."""
    with _Server(("127.0.0.1", 0), _handler(load_tree(root))) as httpd:
        host, port = httpd.server_address[:2]
        print(f"http://{host}:{port}/", flush=True)
        httpd.serve_forever()


@contextmanager
def docs_server(root: Path) -> Iterator[tuple[int, str]]:
    """This script's --serve in a subprocess, as (pid, URL): its CPU is neither crawler's, as
    it is running (not yet reaped) whenever a crawler's RUSAGE_CHILDREN figure is taken."""
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", "--root", str(root)]
    with url_server(command, "the documentation server") as (process, url):
        yield process.pid, url


# --- the runs -------------------------------------------------------------------------


def run_project(seed: str, target: RedisTarget, timeout: float, round_number: int) -> Run:
    """One `crawler crawl` from an empty frontier and a fresh store and data directory."""
    with tempfile.TemporaryDirectory(prefix="docs-bench-") as tmp:
        workdir = Path(tmp)
        database = workdir / "crawl.db"
        env = dict(
            os.environ, CRAWLER_REDIS_URL=target.url, CRAWLER_STORE_URL=f"sqlite:///{database}",
            CRAWLER_DATA_DIR=str(workdir / "data"), CRAWLER_MAX_PAGES_PER_HOST="0",
        )
        reset_job(target, JOB)
        try:
            redis_before = redis_cpu_seconds(target.client)
            code, wall, cpu = run_crawl(crawl_command(CRAWL_SETTINGS, seed), env, workdir, timeout)
            redis_cpu = redis_cpu_seconds(target.client) - redis_before
            state = job_status(env, workdir, JOB).get("state")
            if code != 0 or state != "finished":
                _fail("crawler crawl", workdir, f"exit code {code} (None: timed out), job state {state}")
            pages = ok_pages(database, JOB)
        finally:
            reset_job(target, JOB)
    return _run("project", round_number, pages, wall, cpu + redis_cpu, redis_cpu)


def ok_pages(database: Path, job: str) -> int:
    """Pages stored with status 200: what Scrapy's count is of, unlike crawl.stored_pages(),
    which also counts the 404 of a dead link."""
    with sqlite3.connect(database) as connection:
        query = "SELECT COUNT(*) FROM pages WHERE job = ? AND status = 200"
        return int(connection.execute(query, (job,)).fetchone()[0])


def run_scrapy(python: Path, seed: str, timeout: float, round_number: int) -> Run:
    """One crawl by the Scrapy peer, which reports its count on its last line."""
    with tempfile.TemporaryDirectory(prefix="docs-bench-scrapy-") as tmp:
        workdir = Path(tmp)
        command = [str(python), str(SPIDER_SCRIPT), "--start", seed]
        code, wall, cpu = run_crawl(command, dict(os.environ), workdir, timeout)
        found = PAGES_LINE.findall((workdir / "crawl.log").read_bytes())
        if code != 0 or not found:
            _fail("the Scrapy spider", workdir, f"exit code {code} (None: timed out), pages line found: {bool(found)}")
    return _run("scrapy", round_number, int(found[-1]), wall, cpu, None)


def _run(case: str, round_number: int, pages: int, wall: float, cpu: float, redis_cpu: float | None) -> Run:
    """A crawl that ended cleanly with nothing fetched has still failed: the seed was not served."""
    if not pages:
        raise BenchError(f"round {round_number}: {case} fetched no page with status 200")
    return Run(case, round_number, pages, wall, cpu, redis_cpu, 1000 * cpu / pages)


def _fail(what: str, workdir: Path, outcome: str) -> NoReturn:
    """Show the end of the failed run's log while it still exists, then stop the benchmark."""
    sys.stderr.buffer.write((workdir / "crawl.log").read_bytes()[-LOG_TAIL_BYTES:])
    raise BenchError(f"{what} failed: {outcome}")


def check_pages(project: Run, scrapy: Run) -> None:
    """Compare the two crawls of a round: CPU per page means little if they crawled different sites."""
    if abs(project.pages - scrapy.pages) > PAGE_TOLERANCE * max(project.pages, scrapy.pages):
        raise BenchError(
            f"round {project.round}: the crawlers disagree on the site: project {project.pages} pages, "
            f"Scrapy {scrapy.pages} (more than {PAGE_TOLERANCE:.0%} apart)"
        )


def rounds(args: argparse.Namespace, server: int, seed: str, target: RedisTarget) -> Iterator[tuple[Run, Run]]:
    """Project then Scrapy, round after round: interleaved, so a change in the machine's load
    over time falls on both alike."""
    for number in range(1, args.rounds + 1):
        project = with_server_cpu(server, functools.partial(run_project, seed, target, args.timeout, number))
        print(run_line(project), flush=True)
        scrapy = with_server_cpu(server, functools.partial(run_scrapy, args.scrapy_python, seed, args.timeout, number))
        print(run_line(scrapy), flush=True)
        check_pages(project, scrapy)
        yield project, scrapy


def with_server_cpu(server: int, crawl: Callable[[], Run]) -> Run:
    """The run, with what the server spent on it: read from /proc, since it is never reaped."""
    before = tree_cpu_seconds(server)
    run = crawl()
    return replace(run, server_cpu_s=tree_cpu_seconds(server) - before)


# --- report ---------------------------------------------------------------------------


def run_line(run: Run) -> str:
    redis_part = f" (Redis {run.redis_cpu_s:.2f})" if run.redis_cpu_s is not None else ""
    return (
        f"round {run.round}  {run.case:<7}  pages {run.pages:>4}  wall {run.wall_s:6.2f} s  "
        f"CPU {run.cpu_s:6.2f} s{redis_part}  {run.cpu_ms_per_page:.2f} ms/page  (server CPU {run.server_cpu_s:.2f} s)"
    )


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _show(figures: dict[str, float], digits: int) -> str:
    return f"{figures['median']:.{digits}f} [{figures['min']:.{digits}f}..{figures['max']:.{digits}f}]"


_FIGURES: dict[str, tuple[Callable[[Run], float], int]] = {
    "pages": (lambda run: run.pages, 0),
    "wall s": (lambda run: run.wall_s, 2),
    "CPU s": (lambda run: run.cpu_s, 2),
    "CPU ms/page": (lambda run: run.cpu_ms_per_page, 2),
}


def summary(pairs: Sequence[tuple[Run, Run]]) -> dict[str, Any]:
    """Median [min..max] of every figure per case, and of the per-round CPU-per-page ratios:
    a ratio of medians would pair runs from different rounds."""
    by_case = {case: [pair[index] for pair in pairs] for index, case in enumerate(CASES)}
    figures = {
        case: {name: spread([get(run) for run in runs]) for name, (get, _) in _FIGURES.items()}
        for case, runs in by_case.items()
    }
    ratios = [project.cpu_ms_per_page / scrapy.cpu_ms_per_page for project, scrapy in pairs]
    return {"cases": figures, "cpu_per_page_ratio": spread(ratios)}


def summary_table(result: dict[str, Any], count: int) -> str:
    names = list(_FIGURES)
    rows = [["", *names]] + [
        [case, *(_show(figures[name], _FIGURES[name][1]) for name in names)]
        for case, figures in result["cases"].items()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(names) + 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    ratio = _show(result["cpu_per_page_ratio"], 2)
    return "\n".join(
        [f"median [min..max] of {count} round(s)", *lines, f"CPU ms per page, project / Scrapy: {ratio}"]
    )


def write_json(path: Path, args: argparse.Namespace, pairs: Sequence[tuple[Run, Run]], result: dict[str, Any]) -> None:
    config = {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()}
    config["crawl"] = vars(CRAWL_SETTINGS)
    runs = [asdict(run) for pair in pairs for run in pair]
    path.write_text(json.dumps({"config": config, "runs": runs, "summary": result}, indent=2) + "\n")


# --- main -----------------------------------------------------------------------------


def preflight(args: argparse.Namespace) -> None:
    """Refuse before anything starts, with the fix, rather than fail halfway through a run."""
    if not (args.root / SEED_PAGE).is_file():
        raise BenchError(f"{args.root / SEED_PAGE} is missing: install python3-doc: apt-get install python3-doc")
    if not os.access(args.scrapy_python, os.X_OK):
        raise BenchError(f"no Python at {args.scrapy_python}: give one that has Scrapy with --scrapy-python")
    probe = subprocess.run([str(args.scrapy_python), "-c", "import scrapy"], check=False, capture_output=True)
    if probe.returncode != 0:
        raise BenchError(f"{args.scrapy_python} cannot import scrapy: give one that has Scrapy with --scrapy-python")


def benchmark(args: argparse.Namespace) -> list[tuple[Run, Run]]:
    """One Redis and one server for every round: neither is part of what a run is charged for."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="docs-bench-redis-")))
        target = stack.enter_context(bench_redis(workdir))
        server, url = stack.enter_context(docs_server(args.root))
        return list(rounds(args, server, url + SEED_PAGE, target))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="project and Scrapy runs, in turns")
    parser.add_argument("--scrapy-python", type=Path, default=SCRAPY_PYTHON, help="a Python with Scrapy installed")
    parser.add_argument("--root", type=Path, default=DOCS_ROOT, help="the HTML tree to serve")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is stopped as failed")
    parser.add_argument("--json-out", type=Path, help="also write every run and the summary here as JSON")
    parser.add_argument("--serve", action="store_true", help="only serve --root and print its URL (the server's mode)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.serve:
        serve(args.root)
        return 0
    _handle_signals()
    try:
        preflight(args)
        pairs = benchmark(args)
    except KeyboardInterrupt:
        print("docs-bench: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, redis.RedisError, sqlite3.Error, OSError) as exc:
        print(f"docs-bench: error: {exc}", file=sys.stderr)
        return 1
    result = summary(pairs)
    print(summary_table(result, len(pairs)))
    if args.json_out:
        write_json(args.json_out, args, pairs, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
