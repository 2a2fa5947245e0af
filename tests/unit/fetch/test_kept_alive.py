"""Connections kept alive across a worker process's threads: a host asked by one thread
and then another is asked over the same connection, and a kept connection the server
closed as a request went out costs neither the URL nor its host a failure.

The server here speaks HTTP/1.1 by hand, so that what happens to each connection is the
test's to decide; it is reached through the address guard, by a host name resolving to
loopback (which the guard is told is public)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pipeline.fetch import Fetcher, Pools
from pipeline.fetch import guard as guard_module
from pipeline.fetch.errors import TransientFetchError
from pipeline.settings import Policy

HOST = "kept.test"
POLICY = Policy(timeout=5.0, download_deadline=10.0)
BODY = b"<html><title>kept</title></html>"


class Server:
    """Answers GET with a small page on kept-alive connections; `/drop-kept` is closed
    unanswered when it comes on a connection that already served a request, `/drop` on
    any connection. `seen` lists (connection number, path) as requests arrive."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.seen: list[tuple[int, str]] = []
        self.connections = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn, conn.makefile("rb") as reader:
            served = 0
            while line := reader.readline():
                path = line.split()[1].decode()
                while reader.readline() not in (b"\r\n", b""):
                    pass
                with self._lock:
                    self.seen.append((number, path))
                if path == "/drop" or (path == "/drop-kept" and served):
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(BODY), BODY))
                served += 1

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server(monkeypatch) -> Iterator[Server]:
    resolve = socket.getaddrinfo
    monkeypatch.setattr(guard_module, "is_public", lambda address: address == "127.0.0.1")
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *args, **kw: resolve("127.0.0.1" if host == HOST else host, *args, **kw)
    )
    running = Server()
    yield running
    running.close()


@pytest.fixture
def pools() -> Iterator[Pools]:
    shared = Pools(hosts=100)
    yield shared
    shared.close()


def fetch_in_a_thread(pools: Pools, url: str) -> None:
    """One worker thread's fetch, with the thread's own fetcher as a worker has."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            Fetcher(pools=pools).fetch(url, POLICY)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def test_threads_of_a_process_ask_a_host_over_one_kept_connection(server, pools):
    for path in ("/a", "/b", "/c"):
        fetch_in_a_thread(pools, server.url(path))

    assert server.seen == [(1, "/a"), (1, "/b"), (1, "/c")]


def test_fetchers_with_pools_of_their_own_do_not_share_connections(server):
    for path in ("/a", "/b"):
        fetcher = Fetcher()
        fetcher.fetch(server.url(path), POLICY)
        fetcher.close()

    assert server.seen == [(1, "/a"), (2, "/b")]


def test_a_kept_connection_closed_as_the_request_went_out_is_replaced_at_once(server, pools):
    fetch_in_a_thread(pools, server.url("/a"))
    fetcher = Fetcher(pools=pools)

    result = fetcher.fetch(server.url("/drop-kept"), POLICY)

    assert result.status == 200 and "kept" in (result.text or "")
    assert server.seen == [(1, "/a"), (1, "/drop-kept"), (2, "/drop-kept")]
    assert fetcher.sent_at is not None


def test_a_new_connection_closed_unanswered_is_the_hosts_failure_and_not_sent_again(server, pools):
    fetcher = Fetcher(pools=pools)

    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(server.url("/drop"), POLICY)

    assert info.value.reason == "connection error"
    assert server.seen == [(1, "/drop")]


def test_a_request_dropped_on_a_kept_connection_and_on_a_new_one_fails_having_gone_out_twice(server, pools):
    fetch_in_a_thread(pools, server.url("/a"))

    with pytest.raises(TransientFetchError):
        Fetcher(pools=pools).fetch(server.url("/drop"), POLICY)

    assert server.seen == [(1, "/a"), (1, "/drop"), (2, "/drop")]


def test_pools_keep_no_more_hosts_than_a_quarter_of_the_open_files_limit(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (400, 4096))

    assert Pools(hosts=1000).hosts == 100
    assert Pools(hosts=50).hosts == 50
