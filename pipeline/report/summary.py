"""What a crawl did, summed up from its records alone: so a report can be made for any
past job, on any machine that reaches its store. One pass over the records, keeping
counters and the fetch times (8 bytes a page), never the records themselves."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.report.scales import TimeBins, time_bins
from pipeline.store import Record
from pipeline.urls import host_key

# Hosts, content types and error reasons listed at most, largest first.
TOP = 10
# Upper bounds, in seconds, of the response-time histogram's bars (the last is open).
ELAPSED_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
NO_RESPONSE = "no response"


@dataclass
class Report:
    job: str
    pages: int = 0
    failed: int = 0
    disallowed: int = 0  # links robots.txt disallows, recorded without a request (not failed)
    bytes: int = 0
    first_at: float | None = None  # epoch seconds of the first and last fetch
    last_at: float | None = None
    statuses: Counter[str] = field(default_factory=Counter)  # "2xx" … "5xx", NO_RESPONSE
    content_types: Counter[str] = field(default_factory=Counter)
    depths: Counter[int] = field(default_factory=Counter)
    hosts: Counter[str] = field(default_factory=Counter)
    host_errors: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    extractors: Counter[str] = field(default_factory=Counter)  # items made, per extractor
    dropped: dict[str, int] = field(default_factory=dict)  # URLs each limit kept out, when known
    fetched_at: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.pages - self.failed - self.disallowed

    @property
    def seconds(self) -> float:
        return (self.last_at - self.first_at) if self.first_at is not None and self.last_at is not None else 0.0

    @property
    def requested(self) -> int:
        """Pages a request was made for: what a rate counts."""
        return self.pages - self.disallowed

    @property
    def pages_per_s(self) -> float:
        return self.requested / self.seconds if self.seconds > 0 else float(self.requested)

    def percentile(self, share: float) -> float:
        """The fetch time below which `share` of the pages that got a response were fetched."""
        if not self.elapsed:
            return 0.0
        ordered = sorted(self.elapsed)
        return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]

    def timeline(self) -> tuple[TimeBins, list[int]]:
        """(the time axis, pages stored in each of its bars from the first fetch on)."""
        bins = time_bins(_ms(self.seconds))
        bars = [0] * (bins.count if self.first_at is not None else 0)
        for at in self.fetched_at:
            bars[bins.index(_ms(at - (self.first_at or at)))] += 1
        return bins, bars

    def elapsed_histogram(self) -> list[tuple[str, int]]:
        labels = [f"< {bound:g} s" for bound in ELAPSED_BOUNDS] + [f"≥ {ELAPSED_BOUNDS[-1]:g} s"]
        counts = [0] * len(labels)
        for seconds in self.elapsed:
            counts[next((i for i, bound in enumerate(ELAPSED_BOUNDS) if seconds < bound), len(ELAPSED_BOUNDS))] += 1
        return list(zip(labels, counts, strict=True))


def summarize(job: str, records: Iterable[Record], extractors: Iterable[str] = (),
              dropped: dict[str, int] | None = None) -> Report:
    """The report of `job` from its records and the extractor name of each of its items."""
    report = Report(job, extractors=Counter(extractors), dropped=dict(dropped or {}))
    for record in records:
        _count(report, record)
    if report.fetched_at:
        report.first_at, report.last_at = min(report.fetched_at), max(report.fetched_at)
    return report


def _count(report: Report, record: Record) -> None:
    report.pages += 1
    report.bytes += record.length
    report.fetched_at.append(_epoch(record.fetched_at))
    report.statuses[f"{record.status // 100}xx" if record.status is not None else NO_RESPONSE] += 1
    report.depths[record.depth] += 1
    host = host_key(record.url)
    report.hosts[host] += 1
    if record.status is not None:
        report.elapsed.append(record.elapsed)
        report.content_types[(record.content_type or "unknown").split(";")[0].strip() or "unknown"] += 1
    if record.disallowed:
        report.disallowed += 1
    elif record.error:
        report.failed += 1
    if record.error:
        report.host_errors[host] += 1
        report.errors[reason(record.error)] += 1


def reason(error: str) -> str:
    """An error's kind, without the detail that makes each one unique (an address, a URL)."""
    return error.split(":", 1)[0].strip()


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _epoch(fetched_at: str) -> float:
    return datetime.fromisoformat(fetched_at).timestamp()
