"""Process bookkeeping for bench/broad/run.py, from /proc (Linux only): the runner makes
itself a child subreaper, so a crawler's worker that outlives its parent is re-parented to
the runner and reaped by it, and its CPU lands in the runner's RUSAGE_CHILDREN like every
other process of the crawl's tree, however the crawler starts and stops its workers.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import threading
import time
from collections.abc import Collection
from contextlib import suppress
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphans of our descendants become our children (prctl PR_SET_CHILD_SUBREAPER)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may hold spaces): [0] is the state."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _snapshot() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError, IndexError):
                stats[int(entry)] = _stat(int(entry))
    return stats


def _tree(stats: dict[int, list[str]], root: int, excluded: Collection[int] = ()) -> list[int]:
    """`root` and its descendants in `stats`, without the subtrees of `excluded`."""
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in excluded:
            continue
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one live process (its own, not its children's)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    """CPU of every descendant this process has reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def descendants(excluded: Collection[int]) -> list[int]:
    """This process's live descendants, but not those under `excluded` (the site, Redis)."""
    return _tree(_snapshot(), os.getpid(), excluded)[1:]


class RssPeak(threading.Thread):
    """Samples the summed resident memory of this process's descendants (less `excluded`)
    plus that of `extra` (a Redis server the crawl uses) until stopped; keeps the peak."""

    def __init__(self, excluded: Collection[int], extra: Collection[int], interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self._excluded, self._extra, self._interval = excluded, extra, interval
        self._halt = threading.Event()
        self.peak_bytes = 0

    def run(self) -> None:
        while not self._halt.is_set():
            stats = _snapshot()
            members = _tree(stats, os.getpid(), self._excluded)[1:] + [pid for pid in self._extra if pid in stats]
            self.peak_bytes = max(self.peak_bytes, sum(int(stats[pid][21]) for pid in members if pid in stats)
                                  * PAGE_BYTES)
            self._halt.wait(self._interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_bytes


def reap_orphans(excluded: Collection[int], grace: float) -> int:
    """Wait up to `grace` for whatever is left of a crawl's tree to exit, then kill it; all
    of it is reaped, so its CPU is counted. `excluded` (the site, Redis) is left alone.
    Returns how many processes had to be killed."""
    deadline, killed = time.monotonic() + grace, set()
    while left := descendants(excluded):
        if time.monotonic() > deadline:
            for pid in set(left) - killed:
                killed.add(pid)
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _reap_exited(excluded)
        time.sleep(0.05)
    return len(killed)


def _reap_exited(excluded: Collection[int]) -> None:
    """Collect every exited child of ours except `excluded` (their Popen objects reap those)."""
    for pid in _children():
        if pid not in excluded:
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def _children() -> list[int]:
    me = os.getpid()
    return [pid for pid, fields in _snapshot().items() if int(fields[1]) == me]
