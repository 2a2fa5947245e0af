"""Storage backends behind one small interface (`Store`), chosen by URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.store.base import EXPORT_FIELDS, Record, Store

__all__ = ["EXPORT_FIELDS", "Record", "Store", "open_store"]


def open_store(url: str) -> Store:
    """The store named by `url`: ``sqlite:///crawl.db`` (relative), ``sqlite:////abs/path.db``
    or ``postgresql://user:password@host/db``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from pipeline.store.sqlite import SQLiteStore

        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"CRAWLER_STORE_URL: expected sqlite:///PATH, got {url!r}")
        return SQLiteStore(path)
    if scheme in ("postgresql", "postgres"):
        from pipeline.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ConfigError(
        f"CRAWLER_STORE_URL: unsupported store {url!r} (supported: sqlite:///PATH, postgresql://…)"
    )
