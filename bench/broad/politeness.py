"""Politeness judged from the server's side, from bench/broad/site.py's log of request
arrivals and answers: a crawler's own timing says when it meant to ask, the server's log
says when the host was actually asked, which is what a site owner sees.

For each host, every pair of consecutive arrivals (robots.txt included) closer than the
delay, less a few milliseconds of timer slack, is a breach; so is a request arriving while
another one to the same host is still unanswered, a second request for a URL, and a request
for a path robots.txt disallows. Retries of the URL that always answers 500 are counted
apart from other repeats: retrying a 5xx is what both crawlers are configured to do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ARRIVAL, ANSWER = "A", "S"
DEFAULT_SLACK = 0.010  # seconds: timers, a new connection taking longer than a kept one, the server reading late


@dataclass(frozen=True)
class Event:
    """One line of the server's log: a request arriving (A) or its answer sent (S)."""

    kind: str
    time: float
    host: str
    path: str


@dataclass(frozen=True)
class Verdict:
    """What one crawl did to the hosts; every count but `requests` and `hosts` is a breach."""

    requests: int
    hosts: int
    too_close: int  # consecutive arrivals at one host less than delay - slack apart
    under_half: int  # of those, the ones less than half the delay apart: no timer is that late
    hosts_too_close: int
    min_gap_s: float | None  # the shortest gap between consecutive arrivals at one host
    overlaps: int  # arrivals while another request to the same host was unanswered
    repeats: int  # requests for a URL already requested, the broken URL's aside
    broken_retries: int  # requests for the always-500 URL after the first, per host
    disallowed: int  # requests for paths robots.txt disallows


def parse(lines: Iterable[str]) -> list[Event]:
    """Events of log lines; `#` lines (flush marks) and torn lines are skipped."""
    events = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[0] in (ARRIVAL, ANSWER):
            events.append(Event(fields[0], float(fields[1]), fields[2], fields[3]))
    return events


def read(path: Path, start: int, end: int) -> list[Event]:
    """The events between two byte offsets of the log, the part one run wrote."""
    with open(path, "rb") as stream:
        stream.seek(start)
        return parse(stream.read(end - start).decode("utf-8", "replace").splitlines())


def judge(
    events: Iterable[Event], delay: float, broken_path: str, disallowed_prefix: str, slack: float = DEFAULT_SLACK
) -> Verdict:
    by_host: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_host[event.host].append(event)
    too_close = under_half = hosts_too_close = overlaps = 0
    gaps: list[float] = []
    urls: Counter[tuple[str, str]] = Counter()
    for host, happened in by_host.items():
        # An answer and the next arrival in the same microsecond: the answer came first.
        happened.sort(key=lambda event: (event.time, event.kind == ARRIVAL))
        arrivals = [event for event in happened if event.kind == ARRIVAL]
        urls.update((host, event.path) for event in arrivals)
        host_gaps = [later.time - earlier.time for earlier, later in pairwise(arrivals)]
        close = sum(gap < delay - slack for gap in host_gaps)
        too_close += close
        under_half += sum(gap < delay / 2 for gap in host_gaps)
        hosts_too_close += close > 0
        gaps += host_gaps
        overlaps += _overlaps(happened)
    extra = {url: count - 1 for url, count in urls.items() if count > 1}
    return Verdict(
        requests=sum(urls.values()),
        hosts=len(by_host),
        too_close=too_close,
        under_half=under_half,
        hosts_too_close=hosts_too_close,
        min_gap_s=min(gaps) if gaps else None,
        overlaps=overlaps,
        repeats=sum(count for (_, path), count in extra.items() if path != broken_path),
        broken_retries=sum(count for (_, path), count in extra.items() if path == broken_path),
        disallowed=sum(count for (_, path), count in urls.items() if path.startswith(disallowed_prefix)),
    )


def _overlaps(happened: list[Event]) -> int:
    """Arrivals at a host that had a request in hand and not yet answered."""
    in_hand = overlaps = 0
    for event in happened:
        if event.kind == ARRIVAL:
            overlaps += in_hand > 0
            in_hand += 1
        else:
            in_hand = max(0, in_hand - 1)
    return overlaps
