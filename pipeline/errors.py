"""One root exception and a tree under it, so callers retry exactly what is worth
retrying (``TransientFetchError``) and report the rest once."""

from __future__ import annotations

from pipeline.fetch.exchange import WarcPointer


class CrawlError(Exception):
    """Root of every error the crawler raises on purpose."""


class ConfigError(CrawlError):
    """A setting, flag or argument has a value the crawler cannot use."""


class StoreUnavailable(CrawlError):
    """The store could not be written now (a database restarting, a network cut, a file
    another process holds locked): try the same write again later. Retrying cannot fix a
    ConfigError; it can fix this."""


class FetchError(CrawlError):
    """A URL could not be fetched; `reason` is the short text stored in the record, and
    `redirects` the hops followed before it failed (the last one is where it stopped)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.redirects: list[str] = []
        # The WARC record of the response that failed, when there was one and an archive.
        self.warc: WarcPointer | None = None


class TransientFetchError(FetchError):
    """Worth trying again later: timeouts, connection errors, 408, 429, 5xx."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """Trying again gives the same answer: other 4xx, too large, refused by policy."""


class StalePolicy(CrawlError):
    """The job was seeded again with another policy since this copy was read: read it again."""


class JobNotFound(CrawlError):
    """No job of that name exists in this Redis."""


class EgressUnavailable(CrawlError):
    """Every proxy of this worker failed recently. The fault is ours, not the site's: the
    URL waits `wait` seconds without spending one of its attempts, and nothing about the
    host (robots.txt, backoff) is concluded from it."""

    def __init__(self, reason: str, wait: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class ArchiveUnavailable(EgressUnavailable):
    """This worker cannot write its WARC files (a full disk, a directory it may not
    write). A page fetched now could not be archived, so, as without an egress, the URL
    waits without spending an attempt until the archive can be written again."""


class RobotsPending(CrawlError):
    """The robots.txt of `site` is not known yet: it is fetched first, as a request of
    its own under the host's politeness, and the URL comes back afterwards."""

    def __init__(self, site: str) -> None:
        super().__init__(f"robots.txt of {site} not fetched yet")
        self.site = site
