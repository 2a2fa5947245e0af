"""One HTTP exchange as it went over the wire, and where its WARC records landed: plain
data between the fetcher, which sees the bytes, the archive, which keeps them, and the
store, which points at them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Why a payload is shorter than what the server had (the WARC-Truncated values).
TRUNCATED_LENGTH = "length"
TRUNCATED_TIME = "time"
TRUNCATED_DISCONNECT = "disconnect"
# What a revisit record says of the payload it leaves out (the ends of the WARC-Profile
# URIs WARC 1.1 defines): the server answered 304 to a conditional request, or it sent a
# payload with the digest of the one archived before.
REVISIT_NOT_MODIFIED = "server-not-modified"
REVISIT_IDENTICAL = "identical-payload-digest"


@dataclass(frozen=True)
class Reference:
    """The last full response of a URL, which a revisit record refers to. `date` is its
    WARC-Date (ISO 8601 UTC, as 2026-12-01T17:30:55.123Z), `record_id` its WARC-Record-ID
    ("<urn:uuid:…>"), `digest` its WARC-Payload-Digest ("sha1:BASE32"): without a
    digest, no payload can be told identical to it."""

    target_uri: str
    date: str
    record_id: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Exchange:
    """A request and its response. `payload` is the entity body as received, in the
    pieces it was read in: content coding kept (a gzip body stays gzip), transfer coding
    (chunks) removed, cut short where `truncated` says why. `refers_to` is set on a
    revisit: an answer that adds nothing to that response is archived as a revisit
    record pointing at it, rather than as a second copy of the payload."""

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
    refers_to: Reference | None = None


@dataclass(frozen=True)
class WarcPointer:
    """Where the WARC record of a response is: the one value the fetcher, the store, a
    revisit's history and the export pass along. `file` is the WARC file's final name
    (without `.open`), `offset` and `length` the gzip member of its record in it, the
    response record or, when `revisit` says which kind, the revisit record written
    instead. `record_id` is its WARC-Record-ID (None in a store record older than the
    revisits), `digest` the payload's WARC-Payload-Digest, archived or left out as
    identical (None after a 304): the next revisit compares its payload with it."""

    file: str
    offset: int
    length: int
    record_id: str | None = None
    digest: str | None = None
    revisit: str | None = None

    def columns(self) -> dict[str, Any]:
        """The pointer as the flat fields a store record, an export and a queued revisit
        keep it in (WARC_COLUMNS); the revisit profile is not among them."""
        return {column: getattr(self, name) for column, name in WARC_COLUMNS.items()}

    @classmethod
    def of_columns(cls, data: Mapping[str, Any]) -> WarcPointer | None:
        """The pointer kept in `data`'s WARC_COLUMNS; None when there is no record."""
        if data.get("warc_file") is None or data.get("warc_offset") is None or data.get("warc_length") is None:
            return None
        file, offset, length = data["warc_file"], data["warc_offset"], data["warc_length"]
        return cls(file, offset, length, data.get("warc_record_id"), data.get("warc_digest"))


# The flat field each part of a WarcPointer is kept in, outside the running crawl.
WARC_COLUMNS = {
    "warc_file": "file",
    "warc_offset": "offset",
    "warc_length": "length",
    "warc_record_id": "record_id",
    "warc_digest": "digest",
}


class Archive(Protocol):
    """Where the fetcher hands its exchanges (pipeline.archive.writer.WarcWriter)."""

    def exchange(self, exchange: Exchange) -> WarcPointer:
        """Keep `exchange`; raises ArchiveUnavailable when it cannot."""

    def check(self) -> None:
        """Raise ArchiveUnavailable while the archive is known not to take records, so
        that no request is sent whose answer could not be kept."""
