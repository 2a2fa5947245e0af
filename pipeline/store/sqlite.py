"""SQLite store: the zero-setup default. WAL mode lets several local worker processes
write at once; each process and thread opens its own connection (connections survive
neither a fork nor a hand-over between threads)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator

from pipeline.errors import ConfigError
from pipeline.store.base import COLUMNS, Record, Store, from_row, to_row, upsert_sql

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    content_hash TEXT,
    length INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,
    encoding TEXT,
    redirects TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, url)
)
"""
_UPSERT = upsert_sql("pages", "?")


class SQLiteStore(Store):
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._connect()

    def put(self, record: Record) -> None:
        conn = self._connect()
        with conn:
            conn.execute(_UPSERT, to_row(record))

    def records(self, job: str) -> Iterator[Record]:
        cursor = self._connect().execute(f"SELECT {', '.join(COLUMNS)} FROM pages WHERE job = ? ORDER BY rowid", (job,))
        for row in cursor:
            yield from_row(row)

    def count(self, job: str) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM pages WHERE job = ?", (job,)).fetchone()[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        conn.isolation_level = ""
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn
