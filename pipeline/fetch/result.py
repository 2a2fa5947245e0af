"""What fetching one URL gave, as plain data that travels between the tasks as JSON, and
the time stamps the store compares."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.fetch.exchange import WarcPointer


@dataclass(frozen=True)
class FetchResult:
    """What one URL gave; plain data, so it travels between tasks as JSON. Frozen, as the
    Payload that carries it: a step that adds to it makes a new one (dataclasses.replace)."""

    url: str
    final_url: str
    status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    text: str | None = None
    length: int = 0
    content_hash: str | None = None
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)
    error: str | None = None
    fetched_at: str = field(default_factory=lambda: utcnow())
    links: list[str] | None = None
    sitemaps: list[str] = field(default_factory=list)
    # The response's headers, kept only for a job with extractors (they may read them).
    headers: dict[str, str] | None = None
    # The response's validators, for conditional requests when the URL is fetched again.
    etag: str | None = None
    last_modified: str | None = None
    # The WARC record of the response this result is about, when there is an archive.
    warc: WarcPointer | None = None
    body: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw body, which never travels between tasks."""
        data = asdict(self)
        data.pop("body")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FetchResult:
        fields = {name: value for name, value in data.items() if name != "body"}
        if fields.get("warc") is not None:
            fields["warc"] = WarcPointer(**fields["warc"])
        return cls(**fields)

    @classmethod
    def failed(
        cls,
        url: str,
        reason: str,
        status: int | None = None,
        redirects: Sequence[str] = (),
        warc: WarcPointer | None = None,
    ) -> FetchResult:
        final = redirects[-1] if redirects else url
        return cls(url=url, final_url=final, status=status, error=reason, redirects=list(redirects), warc=warc)


def utcnow() -> str:
    return utc_text(time.time())


def utc_text(seconds: float) -> str:
    """ISO 8601 UTC to the millisecond: the store keeps the later of two fetches of one URL
    by comparing these as text, so two fetches within one second must still differ."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
