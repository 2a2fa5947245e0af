"""The errors under requests' own, found where requests and urllib3 put them: a server
that closes the connection without answering and a port that refuses it, both real."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.client import RemoteDisconnected

import pytest
import requests

from pipeline.fetch.causes import error_in
from pipeline.fetch.connections import DROPPED


@pytest.fixture
def closing_port() -> Iterator[int]:
    """A port whose server reads each request and closes the connection unanswered."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    thread.join(timeout=5)


def _error_of(url: str) -> requests.ConnectionError:
    with pytest.raises(requests.ConnectionError) as caught:
        requests.get(url, timeout=5)
    return caught.value


def test_a_connection_closed_unanswered_is_found_under_requests_error(closing_port):
    found = error_in(_error_of(f"http://127.0.0.1:{closing_port}/"), DROPPED)
    assert isinstance(found, RemoteDisconnected)


def test_a_refused_connection_is_not_a_dropped_one():
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]
    error = _error_of(f"http://127.0.0.1:{port}/")
    assert error_in(error, DROPPED) is None
    assert isinstance(error_in(error, ConnectionRefusedError), ConnectionRefusedError)


def test_a_chain_that_loops_ends_the_search():
    first, second = ValueError("first"), KeyError("second")
    first.__context__, second.__context__ = second, first
    assert error_in(first, OSError) is None
    assert error_in(first, KeyError) is second
