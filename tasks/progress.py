"""What `crawler crawl` and `crawler status --watch` show while a job runs: a live
table in a terminal, a plain line every few seconds anywhere else (logs, CI)."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipeline.frontier import HostBackoff, JobStats

PLAIN_EVERY = 5.0
RATE_WINDOW = 10.0


class Rate:
    """Pages per second over the last few seconds, from successive `stored` counts."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, stored: int) -> float:
        now = time.monotonic()
        self._samples.append((now, stored))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        first_time, first_stored = self._samples[0]
        if now - first_time <= 0:
            return 0.0
        return (stored - first_stored) / (now - first_time)


def table(stats: JobStats, rate: float) -> Table:
    grid = Table(title=f"job {stats.job}: {stats.state}", show_header=True, header_style="bold")
    for column in ("stored", "queued", "leased", "errors", "requeued", "hosts paused", "pages/s"):
        grid.add_column(column, justify="right")
    grid.add_row(
        str(stats.stored), str(stats.queued), str(stats.leased), str(stats.errors), str(stats.requeued),
        str(stats.backing_off), f"{rate:.1f}",
    )
    return grid


def line(stats: JobStats, rate: float) -> str:
    return (
        f"job {stats.job} {stats.state}: stored {stats.stored}, queued {stats.queued}, "
        f"leased {stats.leased}, errors {stats.errors}, hosts paused {stats.backing_off}, {rate:.1f} pages/s"
    )


def backoff_lines(backoffs: list[HostBackoff]) -> list[str]:
    return [f"  {b.host} paused for {b.seconds_left:g} s more ({b.reason})" for b in backoffs]


class Display:
    """Shows successive JobStats; use as a context manager around the wait loop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rate = Rate()
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def show(self, stats: JobStats) -> None:
        rate = self.rate.update(stats.stored)
        if self._live is not None:
            self._live.update(table(stats, rate))
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY:
            self._last_plain = time.monotonic()
            self.console.print(line(stats, rate), highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
