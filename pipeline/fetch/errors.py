"""Why one URL was not fetched, told apart by what happens next: the URL's own failure is
retried or recorded, a robots.txt not known yet is fetched first, and a failure of the
crawler's own means (its proxies, its WARC files) costs the URL nothing but a wait:

    CrawlError (pipeline/errors.py)
    ├── FetchError                  the URL failed; `reason` goes in its record
    │   ├── TransientFetchError     worth trying again later: timeouts, 408, 429, 5xx
    │   └── PermanentFetchError     the same answer again: other 4xx, too large, refused
    ├── RobotsPending               the site's robots.txt is fetched first
    └── WorkerUnavailable           not the URL's fault: it waits, no attempt spent
        ├── EgressUnavailable       every proxy of this worker failed recently
        └── ArchiveUnavailable      this worker cannot write its WARC files

Each error is built whole: the fetcher adds what the raiser could not know (the hop's
status and WARC record, the redirects followed) with `with_context`, a new error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from pipeline.errors import CrawlError
from pipeline.fetch.exchange import WarcPointer


class FetchError(CrawlError):
    """A URL could not be fetched; `reason` is the short text stored in the record,
    `redirects` the hops followed before it failed (the last one is where it stopped), and
    `warc` the WARC record of the response that failed, when there was one and an archive."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        *,
        redirects: Sequence[str] = (),
        warc: WarcPointer | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.redirects = tuple(redirects)
        self.warc = warc

    def with_context(
        self, *, status: int | None = None, redirects: Sequence[str] | None = None, warc: WarcPointer | None = None
    ) -> Self:
        """This error as the fetcher reports it: the status and WARC record of the hop where
        the raiser gave none, and the redirects followed before it."""
        return type(self)(
            self.reason,
            self.status or status,
            redirects=self.redirects if redirects is None else redirects,
            warc=self.warc or warc,
            **self._own(),
        )

    def _own(self) -> dict[str, Any]:
        """The arguments a subclass adds, for `with_context` to build it again."""
        return {}


class TransientFetchError(FetchError):
    """Worth trying again later: timeouts, connection errors, 408, 429, 5xx. `retry_after`
    is the wait the server asked for, in seconds."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        *,
        retry_after: float | None = None,
        redirects: Sequence[str] = (),
        warc: WarcPointer | None = None,
    ) -> None:
        super().__init__(reason, status, redirects=redirects, warc=warc)
        self.retry_after = retry_after

    def _own(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class PermanentFetchError(FetchError):
    """Trying again gives the same answer: other 4xx, too large, refused by policy."""


class RobotsPending(CrawlError):
    """The robots.txt of `site` is not known yet: it is fetched first, as a request of
    its own under the host's politeness, and the URL comes back afterwards."""

    def __init__(self, site: str) -> None:
        super().__init__(f"robots.txt of {site} not fetched yet")
        self.site = site


class WorkerUnavailable(CrawlError):
    """This worker cannot fetch now for a fault of its own, not the URL's: the URL waits
    `wait` seconds without spending one of its attempts, and nothing about the host
    (robots.txt, backoff) is concluded from it."""

    def __init__(self, reason: str, *, wait: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class EgressUnavailable(WorkerUnavailable):
    """Every proxy of this worker failed recently."""


class ArchiveUnavailable(WorkerUnavailable):
    """This worker cannot write its WARC files (a full disk, a directory it may not
    write): a page fetched now could not be archived."""
