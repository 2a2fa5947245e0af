"""Worker hosts as Linux network namespaces on one machine: each namespace has a veth
pair into a bridge in the root namespace, which carries the test Redis and the test
site. Taking a host's link down cuts it off the way a failed switch port would.

Only addresses of this private test bridge are used, and everything is removed
afterwards."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

BRIDGE = "crwlbr0"
SUBNET = "10.233.77"
GATEWAY = f"{SUBNET}.1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def available() -> str | None:
    """None when namespaces can be made here, else the reason they cannot."""
    probe = "crwlprobe"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "del", probe)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"network namespaces cannot be created here: {exc}"
    return None


@dataclass
class Network:
    """A bridge with GATEWAY in the root namespace and `hosts` namespaces behind it."""

    hosts: int
    names: list[str] = field(default_factory=list)

    def __enter__(self) -> Network:
        self._cleanup()
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for number in range(1, self.hosts + 1):
            name = f"crwlh{number}"
            _ip("netns", "add", name)
            _ip("link", "add", f"{name}a", "type", "veth", "peer", "name", f"{name}b")
            _ip("link", "set", f"{name}a", "master", BRIDGE)
            _ip("link", "set", f"{name}a", "up")
            _ip("link", "set", f"{name}b", "netns", name)
            _ip("-n", name, "addr", "add", f"{SUBNET}.{10 + number}/24", "dev", f"{name}b")
            _ip("-n", name, "link", "set", f"{name}b", "up")
            _ip("-n", name, "link", "set", "lo", "up")
            self.names.append(name)
        return self

    def __exit__(self, *exc: object) -> None:
        self._cleanup()

    def command(self, host: str, argv: list[str]) -> list[str]:
        """`argv` run inside namespace `host`."""
        return ["ip", "netns", "exec", host, *argv]

    def cut(self, host: str) -> None:
        _ip("link", "set", f"{host}a", "down")

    def restore(self, host: str) -> None:
        _ip("link", "set", f"{host}a", "up")

    def _cleanup(self) -> None:
        for number in range(1, max(self.hosts, 8) + 1):
            subprocess.run(["ip", "netns", "del", f"crwlh{number}"], capture_output=True)
            subprocess.run(["ip", "link", "del", f"crwlh{number}a"], capture_output=True)
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
