"""One HTTP exchange as it went over the wire, and where its WARC records landed: plain
data between the fetcher, which sees the bytes, and the archive, which keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Why a payload is shorter than what the server had (the WARC-Truncated values).
TRUNCATED_LENGTH = "length"
TRUNCATED_TIME = "time"
TRUNCATED_DISCONNECT = "disconnect"


@dataclass(frozen=True)
class Exchange:
    """A request and its response. `payload` is the entity body as received, in the
    pieces it was read in: content coding kept (a gzip body stays gzip), transfer coding
    (chunks) removed, cut short where `truncated` says why."""

    url: str
    date: str
    request_line: str
    request_headers: list[tuple[str, str]]
    protocol: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    payload: Sequence[bytes]
    ip: str | None = None
    truncated: str | None = None


@dataclass(frozen=True)
class Capture:
    """Where an exchange's response record is: `file` is the WARC file's final name
    (without `.open`), `offset` and `length` the record's gzip member in it."""

    file: str
    offset: int
    length: int
    record_id: str


class Archive(Protocol):
    """Where the fetcher hands its exchanges (pipeline.warc.WarcWriter)."""

    def exchange(self, exchange: Exchange) -> Capture:
        """Keep `exchange`; raises ArchiveUnavailable when it cannot."""

    def check(self) -> None:
        """Raise ArchiveUnavailable while the archive is known not to take records, so
        that no request is sent whose answer could not be kept."""
