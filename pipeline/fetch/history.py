"""What a revisit knows of a URL's last fetch, and when the URL is due again.

A revisit carries its URL's history from the store (`Prior`): the validators of the
last response, for a conditional request; its content hash, to tell a change; and its
WARC record, which a revisit record refers to instead of archiving the payload again.

The schedule is adaptive, like Nutch's AdaptiveFetchSchedule: a URL's first interval
is the job's `revisit_interval`; each revisit that finds the page changed multiplies it
by CHANGED_FACTOR, each that finds it unchanged (a 304, or the same content hash) by
UNCHANGED_FACTOR, and a failed fetch leaves it as it was; always within
[`revisit_min`, `revisit_max`]. The URL is due again that many seconds after the fetch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from pipeline.fetch.exchange import WARC_COLUMNS, Reference, WarcPointer
from pipeline.settings import Policy

CHANGED_FACTOR = 0.5
UNCHANGED_FACTOR = 1.5
NOT_MODIFIED = 304


@dataclass(frozen=True)
class Prior:
    """The last fetch of a URL as the store has it. `url` is the URL that answered (the
    end of its redirects): the validators are that response's."""

    url: str
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    interval: float | None = None
    warc: WarcPointer | None = None

    def conditional_headers(self) -> dict[str, str]:
        """If-None-Match and If-Modified-Since, from the validators the server gave."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def reference(self) -> Reference | None:
        """The archived response a revisit record would refer to; None when the last
        fetch was not archived (its payload must be archived now)."""
        if self.warc is None or self.warc.record_id is None:
            return None
        return Reference(self.url, self.fetched_at, self.warc.record_id, self.warc.digest)

    def to_json(self) -> dict[str, Any]:
        """Flat, as queued revisits have always been kept in Redis: the WARC pointer in its
        columns."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "warc"}
        columns = self.warc.columns() if self.warc is not None else dict.fromkeys(WARC_COLUMNS)
        return {**data, **columns}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prior:
        own = {name: value for name, value in data.items() if name not in WARC_COLUMNS}
        return cls(**own, warc=WarcPointer.of_columns(data))


@dataclass(frozen=True)
class NextVisit:
    """When a URL is fetched again: its interval, and the moment (epoch seconds)."""

    interval: float | None = None
    at: float | None = None


def next_visit(
    policy: Policy, prior: Prior | None, status: int | None, content_hash: str | None, failed: bool,
    now: float | None = None,
) -> NextVisit:
    """The URL's next visit after a fetch that answered `status` with `content_hash`;
    none for a job that crawls once."""
    if policy.revisit_interval <= 0:
        return NextVisit()
    interval = prior.interval if prior is not None and prior.interval else policy.revisit_interval
    if prior is not None and prior.interval and not failed:
        unchanged = status == NOT_MODIFIED or (content_hash is not None and content_hash == prior.content_hash)
        interval *= UNCHANGED_FACTOR if unchanged else CHANGED_FACTOR
    interval = min(policy.revisit_max, max(policy.revisit_min, interval))
    return NextVisit(interval, (time.time() if now is None else now) + interval)
