"""What a kept-alive connection saves a request on https: the fetcher's CPU and wall time
per request over many hosts, once with connections kept in a worker process's shared
pools (every host's connection found again) and once with room for one host only (a new
connection and TLS handshake for every request, as when each of a worker's threads kept
its own few hosts' connections on a broad crawl).

The hosts (127.2.0.X, one certificate for all, from a throwaway CA) are served by a
process of their own, so the CPU measured is the fetcher's alone. Loopback has no
round trips worth the name: on the web a new connection also waits two of them."""

from __future__ import annotations

import argparse
import multiprocessing
import ssl
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.fetch import Fetcher, Pools
from pipeline.settings import Policy

BODY = b"<html><body>" + b"x" * 20_000 + b"</body></html>"
SERVER_START = 1.5  # seconds for the server process to bind its hosts


class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(hosts: list[str], port: int, cert_pem: bytes, key_pem: bytes) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.NamedTemporaryFile() as cert, tempfile.NamedTemporaryFile() as key:
        cert.write(cert_pem)
        key.write(key_pem)
        cert.flush()
        key.flush()
        context.load_cert_chain(cert.name, key.name)
    for host in hosts:
        server = ThreadingHTTPServer((host, port), _Page)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()


def per_request(urls: list[str], ca_file: str, pool_hosts: int, rounds: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per request of `rounds` passes over `urls` with one fetcher."""
    policy = Policy(allow_private=True)
    pools = Pools(pool_hosts)
    fetcher = Fetcher(pools=pools)
    fetcher.session(policy).verify = ca_file
    cpu, wall = time.process_time(), time.monotonic()
    for _ in range(rounds):
        for url in urls:
            fetcher.fetch(url, policy)
    count = rounds * len(urls)
    result = (time.process_time() - cpu) / count * 1000, (time.monotonic() - wall) / count * 1000
    pools.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="passes over the hosts per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="measurements of each case, interleaved")
    parser.add_argument("--port", type=int, default=47443)
    args = parser.parse_args()
    hosts = [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(args.hosts)]
    ca = trustme.CA()
    cert = ca.issue_cert(*hosts)
    server = multiprocessing.Process(
        target=_serve, args=(hosts, args.port, cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes()),
        daemon=True,
    )
    server.start()
    time.sleep(SERVER_START)
    urls = [f"https://{host}:{args.port}/page" for host in hosts]
    with tempfile.NamedTemporaryFile(suffix=".pem") as ca_file:
        ca.cert_pem.write_to_path(ca_file.name)
        cases: dict[str, list[tuple[float, float]]] = {"kept": [], "new": []}
        for _ in range(args.repeat):
            cases["kept"].append(per_request(urls, ca_file.name, args.hosts, args.rounds))
            cases["new"].append(per_request(urls, ca_file.name, 1, args.rounds))
    server.terminate()
    print(f"{args.hosts} https hosts, {args.rounds * args.hosts} requests a measurement, {args.repeat} each")
    for name, label in (("kept", "connections kept"), ("new", "a new connection a request")):
        cpu = [c for c, _ in cases[name]]
        wall = [w for _, w in cases[name]]
        print(f"{label:28} CPU {statistics.median(cpu):.2f} ms [{min(cpu):.2f}..{max(cpu):.2f}]"
              f"  wall {statistics.median(wall):.2f} ms [{min(wall):.2f}..{max(wall):.2f}] a request")


if __name__ == "__main__":
    main()
