"""Storage backends behind one small interface (`Store`), chosen by URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.store.base import EXPORT_FIELDS, Record, Store

__all__ = ["EXPORT_FIELDS", "Record", "Store", "open_store"]


def open_store(url: str) -> Store:
    """The store named by `url`, e.g. ``sqlite:///crawl.db`` (relative) or ``sqlite:////abs/path.db``."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from pipeline.store.sqlite import SQLiteStore

        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"CRAWLER_STORE_URL: expected sqlite:///PATH, got {url!r}")
        return SQLiteStore(path)
    raise ConfigError(f"CRAWLER_STORE_URL: unsupported store {url!r} (supported: sqlite:///PATH)")
