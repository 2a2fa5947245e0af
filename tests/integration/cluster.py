"""Real Celery worker and beat processes for integration tests, started as
subprocesses against the test Redis, each in its own process group so a test can
SIGKILL one the way a crashed machine would stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

from pipeline.frontier import Frontier, JobState, JobStats
from pipeline.store import Record, open_store


def wait_until(
    condition: Callable[[], bool], what: str, timeout: float = 60, detail: Callable[[], str] = lambda: ""
) -> None:
    """Poll `condition` until it holds; a test that waits for a state, not a duration.
    `detail` says, on a time-out, what was seen instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{detail()}")


class Cluster:
    def __init__(self, tmp_path: Path, redis_url: str, store_url: str | None = None, **env: str) -> None:
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.store_url = store_url or f"sqlite:///{tmp_path / 'crawl.db'}"
        self.env = dict(os.environ, CRAWLER_REDIS_URL=redis_url, CRAWLER_STORE_URL=self.store_url, **env)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.client = redis.Redis.from_url(redis_url)

    def start_worker(
        self, name: str = "w1", concurrency: int = 2, pool: str = "prefork", queues: str = "fetch,parse,store"
    ) -> subprocess.Popen[bytes]:
        return self._start(
            name, "worker", "-Q", queues, "-P", pool, "-c", str(concurrency), "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        )

    def start_beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        schedule = self.tmp_path / f"{name}-schedule"
        return self._start(name, "beat", "-s", str(schedule), "--loglevel", "WARNING")

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole process group: the main process and its pool children."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def frontier(self, job: str) -> Frontier:
        return Frontier(self.client, job)

    def wait_finished(self, job: str, timeout: float = 90) -> JobStats:
        deadline = time.monotonic() + timeout
        frontier = self.frontier(job)
        while time.monotonic() < deadline:
            stats = frontier.stats()
            if stats.state == JobState.FINISHED:
                return stats
            time.sleep(0.2)
        raise AssertionError(f"job {job} did not finish in {timeout}s: {frontier.stats()}\n{self.logs()}")

    def records(self, job: str) -> list[Record]:
        store = open_store(self.store_url)
        try:
            return list(store.records(job))
        finally:
            store.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.tmp_path.glob("*.log")
        )

    def task_failures(self) -> list[str]:
        """The lines where a worker says a task raised (a chain gone wrong: a stage sent
        what it should not have, or nothing it could take)."""
        return [
            line
            for path in self.tmp_path.glob("*.log")
            for line in path.read_text(errors="replace").splitlines()
            if "raised unexpected" in line
        ]

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with open(self.tmp_path / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process
