"""The store contract: one record per (job, url, kind), written by an idempotent upsert,
so a URL fetched twice after a crash still leaves exactly one record."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum, auto
from typing import Any

from pipeline.fetch import BLOCKED, WARC_COLUMNS, Prior, WarcPointer

EXPORT_FIELDS = ("url", "final_url", "status", "depth", "content_type", "title", "outlinks", "fetched_at", "error")


class RecordKind(StrEnum):
    """What a record is of: a page, or a sitemap read for the URLs it lists. The page
    at a sitemap's URL (a footer link to /sitemap.xml) keeps a record of its own."""

    PAGE = auto()
    SITEMAP = auto()


@dataclass
class Record:
    """One URL fetched or tried: the fields every export has (EXPORT_FIELDS) plus a few
    extras."""

    job: str
    url: str
    final_url: str
    status: int | None
    depth: int
    content_type: str | None
    title: str | None
    outlinks: list[str]
    fetched_at: str
    error: str | None
    kind: str = RecordKind.PAGE
    content_hash: str | None = None
    length: int = 0
    elapsed: float = 0.0
    encoding: str | None = None
    redirects: list[str] = field(default_factory=list)
    # The response's WARC record, when the worker wrote WARC. For a revisit of an identical
    # payload, the record that holds the payload.
    warc: WarcPointer | None = None
    # Why the page's extractors failed: the fetch worked (`error` is None) and the page
    # still has a record, only its items are missing.
    extract_error: str | None = None
    # Fetch history, kept by the store's upsert across fetches of the URL: the validators
    # of the last response, how often it was fetched, since when, when its content last
    # changed, and what the last fetch found ("not-modified" for a 304, "unchanged" for
    # the same content hash, "changed"; None on a first fetch).
    etag: str | None = None
    last_modified: str | None = None
    fetch_count: int = 1
    first_fetched_at: str | None = None
    changed_at: str | None = None
    revisit: str | None = None
    # Seconds between revisits of the URL, as adapted so far; None: the job does not revisit.
    revisit_interval: float | None = None
    # When the URL is due again (Unix epoch seconds); None: not scheduled, a one-pass job's
    # URL or one already handed to the frontier.
    next_fetch_at: float | None = None
    # Seconds the page took in the browser, when it was rendered; None: parsed as fetched.
    render_time: float | None = None
    # Why the page went to the browser, or under render=auto why not: "job policy",
    # "host rule PATTERN", "auto sample", "auto verdict"; None: its host never renders.
    render_reason: str | None = None
    # What an auto reason rests on: a sample's own links and visible characters as
    # fetched and as rendered, or the host's samples summed for a verdict
    # ({"pages", "plain": {"links", "text"}, "rendered": {...}}).
    render_evidence: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as the store keeps it and the export writes it: a field per column,
        in COLUMNS (its lists are the record's own, not copies)."""
        pointer = self.warc.columns() if self.warc is not None else _NO_POINTER
        return {name: pointer[name] if name in pointer else getattr(self, name) for name in COLUMNS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        own = {name: value for name, value in data.items() if name in _OWN_FIELDS}
        return cls(**own, warc=WarcPointer.of_columns(data))

    @property
    def disallowed(self) -> bool:
        """A link robots.txt disallowed, recorded without a request."""
        return self.error == BLOCKED and self.status is None

    def prior(self) -> Prior:
        """What a revisit of the URL knows of this fetch."""
        return Prior(
            url=self.final_url,
            fetched_at=self.fetched_at,
            etag=self.etag,
            last_modified=self.last_modified,
            content_hash=self.content_hash,
            interval=self.revisit_interval,
            warc=self.warc,
        )


# Where the store keeps a Record, and what the export writes of it: a column per field,
# but the WARC pointer's, kept in WARC_COLUMNS where the table got them, the first three
# in the pointer's place (schema 3) and the last two after `revisit` (schema 6).
_POINTER_PLACES = {
    "warc": ("warc_file", "warc_offset", "warc_length"),
    "revisit": ("revisit", "warc_record_id", "warc_digest"),
}
COLUMNS = tuple(column for f in fields(Record) for column in _POINTER_PLACES.get(f.name, (f.name,)))
# The fields of Record kept in a column of the same name.
_OWN_FIELDS = frozenset(f.name for f in fields(Record)) - {"warc"}
_NO_POINTER = dict.fromkeys(WARC_COLUMNS)


@dataclass(frozen=True)
class Item:
    """One item an extractor made of a page."""

    extractor: str  # "mymodule:products", or a built-in name "text"/"metadata"
    data: dict[str, Any]  # JSON-serialisable (already checked by the caller)


@dataclass(frozen=True)
class DueCounts:
    """How many of a job's URLs are due for a revisit now, how many later, and when the next
    is: enough for a continuous job to know whether to feed, wait, or stop."""

    due: int  # next_fetch_at <= now
    later: int  # next_fetch_at > now
    next_at: float | None  # the smallest next_fetch_at > now; None when later is 0


class Store(abc.ABC):
    """Where records go. Implementations must make `put` an upsert on (job, url, kind), and
    keep a page's items with its record, so a page stored twice still has one set of items."""

    @abc.abstractmethod
    def put(self, record: Record, items: Sequence[Item] | None = None) -> None:
        """Upsert the record as today. `items` None leaves the URL's stored items as they are
        (a record rewritten only to lower its depth); a sequence (maybe empty) replaces every item
        of (job, url, kind) with these, in the same transaction, and only if the record itself was
        written (a late, redelivered older fetch changes neither)."""

    @abc.abstractmethod
    def items(self, job: str) -> Iterator[tuple[str, Item]]:
        """(page url, item) for every item of `job`: pages in first-stored order, each page's
        items in the order given."""

    @abc.abstractmethod
    def records(self, job: str) -> Iterator[Record]:
        """Every record of `job`, in the order they were first stored."""

    @abc.abstractmethod
    def pages(self, job: str, urls: Sequence[str]) -> list[Record]:
        """The page records of `job` at `urls` that there are (a few: seeds, say), in no order."""

    @abc.abstractmethod
    def count(self, job: str) -> int:
        """How many records `job` has."""

    @abc.abstractmethod
    def forget(self, job: str) -> int:
        """Remove every record and item of `job` in one transaction; returns how many records."""

    @abc.abstractmethod
    def make_due(self, job: str, at: float, fetched_before: str | None = None) -> int:
        """Schedule every record of `job` for `at`, or only those fetched at `fetched_before` or
        earlier (ISO 8601, compared as text, as fetched_at is kept): the URLs fetched since keep
        their own schedule. One statement, however large the job; returns how many."""

    @abc.abstractmethod
    def due(self, job: str, now: float, limit: int) -> list[Record]:
        """At most `limit` records of `job` due by `now`, earliest first: a bounded batch read
        off an index, so feeding a large job back costs no scan of it."""

    @abc.abstractmethod
    def mark_fed(self, job: str, keys: Sequence[tuple[str, str]], now: float) -> None:
        """Unschedule the (url, kind) records handed to the frontier, in one transaction, so the
        next `due` does not hand them again. Only where next_fetch_at is still <= `now`: a URL
        revisited and rescheduled meanwhile keeps its new time."""

    @abc.abstractmethod
    def due_counts(self, job: str, now: float) -> DueCounts:
        """The job's schedule at `now`, from the same index as `due`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""
