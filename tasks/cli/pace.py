"""How fast a crawl goes, as the `crawler` command says it: this run's pages/s (what the
user just waited for, not the idle time between the runs of a resumed or recrawled job),
the rate of the last few seconds while it runs, and the job's own average for `crawler
status`. Each rate says what it divides by."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from pipeline.frontier import JobState, JobStats

RATE_WINDOW = 10.0
THIS_RUN = "this run"
THE_JOB = "the job"


def pages(stats: JobStats) -> int:
    """Pages requested and stored, or stored again by a revisit: what a rate counts."""
    return stats.requested + stats.revisited


def is_over(stats: JobStats) -> bool:
    return stats.finished_at is not None or stats.state in (JobState.FINISHED, JobState.CANCELLED)


@dataclass(frozen=True)
class Pace:
    """`pages` over `seconds` of `whose` time (THIS_RUN or THE_JOB); `recent`: the rate
    over the last RATE_WINDOW seconds, while the job runs."""

    whose: str
    pages: int
    seconds: float
    recent: float | None = None

    @property
    def per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """"87.4 pages/s over this run's 3.5 s (95.1 in the last 10 s)"."""
        if not self.pages:
            said = f"no page stored in {self.whose}"
        elif self.seconds <= 0:
            said = f"{self.pages} pages at one instant, no time to divide by"
        else:
            said = f"{self.per_second:.1f} pages/s over {self.whose}'s {duration(self.seconds)}"
        return said + (f" ({self.recent:.1f} in the last {RATE_WINDOW:g} s)" if self.recent is not None else "")


def duration(seconds: float) -> str:
    """3.5 s, 42 s, 2 min 5 s, 1 h 3 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def job_pace(stats: JobStats, now: float) -> Pace:
    """The job's average: every page it requested and stored over its time, seeded to
    finished (or to `now`, epoch seconds, while it runs), idle time between its runs
    included."""
    if not stats.started_at:
        return Pace(THE_JOB, 0, 0.0)
    return Pace(THE_JOB, pages(stats), max(0.0, (stats.finished_at or now) - stats.started_at))


class RunPace:
    """This run's pages over this run's time. `before`: the job's pages when the run
    began (0 for a new job). The run's time starts at the last look that found no page
    of it stored yet (its first fetch began after that) and ends at the first look that
    found the job over; both on this machine's monotonic clock, as exact as the looks
    are frequent."""

    def __init__(self, before: int) -> None:
        self.before = before
        self.pages = 0
        self.started: float | None = None
        self.ended: float | None = None
        self._idle: float | None = None

    @property
    def waiting(self) -> bool:
        """No page of this run is stored yet: its start is still to be seen."""
        return self.started is None

    def update(self, stats: JobStats, now: float) -> None:
        self.pages = max(0, pages(stats) - self.before)
        if self.started is None:
            if self.pages:
                self.started = self._idle if self._idle is not None else now
            else:
                self._idle = now
        if self.ended is None and is_over(stats):
            self.ended = now

    def pace(self, now: float, recent: float | None = None) -> Pace:
        if self.started is None:
            return Pace(THIS_RUN, 0, 0.0, recent)
        return Pace(THIS_RUN, self.pages, (self.ended or now) - self.started, recent)


class RecentRate:
    """Pages per second over the last RATE_WINDOW seconds, from successive page counts."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, count: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._samples.append((now, count))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        first_time, first_count = self._samples[0]
        if now - first_time <= 0:
            return 0.0
        return (count - first_count) / (now - first_time)
