"""Storage backends behind one small interface (`Store`), chosen by URL, the record
every backend keeps, and the export of records and items as JSON lines or CSV."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.store.base import EXPORT_FIELDS, DueCounts, Item, Record, RecordKind, Store
from pipeline.store.export import FORMATS, export, export_items

__all__ = [
    "EXPORT_FIELDS", "FORMATS", "DueCounts", "Item", "Record", "RecordKind", "Store", "export", "export_items",
    "open_store",
]


def open_store(url: str, timeout: float | None = None) -> Store:
    """The store named by `url`: ``sqlite:///crawl.db`` (relative), ``sqlite:////abs/path.db``
    or ``postgresql://user:password@host/db``. `timeout` is CRAWLER_STORE_TIMEOUT unless
    given, so every process that opens a store honours the setting."""
    if timeout is None:
        timeout = Settings.load().store_timeout
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from pipeline.store.sqlite import SQLiteStore

        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError(f"CRAWLER_STORE_URL: expected sqlite:///PATH, got {url!r}")
        return SQLiteStore(path, timeout)
    if scheme in ("postgresql", "postgres"):
        from pipeline.store.postgres import PostgresStore

        return PostgresStore(url, timeout)
    raise ConfigError(
        f"CRAWLER_STORE_URL: unsupported store {url!r} (supported: sqlite:///PATH, postgresql://…)"
    )
