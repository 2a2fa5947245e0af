"""A wall-clock deadline for a whole HTTP exchange. Socket timeouts bound each read, not
their sum: a server that sends a byte every few seconds, in the headers or the body,
would hold a worker for ever. One watchdog thread per process shuts down the socket of
any exchange that outlives its deadline, so the blocked read returns at once."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Deadline:
    """One exchange's deadline (monotonic clock); `active` is cleared when it ends, so a
    kept-alive socket reused by a later exchange is left alone."""

    at: float
    active: bool = True
    expired: bool = False


@dataclass(order=True)
class _Entry:
    at: float
    seq: int
    sock: socket.socket = field(compare=False)
    deadline: Deadline = field(compare=False)


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, _Entry(deadline.at, next(self._seq), sock, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="fetch-deadline", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                entry = self._heap[0]
                wait = entry.at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if entry.deadline.active:
                entry.deadline.expired = True
                with contextlib.suppress(OSError):
                    entry.sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
_current = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Every connection this thread uses inside the block is cut `seconds` from now."""
    current = Deadline(time.monotonic() + seconds)
    _current.deadline = current
    try:
        yield current
    finally:
        current.active = False
        _current.deadline = None


def passed() -> bool:
    """True when this thread is inside a deadline that is already over."""
    current = getattr(_current, "deadline", None)
    return current is not None and current.active and time.monotonic() >= current.at


def watch_current(sock: socket.socket | None) -> None:
    """Put `sock` under this thread's deadline, if one is set."""
    current = getattr(_current, "deadline", None)
    if sock is not None and current is not None and current.active:
        WATCHDOG.watch(sock, current)
