"""PostgreSQL store (psycopg 3): one dataset that workers on many hosts write at once.
Same contract as SQLite: an upsert on (job, url), records in first-stored order. Each
process and thread keeps its own connection and opens a new one after a failure."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import psycopg

from pipeline.errors import ConfigError
from pipeline.store.base import COLUMNS, Record, Store, from_row, to_row, upsert_sql

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    id BIGSERIAL,
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks JSONB NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    content_hash TEXT,
    length BIGINT NOT NULL DEFAULT 0,
    elapsed DOUBLE PRECISION NOT NULL DEFAULT 0,
    encoding TEXT,
    redirects JSONB NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, url)
)
"""
_UPSERT = upsert_sql("pages", "%s")
# Rows fetched per round trip when a job is exported.
_BATCH = 1000


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    def put(self, record: Record) -> None:
        try:
            self._conn().execute(_UPSERT, to_row(record))
        except psycopg.OperationalError:
            self._forget()
            self._conn().execute(_UPSERT, to_row(record))

    def records(self, job: str) -> Iterator[Record]:
        with psycopg.connect(self.url) as conn, conn.cursor(name="export") as cursor:
            cursor.itersize = _BATCH
            cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM pages WHERE job = %s ORDER BY id", (job,))
            for row in cursor:
                yield from_row(row)

    def count(self, job: str) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM pages WHERE job = %s", (job,)).fetchone()[0]

    def close(self) -> None:
        self._forget()

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._local.pid != os.getpid():
            self._local.conn, self._local.pid = self._connect(), os.getpid()
        return self._local.conn

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot open PostgreSQL store: {exc}".strip()) from None

    def _forget(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None
