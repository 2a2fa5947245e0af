"""Stopping `crawler crawl` and running the same command again, on the embedded Redis:
Ctrl-C finishes what is running and the rerun completes what was in flight; kill -9
takes the workers and the redis-server with it, and the rerun never crawls beside
anything an earlier run left; two crawls never share a data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli import (
    GONE_WITHIN,
    INTERRUPT_EXIT_WITHIN,
    assert_nothing_left,
    crawl_ok,
    crawler,
    export_jsonl,
    processes_in,
    records,
    start_crawl,
    summary,
    this_run,
    wait_stored,
)
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration

PAGES = 40
PAGE_DELAY = 0.3  # seconds each page is served late: several chains are in flight at any time
JOB = "slow"
MOST_IN_FLIGHT = 4  # --host-concurrency


@pytest.fixture
def slow_host() -> Iterator[Host]:
    """A binary tree of PAGES pages, each served PAGE_DELAY late."""
    host = Host("127.0.0.1", delay=PAGE_DELAY)
    host.routes["/robots.txt"] = Response(body="User-agent: *\nAllow: /\n", content_type="text/plain")
    for i in range(1, PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"P {i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= PAGES])
    host.start()
    yield host
    host.stop()


def _args(host: Host) -> list[str]:
    """Four requests at a time to the host, from two workers of four threads."""
    return [host.url("/p/1"), "--job", JOB, "--allow-private", "--delay", "0", "--host-concurrency", "4",
            "--workers", "2"]


def _pages(host: Host, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
    """Requests for pages (robots.txt left out) that started in [since, until)."""
    return Counter(path for at, path in list(host.log) if since <= at < until and path != "/robots.txt")


def _assert_every_page_stored_once(directory: Path, host: Host) -> None:
    urls = Counter(record["url"] for record in export_jsonl(directory, JOB))
    expected = {host.url(f"/p/{i}") for i in range(1, PAGES + 1)}
    assert set(urls) == expected and max(urls.values()) == 1, f"lost: {expected - set(urls)}, counts: {urls}"


def _alive(pids: set[int]) -> set[int]:
    """Which of `pids` still run, or still lead a process group with a live member (a
    worker's pool processes); zombies count as gone."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z" and (int(entry) in pids or int(fields[2]) in pids):
            found.add(int(entry) if int(entry) in pids else int(fields[2]))
    return found


def _wait_gone(pids: set[int], timeout: float = GONE_WITHIN) -> set[int]:
    deadline = time.monotonic() + timeout
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _interrupt(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        process.send_signal(signal.SIGINT)
        return process.communicate(timeout=INTERRUPT_EXIT_WITHIN)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_ctrl_c_then_the_same_command_completes_what_was_in_flight(workdir: Path, slow_host: Host) -> None:
    process = start_crawl(workdir, *_args(slow_host))
    wait_stored(process, workdir, JOB, 8)
    started = time.monotonic()
    stdout, stderr = _interrupt(process)

    assert process.returncode != 0, f"exit 0 after Ctrl-C\n{stderr}"
    assert "Traceback" not in stdout + stderr, stderr
    assert time.monotonic() - started < INTERRUPT_EXIT_WITHIN
    assert_nothing_left(workdir)
    stored_before = {record.url for record in records(workdir, JOB)}
    assert 8 <= len(stored_before) < PAGES, "the interrupt did not land in the middle of the crawl"
    # The chains under way finished during the warm shutdown: what was fetched is stored.
    assert {slow_host.url(path) for path in _pages(slow_host)} == stored_before

    rerun_started = time.monotonic()
    job, result = crawl_ok(workdir, *_args(slow_host))
    rerun_took = time.monotonic() - rerun_started

    assert job == JOB and f"job {JOB} finished" in summary(result)
    assert_nothing_left(workdir)
    _assert_every_page_stored_once(workdir, slow_host)
    twice = {path: n for path, n in _pages(slow_host).items() if n > 1}
    assert twice == {}, f"pages requested again by the rerun: {twice}"
    # The rerun's pace is its own: the pages it stored, over its own time.
    pages, rate, seconds = this_run(result)
    assert pages is not None and PAGES - len(stored_before) <= pages < PAGES, summary(result)
    assert 0 < seconds < rerun_took, summary(result)
    assert abs(rate - pages / seconds) <= 0.05 * rate + 0.1, summary(result)
    assert rate <= 1.2 * MOST_IN_FLIGHT / PAGE_DELAY, f"faster than the host can serve: {summary(result)}"


def test_kill_9_takes_workers_and_redis_with_it_and_the_rerun_crawls_alone(workdir: Path, slow_host: Host) -> None:
    process = start_crawl(workdir, *_args(slow_host))
    try:
        wait_stored(process, workdir, JOB, 5)
        started = processes_in(workdir)
        servers = {pid for pid, command in started.items() if "redis-server" in command}
        workers = {pid for pid, command in started.items() if " worker " in command}
        assert len(servers) == 1 and len(workers) == 2, started
        process.kill()
        killed_at = time.time()
        process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert _wait_gone(servers | workers) == set(), f"left running after kill -9: {processes_in(workdir)}"
    assert_nothing_left(workdir)
    gone_at = time.time()
    time.sleep(1)

    job, result = crawl_ok(workdir, *_args(slow_host))

    assert job == JOB and f"job {JOB} finished" in summary(result)
    assert_nothing_left(workdir)
    _assert_every_page_stored_once(workdir, slow_host)
    assert _pages(slow_host, since=gone_at, until=gone_at + 1) == Counter(), "requests while no crawl ran"
    # A page in flight at the kill is fetched again, once, by the rerun; a leftover
    # worker would have made it (or another page) twice.
    twice = {path: n for path, n in _pages(slow_host, since=killed_at + 0.05).items() if n > 1}
    assert twice == {}, f"pages requested twice after the kill: {twice}"


def test_a_rerun_stops_a_redis_server_left_by_a_killed_crawl(workdir: Path, slow_host: Host) -> None:
    """Even when what would have stopped it was killed too, the rerun does not crawl on
    an earlier run's redis-server: it stops it and starts its own."""
    process = start_crawl(workdir, *_args(slow_host))
    wait_stored(process, workdir, JOB, 5)
    running = processes_in(workdir)
    (server,) = (pid for pid, command in running.items() if "redis-server" in command)
    (reaper,) = (pid for pid, command in running.items() if "reaper.py" in command)
    os.kill(reaper, signal.SIGKILL)
    process.kill()
    process.wait()
    time.sleep(1)
    assert _alive({server}) == {server}, "the redis-server went although nothing was left to stop it"

    rerun = start_crawl(workdir, *_args(slow_host))
    try:
        wait_stored(rerun, workdir, JOB, len(records(workdir, JOB)) + 1)
        assert _alive({server}) == set(), "the rerun is crawling on the killed crawl's redis-server"
        out, err = rerun.communicate(timeout=120)
    finally:
        if rerun.poll() is None:
            os.killpg(rerun.pid, signal.SIGKILL)
            rerun.wait()

    assert rerun.returncode == 0 and f"job {JOB} finished" in " ".join(out.split()), err
    assert_nothing_left(workdir)
    _assert_every_page_stored_once(workdir, slow_host)


def test_a_second_crawl_in_the_same_directory_is_refused(workdir: Path, slow_host: Host) -> None:
    first = start_crawl(workdir, *_args(slow_host))
    try:
        wait_stored(first, workdir, JOB, 2)

        second = crawler(workdir, "crawl", *_args(slow_host))

        lines = second.stderr.strip().splitlines()
        assert second.returncode == 1 and len(lines) == 1, second.stderr
        assert lines[0].startswith(f"crawler: error: another `crawler crawl` (pid {first.pid}) is running"), lines
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()

    assert first.returncode == 0 and f"job {JOB} finished" in " ".join(out.split()), err
    assert_nothing_left(workdir)
    _assert_every_page_stored_once(workdir, slow_host)


def test_ctrl_c_during_a_recrawl_then_the_same_command_without_recrawl_carries_the_pass_on(
    workdir: Path, slow_host: Host
) -> None:
    crawl_ok(workdir, *_args(slow_host))
    first = {record.url: record.fetched_at for record in records(workdir, JOB)}
    since = time.time()
    process = start_crawl(workdir, *_args(slow_host), "--recrawl")
    deadline = time.monotonic() + 60
    while sum(_pages(slow_host, since).values()) < 8:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    _interrupt(process)
    revisited = sum(1 for record in records(workdir, JOB) if record.fetched_at > first[record.url])
    assert 8 <= revisited < PAGES, "the interrupt did not land in the middle of the recrawl"

    job, result = crawl_ok(workdir, *_args(slow_host))

    assert job == JOB and f"job {JOB} finished" in summary(result)
    assert all(record.fetch_count == 2 for record in records(workdir, JOB)), "each URL revisited once in the pass"
    twice = {path: n for path, n in _pages(slow_host, since).items() if n > 1}
    assert twice == {}, f"pages requested again by the rerun: {twice}"
