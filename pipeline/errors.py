"""One root exception, so that a caller can catch whatever the crawler raises on purpose,
and a tree under it that says what each branch means, and so what to do about it:

    CrawlError                  anything the crawler raises on purpose
    ├── ConfigError             a value the crawler cannot use: fix it, retrying cannot
    ├── StoreUnavailable        the store cannot be written now: write again later
    ├── StalePolicy             the job was seeded again since its policy was read
    ├── JobNotFound             no such job in this Redis
    └── (pipeline/fetch/errors.py: why one URL was not fetched)
        ├── FetchError          the URL's own failure, recorded or retried
        ├── RobotsPending       its site's robots.txt comes first
        └── WorkerUnavailable   the crawler's own means are down: the URL waits

This module is a foundation every other imports: it imports nothing of the crawler's."""

from __future__ import annotations


class CrawlError(Exception):
    """Root of every error the crawler raises on purpose."""


class ConfigError(CrawlError):
    """A setting, flag or argument has a value the crawler cannot use."""


class StoreUnavailable(CrawlError):
    """The store could not be written now (a database restarting, a network cut, a file
    another process holds locked): try the same write again later. Retrying cannot fix a
    ConfigError; it can fix this."""


class StalePolicy(CrawlError):
    """The job was seeded again with another policy since this copy was read: read it again."""


class JobNotFound(CrawlError):
    """No job of that name exists in this Redis."""
