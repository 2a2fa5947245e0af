"""SQLite store: the zero-setup default. WAL mode lets several local worker processes
write at once; each process and thread opens its own connection (connections survive
neither a fork nor a hand-over between threads). A database another process keeps
locked past the store timeout is StoreUnavailable: the write is tried again later."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from pipeline.errors import ConfigError, StoreUnavailable
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
# What another connection holding the database makes a statement fail with, once the
# busy timeout has passed (extended codes such as SQLITE_BUSY_SNAPSHOT included).
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
T = TypeVar("T")


class SQLiteStore(Store):
    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._connect()

    def put(self, record: Record) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.execute(_UPSERT, to_row(record))

        self._run(write)

    def records(self, job: str) -> Iterator[Record]:
        query = f"SELECT {', '.join(COLUMNS)} FROM pages WHERE job = ? ORDER BY rowid"
        for row in self._run(lambda conn: conn.execute(query, (job,))):
            yield from_row(row)

    def count(self, job: str) -> int:
        return self._run(lambda conn: conn.execute("SELECT COUNT(*) FROM pages WHERE job = ?", (job,)).fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return call(self._connect())
        except sqlite3.Error as exc:
            if _busy(exc):
                raise StoreUnavailable(self._locked(exc)) from None
            raise

    def _locked(self, exc: sqlite3.Error) -> str:
        return f"SQLite store {self.path!r}: {exc} for more than {self.timeout:g}s (CRAWLER_STORE_TIMEOUT)"

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            if _busy(exc):
                raise StoreUnavailable(self._locked(exc)) from None
            raise ConfigError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        conn.isolation_level = "DEFERRED"
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY
