"""A real proxy server (pproxy) for the tests, speaking HTTP, SOCKS4 and SOCKS5 on one port, with
its log of every connection it carried, so tests can see the traffic went through it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.integration.cluster import wait_until


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _accepts(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), 0.5).close()
    except OSError:
        return False
    return True


class ProxyServer:
    """`pproxy -l PROTOCOLS://ADDRESS:PORT[#user:password]`, started and stopped by a test."""

    def __init__(
        self, log: Path, address: str = "127.0.0.1", protocols: str = "http+socks4+socks5", auth: str = "",
        port: int | None = None, tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls` (certificate, key) makes it an https:// proxy: TLS from the client to it."""
        self.address, self.port, self.log_path = address, port or free_port(address), log
        listen = f"{protocols}{'+ssl' if tls else ''}://{address}:{self.port}" + (f"#{auth}" if auth else "")
        argv = [sys.executable, "-m", "pproxy", "-l", listen, "-v"]
        if tls:
            argv += ["--ssl", f"{tls[0]},{tls[1]}"]
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        wait_until(lambda: _accepts(address, self.port), "the proxy to listen", timeout=15)

    def url(self, scheme: str, credentials: str = "") -> str:
        return f"{scheme}://{credentials + '@' if credentials else ''}{self.address}:{self.port}"

    def carried(self, target: str) -> list[str]:
        """Log lines of connections the proxy made to `target` (host:port)."""
        return [line for line in self.log_path.read_text().splitlines() if line.endswith(f"-> {target}")]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def dead_proxy_url(scheme: str, address: str = "127.0.0.1") -> str:
    """A proxy URL whose port nobody listens on."""
    return f"{scheme}://{address}:{free_port(address)}"
